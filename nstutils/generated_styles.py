"""Style images made by code, so that style transfer works with no network at all.

Each generator takes a size and a seed and returns a (1, 3, H, W) tensor in [0, 1]; brush widths
scale with the size, so a 256 px and a 512 px swirl look like the same painting. The last one,
``clouds``, is a photo rather than a style: a bright cloudy sky for DeepDream to dream on, as in
the lecture.
"""

from collections.abc import Callable

import numpy as np
import PIL.Image
import PIL.ImageDraw
import PIL.ImageFilter
import torch
from scipy import ndimage
from scipy.spatial import cKDTree


def _palette(colors: list[str], t: np.ndarray) -> np.ndarray:
    """Map t in [0, 1] (H, W) through a piecewise-linear palette of hex colours -> (H, W, 3)."""
    rgb = np.array([[int(c[i:i + 2], 16) / 255 for i in (1, 3, 5)] for c in colors])
    stops = np.linspace(0, 1, len(colors))
    return np.stack([np.interp(t, stops, rgb[:, k]) for k in range(3)], axis=-1)


def _smooth_noise(rng: np.random.Generator, h: int, w: int, scale: float) -> np.ndarray:
    """Gaussian-blurred white noise, rescaled to [0, 1]."""
    n = ndimage.gaussian_filter(rng.standard_normal((h, w)), scale, mode="wrap")
    return (n - n.min()) / (np.ptp(n) + 1e-8)


_GENERATOR_ARGS = """
    Args:
        size: side in pixels, or (H, W).
        seed: random seed.

    Returns:
        (1, 3, H, W) in [0, 1].
    """


def _generated_style(paint: Callable[[int, int, np.random.Generator], np.ndarray]):
    """Turn a painter (H, W, random generator) -> (H, W, 3) RGB array into a style generator.

    Args:
        paint: draws the style at a given size with the given random numbers.

    Returns:
        callable: ``(size=512, seed=0) -> (1, 3, H, W)`` tensor in [0, 1], where size is a side
        in pixels or (H, W); it keeps the painter's name and docstring.
    """
    def generate(size: int | tuple[int, int] = 512, seed: int = 0) -> torch.Tensor:
        h, w = (size, size) if isinstance(size, int) else tuple(size)
        rgb = paint(h, w, np.random.default_rng(seed)).clip(0, 1)
        return torch.from_numpy(np.ascontiguousarray(rgb, dtype=np.float32)).permute(2, 0, 1)[None]

    generate.__name__ = generate.__qualname__ = paint.__name__
    generate.__doc__ = paint.__doc__ + _GENERATOR_ARGS
    return generate


def line_integral_convolution(field: np.ndarray, noise: np.ndarray, length: int) -> np.ndarray:
    """Smear noise along the streamlines of a vector field (Cabral and Leedom, 1993).

    Args:
        field: (2, H, W) unit vectors (dy, dx).
        noise: (H, W) texture to smear.
        length: streamline steps in each direction, in pixels.

    Returns:
        (H, W) the noise averaged along each pixel's streamline, with a tent weight.
    """
    h, w = noise.shape
    total = np.zeros_like(noise)
    weights = 0.0
    for direction in (1.0, -1.0):
        y, x = np.mgrid[0:h, 0:w].astype(np.float64)
        for step in range(length):
            weight = 1.0 - step / length
            total += weight * ndimage.map_coordinates(noise, [y, x], order=1, mode="wrap")
            weights += weight
            dy = ndimage.map_coordinates(field[0], [y, x], order=1, mode="wrap")
            dx = ndimage.map_coordinates(field[1], [y, x], order=1, mode="wrap")
            y, x = y + direction * dy, x + direction * dx
    return total / weights


