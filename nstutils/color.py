"""Colour for style transfer: luminance and chroma (YCbCr), and matching colours between images.

Style transfer copies a painting's colours along with its brush strokes. Gatys et al. (2016,
"Preserving colour in neural artistic style transfer") give two ways to keep the photo's colours:

- **luminance-only transfer**: transfer the style between grey (luminance) images, then put the
  photo's chroma back (`luminance`, `match_luminance`, `with_chroma_of`);
- **colour histogram matching**: first recolour the painting so that its colours have the photo's
  mean and covariance, then transfer as usual (`match_colors`).

YCbCr here is full-range ITU-R BT.601, as in JPEG: Y in [0, 1], Cb and Cr in [0, 1] with 0.5 for
grey.
"""

import torch

from .validate import check_image

KR, KB = 0.299, 0.114  # BT.601 weights of red and blue in the luminance
KG = 1 - KR - KB


def rgb_to_ycbcr(image: torch.Tensor) -> torch.Tensor:
    """Convert RGB to YCbCr (full-range BT.601, as in JPEG).

    Args:
        image: (N, 3, H, W) RGB in [0, 1].

    Returns:
        (N, 3, H, W): Y (luminance) in [0, 1], then Cb and Cr (chroma) in [0, 1], 0.5 for grey.
    """
    check_image(image, pixels=False)
    r, g, b = image.unbind(1)
    y = KR * r + KG * g + KB * b
    cb = 0.5 + (b - y) / (2 * (1 - KB))
    cr = 0.5 + (r - y) / (2 * (1 - KR))
    return torch.stack([y, cb, cr], dim=1)


def ycbcr_to_rgb(ycbcr: torch.Tensor) -> torch.Tensor:
    """Convert YCbCr (full-range BT.601) back to RGB, clamped to [0, 1].

    Args:
        ycbcr: (N, 3, H, W) as returned by `rgb_to_ycbcr`.

    Returns:
        (N, 3, H, W) RGB in [0, 1].
    """
    check_image(ycbcr, "ycbcr", pixels=False)
    y, cb, cr = ycbcr.unbind(1)
    r = y + 2 * (1 - KR) * (cr - 0.5)
    b = y + 2 * (1 - KB) * (cb - 0.5)
    g = (y - KR * r - KB * b) / KG
    return torch.stack([r, g, b], dim=1).clamp(0, 1)


def luminance(image: torch.Tensor) -> torch.Tensor:
    """Return the luminance Y of RGB images as grey RGB images (Y in all three channels).

    Args:
        image: (N, 3, H, W) RGB in [0, 1].

    Returns:
        (N, 3, H, W) grey images, ready for a network that expects RGB.
    """
    return rgb_to_ycbcr(image)[:, :1].expand(-1, 3, -1, -1).contiguous()


def match_luminance(image: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """Make a grey version of ``image`` whose luminance has the mean and spread of ``reference``'s.

    Used for luminance-only transfer, so that the painting's brightness range does not darken or
    wash out the photo.

    Args:
        image: (N, 3, H, W) RGB in [0, 1], e.g. the style image.
        reference: (1 or N, 3, H', W') RGB in [0, 1], e.g. the content photo.

    Returns:
        (N, 3, H, W) grey images in [0, 1].
    """
    check_image(reference, "reference", pixels=False)
    y, y_ref = rgb_to_ycbcr(image)[:, :1], rgb_to_ycbcr(reference)[:, :1]
    mean, std = y.mean(dim=(2, 3), keepdim=True), y.std(dim=(2, 3), keepdim=True)
    ref_mean, ref_std = y_ref.mean(dim=(2, 3), keepdim=True), y_ref.std(dim=(2, 3), keepdim=True)
    matched = (y - mean) * (ref_std / std.clamp_min(1e-6)) + ref_mean
    return matched.clamp(0, 1).expand(-1, 3, -1, -1).contiguous()


def with_chroma_of(image: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """Combine the luminance of ``image`` with the chroma (Cb, Cr) of ``reference``.

    Args:
        image: (N, 3, H, W) RGB in [0, 1], e.g. a stylized image.
        reference: (1 or N, 3, H, W) RGB in [0, 1] of the same size, e.g. the content photo.

    Returns:
        (N, 3, H, W) RGB in [0, 1]: the brightness of ``image`` in the colours of ``reference``.
    """
    check_image(reference, "reference", pixels=False)
    if image.shape[-2:] != reference.shape[-2:]:
        raise ValueError(f"image is {tuple(image.shape[-2:])} but reference is "
                         f"{tuple(reference.shape[-2:])}: resize one with nstutils.resize.")
    y = rgb_to_ycbcr(image)[:, :1]
    chroma = rgb_to_ycbcr(reference)[:, 1:].expand(y.shape[0], -1, -1, -1)
    return ycbcr_to_rgb(torch.cat([y, chroma], dim=1))


def match_colors(image: torch.Tensor, reference: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Recolour ``image`` so that its RGB mean and covariance equal those of ``reference``.

    This is the colour histogram matching of Gatys et al. (2016): an affine map of the colours,
    x -> A (x - mu) + mu_ref with A = C_ref^(1/2) C^(-1/2), so the colour cloud of the image
    takes the position, spread and orientation of the reference's.

    Args:
        image: (N, 3, H, W) RGB in [0, 1], e.g. the style image.
        reference: (1 or N, 3, H', W') RGB in [0, 1], e.g. the content photo.
        eps: added to the covariances' diagonals, so flat images do not divide by zero.

    Returns:
        (N, 3, H, W) RGB in [0, 1].
    """
    check_image(image, pixels=False)
    check_image(reference, "reference", pixels=False)
    pixels = image.flatten(2).double()                        # (N, 3, P)
    ref = reference.flatten(2).double()
    mean, ref_mean = pixels.mean(2, keepdim=True), ref.mean(2, keepdim=True)
    eye = eps * torch.eye(3, dtype=torch.float64, device=image.device)
    cov = _covariance(pixels - mean) + eye
    ref_cov = _covariance(ref - ref_mean) + eye
    transform = _matrix_power(ref_cov, 0.5) @ _matrix_power(cov, -0.5)
    out = transform @ (pixels - mean) + ref_mean
    return out.reshape(image.shape).to(image.dtype).clamp(0, 1)


def _covariance(centred: torch.Tensor) -> torch.Tensor:
    """(N, 3, P) centred pixels -> (N, 3, 3) covariance."""
    return centred @ centred.transpose(1, 2) / centred.shape[2]


def _matrix_power(matrix: torch.Tensor, power: float) -> torch.Tensor:
    """A symmetric positive-definite matrix to a real power, through its eigendecomposition."""
    values, vectors = torch.linalg.eigh(matrix)
    return vectors @ torch.diag_embed(values.clamp_min(1e-12) ** power) @ vectors.transpose(-1, -2)
