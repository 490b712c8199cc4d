"""The ``nst`` command line.

- ``nst course`` opens the course in JupyterLab, or renders it to HTML;
- ``nst stylize CONTENT STYLE -o OUT`` paints a photo in the style of a painting;
- ``nst train-style STYLE -o FILE`` trains a stylizer, a network that paints in one pass;
- ``nst stylize CONTENT --stylizer FILE -o OUT`` paints a photo with a trained stylizer;
- ``nst dream IMAGE -o OUT`` dreams on a photo.

Images are file paths, http(s) or file:// URLs, or sample names (``chelsea``, ``starry_night``,
``swirl`` ...). A bad argument gets one line on stderr and exit status 2, before any long work:
the output is checked first, and is never an input nor, without ``--force``, an existing file.
Ctrl-C stops the run, saves what was done and exits with status 130.
"""

import argparse
import math
import subprocess
import sys
import warnings
from pathlib import Path

REPO_NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
# Steps per scale of `nst stylize --scales N` unless --steps says otherwise: 100 at half size then
# 100 at full size ended within about 10 % of the loss of 300 steps at full size, in less than half
# the time (benchmarks/RESULTS.md).
COARSE_TO_FINE_STEPS = 100


class UsageError(Exception):
    """A bad argument, reported as one line and exit status 2."""


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors fit on one line (no usage block)."""

    def error(self, message: str):
        """Print ``prog: error: message`` and exit with status 2."""
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


# --- nst course -------------------------------------------------------------------------------

def _notebooks_folder(given: str | None) -> Path:
    from .course import find_notebooks

    folder = Path(given) if given else (Path("notebooks") if Path("notebooks").is_dir()
                                        else REPO_NOTEBOOKS)
    if not folder.is_dir():
        raise UsageError(f"no notebooks folder at {folder}; pass --notebooks PATH.")
    if not find_notebooks(folder):
        raise UsageError(f"no notebooks (*.ipynb) in {folder}; pass --notebooks PATH, the "
                         "course's notebooks/ folder.")
    return folder


def course(args: argparse.Namespace) -> int:
    """Open the notebooks in JupyterLab, or with --html execute them all and write HTML.

    Options ``nst course`` does not know (``--no-browser``, ``--port=8890``, ``--allow-root``
    ...) go to ``jupyter lab`` unchanged.
    """
    folder = _notebooks_folder(args.notebooks)
    if args.html:
        if args.lab_options:
            raise UsageError(f"{' '.join(args.lab_options)}: options for JupyterLab do not apply "
                             "with --html, which runs the notebooks without it.")
        from .course import export_html

        try:
            written, failed = export_html(folder, args.html, quick=args.quick)
        except FileNotFoundError as err:
            raise UsageError(f"{err} Pass --notebooks PATH.") from None
        print(f"nst: wrote {len(written)} HTML files to {args.html}")
        for name, why in failed.items():
            print(f"nst: {name} failed: {why}", file=sys.stderr)
        if failed:
            print(f"nst: {len(failed)} of {len(written)} notebooks failed; their HTML holds the "
                  "cells that ran.", file=sys.stderr)
        return 1 if failed else 0
    return subprocess.call([sys.executable, "-m", "jupyter", "lab", *args.lab_options, str(folder)])


# --- nst stylize ------------------------------------------------------------------------------

def stylize(args: argparse.Namespace) -> int:
    """Run style transfer (or a trained stylizer) from the command line and save the result."""
    from .images import MIN_SIZE, check_output
    from .models import load_model
    from .style import style_transfer

    if args.style and args.stylizer:
        raise UsageError("give STYLE image(s) or --stylizer FILE, not both.")
    if not args.style and not args.stylizer:
        raise UsageError("give a STYLE image, or --stylizer FILE (trained with nst train-style).")
    if args.stylizer:
        return _paint_with_stylizer(args)
    out = check_output(args.output, inputs=[args.content, *args.style], overwrite=args.force)
    if args.blend is not None and len(args.blend) != len(args.style):
        raise UsageError(f"--blend has {len(args.blend)} weights for {len(args.style)} STYLE "
                         "images: give one weight per STYLE.")
    sizes = [round(args.size / 2 ** (args.scales - 1 - i)) for i in range(args.scales)]
    if min(sizes) < MIN_SIZE:
        raise UsageError(f"--scales {args.scales} makes the first scale {sizes[0]} pixels; keep "
                         f"size / 2^(scales - 1) at {MIN_SIZE} or more.")
    steps = _steps_per_scale(args.steps, args.scales)
    device = _device(args.device)
    model = load_model(args.model, device=device)
    content = _load(args.content, args.size, device, "CONTENT")
    styles = [_load(s, args.size, device, "STYLE") for s in args.style]
    image, stopped = _run(
        style_transfer, content, styles, model, steps=steps, content_layers=args.content_layers,
        style_layers=args.style_layers, content_weight=args.content_weight,
        style_weight=args.style_weight, tv_weight=args.tv_weight, init=args.init,
        optimizer=args.optimizer, lr=args.lr, preserve_color=args.preserve_color,
        style_blend=args.blend, style_scale=args.style_scale,
        sizes=sizes if args.scales > 1 else None, seed=args.seed, progress=not args.quiet,
        autocast=args.autocast)
    return _save(image, out, args, stopped)


def _steps_per_scale(given: list[int] | None, scales: int) -> list[int]:
    """The optimizer steps of each scale, from --steps and --scales.

    Args:
        given: --steps: one count for every scale, one per scale, or None for the default.
        scales: --scales.

    Returns:
        list[int]: one count per scale, coarse to fine. By default 300 at one scale, and
        `COARSE_TO_FINE_STEPS` per scale with several: the coarse scales start the finest one
        close to its end, so the run takes less than half the time of 300 steps at full size.
    """
    from .style_settings import STEPS

    if given is None:
        return [STEPS] if scales == 1 else [COARSE_TO_FINE_STEPS] * scales
    if len(given) == 1:
        return given * scales
    if len(given) != scales:
        raise UsageError(f"--steps has {len(given)} counts for {scales} scales: give one count "
                         "for every scale, or one per scale, coarse to fine.")
    return given


def _paint_with_stylizer(args: argparse.Namespace) -> int:
    """Paint CONTENT with the stylizer in --stylizer, in one pass, and save it."""
    import torch

    from .images import check_output
    from .stylizer import load_stylizer

    out = check_output(args.output, inputs=[args.content, args.stylizer], overwrite=args.force)
    device = _device(args.device)
    stylizer = load_stylizer(args.stylizer, device)
    content = _load(args.content, args.size, device, "CONTENT")
    with torch.inference_mode():
        image = stylizer(content)
    return _save(image, out, args, stopped=False)


# --- nst train-style --------------------------------------------------------------------------

def train_style(args: argparse.Namespace) -> int:
    """Train a stylizer on the course's photos (or --photos) and save it."""
    from .models import load_model
    from .images import check_output
    from .stylizer import train_stylizer

    out = check_output(args.output, inputs=[args.style], overwrite=args.force, image=False)
    if args.photos is not None and not Path(args.photos).expanduser().is_dir():
        raise UsageError(f"--photos {args.photos} is not a folder: give a folder of pictures.")
    device = _device(args.device)
    style = _load(args.style, 2 * args.size, device, "STYLE")
    model = load_model(args.model, device=device)
    stylizer = train_stylizer(style, model, photos=args.photos, size=args.size, steps=args.steps,
                              batch=args.batch, style_stat=args.style_stat, seed=args.seed,
                              device=device, progress=not args.quiet)
    stylizer.settings["style"] = args.style  # named as typed, not "image"
    stylizer.save(out, overwrite=True)  # checked above; an interrupted run saves over its own
    done = stylizer.history.steps
    if stylizer.history.interrupted:
        print(f"nst: interrupted; saved the stylizer trained so far ({done} of {args.steps} "
              f"steps) to {out}.", file=sys.stderr)
        return 130
    if not args.quiet:
        print(f"nst: wrote {out} ({done} steps; paint with: nst stylize PHOTO --stylizer {out} "
              "-o OUT)")
    return 0