@_generated_style
def swirl(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """A night sky of swirling brush strokes: line integral convolution of a vortex field.
"""
    s = min(h, w)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    vy, vx = 0.15 * np.ones((h, w)), np.ones((h, w))  # a slow drift to the right
    centers = rng.uniform([0.1 * h, 0.1 * w], [0.9 * h, 0.9 * w], size=(7, 2))
    radii = rng.uniform(0.08, 0.2, size=7) * s
    glow = np.zeros((h, w))
    for (cy, cx), r in zip(centers, radii):
        dy, dx = yy - cy, xx - cx
        d2 = dy ** 2 + dx ** 2
        strength = 3.0 * rng.choice([-1, 1]) * np.exp(-d2 / (2 * (1.6 * r) ** 2))
        vy, vx = vy + strength * dx / np.sqrt(d2 + r ** 2) * 2, vx - strength * dy / np.sqrt(d2 + r ** 2) * 2
        glow += np.exp(-d2 / (2 * (0.35 * r) ** 2))
    norm = np.sqrt(vy ** 2 + vx ** 2) + 1e-8
    field = np.stack([vy / norm, vx / norm])
    grain = max(1.0, s / 256)
    noise = ndimage.zoom(rng.random((int(h / grain) + 1, int(w / grain) + 1)), grain, order=0)[:h, :w]
    strokes = line_integral_convolution(field, noise, length=int(0.06 * s) + 4)
    strokes = (strokes - strokes.mean()) / (strokes.std() + 1e-8)
    sky = 0.35 + 0.25 * _smooth_noise(rng, h, w, 0.08 * s) - 0.15 * yy / h
    t = np.clip(sky + 0.12 * strokes + 0.55 * np.clip(glow, 0, 1), 0, 1)
    rgb = _palette(["#0b1a3d", "#1d3f8a", "#3a6fb5", "#7fa7c9", "#e8d27a", "#f7e9a0"], t)
    return rgb * (0.88 + 0.12 * np.clip(strokes[..., None] / 3 + 0.5, 0, 1))


@_generated_style
def mosaic(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """Stained glass: Voronoi cells of jewel colours with dark leading between them.
"""
    s = min(h, w)
    n_cells = 160
    seeds = rng.uniform([0, 0], [h, w], size=(n_cells, 2))
    yy, xx = np.mgrid[0:h, 0:w]
    dist, idx = cKDTree(seeds).query(np.stack([yy.ravel(), xx.ravel()], 1), k=2)
    dist, idx = dist.reshape(h, w, 2), idx[:, 0].reshape(h, w)
    colors = _palette(["#8c1c13", "#c44536", "#f2a541", "#f6e27f", "#3b8ea5", "#1b4965",
                       "#2d6a4f", "#6a4c93"], rng.random(n_cells))
    rgb = colors[idx]
    shade = 1.0 - 0.5 * dist[..., 0] / (dist[..., 0] + dist[..., 1])  # darker towards the edges
    rgb = rgb * shade[..., None] * (0.9 + 0.2 * _smooth_noise(rng, h, w, 0.004 * s)[..., None])
    leading = np.clip((dist[..., 1] - dist[..., 0]) / (0.008 * s), 0, 1)[..., None]
    return rgb * leading + 0.08 * (1 - leading)


@_generated_style
def waves(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """Woodblock-print waves: bands of indigo and foam along a turbulent wave field.
"""
    s = min(h, w)
    y, x = np.mgrid[0:h, 0:w] / s
    warp = 1.2 * _smooth_noise(rng, h, w, 0.08 * s) + 0.25 * _smooth_noise(rng, h, w, 0.02 * s)
    swell = 0.5 * np.sin(2 * np.pi * (1.5 * x + rng.random())) * np.sin(2 * np.pi * (0.7 * y + x))
    phase = 9.0 * y + swell + 2.0 * warp
    band = np.floor(phase).astype(int)
    frac = phase - band
    colors = _palette(["#0f2a4a", "#1f4e79", "#3f7cac", "#a7c4d9", "#f4efe1"],
                      (band % 5) / 4)
    crest = np.clip(1 - np.abs(frac - 0.92) / 0.05, 0, 1)[..., None]
    ink = np.clip(1 - np.abs(frac) / 0.04, 0, 1)[..., None]
    paper = 0.93 + 0.07 * _smooth_noise(rng, h, w, 0.002 * s)[..., None]
    rgb = colors * (0.82 + 0.18 * frac[..., None])
    rgb = rgb * (1 - crest) + np.array([0.96, 0.94, 0.88]) * crest
    return (rgb * (1 - 0.8 * ink)) * paper


@_generated_style
def shapes(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """An abstract composition of rings, bars and triangles on warm paper, after Kandinsky.
"""
    ss = 2  # draw at twice the size, then downsample for smooth edges
    H, W, S = h * ss, w * ss, min(h, w) * ss
    paper = _palette(["#e9dcc0", "#f3ead3"], _smooth_noise(rng, H, W, 0.05 * S))
    canvas = PIL.Image.fromarray((paper * 255).astype(np.uint8))
    draw = PIL.ImageDraw.Draw(canvas)
    colors = ["#d62828", "#f77f00", "#fcbf49", "#003049", "#2a9d8f", "#6a4c93", "#111111"]
    pick = lambda: colors[rng.integers(len(colors))]  # noqa: E731
    for _ in range(5):  # translucent washes
        cx, cy, r = rng.uniform(0, W), rng.uniform(0, H), rng.uniform(0.15, 0.35) * S
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=pick())
    canvas = canvas.filter(PIL.ImageFilter.GaussianBlur(0.04 * S))
    canvas = PIL.Image.blend(canvas, PIL.Image.fromarray((paper * 255).astype(np.uint8)), 0.45)
    draw = PIL.ImageDraw.Draw(canvas)
    for _ in range(6):  # bold triangles
        pts = rng.uniform([0, 0], [W, H], size=(3, 2))
        center = pts.mean(0)
        pts = center + 0.5 * (pts - center)
        draw.polygon([tuple(p) for p in pts], fill=pick())
    for _ in range(6):  # concentric rings
        cx, cy, r = rng.uniform(0, W), rng.uniform(0, H), rng.uniform(0.05, 0.14) * S
        for scale in (1.0, 0.7, 0.4):
            rr = r * scale
            draw.ellipse([cx - rr, cy - rr, cx + rr, cy + rr], fill=pick(),
                         outline="#111111", width=max(1, int(0.006 * S)))
    for _ in range(14):  # black strokes
        x0, y0 = rng.uniform(0, W), rng.uniform(0, H)
        angle, length = rng.uniform(0, np.pi), rng.uniform(0.15, 0.6) * S
        draw.line([x0, y0, x0 + length * np.cos(angle), y0 + length * np.sin(angle)],
                  fill="#111111", width=max(1, int(rng.uniform(0.003, 0.012) * S)))
    rgb = np.asarray(canvas.resize((w, h), PIL.Image.LANCZOS)) / 255
    return rgb


@_generated_style
def clouds(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """A bright sky of white cumulus clouds, lit from above, over a blue gradient.
"""
    s = min(h, w)
    y = np.mgrid[0:h, 0:w][0] / h
    fractal = sum(0.5 ** k * _smooth_noise(rng, h, w, 0.1 * s / 2 ** k) for k in range(5))
    low, high = np.quantile(fractal, [0.5, 0.8])
    density = np.clip((fractal - low) / (high - low), 0, 1) ** 0.7
    # A cloud is lit from above: the more cloud just above a pixel, the greyer its underside.
    above = ndimage.shift(ndimage.gaussian_filter(density, 0.02 * s), (0.04 * s, 0), order=1,
                          mode="nearest")
    shadow = 0.45 * np.clip(above, 0, 1)[..., None]
    cloud = np.array([1.0, 1.0, 1.0]) * (1 - shadow) + np.array([0.66, 0.71, 0.79]) * shadow
    sky = _palette(["#3d7fd1", "#6fa3e0", "#b4d3f2"], y)
    return sky * (1 - density[..., None]) + cloud * density[..., None]


GENERATED_STYLES = {"swirl": swirl, "mosaic": mosaic, "waves": waves, "shapes": shapes,
                    "clouds": clouds}
