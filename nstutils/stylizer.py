"""Real-time style transfer (Johnson et al., 2016): a network trained to paint a photo in one pass.

`style_transfer` minimizes ``alpha * content + beta * style + tv_weight * TV`` over the pixels of
one photo, hundreds of steps per picture. Here the same loss, from `nstutils.losses`, is averaged
over many photos and minimized over the weights of a small image-transformation network; once
trained, it paints any photo in a single forward pass.

- `Stylizer`: reflection padding, a 9x9 convolution, two strided convolutions down to a quarter
  of the resolution, residual blocks, two nearest-neighbour upsamplings each followed by a
  convolution (transposed convolutions leave a checkerboard), a 3x3 convolution to RGB (Johnson
  et al.'s 9x9 there took half the time of the whole network on a CPU) and a sigmoid into
  [0, 1]; instance normalization after every inner convolution;
- `train_stylizer`: trains one through the one `optimize` loop (its variables are the network's
  weights), with a new batch of random crops, scales and flips of the training photos each step;
- `Stylizer.save` / `load_stylizer`: the weights and the settings it was trained with, in a file
  of plain tensors and dicts read back with ``torch.load(..., weights_only=True)``.

Mean/std style statistics (AdaIN's, ``style_stat="mean_std"``) can replace Gram matrices.
"""

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import PIL.Image
import torch
import torch.nn.functional as F
from torch import nn

from .data import sample_image, sample_names
from .devices import default_device
from .images import ImageError, check_output, load_image, resize, write_atomically
from .losses import STYLE_STATS, ContentLoss, StyleLoss, check_style_stat, tv_loss
from .models import FeatureNetwork, resolve_model
from .optim import History, LossTerms, optimize
from .patches import photo_array
from .style_settings import (CONTENT_WEIGHT, LR_DECAY, TV_WEIGHT, layers_or_default,
                             per_layer_weights, style_list, style_size)
from .validate import (ArgumentError, SizeError, check_count, check_device, check_image, check_number,
                       check_on)

# The defaults train in about 4 minutes on one core of a 2-core laptop and then paint a 256 px
# photo in about 25 ms there. Width 16 (16, 32 and 64 channels) took 100 ms for that and twice
# as long to train; width 8 with five residual blocks keeps the depth at a quarter of the cost.
WIDTH = 8         # channels of the first layer; 2x and 4x after the two downsamplings
BLOCKS = 5        # residual blocks at a quarter of the resolution
SIZE = 128        # side of the square training crops
STEPS = 500
BATCH = 4
LR = 0.01         # Adam's starting rate; it falls along a half cosine to LR_DECAY["adam"] of it
# beta: half of style_transfer's. A network starts from random weights, not from the photo, and
# needs more of the content's pull: at 10, chelsea's face was lost in the strokes.
STYLE_WEIGHT = 5.0
MIN_SIDE = 8      # the smallest image side a stylizer paints
MAX_WIDTH, MAX_BLOCKS = 256, 32  # the largest network a file may ask for
CROP_SCALES = (0.3, 1.0)  # random crop sides, as fractions of a photo's shorter side
# The course's photos a stylizer trains on by default (they ship with scikit-image). "chelsea" is
# left out on purpose: it is the photo the stylizer has never seen.
TRAINING_PHOTOS = ("astronaut", "coffee", "rocket", "motorcycle", "camera", "coins", "brick",
                   "grass", "gravel", "hubble_deep_field", "immunohistochemistry")
FORMAT = "nstutils.stylizer/1"


class StylizerFileError(ArgumentError):
    """A file that is not a saved stylizer (not a PyTorch file, another file, damaged)."""


# --- the network ------------------------------------------------------------------------------

