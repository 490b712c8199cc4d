"""How PyTorch's CPU threads wait, measured where students are: quiet, and beside a busy process.

Each setting runs in a fresh Python process, because OpenMP reads its settings once, when torch
is first imported:

- ``torch's default``: one thread per CPU, idle threads spin while they wait for work (torch
  imported before nstutils, OMP_NUM_THREADS set to the CPU count);
- ``one thread per CPU, passive``: the same threads, but idle ones sleep (``OMP_WAIT_POLICY=PASSIVE``);
- ``nstutils' default``: what ``import nstutils`` sets when OMP_NUM_THREADS is not set: half the
  CPUs (one thread on a 2-CPU laptop or Colab) and passive waiting.

For each, it times steps of feature visualization (pixels, no transforms, 128 px, the case of
issue 13), style transfer (256 px) and DeepDream (one octave, 256 px), first on a quiet machine,
then with a second process spinning on one core.

Run:  python benchmarks/bench_threads.py [--steps 20] [--repeats 3] [--machine quiet|busy|both]
"""

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from busy import busy_process  # noqa: E402

CPUS = os.cpu_count() or 2
SETTINGS = {  # name -> (OMP_NUM_THREADS or None, the imports)
    "torch's default": (str(CPUS), "import torch\nimport nstutils as nst\n"),
    "one thread per CPU, passive": (str(CPUS), "import nstutils as nst\nimport torch\n"),
    "nstutils' default": (None, "import nstutils as nst\nimport torch\n"),
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
    threads, imports = SETTINGS[setting]
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "OMP_NUM_THREADS")}
    if threads is not None:
        env["OMP_NUM_THREADS"] = threads
    code = imports + f"STEPS, REPEATS = {steps}, {repeats}\n" + WORKLOAD
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20, help="steps per timing")
    parser.add_argument("--repeats", type=int, default=3, help="timings per task (best kept)")
    parser.add_argument("--machine", choices=["quiet", "busy", "both"], default="both")
    args = parser.parse_args()
    rows = []
    for busy in {"quiet": [False], "busy": [True], "both": [False, True]}[args.machine]:
        with busy_process(busy):
            for setting in SETTINGS:
                result = measure(setting, args.steps, args.repeats)
                rows.append((setting, busy, result))
                print(f"measured {setting}, {'busy' if busy else 'quiet'}", file=sys.stderr)
    tasks = [k for k in rows[0][2] if k != "threads"]
    print(f"{CPUS} CPUs\n")
    print("| setting | threads | machine | " + " | ".join(f"{t} (ms/step)" for t in tasks) + " |")
    print("| --- | ---: | --- |" + " ---: |" * len(tasks))
    for setting, busy, result in rows:
        cells = " | ".join(f"{result[t]:.0f}" for t in tasks)
        print(f"| {setting} | {result['threads']} | {'one busy process' if busy else 'quiet'} | "
              f"{cells} |")


if __name__ == "__main__":
    main()
