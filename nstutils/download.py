"""The one download path: pooch fetches a file once into a cache folder, with one clear error offline."""

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import pooch

USER_AGENT = "nstutils/0.1 (educational notebooks on CNN visualization and style transfer)"
TIMEOUT_S = 30


class DownloadError(RuntimeError):
    """A file the course needs could not be downloaded (usually: no network)."""


def cache_dir(kind: str) -> Path:
    """Return the folder for cached downloads of one kind ("paintings", ...).

    Args:
        kind: a subfolder name.

    Returns:
        Path: ``$NSTUTILS_CACHE/kind`` if that variable is set, else the user cache folder.
    """
    root = os.environ.get("NSTUTILS_CACHE") or pooch.os_cache("nstutils")
    return Path(root) / kind


def mirrored(url: str, variable: str) -> str:
    """Point a URL at a mirror when the environment variable ``variable`` holds a base URL.

    Args:
        url: the original address; its last path segment is kept.
        variable: for example ``NSTUTILS_WEIGHTS_MIRROR``.

    Returns:
        str: ``mirror/filename`` if the variable is set, else ``url`` unchanged.
    """
    mirror = os.environ.get(variable)
    if not mirror:
        return url
    return f"{mirror.rstrip('/')}/{url.split('?')[0].rsplit('/', 1)[-1]}"


def download(url: str, path: Path, what: str, hint: str, progressbar: bool = True) -> Path:
    """Download ``url`` to ``path`` with pooch, sending our user agent, with a timeout.

    pooch writes to a temporary file and moves it into place, so an interrupted download never
    leaves a partial file behind; a file already at ``path`` is kept as it is.

    Args:
        url: where to download from.
        path: the local file to create (its folder is created if missing).
        what: what the file is, for messages ("the vgg19 weights").
        hint: what to do instead, appended to the error.
        progressbar: show a tqdm progress bar.

    Returns:
        Path: ``path``.

    Raises:
        DownloadError: the server could not be reached or answered with an error.
    """
    downloader = pooch.HTTPDownloader(progressbar=progressbar, timeout=TIMEOUT_S,
                                      headers={"User-Agent": USER_AGENT})
    try:
        with _quiet_pooch():
            pooch.retrieve(url, known_hash=None, fname=path.name, path=path.parent,
                           downloader=downloader)
    except OSError as err:  # requests' errors are OSErrors: refused, timeout, HTTP 404 ...
        raise DownloadError(f"Could not download {what} from {url} ({type(err).__name__}). "
                            f"{hint}") from None
    return path


def fetch(url: str, folder: Path, filename: str, what: str, hint: str,
          sha256_prefix: str | None = None) -> Path:
    """Return the cached copy of ``url``, downloading it first if it is not there yet.

    Args:
        url: where to download from.
        folder: the cache folder.
        filename: the name of the cached file.
        what: what the file is, for messages ("the vgg19 weights").
        hint: what to do without network, appended to the error.
        sha256_prefix: if given, the download must have a SHA-256 starting with it (torchvision
            names its weights files after such a prefix).

    Returns:
        Path: the local file.

    Raises:
        DownloadError: the file is not cached and could not be downloaded, or it was corrupt.
    """
    path = folder / filename
    if path.exists():
        return path
    download(url, path, what, hint=f"It is not in the cache either: {path}. {hint}")
    if sha256_prefix and not pooch.file_hash(str(path), alg="sha256").startswith(sha256_prefix):
        path.unlink()
        raise DownloadError(f"The download of {what} from {url} was corrupt (wrong checksum) "
                            "and was deleted. Try again.")
    return path


@contextlib.contextmanager
def _quiet_pooch() -> Iterator[None]:
    """Hide pooch's informational lines (its advice on ``known_hash`` is for library authors)."""
    logger = pooch.get_logger()
    level = logger.level
    logger.setLevel("WARNING")
    try:
        yield
    finally:
        logger.setLevel(level)
