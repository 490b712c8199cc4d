"""Top patches: receptive fields by hand and by experiment, the pool, and the top-k search."""

import pytest
import torch

import nstutils as nst
from nstutils.patches import POOL_PHOTOS, Patch, _square_boxes
from nstutils.receptive_fields import ReceptiveField

PHOTOS = ["chelsea", "coffee", "brick"]


@pytest.fixture(scope="module")
def pool():
    return nst.patch_pool(64, photos=PHOTOS, device="cpu")


@pytest.fixture(scope="module")
def maxima(model, pool):
    return nst.unit_maxima(model, pool, ["stem", "block3", "block7"], progress=False)


def test_receptive_fields_of_the_first_layers_by_hand(model):
    # stem: 3x3 conv, stride 2, TensorFlow "same" padding puts the extra pixel right/bottom
    assert nst.receptive_field(model, "stem") == ReceptiveField(size=3, stride=2, offset=0)
    # block0: a 3x3 depthwise conv on the stride-2 grid adds 2 * 2 pixels, padding 1 (= 2 px)
    assert nst.receptive_field(model, "block0") == ReceptiveField(size=7, stride=2, offset=-2)
    # block1: 3x3 depthwise with stride 2 (padding right/bottom only) adds 2 * 2 pixels
    assert nst.receptive_field(model, "block1") == ReceptiveField(size=11, stride=4, offset=-2)


def test_pixels_outside_the_field_do_not_change_the_unit(model):
    field = nst.receptive_field(model, "block3")
    image = torch.rand(1, 3, 96, 96, generator=torch.Generator().manual_seed(0))
    i, j = 5, 6
    x0, y0, x1, y1 = field.box(i, j, 96)
    outside = image.clone()
    outside[..., :y0, :] = 1 - outside[..., :y0, :]
    outside[..., :, x1:] = 1 - outside[..., :, x1:]
    inside = image.clone()
    inside[..., y0:y1, x0:x1] = 1 - inside[..., y0:y1, x0:x1]
    with torch.no_grad():
        acts = [model.features(x, "block3")["block3"][0, :, i, j] for x in (image, outside, inside)]
    torch.testing.assert_close(acts[1], acts[0], atol=1e-4, rtol=0)
    assert (acts[2] - acts[0]).abs().max() > 0.1


def test_box_is_clipped_to_the_image():
    field = ReceptiveField(size=11, stride=4, offset=-2)
    assert field.box(0, 0, 64) == (0, 0, 9, 9)
    assert field.box(2, 3, 64) == (10, 6, 21, 17)
    assert field.box(15, 15, 64) == (58, 58, 64, 64)


def test_deeper_layers_see_more(model):
    layers = ("stem", "block3", "block5", "block7")
    sizes = [nst.receptive_field(model, layer).size for layer in layers]
    assert sizes == sorted(sizes) and len(set(sizes)) == 4


def test_square_boxes():
    assert _square_boxes(10, 20, (1.0,)) == [(0, 0, 10, 10), (5, 0, 15, 10), (10, 0, 20, 10)]
    boxes = _square_boxes(10, 10, (1.0, 0.5))
    assert boxes[0] == (0, 0, 10, 10) and len(boxes) == 6
    assert all(x1 - x0 == y1 - y0 for x0, y0, x1, y1 in boxes)


def test_pool_holds_crops_and_mirror_images(pool):
    assert pool.images.shape[1:] == (3, 64, 64) and len(pool) == pool.images.shape[0]
    assert {s.photo for s in pool.sources} == set(PHOTOS)
    assert pool.sources[1].flipped and pool.sources[1].box == pool.sources[0].box
    assert pool.images[1].equal(pool.images[0].flip(-1))
    assert 0 <= pool.images.min() and pool.images.max() <= 1


def test_pool_twice_is_identical_and_keeps_the_arguments():
    photos, scales = ["coins", "camera"], [1.0, 0.5]
    first = nst.patch_pool(64, photos=photos, scales=scales, device="cpu")
    second = nst.patch_pool(64, photos=photos, scales=scales, device="cpu")
    assert first.images.equal(second.images) and first.sources == second.sources
    assert photos == ["coins", "camera"] and scales == [1.0, 0.5]


def test_pool_refuses_bad_sizes_and_names():
    with pytest.raises(ValueError, match="multiple of 32"):
        nst.patch_pool(100, photos=["chelsea"])
    with pytest.raises(ValueError, match="not a pool photo"):
        nst.patch_pool(64, photos=["lena"])


def test_every_pool_photo_ships_with_scikit_image():
    pool = nst.patch_pool(64, scales=(1.0,), flips=False, device="cpu")  # offline (conftest)
    assert list(dict.fromkeys(s.photo for s in pool.sources)) == list(POOL_PHOTOS)
    assert 0 <= pool.images.min() and pool.images.max() <= 1


