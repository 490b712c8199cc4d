"""Measure the softmax style transform (Wang et al., 2021) by a judge it was not optimized for.

Paints one photo in one style with ``style_transfer``, with the raw activations and with
``style_transform="softmax"`` (and, with ``--temperatures``, a softmax of the activations
divided by each temperature: an experiment, ``style_transfer`` has no temperature argument), for:

- EfficientNet-Lite0 trained, at its default style layers (``*.expand``, after ReLU6);
- EfficientNet-Lite0 trained, at its block outputs (signed values up to tens);
- VGG19 with random weights (torchvision's initialization, seed 0), at its default layers;
- VGG19 trained at its default layers, when its weights are cached.

Each result is judged by networks that did not paint it: VGG19s with random weights drawn from
each of ``--judge-seeds`` (the table gives the mean over them, and the range), or the trained
VGG19 with ``--judge trained`` when cached:

- style distance: ``||G(x) - G(s)|| / ||G(s)||`` of Gram matrices at relu1_1, relu2_1, relu3_1,
  averaged (`nstutils.compare_networks.gram_distances`), against the style image at the same size;
- content distance: ``||F(x) - F(p)|| / ||F(p)||`` at relu3_1 (`feature_distances`).

One random judge is not enough: the ranking of two paintings by style distance can flip from
one judge's seed to another's, so differences smaller than the range mean nothing.

Settings (layers, temperatures) were chosen on chelsea + mosaic; the held-out pair is the default.

Run:  python benchmarks/bench_softmax_style.py [--photo coffee] [--style waves] [--size 128]
      [--steps 100] [--temperatures 3 10] [--painters lite0 lite0-blocks vgg19-random]
"""

import argparse
import contextlib
import functools
import platform
import time

import nstutils as nst  # before torch: it sets the threads and passive waiting
import torch

from nstutils import activations, compare_networks
from nstutils.style_settings import default_layers

JUDGE_LAYERS = ["relu1_1", "relu2_1", "relu3_1"]
CONTENT_LAYER = "relu3_1"
LITE0_BLOCK_OUTPUTS = ["block1", "block3", "block5", "block8", "block11"]
PAINTERS = ("lite0", "lite0-blocks", "vgg19-random", "vgg19")


@contextlib.contextmanager
def softmax_temperature(temperature: float):
    """Make ``style_transform="softmax"`` divide the activations by ``temperature`` first.

    An experiment only: it swaps `activations.softmax_activations`, which the style loss calls
    through `activations.transformed`, and restores it on exit.
    """
    original = activations.softmax_activations
    activations.softmax_activations = functools.partial(original, temperature=temperature)
    try:
        yield
    finally:
        activations.softmax_activations = original


def cpu_name() -> str:
    """The processor's model name (from /proc/cpuinfo on Linux), or the machine type."""
    with contextlib.suppress(OSError):
        for line in open("/proc/cpuinfo", encoding="utf-8"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def painter(name: str, device: torch.device, seed: int) -> tuple[nst.FeatureNetwork, list[str]]:
    """The painting network and its style layers for a painter's name."""
    if name == "lite0":
        model = nst.load_model("efficientnet_lite0", device)
        return model, default_layers(model)[1]
    if name == "lite0-blocks":
        return nst.load_model("efficientnet_lite0", device), list(LITE0_BLOCK_OUTPUTS)
    weights = "random" if name == "vgg19-random" else "imagenet"
    model = nst.load_model("vgg19", device, weights=weights, seed=seed)
    return model, default_layers(model)[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default=None)
    parser.add_argument("--photo", default="coffee")
    parser.add_argument("--style", default="waves")
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--temperatures", type=float, nargs="*", default=[],
                        help="also a softmax at these temperatures (1 is the option itself)")
    parser.add_argument("--painters", nargs="+", default=list(PAINTERS[:3]), choices=PAINTERS)
    parser.add_argument("--judge", choices=("random", "trained"), default="random")
    parser.add_argument("--judge-seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--seed", type=int, default=0, help="seeds the random painter's weights")
    args = parser.parse_args()
    device = torch.device(args.device) if args.device else nst.default_device()
    print(f"device {device} ({cpu_name()}), torch "
          f"{torch.__version__}, {torch.get_num_threads()} thread(s)")

    painters = list(args.painters)
    if "vgg19" not in painters and nst.weights_cached("vgg19"):
        painters.append("vgg19")
    if args.judge == "trained" and not nst.weights_cached("vgg19"):
        raise SystemExit("--judge trained needs VGG19's weights in torch's cache.")
    if args.judge == "trained":
        judges = [nst.load_model("vgg19", device)]
        print("judge: VGG19 trained")
    else:
        judges = [nst.load_model("vgg19", device, weights="random", seed=seed)
                  for seed in args.judge_seeds]
        print(f"judges: VGG19 random, seeds {args.judge_seeds}")
    photo = nst.sample_image(args.photo, size=args.size, device=device)
    style = nst.sample_image(args.style, size=args.size, device=device)
    print(f"{args.photo} + {args.style}, {tuple(photo.shape[-2:])}, {args.steps} Adam steps")

    def judged(image: torch.Tensor) -> str:
        """The mean style and content distances over the judges, each with its range."""
        styles, contents = [], []
        for judge in judges:
            s = compare_networks.gram_distances(judge, image, style, JUDGE_LAYERS)
            styles.append(sum(s.values()) / len(s))
            contents.append(compare_networks.feature_distances(judge, image, photo,
                                                          CONTENT_LAYER)[CONTENT_LAYER])
        return " | ".join(f"{sum(v) / len(v):.3f} ({min(v):.2f}-{max(v):.2f})"
                          for v in (styles, contents))

    print("| painter | style layers | transform | style distance | content distance | time (s) |")
    print("| --- | --- | --- | ---: | ---: | ---: |")
    print(f"| (the photo itself) | | | {judged(photo)} | |")
    for name in painters:
        model, layers = painter(name, device, args.seed)
        variants = [("raw", None, None), ("softmax", "softmax", None)]
        variants += [(f"softmax, T={t:g}", "softmax", t) for t in args.temperatures if t != 1]
        for label, transform, temperature in variants:
            scope = softmax_temperature(temperature) if temperature else contextlib.nullcontext()
            start = time.perf_counter()
            with scope:
                out = nst.style_transfer(photo, style, model, steps=args.steps, style_layers=layers,
                                         style_transform=transform, progress=False)
            seconds = time.perf_counter() - start
            print(f"| {name} ({model.weights}) | {layers[0]} ... {layers[-1]} | {label} | "
                  f"{judged(out)} | {seconds:.1f} |", flush=True)


if __name__ == "__main__":
    main()
