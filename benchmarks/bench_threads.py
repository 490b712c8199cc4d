"""How PyTorch's CPU threads wait, measured where students are: quiet, and beside a busy process.

Each setting runs in a fresh Python process, because OpenMP reads its wait policy once, when
torch is first imported:

- ``spinning (torch imported first)``: torch's default; idle threads spin, waiting for work;
- ``passive (import nstutils first)``: what ``import nstutils`` sets before torch starts
  (``OMP_WAIT_POLICY=PASSIVE``): idle threads sleep;
- ``1 thread``: ``torch.set_num_threads(1)``, no waiting at all.

For each, it times steps of feature visualization (pixels, no transforms, 128 px, the case of
issue 13), style transfer (256 px) and DeepDream (one octave, 256 px), first on a quiet machine,
then with a second process spinning on one core.

Run:  python benchmarks/bench_threads.py [--steps 20] [--repeats 3]
"""

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from busy import busy_process  # noqa: E402

SETTINGS = {
    "spinning (torch imported first)": "import torch\nimport nstutils as nst\n",
    "passive (import nstutils first)": "import nstutils as nst\nimport torch\n",
    "1 thread": "import nstutils as nst\nimport torch\ntorch.set_num_threads(1)\n",
}

WORKLOAD = """
import json, time
model = nst.load_model(device="cpu")
photo = nst.sample_image("chelsea", size=256, device="cpu")
swirl = nst.sample_image("swirl", size=256, device="cpu")
tasks = {
    "visualize 128 px (pixels)": lambda n: nst.visualize(
        nst.channel("block7", 42), model, size=128, steps=n, param="pixel", transforms=[],
        progress=False),
    "style transfer 256 px": lambda n: nst.style_transfer(photo, swirl, model, steps=n,
                                                          progress=False),
    "DeepDream 256 px": lambda n: nst.deep_dream(photo, model, octaves=1, steps=n,
                                                 progress=False),
}
out = {"threads": torch.get_num_threads()}
for name, run in tasks.items():
    run(2)  # warm up
    best = float("inf")
    for _ in range(REPEATS):
        start = time.perf_counter()
        run(STEPS)
        best = min(best, (time.perf_counter() - start) / STEPS)
    out[name] = 1000 * best
print(json.dumps(out))
"""


def measure(setting: str, steps: int, repeats: int) -> dict:
    """Run the workload in a fresh process with one thread setting; ms per step per task."""
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "OMP_NUM_THREADS")}
    code = SETTINGS[setting] + f"STEPS, REPEATS = {steps}, {repeats}\n" + WORKLOAD
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20, help="steps per timing")
    parser.add_argument("--repeats", type=int, default=3, help="timings per task (best kept)")
    args = parser.parse_args()
    rows = []
    for busy in (False, True):
        with busy_process(busy):
            for setting in SETTINGS:
                result = measure(setting, args.steps, args.repeats)
                rows.append((setting, busy, result))
                print(f"measured {setting}, {'busy' if busy else 'quiet'}", file=sys.stderr)
    tasks = [k for k in rows[0][2] if k != "threads"]
    print(f"CPU cores: {os.cpu_count()}, torch threads by default: {rows[0][2]['threads']}\n")
    print("| setting | machine | " + " | ".join(f"{t} (ms/step)" for t in tasks) + " |")
    print("| --- | --- |" + " ---: |" * len(tasks))
    for setting, busy, result in rows:
        cells = " | ".join(f"{result[t]:.0f}" for t in tasks)
        print(f"| {setting} | {'one busy process' if busy else 'quiet'} | {cells} |")


if __name__ == "__main__":
    main()
