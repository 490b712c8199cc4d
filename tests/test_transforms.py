"""Regularizers: exact values on small tensors, randomness within its stated range."""

import math

import pytest
import torch

from nstutils.transforms import (Blur, Jitter, L2Decay, Pad, RandomRotate, RandomScale,
                                 apply_transforms, gaussian_blur, gaussian_kernel, rescale, roll,
                                 rotate, check_pieces, standard_transforms)


def grid(h: int, w: int) -> torch.Tensor:
    return torch.arange(h * w, dtype=torch.float32).view(1, 1, h, w)


def test_roll_moves_pixels_cyclically():
    out = roll(grid(3, 3), 1, -1)
    assert out[0, 0].tolist() == [[7, 8, 6], [1, 2, 0], [4, 5, 3]]


def test_pad_adds_a_gray_border():
    out = Pad(1)(torch.zeros(1, 3, 2, 2))
    assert out.shape == (1, 3, 4, 4)
    assert out[0, 0, 0].tolist() == [0.5] * 4
    assert out[0, 0, 1].tolist() == [0.5, 0.0, 0.0, 0.5]


def test_rescale_by_half_averages_two_by_two_blocks():
    out = rescale(grid(4, 4), 0.5)
    assert out[0, 0].tolist() == [[2.5, 4.5], [10.5, 12.5]]
    assert rescale(grid(4, 4), 1.0).equal(grid(4, 4))


def test_rotate_by_quarter_turns_matches_rot90():
    square = grid(3, 3)
    torch.testing.assert_close(rotate(square, 90), torch.rot90(square, 1, (-2, -1)),
                               atol=1e-5, rtol=0)
    wide = grid(3, 4)
    torch.testing.assert_close(rotate(wide, 180), wide.flip(-1).flip(-2), atol=1e-5, rtol=0)
    assert rotate(wide, 0).equal(wide)


def test_gaussian_kernel_values():
    kernel = gaussian_kernel(1.0)
    expected = torch.tensor([math.exp(-x * x / 2) for x in range(-2, 3)])
    torch.testing.assert_close(kernel, expected / expected.sum())
    assert kernel.sum().item() == pytest.approx(1.0)


def test_blur_spreads_a_point_into_the_outer_product_of_kernels():
    point = torch.zeros(1, 1, 9, 9)
    point[0, 0, 4, 4] = 1.0
    kernel = gaussian_kernel(1.0)
    out = gaussian_blur(point, 1.0)
    torch.testing.assert_close(out[0, 0, 2:7, 2:7], torch.outer(kernel, kernel))
    assert out[0, 0, 0].abs().max() == 0
    # a constant image stays constant (reflection at the borders)
    torch.testing.assert_close(Blur(2.0)(torch.full((1, 3, 12, 12), 0.3)),
                               torch.full((1, 3, 12, 12), 0.3))


def test_l2_decay_value():
    image = torch.tensor([0.5, 1.0, 0.0, 0.5]).view(1, 1, 2, 2).expand(1, 3, 2, 2)
    assert L2Decay(2.0)(image).item() == pytest.approx(2.0 * (0.25 + 0.25) / 4)


def test_jitter_only_makes_allowed_shifts():
    image = grid(6, 6)
    allowed = [roll(image, dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)]
    generator = torch.Generator().manual_seed(0)
    seen = set()
    for _ in range(40):
        out = Jitter(2)(image, generator)
        matches = [k for k, candidate in enumerate(allowed) if candidate.equal(out)]
        assert matches
        seen.add(matches[0])
    assert len(seen) > 5  # it does move


def test_random_scale_and_rotate_draw_from_their_ranges():
    generator = torch.Generator().manual_seed(1)
    sizes = {RandomScale((0.5, 1.0))(grid(8, 8), generator).shape[-1] for _ in range(20)}
    assert sizes == {4, 8}
    image = torch.rand(1, 3, 9, 9)
    outs = [RandomRotate(90)(image, generator) for _ in range(10)]
    assert all(o.shape == image.shape for o in outs)
    assert any(not o.equal(image) for o in outs)


def test_same_seed_same_sequence():
    image = torch.rand(1, 3, 32, 32)
    a = apply_transforms(image, standard_transforms(), torch.Generator().manual_seed(3))
    b = apply_transforms(image, standard_transforms(), torch.Generator().manual_seed(3))
    assert a.equal(b)


def test_check_pieces_keeps_order_and_sends_each_kind_to_its_parameter():
    pieces = (Jitter(4), Pad(2))
    checked = check_pieces(pieces, "transforms")
    assert checked == list(pieces) and check_pieces(None, "penalties") == []
    with pytest.raises(TypeError, match=r"L2Decay\(1.0\): it belongs in penalties="):
        check_pieces([Jitter(2), L2Decay(1.0)], "transforms")
    with pytest.raises(TypeError, match="belongs in transforms="):
        check_pieces([Blur(1.0)], "penalties")
    with pytest.raises(TypeError, match="use the pieces of nstutils.transforms"):
        check_pieces([Jitter(2), "blur"], "transforms")


@pytest.mark.parametrize("make", [lambda: Jitter(-1), lambda: Blur(-1), lambda: L2Decay(-2),
                                  lambda: RandomScale(()), lambda: RandomScale((0.0,))])
def test_bad_arguments_are_refused(make):
    with pytest.raises(ValueError):
        make()


def test_repr_names_the_piece():
    assert repr(Jitter(8)) == "Jitter(8)"
    assert repr(L2Decay(0.5)) == "L2Decay(0.5)"
