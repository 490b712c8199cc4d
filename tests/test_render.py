"""visualize: the measured bar on the real network, diversity, repeatability, clear errors."""

import pytest
import torch

import nstutils as nst
from nstutils.objectives import gram_similarity
from nstutils.transforms import L2Decay

SIZE = 64


def test_regularized_beats_gray_tenfold_and_naive_under_jitter(model):
    """The measured bar, at small size: block7 channel 42 (mean-gray activation about 1.8)."""
    objective = nst.channel("block7", 42)
    gray = objective.value(model, torch.full((1, 3, SIZE, SIZE), 0.5))
    assert gray > 0
    regularized = nst.visualize(objective, model, size=SIZE, steps=48, progress=False)
    naive = nst.visualize(objective, model, size=SIZE, steps=48, param="pixel", transforms=[],
                          progress=False)
    assert objective.value(model, regularized) >= 10 * gray
    robust = [nst.robust_score(model, objective, image, jitter=SIZE // 8)
              for image in (regularized, naive)]
    assert robust[0] > robust[1]


def test_a_decaying_rate_reaches_visualize_and_still_climbs(model):
    """Notebook 02's bold recipe (lr 0.1 falling to a tenth) is passed on to the optimizer."""
    objective = nst.channel("block7", 42)
    gray = objective.value(model, torch.full((1, 3, SIZE, SIZE), 0.5))
    runs = {decay: nst.visualize(objective, model, size=SIZE, steps=24, lr=0.1, lr_decay=decay,
                                 progress=False, return_history=True) for decay in (1.0, 0.1)}
    assert objective.value(model, runs[0.1][0]) >= 5 * gray
    steady, decayed = (runs[d][1].losses["total"] for d in (1.0, 0.1))
    assert steady[:1] == decayed[:1] and steady[-1] != decayed[-1]  # same start, other path
    with pytest.raises(ValueError, match="lr_decay"):
        nst.visualize(objective, model, size=SIZE, steps=2, lr_decay=0.0, progress=False)


def test_diversity_makes_the_batch_different(model):
    """Diversity at block3 also makes the images differ at layers it does not look at."""
    plain = nst.channel("block5", 10)
    diverse = plain - 20.0 * nst.diversity("block3")
    runs = {name: nst.visualize(objective, model, size=SIZE, steps=40, batch=3, progress=False)
            for name, objective in (("plain", plain), ("diverse", diverse))}

    def similarity(images, layer):
        gram = gram_similarity(model.features(images, layer)[layer])
        return (gram.sum() - gram.diagonal().sum()).item() / 6

    with torch.no_grad():
        for layer in ("block1", "block7"):
            assert similarity(runs["diverse"], layer) < similarity(runs["plain"], layer) - 0.1
        assert plain.value(model, runs["diverse"]) > 0.5 * plain.value(model, runs["plain"])


def test_output_shape_range_and_history(model):
    image, history = nst.visualize(nst.neuron("block3", 5), model, size=(48, 64), steps=3, batch=2,
                                   transforms=[nst.Jitter(2)], penalties=[nst.L2Decay(1.0)],
                                   progress=False, return_history=True)
    assert image.shape == (2, 3, 48, 64)
    assert 0 <= image.min() and image.max() <= 1
    assert set(history.losses) == {"objective", "l2_decay", "total"}
    assert len(history.losses["total"]) == 3


def test_two_calls_agree_and_leave_the_arguments_alone(model):
    transforms, penalties = [nst.Pad(4), nst.Jitter(3)], [nst.L2Decay(0.5)]
    transforms_before, penalties_before = list(transforms), list(penalties)
    start = nst.PixelImage(SIZE, seed=5)
    params_before = start.params.clone()
    objective = nst.channel("block3", 2) + nst.channel("block3", 7)
    kwargs = dict(model=model, steps=3, transforms=transforms, penalties=penalties, param=start,
                  progress=False)
    first = nst.visualize(objective, **kwargs)
    second = nst.visualize(objective, **kwargs)
    assert first.equal(second)
    assert (transforms, penalties) == (transforms_before, penalties_before)
    assert start.params.equal(params_before)
    assert objective.layers == ("block3",)
    assert not first.equal(start())


def test_seed_changes_the_result(model):
    a = nst.visualize(nst.channel("block3", 2), model, size=SIZE, steps=2, seed=0, progress=False)
    b = nst.visualize(nst.channel("block3", 2), model, size=SIZE, steps=2, seed=1, progress=False)
    assert not a.equal(b)


def test_clear_errors(model):
    with pytest.raises(TypeError, match="Expected an objective"):
        nst.visualize("block7", model)
    with pytest.raises(nst.UnknownLayerError, match="block77"):
        nst.visualize(nst.channel("block77", 0), model, steps=1)
    with pytest.raises(ValueError, match="conflicts"):
        nst.visualize(nst.channel("block3", 0), model, size=96, param=nst.PixelImage(64), steps=1)
    with pytest.raises(ValueError, match="too small"):
        nst.visualize(nst.channel("block3", 0), model, size=16, steps=1)
    with pytest.raises(TypeError, match="belongs in penalties="):
        nst.visualize(nst.channel("block3", 0), model, transforms=[nst.L2Decay(1.0)], steps=1)


def test_two_penalties_of_one_kind_both_count(model):
    """Two L2 decays of 1 and 2 weigh as much as one of 3 (neither overwrites the other)."""
    def run(penalties):
        return nst.visualize(nst.channel("block3", 5), model, size=SIZE, steps=3, param="pixel",
                             transforms=[], penalties=penalties, progress=False,
                             return_history=True)[1].losses
    two, one = run([L2Decay(1.0), L2Decay(2.0)]), run([L2Decay(3.0)])
    assert two.keys() == one.keys()
    assert two["total"] == pytest.approx(one["total"], rel=1e-5)