# --- nst dream --------------------------------------------------------------------------------

def dream(args: argparse.Namespace) -> int:
    """Run DeepDream from the command line and save the result."""
    from .dream import deep_dream
    from .images import check_output
    from .models import load_model

    out = check_output(args.output, inputs=[args.image], overwrite=args.force)
    device = _device(args.device)
    model = load_model(args.model, device=device)
    image = _load(args.image, args.size, device, "IMAGE")
    given = {"layers": args.layer, "lr": args.lr}  # None: deep_dream's own default
    result, stopped = _run(deep_dream, image, model, channel=args.channel, octaves=args.octaves,
                           steps=args.steps, progress=not args.quiet, seed=args.seed,
                           **{k: v for k, v in given.items() if v is not None})
    return _save(result, out, args, stopped)


# --- running and saving -----------------------------------------------------------------------

def _run(paint, *args, **kwargs):
    """Call style_transfer or deep_dream; returns the image and whether Ctrl-C stopped the run."""
    image, history = paint(*args, return_history=True, **kwargs)
    return image, history.interrupted


def _save(image, out: Path, args: argparse.Namespace, stopped: bool) -> int:
    """Save the result; returns 130 when the run was stopped early (what was done is saved)."""
    from .images import save_image

    save_image(image, out, overwrite=args.force)
    size = f"{image.shape[-1]}x{image.shape[-2]}"
    if stopped:
        print(f"nst: interrupted; saved the result so far to {out} ({size}).", file=sys.stderr)
        return 130
    if not args.quiet:
        print(f"nst: wrote {out} ({size})")
    return 0