def test_top_patches_are_the_strongest_and_spread_out(model, pool, maxima):
    patches = nst.top_patches(model, pool, "block3", 7, k=9, maxima=maxima)
    assert len(patches) == 2 * len(PHOTOS)  # at most two per photo, by default
    values = [p.activation for p in patches]
    assert values == sorted(values, reverse=True)
    # the recorded activation is the unit's real maximum in that pool image
    with torch.no_grad():
        best = model.features(pool.images[[p.image for p in patches]], "block3")["block3"][:, 7]
    torch.testing.assert_close(best.flatten(1).max(1).values, torch.tensor(values), atol=1e-4,
                               rtol=0)
    # the first is the largest activation anywhere in the pool
    assert maxima["block3"].values[:, 7].max().item() == pytest.approx(values[0])


def test_deeper_patches_are_larger(model, pool, maxima):
    area = {}
    for layer in ("stem", "block3", "block7"):
        patches = nst.top_patches(model, pool, layer, 0, maxima=maxima)
        area[layer] = sum((p.box[2] - p.box[0]) * (p.box[3] - p.box[1]) for p in patches)
    assert area["stem"] < area["block3"] < area["block7"]


def test_top_patches_twice_gives_the_same_and_changes_nothing(model, pool, maxima):
    values_before = maxima["block7"].values.clone()
    images_before = pool.images.clone()
    first = nst.top_patches(model, pool, "block7", 3, maxima=maxima)
    second = nst.top_patches(model, pool, "block7", 3, maxima=maxima)
    assert first == second
    assert maxima["block7"].values.equal(values_before)
    assert pool.images.equal(images_before)


def test_top_patches_errors(model, pool, maxima):
    with pytest.raises(ValueError, match="channels"):
        nst.top_patches(model, pool, "stem", 99, maxima=maxima)
    with pytest.raises(ValueError, match="has no 'block5'"):
        nst.top_patches(model, pool, "block5", 0, maxima=maxima)


def test_one_photo_cannot_fill_the_grid(model, pool, maxima):
    capped = nst.top_patches(model, pool, "stem", 3, maxima=maxima)
    counts = {p: sum(q.source.photo == p for q in capped) for p in PHOTOS}
    assert max(counts.values()) <= 2
    free = nst.top_patches(model, pool, "stem", 3, maxima=maxima, per_photo=None)
    assert len(free) == 9
    assert max(sum(q.source.photo == p for q in free) for p in PHOTOS) > 2


def test_the_pass_size_does_not_change_the_maxima(model, pool, maxima):
    """The CPU default (4 images a pass, for the cache) finds what one pass of 32 finds."""
    one_pass = nst.unit_maxima(model, pool, ["stem", "block3", "block7"], batch_size=32,
                               progress=False)
    for name, found in maxima.items():
        torch.testing.assert_close(found.values, one_pass[name].values, rtol=1e-4, atol=1e-5)


def test_a_crop_is_the_unit_field_clipped_to_the_image(model, pool, maxima):
    field, stats = nst.receptive_field(model, "block3"), maxima["block3"]
    patches = nst.top_patches(model, pool, "block3", 7, maxima=maxima)
    clipped = 0
    for patch in patches:
        row, col = int(stats.rows[patch.image, 7]), int(stats.cols[patch.image, 7])
        y0, x0 = row * field.stride + field.offset, col * field.stride + field.offset
        top, left = max(y0, 0), max(x0, 0)
        bottom, right = min(y0 + field.size, pool.size), min(x0 + field.size, pool.size)
        crop = nst.patch_crop(pool, patch)
        assert crop.shape == (3, bottom - top, right - left)
        assert crop.equal(pool.images[patch.image, :, top:bottom, left:right])
        clipped += crop.shape[1:] != (field.size, field.size)
    assert field.size < pool.size and 0 < clipped < len(patches)  # some at a border, some inside


def test_a_crop_is_the_pool_image_at_the_box(pool):
    patch = Patch(3, 1.0, (5, 10, 40, 30), pool.sources[3])
    assert nst.patch_crop(pool, patch).equal(pool.images[3, :, 10:30, 5:40])
    with pytest.raises(ValueError, match="pool holds"):
        nst.patch_crop(pool, Patch(len(pool), 1.0, (0, 0, 4, 4), pool.sources[0]))


def test_strongest_units_reach_the_largest_activations(maxima):
    peaks = maxima["block7"].values.max(dim=0).values
    units = nst.strongest_units(maxima, "block7", k=9)
    assert len(set(units)) == 9
    assert peaks[units].tolist() == sorted(peaks[units].tolist(), reverse=True)
    others = [c for c in range(peaks.numel()) if c not in units]
    assert peaks[units].min() >= peaks[others].max()
    with pytest.raises(ValueError, match="from 1 to"):
        nst.strongest_units(maxima, "block7", k=peaks.numel() + 1)
    with pytest.raises(ValueError, match="has no 'block5'"):
        nst.strongest_units(maxima, "block5")
