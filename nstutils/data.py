"""Named sample images: scikit-image photos, public-domain paintings, and generated styles."""

import warnings
from pathlib import Path

import numpy as np
import skimage.data
import torch

from .devices import default_device
from .download import DownloadError, cache_dir, fetch, mirrored
from .generated_styles import GENERATED_STYLES
from .images import MIN_SIZE, load_image
from .validate import check_device, check_memory, check_size

PHOTOS = {
    "chelsea": skimage.data.chelsea,
    "coffee": skimage.data.coffee,
    "astronaut": skimage.data.astronaut,
    "rocket": skimage.data.rocket,
    "camera": skimage.data.camera,
    "coins": skimage.data.coins,
}

# The memory per pixel of loading or generating an image: the float32 RGB tensor and the copies
# made while decoding, resizing or generating it.
IMAGE_BYTES_PER_PIXEL = 64
_COMMONS = "https://commons.wikimedia.org/wiki/Special:FilePath/{}?width=1024"
PAINTINGS = {
    "starry_night": ("Van_Gogh_-_Starry_Night_-_Google_Art_Project.jpg", "swirl"),
    "great_wave": ("Tsunami_by_hokusai_19th_century.jpg", "waves"),
    "the_scream": ("Edvard_Munch,_1893,_The_Scream,_oil,_tempera_and_pastel_on_cardboard,"
                   "_91_x_73_cm,_National_Gallery_of_Norway.jpg", "swirl"),
    "composition_vii": ("Vassily_Kandinsky,_1913_-_Composition_7.jpg", "shapes"),
    "shipwreck": ("Joseph_Mallord_William_Turner_-_The_Shipwreck_-_Google_Art_Project.jpg",
                  "waves"),
}


def sample_names() -> dict[str, list[str]]:
    """List the names `sample_image` knows, by kind.

    Returns:
        dict: ``{"photos": [...], "paintings": [...], "generated": [...]}``.
    """
    return {"photos": list(PHOTOS), "paintings": list(PAINTINGS),
            "generated": list(GENERATED_STYLES)}


def sample_image(name: str, size: int | tuple[int, int] | None = None,
                 device: torch.device | str | None = None, seed: int = 0) -> torch.Tensor:
    """Load a named sample: a photo, a painting (downloaded once) or a generated style.

    A painting that is not cached and cannot be downloaded is replaced by a generated style of
    a similar look, with a warning that says so and where to put the file. The image's
    ``title`` attribute names what it is, for figure titles: the name asked for, or for a
    stand-in e.g. ``"swirl, offline stand-in for starry_night"``.

    Args:
        name: see `sample_names()`, e.g. ``"chelsea"``, ``"starry_night"``, ``"swirl"``.
        size: an int for the longer side (aspect kept), or (H, W); generated styles are made
            at that size (512 when None).
        device: `default_device()` when None.
        seed: the seed of a generated style.

    Returns:
        (1, 3, H, W) float32 in [0, 1], with a ``title`` attribute (a str).
    """
    device = check_device(device) if device is not None else default_device()
    if size is not None:
        check_memory(check_size(size, "size", MIN_SIZE), 1, device, f"size={size!r}",
                     IMAGE_BYTES_PER_PIXEL)
    title = name
    if name in PHOTOS:
        image = load_image(np.asarray(PHOTOS[name]()), size=size, device=device)
    elif name in GENERATED_STYLES:
        image = generated_style(name, size, seed).to(device)
    elif name in PAINTINGS:
        try:
            image = load_image(painting_path(name), size=size, device=device)
        except DownloadError as err:
            fallback = PAINTINGS[name][1]
            warnings.warn(f"{err} Using the generated style {fallback!r} as an offline "
                          f"stand-in for {name!r}.", stacklevel=2)
            image = generated_style(fallback, size, seed).to(device)
            title = f"{fallback}, offline stand-in for {name}"
    else:
        kinds = "; ".join(f"{k}: {', '.join(v)}" for k, v in sample_names().items())
        raise ValueError(f"No sample image named {name!r}. Known names are {kinds}.")
    image.title = title
    return image


def generated_style(name: str, size: int | tuple[int, int] | None, seed: int) -> torch.Tensor:
    """Make a generated style at a size: an int is the side of a square, (H, W) is exact."""
    return GENERATED_STYLES[name](512 if size is None else size, seed=seed)


def painting_path(name: str) -> Path:
    """Return the local file of a painting, downloading it from Wikimedia Commons the first time.

    Args:
        name: a key of `PAINTINGS`.

    Returns:
        Path: the cached JPEG.

    Raises:
        DownloadError: not cached and the download failed.
    """
    filename, _ = PAINTINGS[name]
    folder = cache_dir("paintings")
    url = mirrored(_COMMONS.format(filename), "NSTUTILS_PAINTINGS_MIRROR")
    return fetch(url, folder, f"{name}.jpg", f"the painting {name!r}",
                 hint=f"To use it offline, save the image from {_COMMONS.format(filename)} "
                      "at that path.")