# --- argument checking ------------------------------------------------------------------------

def _load(src: str, size: int, device, what: str):
    """Load a path, a URL or a sample name at ``size`` (longer side)."""
    from .data import sample_image, sample_names
    from .download import is_url
    from .images import load_image

    if Path(src).expanduser().is_file() or is_url(src):
        return load_image(src, size=size, device=device)
    names = [n for kind in sample_names().values() for n in kind]
    if src in names:
        return sample_image(src, size=size, device=device)
    raise UsageError(f"{what} {src!r} is neither a file, a URL, nor a sample name "
                     f"({', '.join(names)}).")


def _device(name: str | None):
    """The device --device names (checked: spelt right, and on this machine), else the fastest."""
    from .devices import default_device
    from .validate import check_device

    return default_device() if name is None else check_device(name)


def _number(kind: type, low: float, inclusive: bool = True, what: str = "",
            high: float = math.inf):
    """An argparse type: a number of ``kind`` that is >= low (or > low), and <= high."""
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            expected = "an integer" if kind is int else "a number"
            raise argparse.ArgumentTypeError(f"{text!r} is not {expected}") from None
        if not math.isfinite(value) or value < low or (value == low and not inclusive):
            raise argparse.ArgumentTypeError(
                f"must be {'at least' if inclusive else 'more than'} {low:g}{what}, got {text}")
        if value > high:
            raise argparse.ArgumentTypeError(f"must be at most {high:g}{what}, got {text}")
        return value
    return parse


def _names(text: str) -> list[str]:
    """An argparse type: comma-separated layer names."""
    names = [t.strip() for t in text.split(",") if t.strip()]
    if not names:
        raise argparse.ArgumentTypeError("give one or more layer names, separated by commas")
    return names


def _counts(text: str) -> list[int]:
    """An argparse type: comma-separated step counts, each 1 or more."""
    parse = _number(int, 1)
    return [parse(t) for t in text.split(",")]


