"""Time real-time style transfer: a stylizer's one pass against `style_transfer`, and its training.

Prints, on one device and in one run:

- the time a `Stylizer` (the defaults' width and depth) takes to paint the photo ``chelsea`` at
  256 and 512 px on its longer side (median of ``--repeats`` passes after two warm-up passes;
  the weights do not change the time, so a fresh stylizer is used unless ``--stylizer FILE``);
- the time `style_transfer` takes on the same 256 px photo at its defaults (one run);
- with ``--train``, the time `train_stylizer` takes at its defaults (style ``swirl``, the
  course's photos), and the trained stylizer's painting of ``chelsea`` (a photo it never saw)
  saved to ``--save`` if given.

Run:  python benchmarks/bench_stylizer.py [--device cpu] [--repeats 10] [--train]
      [--save result.png] [--stylizer FILE]
"""

import argparse
import statistics
import time

import nstutils as nst  # before torch: it sets the threads and passive waiting
import torch

from nstutils.style_settings import STEPS
from nstutils.stylizer import BATCH, BLOCKS, SIZE, STEPS as TRAIN_STEPS, WIDTH


def paint_ms(stylizer: nst.Stylizer, photo: torch.Tensor, repeats: int) -> float:
    """The median milliseconds of one painting pass, after two warm-up passes."""
    times = []
    with torch.inference_mode():
        for i in range(repeats + 2):
            start = time.perf_counter()
            stylizer(photo)
            if photo.device.type == "cuda":
                torch.cuda.synchronize()
            if i >= 2:
                times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default=None)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--train", action="store_true", help="also time training at the defaults")
    parser.add_argument("--save", help="where to save the trained stylizer's painting (PNG)")
    parser.add_argument("--stylizer", help="time this saved stylizer instead of a fresh one")
    args = parser.parse_args()
    device = torch.device(args.device) if args.device else nst.default_device()
    print(f"device {device}, torch {torch.__version__}, {torch.get_num_threads()} thread(s)")

    style = nst.sample_image("swirl", size=256, device=device)
    trained = None
    if args.train:
        start = time.perf_counter()
        trained = nst.train_stylizer("swirl", device=device)
        print(f"train_stylizer defaults (size {SIZE}, batch {BATCH}, {TRAIN_STEPS} steps, width "
              f"{WIDTH}, {BLOCKS} blocks): {time.perf_counter() - start:.0f} s")
    stylizer = (nst.load_stylizer(args.stylizer, device) if args.stylizer
                else trained or nst.Stylizer().to(device))
    print(f"stylizer width {stylizer.settings['width']}, {stylizer.settings['blocks']} blocks")

    rows = []
    for side in (256, 512):
        photo = nst.sample_image("chelsea", size=side, device=device)
        rows.append((tuple(photo.shape[-2:]), paint_ms(stylizer, photo, args.repeats)))
    photo = nst.sample_image("chelsea", size=256, device=device)
    start = time.perf_counter()
    nst.style_transfer(photo, style, steps=STEPS, progress=False)
    optimized_ms = 1000 * (time.perf_counter() - start)

    print("| method | size (H x W) | time (ms) | vs style_transfer 256 px |")
    print("| --- | --- | ---: | ---: |")
    for (h, w), ms in rows:
        print(f"| stylizer, one pass | {h} x {w} | {ms:.1f} | {optimized_ms / ms:.0f}x faster |")
    print(f"| style_transfer, {STEPS} steps | {rows[0][0][0]} x {rows[0][0][1]} | "
          f"{optimized_ms:.0f} | 1x |")

    if trained is not None and args.save:
        with torch.inference_mode():
            painted = trained(nst.sample_image("chelsea", size=512, device=device))
        nst.save_image(painted, args.save, overwrite=True)
        print(f"saved {args.save}")


if __name__ == "__main__":
    main()