def _layer(cin: int, cout: int, kernel: int, stride: int = 1, relu: bool = True) -> nn.Sequential:
    """Reflection padding, a convolution, instance normalization and (optionally) a ReLU.

    The instance normalization is written as a group normalization with one channel per group
    (the same computation), which keeps PyTorch's channels-last layout and runs many times faster
    on a CPU than ``nn.InstanceNorm2d``.
    """
    parts = [nn.ReflectionPad2d(kernel // 2), nn.Conv2d(cin, cout, kernel, stride, bias=False),
             nn.GroupNorm(cout, cout)]
    return nn.Sequential(*parts, nn.ReLU(inplace=True)) if relu else nn.Sequential(*parts)


class _Residual(nn.Module):
    """x + norm(conv(relu(norm(conv(x))))): a residual block that keeps the width."""

    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(_layer(channels, channels, 3), _layer(channels, channels, 3,
                                                                        relu=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class Stylizer(nn.Module):
    """An image-transformation network that paints photos of any size in one forward pass.

    Its weights are frozen (``requires_grad`` False) except while `train_stylizer` trains it.

    Args:
        width: channels of the first layer (doubled at each of the two downsamplings).
        blocks: residual blocks at a quarter of the resolution.
        settings: what it was trained with (style, size, steps, weights ...), kept in
            ``stylizer.settings`` together with ``width`` and ``blocks``.

    Attributes:
        settings: dict of plain values (str, int, float, lists).
        history: the `History` of its training.
    """

    def __init__(self, width: int = WIDTH, blocks: int = BLOCKS,
                 settings: Mapping[str, Any] | None = None):
        super().__init__()
        width = check_count(width, "width", low=1, high=MAX_WIDTH)
        blocks = check_count(blocks, "blocks", high=MAX_BLOCKS)
        self.settings = {**(settings or {}), "width": width, "blocks": blocks}
        self.history = History()
        w = width
        self.net = nn.Sequential(
            _layer(3, w, 9), _layer(w, 2 * w, 3, stride=2), _layer(2 * w, 4 * w, 3, stride=2),
            *[_Residual(4 * w) for _ in range(blocks)],
            nn.Upsample(scale_factor=2, mode="nearest"), _layer(4 * w, 2 * w, 3),
            nn.Upsample(scale_factor=2, mode="nearest"), _layer(2 * w, w, 3),
            nn.ReflectionPad2d(1), nn.Conv2d(w, 3, 3))
        # channels last: PyTorch's fast convolutions (oneDNN on CPUs, tensor cores on GPUs)
        self.requires_grad_(False).to(memory_format=torch.channels_last)

    @property
    def device(self) -> torch.device:
        """Where the weights are."""
        return next(self.parameters()).device

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """Paint images in one pass.

        Args:
            image: (N, 3, H, W) in [0, 1] on the stylizer's device; any H, W of at least
                `MIN_SIDE` (the network works on a multiple of 4: the image is mirrored up to
                one, and the result cropped back).

        Returns:
            (N, 3, H, W) in [0, 1].
        """
        image = check_image(image, "image", device=self.device, pixels=False)
        h, w = image.shape[-2:]
        if min(h, w) < MIN_SIDE:
            raise SizeError(f"The image is {w}x{h} pixels; a stylizer paints images of at least "
                            f"{MIN_SIDE} pixels on each side.")
        padded = F.pad(image, (0, -w % 4, 0, -h % 4), mode="reflect")
        out = self.net(padded.contiguous(memory_format=torch.channels_last))
        return torch.sigmoid(out[..., :h, :w]).contiguous()

    def save(self, path: str | Path, overwrite: bool = False) -> Path:
        """Save the weights, the settings and the loss history; `load_stylizer` reads them back.

        Args:
            path: the file to write (``.pt`` by custom); missing folders are created.
            overwrite: replace an existing file (refused otherwise).

        Returns:
            Path: the file written.
        """
        path = check_output(path, overwrite=overwrite, image=False)
        state = {"format": FORMAT, "settings": dict(self.settings),
                 "losses": {k: list(v) for k, v in self.history.losses.items()},
                 "weights": {k: v.detach().cpu().clone() for k, v in self.state_dict().items()}}
        return write_atomically(path, lambda file: torch.save(state, file))


def load_stylizer(path: str | Path, device: torch.device | str | None = None) -> Stylizer:
    """Load a stylizer saved by `Stylizer.save` (read with ``weights_only=True``: no code runs).

    Args:
        path: the file.
        device: where the stylizer goes; `default_device()` when None.

    Returns:
        Stylizer: frozen, with its ``settings`` and ``history``.

    Raises:
        FileNotFoundError: no file at ``path``.
        StylizerFileError: the file is not a stylizer, or is damaged.
    """
    path = Path(path).expanduser()
    device = check_device(device) if device is not None else default_device()
    if not path.is_file():
        raise FileNotFoundError(f"No stylizer file at {path}: train one with "
                                "nstutils.train_stylizer(...).save(path) or `nst train-style`.")
    redo = ("Train one with nstutils.train_stylizer(...) and save it with stylizer.save(path), "
            "or with `nst train-style STYLE -o FILE`.")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - torch's readers fail in many ways on other files
        why = " ".join(str(err).split())[:120]
        raise StylizerFileError(f"{path} is not a stylizer file, or it is damaged ({why}). "
                                f"{redo}") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise StylizerFileError(f"{path} is a PyTorch file but not a stylizer (format "
                                f"{FORMAT!r}). {redo}")
    settings, weights, losses = (state.get(k) for k in ("settings", "weights", "losses"))
    if not (isinstance(settings, dict) and isinstance(weights, dict) and isinstance(losses, dict)):
        raise StylizerFileError(f"{path} is a damaged stylizer file: its settings, weights or "
                                f"losses are missing. {redo}")
    try:
        stylizer = Stylizer(settings.get("width"), settings.get("blocks"), settings)
        stylizer.load_state_dict(weights)
    except (ArgumentError, RuntimeError) as err:
        why = " ".join(str(err).split())[:200]
        raise StylizerFileError(f"{path} is a damaged stylizer file: its weights do not fit its "
                                f"network ({why}). {redo}") from None
    stylizer.history = History(losses={k: list(v) for k, v in losses.items()},
                               steps=int(settings.get("steps", 0)),
                               interrupted=bool(settings.get("interrupted", False)))
    return stylizer.to(device).eval()


# --- training ---------------------------------------------------------------------------------

def train_stylizer(style: torch.Tensor | str, model: FeatureNetwork | str | None = None,
                   photos: str | Path | torch.Tensor | None = None, size: int = SIZE,
                   steps: int = STEPS, batch: int = BATCH, *, lr: float = LR,
                   content_weight: float = CONTENT_WEIGHT, style_weight: float = STYLE_WEIGHT,
                   tv_weight: float = TV_WEIGHT, style_stat: str = "gram",
                   content_layers: str | Sequence[str] | None = None,
                   style_layers: str | Sequence[str] | None = None,
                   style_layer_weights: Sequence[float] | Mapping[str, float] | None = None,
                   style_scale: float = 1.0, width: int = WIDTH, blocks: int = BLOCKS,
                   stylizer: Stylizer | None = None, augment: bool = True, seed: int = 0,
                   device: torch.device | str | None = None, progress: bool = True,
                   log_every: int = 10) -> Stylizer:
    """Train a `Stylizer` to paint photos in a style (Johnson et al., 2016).

    Minimizes over the network's weights the loss of `style_transfer`, averaged over a batch of
    photos each step: ``alpha * content + beta * style + tv_weight * TV`` of the painted batch,
    where content compares it with the photos themselves at the content layers (divided by the
    mean square of their activations), style compares it with the style image's statistics
    (each E_l divided by its mean over the first batch of photos), and TV is `tv_loss` ("mean").
    The loop is `optimize`'s (Adam, the rate falling along a half cosine to a tenth): Ctrl-C or
    the notebook's stop button ends it and the stylizer trained so far is returned.

    Args:
        style: (1, 3, h, w) style image in [0, 1], or a sample name (``"starry_night"``,
            ``"swirl"`` ...) or an image path.
        model: the loss network: a `FeatureNetwork`, a registry name, or None for the offline
            default (EfficientNet-Lite0).
        photos: the training photos: None for the course's own (`TRAINING_PHOTOS`, offline), a
            folder of pictures (loaded once into memory), or (N, 3, H, W) images in [0, 1].
        size: the side of the square training crops.
        steps: training steps (one batch each).
        batch: photos per step.
        lr: Adam's starting learning rate.
        content_weight: alpha.
        style_weight: beta.
        tv_weight: the weight of the total variation.
        style_stat: ``"gram"`` (Gram matrices) or ``"mean_std"`` (AdaIN's per-channel mean and
            standard deviation).
        content_layers: `default_layers` of the network when None.
        style_layers: `default_layers` of the network when None.
        style_layer_weights: w_l, one per style layer (or a dict); equal when None.
        style_scale: the style image's longer side, as a multiple of ``size`` (above 1: finer
            brush strokes).
        width: the new stylizer's first-layer channels.
        blocks: the new stylizer's residual blocks.
        stylizer: a stylizer to train further instead of a new one (``width`` and ``blocks``
            are then its own).
        augment: random crops (`CROP_SCALES` of the shorter side), scales and left-right flips;
            False cycles through the photos, each resized to ``size`` x ``size``.
        seed: seeds the new network's weights and the choice of crops.
        device: where to train; the style image's (or `default_device()` for a name) when None.
        progress: show a progress bar.
        log_every: record losses and update the bar every this many steps.

    Returns:
        Stylizer: trained (also when stopped early: see ``stylizer.history.interrupted``), with
        its ``settings`` and ``history``.
    """
    if stylizer is not None and not isinstance(stylizer, Stylizer):
        raise ArgumentError(f"stylizer must be a Stylizer to train further (or None for a new "
                            f"one), got {type(stylizer).__name__}.")
    style, style_name, device = _style_and_device(style, device)
    steps, batch = check_count(steps, "steps"), check_count(batch, "batch", low=1)
    lr = check_number(lr, "lr", positive=True)
    check_number(style_scale, "style_scale", positive=True)
    weights = {name: check_number(value, name) for name, value in
               (("content_weight", content_weight), ("style_weight", style_weight),
                ("tv_weight", tv_weight))}
    if weights["content_weight"] == 0 and weights["style_weight"] == 0:
        raise ArgumentError("Both the content and the style weights are 0: nothing to train.")
    check_style_stat(style_stat)
    model = resolve_model(model, device)
    check_on(style, model.device, "style")
    size = check_count(size, "size", low=model.min_size, error=SizeError)
    c_layers = layers_or_default(model, content_layers, 0)
    s_layers = layers_or_default(model, style_layers, 1)
    s_weights = per_layer_weights(style_layer_weights, s_layers)
    pool, photos_name = _photo_pool(photos, size, model.device)
    if stylizer is None:
        with torch.random.fork_rng(devices=[]):  # seeded weights, the caller's generator untouched
            torch.manual_seed(seed)
            stylizer = Stylizer(width, blocks)
    net = stylizer.to(model.device)
    draw = _batches(pool, size, batch, augment, seed)

    first = draw()
    with torch.no_grad():
        sized = resize(style, style_size(style, (size, size), style_scale, model.min_size))
        statistic = STYLE_STATS[style_stat][0]
        targets = {n: statistic(f) for n, f in model.features(sized, s_layers).items()}
        per_photo = StyleLoss(targets, s_weights, style_stat).normalized_at(
            model.features(first, s_layers)).weights
        painted = [net(first)]
    # one w_l / E_l per layer (the first batch's mean), the same for every later batch
    style_term = StyleLoss(targets, {n: w.mean() for n, w in per_photo.items()}, style_stat)

    def loss() -> LossTerms:
        photo = draw()
        out = net(photo)
        painted[0] = out.detach()
        with torch.no_grad():
            content_targets = model.features(photo, c_layers)
        feats = model.features(out, c_layers + s_layers)
        return {"content": content_weight * ContentLoss(content_targets)(feats).mean(),
                "style": style_weight * style_term(feats).mean(),
                "tv": tv_weight * tv_loss(out, "mean").mean()}

    # 1-D weights first: optimize's out-of-memory advice then speaks of images and batches
    variables = sorted(net.parameters(), key=lambda p: p.dim())
    history = optimize(variables, loss, steps, lr=lr, lr_decay=LR_DECAY["adam"], progress=progress,
                       desc="training a stylizer", log_every=log_every, image=lambda: painted[0],
                       weights=weights)
    net.history.extend(history)
    net.settings.update(
        style=style_name, style_stat=style_stat, model=model.name, photos=photos_name, size=size,
        steps=net.history.steps, batch=batch, lr=lr, content_layers=c_layers,
        style_layers=s_layers, style_scale=style_scale, augment=augment, seed=seed,
        interrupted=net.history.interrupted, **weights)
    return net.eval()


def _style_and_device(style: torch.Tensor | str, device: torch.device | str | None
                      ) -> tuple[torch.Tensor, str, torch.device]:
    """The style image, a name for it, and the device to train on."""
    if isinstance(style, str):
        device = check_device(device) if device is not None else default_device()
        names = [n for kind in sample_names().values() for n in kind]
        image = (sample_image(style, device=device) if style in names
                 else load_image(style, size=1024, device=device))
        return image, (style if style in names else Path(style).name), device
    image = style_list(style)[0]
    device = check_device(device) if device is not None else image.device
    return image.to(device), "image", device


def _photo_pool(photos: str | Path | torch.Tensor | None, size: int,
                device: torch.device) -> tuple[list[torch.Tensor], str]:
    """The training photos as (1, 3, h, w) images (longer side 3 * size), and how to name them."""
    if isinstance(photos, torch.Tensor):
        images = check_image(photos, "photos", device=device)
        return [image[None] for image in images], f"{len(images)} given images"
    if photos is None:
        return [load_image(photo_array(n), size=3 * size, device=device)
                for n in TRAINING_PHOTOS], "the course's photos"
    if not isinstance(photos, (str, Path)):
        raise ArgumentError(f"photos must be None (the course's photos), a folder or an image "
                            f"tensor (N, 3, H, W), got {type(photos).__name__}.")
    folder = Path(photos).expanduser()
    if not folder.is_dir():
        raise ArgumentError(f"photos={str(photos)!r} is not a folder: give a folder of pictures "
                            "(.jpg, .png ...), or None for the course's own photos.")
    pictures = PIL.Image.registered_extensions()
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in pictures and p.is_file())
    if not files:
        raise ArgumentError(f"No pictures (.jpg, .png ...) in the folder {folder}: put some "
                            "photos there, or use photos=None for the course's own photos.")
    images = []
    for file in files:
        try:
            images.append(load_image(file, size=3 * size, device=device))
        except ImageError as err:
            raise ImageError(f"{file}: {err} Remove it from the folder, or fix it.") from None
    return images, str(folder)


def _batches(pool: list[torch.Tensor], size: int, batch: int, augment: bool,
             seed: int) -> Callable[[], torch.Tensor]:
    """A function that returns the next training batch (batch, 3, size, size) each call.

    Args:
        pool: (1, 3, h, w) photos.
        size: the side of the square crops.
        batch: crops per call.
        augment: random square crops of `CROP_SCALES` of the shorter side, flipped left-right
            half the time; False: the photos in turn, resized to size x size.
        seed: seeds the random crops.

    Returns:
        callable: () -> (batch, 3, size, size) in [0, 1], a new batch each call.
    """
    generator = torch.Generator().manual_seed(seed)  # on the CPU: the same crops on any device
    calls = [0]

    def crop(photo: torch.Tensor) -> torch.Tensor:
        h, w = photo.shape[-2:]
        low, high = CROP_SCALES
        side = max(1, round(min(h, w) * (low + (high - low) * float(torch.rand(1, generator=generator)))))
        y = int(torch.randint(h - side + 1, (1,), generator=generator))
        x = int(torch.randint(w - side + 1, (1,), generator=generator))
        out = resize(photo[..., y:y + side, x:x + side], (size, size))
        return out.flip(-1) if float(torch.rand(1, generator=generator)) < 0.5 else out

    def draw() -> torch.Tensor:
        if augment:
            picks = torch.randint(len(pool), (batch,), generator=generator).tolist()
            return torch.cat([crop(pool[i]) for i in picks])
        start, calls[0] = calls[0] * batch, calls[0] + 1
        return torch.cat([resize(pool[(start + i) % len(pool)], (size, size)) for i in range(batch)])

    return draw