def _weights(text: str) -> list[float]:
    """An argparse type: comma-separated non-negative weights."""
    parse = _number(float, 0.0)
    return [parse(t) for t in text.split(",")]


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with one subcommand per task."""
    parser = _Parser(prog="nst", description=__doc__,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    _add_course(sub)
    _add_stylize(sub)
    _add_train_style(sub)
    _add_dream(sub)
    return parser


def _add_course(sub) -> None:
    p = sub.add_parser("course", help="open the course in JupyterLab, or render it to HTML",
                       description="Open the course in JupyterLab. Other options go to jupyter "
                       "lab unchanged: nst course --no-browser --port=8890 (--allow-root as "
                       "root). With --html DIR, execute every notebook and write HTML that opens "
                       "offline.", allow_abbrev=False)
    p.add_argument("--html", metavar="DIR", help="execute every notebook headless and write "
                   "HTML with the figures into DIR (no browser needed)")
    p.add_argument("--quick", action="store_true", help="small sizes and few steps")
    p.add_argument("--notebooks", metavar="DIR", help="the notebooks folder (default: ./notebooks)")
    p.set_defaults(func=course, lab_options=[])


def _add_stylize(sub) -> None:
    from .style_settings import (CONTENT_WEIGHT, INITS, LEARNING_RATES, PRESERVE_COLOR, STEPS,
                                 STYLE_WEIGHT, TV_WEIGHT)

    p = sub.add_parser("stylize", help="paint a photo in the style of a painting",
                       description="Neural style transfer (Gatys et al., 2015). CONTENT and STYLE "
                       "are paths, URLs or sample names (chelsea, astronaut, starry_night, swirl "
                       "...). Several STYLE images are blended (see --blend). With --stylizer "
                       "FILE instead of STYLE, a stylizer trained by nst train-style paints "
                       "CONTENT in one pass (only --size, --device, --force and --quiet apply).")
    p.add_argument("content", metavar="CONTENT", help="the photo")
    p.add_argument("style", metavar="STYLE", nargs="*", help="the style image(s)")
    p.add_argument("--stylizer", metavar="FILE", help="paint with this trained stylizer "
                   "(from nst train-style) instead of STYLE")
    p.add_argument("-o", "--output", required=True, metavar="OUT",
                   help="where to save (.png, .jpg)")
    p.add_argument("--size", type=_side(), default=384,
                   help="longer side of the result (default %(default)s)")
    p.add_argument("--steps", type=_counts, metavar="N[,N...]",
                   help=f"optimizer steps: one count for every scale, or one per scale, coarse to "
                   f"fine (default {STEPS}; with --scales, {COARSE_TO_FINE_STEPS} per scale)")
    p.add_argument("--scales", type=_number(int, 1), default=1, metavar="N",
                   help="coarse-to-fine: N sizes, each twice the previous, ending at --size; "
                   f"{COARSE_TO_FINE_STEPS} steps each unless --steps says otherwise")
    p.add_argument("--content-weight", type=_number(float, 0.0), default=CONTENT_WEIGHT,
                   metavar="ALPHA", help="alpha, the weight of the content loss (default %(default)s)")
    p.add_argument("--style-weight", type=_number(float, 0.0), default=STYLE_WEIGHT,
                   metavar="BETA", help="beta, the weight of the style loss (default %(default)s)")
    p.add_argument("--tv-weight", type=_number(float, 0.0), default=TV_WEIGHT,
                   help="the weight of the total variation (default %(default)s)")
    p.add_argument("--content-layers", type=_names, metavar="L1,L2", help="content layers "
                   "(default: block7; relu4_2 for VGG)")
    p.add_argument("--style-layers", type=_names, metavar="L1,L2,...", help="style layers "
                   "(default: block1.expand,...,block11.expand; relu1_1,...,relu5_1 for VGG)")
    p.add_argument("--style-scale", type=_number(float, 0.0, inclusive=False), default=1.0,
                   help="style image size relative to the result (>1: finer strokes)")
    p.add_argument("--blend", type=_weights, metavar="W1,W2",
                   help="weights of several STYLE images")
    p.add_argument("--preserve-color", choices=PRESERVE_COLOR,
                   help="keep the photo's colours")
    p.add_argument("--init", choices=INITS, default=INITS[0],
                   help="start from the photo or from noise (default content)")
    p.add_argument("--optimizer", choices=list(LEARNING_RATES), default="adam")
    p.add_argument("--lr", type=_number(float, 0.0, inclusive=False),
                   help="learning rate (default: " + ", ".join(
                       f"{lr:g} for {name}" for name, lr in LEARNING_RATES.items()) + ")")
    p.add_argument("--autocast", action="store_true", help="bfloat16 on CUDA (faster)")
    _common(p)
    p.set_defaults(func=stylize)


def _add_train_style(sub) -> None:
    from .losses import STYLE_STATS
    from .stylizer import BATCH, SIZE, STEPS

    p = sub.add_parser("train-style", help="train a stylizer: a network that paints in one pass",
                       description="Real-time style transfer (Johnson et al., 2016): train a "
                       "small network on photos to paint them in the style of STYLE (a path, a "
                       "URL or a sample name), and save it to FILE. Paint with it: nst stylize "
                       "PHOTO --stylizer FILE -o OUT.")
    p.add_argument("style", metavar="STYLE", help="the style image")
    p.add_argument("-o", "--output", required=True, metavar="FILE",
                   help="where to save the stylizer (e.g. starry.pt)")
    p.add_argument("--size", type=_side(), default=SIZE,
                   help="side of the square training crops (default %(default)s)")
    p.add_argument("--steps", type=_number(int, 1), default=STEPS,
                   help="training steps (default %(default)s)")
    p.add_argument("--batch", type=_number(int, 1), default=BATCH,
                   help="photos per step (default %(default)s)")
    p.add_argument("--photos", metavar="FOLDER", help="train on the pictures in FOLDER "
                   "(default: the course's own photos, no download)")
    p.add_argument("--style-stat", choices=list(STYLE_STATS), default="gram",
                   help="Gram matrices or AdaIN's per-channel mean and std (default gram)")
    _common(p)
    p.set_defaults(func=train_style)


def _add_dream(sub) -> None:
    p = sub.add_parser("dream", help="DeepDream on a photo",
                       description="DeepDream: gradient ascent on a photo. IMAGE is a path, a URL "
                       "or a sample name.")
    p.add_argument("image", metavar="IMAGE", help="the photo")
    p.add_argument("-o", "--output", required=True, metavar="OUT",
                   help="where to save (.png, .jpg)")
    p.add_argument("--size", type=_side(), default=384,
                   help="longer side of the result (default %(default)s)")
    p.add_argument("--layer", type=_names, metavar="L1,L2", help="layer(s) to climb (default: "
                   "that of nstutils.deep_dream; deeper layers dream bigger motifs)")
    p.add_argument("--channel", type=_number(int, 0), help="climb only this channel")
    p.add_argument("--octaves", type=_number(int, 1), default=3,
                   help="number of sizes (default %(default)s)")
    p.add_argument("--steps", type=_number(int, 1), default=20,
                   help="steps per octave (default %(default)s)")
    p.add_argument("--lr", type=_number(float, 0.0, inclusive=False),
                   help="step size (default: that of nstutils.deep_dream)")
    _common(p)
    p.set_defaults(func=dream)


def _side():
    """The type of --size: whole pixels, from the networks' smallest input to the largest image."""
    from .images import LARGEST_SIZE, MIN_SIZE

    return _number(int, MIN_SIZE, what=f" pixels (from {MIN_SIZE}, the networks' smallest input, "
                   f"to {LARGEST_SIZE})", high=LARGEST_SIZE)


def _common(p: argparse.ArgumentParser) -> None:
    from .models import MODELS

    p.add_argument("--model", choices=list(MODELS), default="efficientnet_lite0",
                   help="the network (default efficientnet_lite0, offline)")
    p.add_argument("--device", help="cpu, cuda or mps (default: the fastest available)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--force", action="store_true",
                   help="replace OUT if it exists (an input is never replaced)")


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (2 for a bad argument, 130 for Ctrl-C)."""
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            return _run_command(argv)
    except KeyboardInterrupt:  # while loading (a run in progress saves what it has instead)
        print("nst: stopped before anything was saved.", file=sys.stderr)
        return 130


def _run_command(argv: list[str] | None) -> int:
    """Parse the arguments and run the subcommand, turning the library's errors into one line."""
    from .download import DownloadError
    from .models import UnknownLayerError
    from .optim import OptimizationError

    parser = build_parser()
    try:
        args, unknown = parser.parse_known_args(argv)
        if unknown and args.command != "course":  # nst course passes them on to jupyter lab
            parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    except SystemExit as exit_:  # --help, or a bad argument already reported in one line
        return exit_.code
    if unknown:
        args.lab_options = unknown
    try:
        return args.func(args)
    except UsageError as err:
        return _fail(args, str(err))
    except (ValueError, TypeError, UnknownLayerError, FileNotFoundError, DownloadError,
            OptimizationError) as err:
        # Bad inputs found by the library (unknown layer, unreadable image, no download ...):
        # their messages say what to do.
        return _fail(args, " ".join(str(err).split()))
    except MemoryError:
        return _fail(args, "out of memory: try a smaller --size (or --scales 1).")


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Print a warning (a painting's offline fallback, a size near the memory) as one line."""
    print(f"nst: {' '.join(str(message).split())}", file=sys.stderr)


def _fail(args: argparse.Namespace, message: str) -> int:
    print(f"nst {args.command}: error: {message}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
