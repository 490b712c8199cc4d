"""Saliency, SmoothGrad, integrated gradients: the axioms, completeness, captum's numbers."""

import pytest
import torch
from torch import nn

import nstutils as nst
from nstutils.attribution import (
    FIRST_STEPS,
    METHODS,
    attribution_map,
    completeness_gaps,
    integrated_gradients,
    integrated_gradients_report,
    make_baseline,
    path_points,
    saliency,
    smoothgrad,
)
from nstutils.axioms import (
    deeplift_rescale,
    equivalent_relu_networks,
    relu_network,
    saturating_network,
    sigmoid_network,
    symmetric_network,
)


class LinearScore(nn.Module):
    """F(x) = sum(w * x): its gradient is w everywhere, so every method has an exact answer."""

    def __init__(self, weight: torch.Tensor):
        super().__init__()
        self.weight = weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x * self.weight).flatten(1).sum(1, keepdim=True)


@pytest.fixture(scope="module")
def chelsea() -> torch.Tensor:
    return nst.sample_image("chelsea", size=(64, 64), device="cpu")


# --- saliency and SmoothGrad ------------------------------------------------------------------

def test_saliency_is_the_largest_absolute_gradient_over_colour_channels():
    weight = torch.randn(1, 3, 5, 7)
    x = torch.rand(2, 3, 5, 7)
    expected = weight.abs().amax(1).expand(2, 5, 7)
    assert torch.equal(saliency(LinearScore(weight), x), expected)


def test_smoothgrad_of_a_linear_score_equals_its_saliency():
    weight = torch.randn(1, 3, 6, 6)
    x = torch.rand(1, 3, 6, 6)
    model = LinearScore(weight)
    smooth = smoothgrad(model, x, samples=7, noise=0.3, batch_size=3)
    assert torch.allclose(smooth, saliency(model, x))


def test_smoothgrad_is_smoother_than_the_raw_saliency_on_the_real_network(model, chelsea):
    raw = saliency(model, chelsea, 285)[0]
    smooth = smoothgrad(model, chelsea, 285, samples=8, noise=0.15)[0]

    def roughness(m):  # mean jump between neighbours, relative to the mean value
        return ((m[1:] - m[:-1]).abs().mean() + (m[:, 1:] - m[:, :-1]).abs().mean()) / m.mean()

    assert smooth.shape == raw.shape == (64, 64)
    assert roughness(smooth) < 0.8 * roughness(raw)


# --- the quadrature rules -------------------------------------------------------------------

def test_path_points_by_hand():
    alphas, weights = path_points(4, "riemann")
    assert alphas.tolist() == [0.25, 0.5, 0.75, 1.0] and weights.tolist() == [0.25] * 4
    alphas, weights = path_points(5, "trapezoid")
    assert alphas.tolist() == [0, 0.25, 0.5, 0.75, 1.0]
    assert weights.tolist() == [0.125, 0.25, 0.25, 0.25, 0.125]
    alphas, weights = path_points(2, "gauss_legendre")
    assert torch.allclose(alphas, 0.5 + torch.tensor([-0.5, 0.5], dtype=torch.float64) / 3 ** 0.5)
    assert weights.tolist() == [0.5, 0.5]


@pytest.mark.parametrize("method, exact_degree", [("riemann", 0), ("trapezoid", 1),
                                                  ("gauss_legendre", 7)])
def test_each_rule_integrates_polynomials_up_to_its_degree(method, exact_degree):
    alphas, weights = path_points(4, method)
    for degree in range(exact_degree + 1):
        assert float((weights * alphas ** degree).sum()) == pytest.approx(1 / (degree + 1))
    wrong = float((weights * alphas ** (exact_degree + 1)).sum())
    assert wrong != pytest.approx(1 / (exact_degree + 2))


# --- the axioms, on networks you can read ------------------------------------------------------

def test_sensitivity_ig_credits_a_feature_the_gradient_misses():
    net = saturating_network()
    x, baseline = torch.tensor([[2.0]]), torch.tensor([[0.0]])
    assert (net(x) - net(baseline)).item() == 1.0           # the feature changed the output
    assert saliency_1d(net, x) == 0.0                         # but the gradient there is flat
    attributions = integrated_gradients(net, x, baseline=baseline, steps=200)
    assert attributions.item() == pytest.approx(1.0, abs=0.01)


def saliency_1d(net: nn.Module, x: torch.Tensor) -> float:
    x = x.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(net(x).sum(), x)
    return grad.item()


def test_implementation_invariance_relu_and_sigmoid_networks_agree():
    deep_relu, shallow_sigmoid = relu_network(), sigmoid_network()
    assert sum(isinstance(m, nn.Linear) for m in deep_relu) == 3
    assert sum(isinstance(m, nn.Linear) for m in shallow_sigmoid) == 2
    assert any(isinstance(m, nn.ReLU) for m in deep_relu)
    assert not any(isinstance(m, nn.ReLU) for m in shallow_sigmoid)
    xs = torch.randn(200, 2, generator=torch.Generator().manual_seed(0)) * 4
    assert torch.allclose(deep_relu(xs), shallow_sigmoid(xs), atol=1e-6)  # the same function
    x, baseline = torch.tensor([[0.9, -1.3]]), torch.tensor([[-0.5, 0.4]])
    for method in METHODS:
        a = integrated_gradients(deep_relu, x, baseline=baseline, steps=16, method=method)
        b = integrated_gradients(shallow_sigmoid, x, baseline=baseline, steps=16, method=method)
        assert torch.allclose(a, b, atol=1e-6)
        assert a.abs().min() > 0.05


def test_deeplift_breaks_implementation_invariance_where_ig_keeps_it():
    """Sundararajan et al. (2017), appendix: the same function, two networks, two DeepLIFTs."""
    f, g = equivalent_relu_networks()
    xs = torch.randn(500, 2, generator=torch.Generator().manual_seed(0)) * 3
    assert torch.allclose(f(xs), g(xs), atol=1e-6) and (f(xs) > 0).float().mean() > 0.1
    x, baseline = torch.tensor([[3.0, 1.0]]), torch.zeros(1, 2)
    # by hand: f's last ReLU goes from -1 to 1 (rescaled by 1/2), g's first from -1 to 2 (2/3)
    assert deeplift_rescale(f, x, baseline).tolist() == [[1.5, -0.5]]
    assert deeplift_rescale(g, x, baseline).tolist() == [[2.0, -1.0]]
    for net in (f, g):   # both rules add up to f(x) - f(x') = 1; IG also agrees across networks
        assert deeplift_rescale(net, x, baseline).sum().item() == pytest.approx(1.0)
        ig = integrated_gradients(net, x, baseline=baseline, tolerance=1e-4)
        assert ig.tolist()[0] == pytest.approx([1.5, -0.5], abs=1e-3)


def test_deeplift_agrees_with_ig_on_a_linear_layer_and_refuses_other_models():
    net = nn.Sequential(nn.Linear(3, 1))
    x, baseline = torch.randn(4, 3), torch.randn(1, 3)
    assert torch.allclose(deeplift_rescale(net, x, baseline), (x - baseline) * net[0].weight)
    with pytest.raises(TypeError, match="nn.Sequential"):
        deeplift_rescale(nn.Linear(3, 1), x, baseline)


def test_symmetry_preservation_equal_symmetric_features_get_equal_attributions():
    net = symmetric_network()
    swapped = torch.tensor([[0.3, 0.9, 0.5], [0.9, 0.3, 0.5]])
    assert net(swapped)[0] == net(swapped)[1]                 # x1 and x2 are symmetric
    x, baseline = torch.tensor([[0.7, 0.7, 0.8]]), torch.tensor([[0.1, 0.1, 0.0]])
    a = integrated_gradients(net, x, baseline=baseline, steps=400, method="gauss_legendre")[0]
    assert a[0] == a[1]
    # by hand: f rises by ReLU(0.4) - 0 = 0.4 through x1 + x2, shared equally; x3 gives 0.4
    assert a.tolist() == pytest.approx([0.2, 0.2, 0.4], abs=2e-3)


@pytest.mark.parametrize("method, steps, tolerance", [("riemann", 400, 1e-2),
                                                      ("trapezoid", 100, 1e-3),
                                                      ("gauss_legendre", 8, 1e-5)])
def test_completeness_on_a_smooth_network(method, steps, tolerance):
    net = sigmoid_network()
    x, baseline = torch.tensor([[1.5, -0.7]]), torch.tensor([[-1.0, 0.6]])
    a, delta = integrated_gradients(net, x, baseline=baseline, steps=steps, method=method,
                                    return_delta=True)
    change = (net(x) - net(baseline)).item()
    assert a.sum().item() == pytest.approx(change, abs=tolerance * abs(change))
    assert delta.item() == pytest.approx(a.sum().item() - change, abs=1e-6)


def test_completeness_on_the_real_network(model):
    """At enough steps the gap is under 1 % of F(x) - F(baseline) (here about 0.03 %).

    The network is piecewise linear (ReLU6), so the integrand jumps at every kink on the path
    and the gap shrinks only like 1/steps, unevenly: 1024 steps at 48 px keep it well under 1 %.
    """
    x = nst.sample_image("chelsea", size=(48, 48), device="cpu")
    a, delta = integrated_gradients(model, x, 285, "black", steps=1024, method="riemann",
                                    return_delta=True, batch_size=64)
    with torch.no_grad():
        scores = model(torch.cat([x, torch.zeros_like(x)]))[:, 285]
    change = (scores[0] - scores[1]).item()
    assert abs(change) > 10
    assert abs(a.sum().item() - change) < 0.01 * abs(change)
    assert delta.item() == pytest.approx(a.sum().item() - change, abs=1e-3)


def test_the_gap_shrinks_with_more_steps_on_a_smooth_network():
    gaps = completeness_gaps(sigmoid_network(), torch.tensor([[2.0, -1.0]]), steps=(2, 8, 32))
    for method in ("riemann", "trapezoid"):
        assert gaps[method][2] > gaps[method][8] > gaps[method][32]
    assert gaps["gauss_legendre"][8] < 1e-5 < gaps["trapezoid"][8]


# --- the default: steps that grow until completeness holds ------------------------------------

class CountingModel(nn.Module):
    """A model that counts the inputs it is evaluated on."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net, self.rows = net, 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.rows += x.shape[0]
        return self.net(x)


def test_the_default_grows_its_steps_where_the_path_has_a_kink():
    """f(x) = 1 - ReLU(1 - x) from 0 to 2.1 bends at alpha = 1 / 2.1, between two even points."""
    net = CountingModel(saturating_network())
    x, baseline = torch.tensor([[2.1]]), torch.tensor([[0.0]])
    fixed = integrated_gradients_report(net, x, baseline=baseline, steps=FIRST_STEPS,
                                        method="trapezoid")
    assert fixed.gap.item() > 0.01                             # the even points miss the bend
    net.rows = 0
    report = integrated_gradients_report(net, x, baseline=baseline, batch_size=1)
    assert report.method == "trapezoid" and report.gap.item() <= 0.01
    assert FIRST_STEPS < report.steps.item() < FIRST_STEPS + 8  # a few points near the bend
    assert net.rows == report.steps.item()                       # each point evaluated once
    assert report.attributions.item() == pytest.approx(1.0, abs=0.01)
    assert report.delta.item() == pytest.approx(report.attributions.item() - 1.0, abs=1e-6)
    tighter = integrated_gradients_report(net, x, baseline=baseline, tolerance=1e-4)
    assert tighter.gap.item() <= 1e-4 and tighter.steps.item() > report.steps.item()


def test_the_default_returns_what_the_report_says():
    net = sigmoid_network()
    x, baseline = torch.tensor([[1.5, -0.7], [0.2, 0.1]]), torch.tensor([[-1.0, 0.6]] * 2)
    report = integrated_gradients_report(net, x, baseline=baseline, tolerance=1e-3)
    a, delta = integrated_gradients(net, x, baseline=baseline, tolerance=1e-3, return_delta=True)
    assert torch.equal(a, report.attributions) and torch.equal(delta, report.delta)
    change = (net(x) - net(baseline))[:, 0]
    assert torch.allclose(report.gap, (a.sum(1) - change).abs() / change.abs(), atol=1e-6)
    assert (report.gap <= 1e-3).all() and report.steps.shape == (2,)


def test_explicit_steps_keep_the_right_riemann_sum():
    """Lessons and exercises that pass steps= get the paper's rule, as before."""
    net = sigmoid_network()
    x, baseline = torch.tensor([[1.5, -0.7]]), torch.tensor([[-1.0, 0.6]])
    a = integrated_gradients(net, x, baseline=baseline, steps=7)
    assert torch.equal(a, integrated_gradients(net, x, baseline=baseline, steps=7,
                                               method="riemann"))
    alphas = torch.arange(1, 8)[:, None] / 7
    path = (baseline + alphas * (x - baseline)).requires_grad_(True)
    (grad,) = torch.autograd.grad(net(path).sum(), path)
    assert torch.allclose(a, (x - baseline) * grad.mean(0), atol=1e-6)
    report = integrated_gradients_report(net, x, baseline=baseline, steps=7)
    assert report.method == "riemann" and report.steps.tolist() == [7]


def test_reaching_max_steps_above_the_tolerance_warns():
    x, baseline = torch.tensor([[2.1]]), torch.tensor([[0.0]])
    with pytest.warns(UserWarning, match=rf"max_steps={FIRST_STEPS} .* gap of \d+\.\d% .*larger max_steps"):
        report = integrated_gradients_report(saturating_network(), x, baseline=baseline,
                                             max_steps=FIRST_STEPS)
    assert report.gap.item() > 0.01 and report.steps.item() == FIRST_STEPS


@pytest.mark.parametrize("photo, target, baseline", [("chelsea", 281, "black"),
                                                     ("coffee", 967, "blurred")])
def test_the_default_keeps_completeness_on_the_real_network(model, photo, target, baseline):
    """At 224 px, 50 Riemann steps missed completeness by 54 % (chelsea, black baseline)."""
    x = nst.sample_image(photo, size=224, device="cpu")
    base = make_baseline(x, baseline)
    report = integrated_gradients_report(model, x, target, base)
    with torch.no_grad():
        scores = model(torch.cat([x, base]))[:, target]
    change = (scores[0] - scores[1]).item()
    assert abs(report.attributions.sum().item() - change) <= 0.01 * abs(change)
    assert report.gap.item() <= 0.01 and report.steps.item() < 100


# --- agreement with captum ---------------------------------------------------------------------

@pytest.mark.parametrize("method, captum_method", [("riemann", "riemann_right"),
                                                   ("trapezoid", "riemann_trapezoid"),
                                                   ("gauss_legendre", "gausslegendre")])
def test_agrees_with_captum(model, chelsea, method, captum_method):
    captum_attr = pytest.importorskip("captum.attr")
    baseline = make_baseline(chelsea, "blurred")
    steps = 10
    ours, delta = integrated_gradients(model, chelsea, 285, baseline, steps, method, True,
                                       batch_size=4)
    theirs, their_delta = captum_attr.IntegratedGradients(model).attribute(
        chelsea, baseline, target=285, n_steps=steps, method=captum_method,
        return_convergence_delta=True)
    if method == "trapezoid":  # captum's trapezoid weights are 1/n, not 1/(n - 1): rescale
        theirs = theirs * steps / (steps - 1)
    else:
        assert delta.item() == pytest.approx(their_delta.item(), rel=1e-3)
    # Float rounding along the path can flip a ReLU6 near its kink, so compare whole maps: a
    # different rule is off by tens of percent here, rounding by a few parts in 10^4.
    assert (ours - theirs).norm() < 1e-3 * theirs.norm()


# --- baselines, batching and errors ------------------------------------------------------------

def test_baselines(chelsea):
    assert torch.equal(make_baseline(chelsea, "black"), torch.zeros_like(chelsea))
    assert torch.equal(make_baseline(chelsea, "gray"), torch.full_like(chelsea, 0.5))
    noise = make_baseline(chelsea, "noise", seed=3)
    assert torch.equal(noise, make_baseline(chelsea, "noise", seed=3))
    assert 0 <= noise.min() and noise.max() <= 1 and abs(noise.mean().item() - 0.5) < 0.05
    blurred = make_baseline(chelsea, "blurred")
    assert blurred.shape == chelsea.shape
    assert blurred.mean().item() == pytest.approx(chelsea.mean().item(), abs=0.02)
    tv = lambda im: (im[..., 1:, :] - im[..., :-1, :]).abs().mean()
    assert tv(blurred) < 0.3 * tv(chelsea)
    with pytest.raises(ValueError, match="Unknown baseline"):
        make_baseline(chelsea, "white")


def test_batch_size_does_not_change_the_result():
    weight = torch.randn(1, 3, 4, 4)
    net = nn.Sequential(nn.Flatten(), nn.Linear(48, 5), nn.Tanh(), nn.Linear(5, 3))
    x = torch.rand(2, 3, 4, 4)
    one = integrated_gradients(net, x, [0, 2], "gray", steps=9, batch_size=1)
    many = integrated_gradients(net, x, [0, 2], "gray", steps=9, batch_size=64)
    assert torch.allclose(one, many, atol=1e-6)
    linear = integrated_gradients(LinearScore(weight), x, steps=3)
    assert torch.allclose(linear, x * weight, atol=1e-6)  # linear: IG is (x - 0) * w


def test_clear_errors(chelsea):
    net = sigmoid_network()
    two = nn.Linear(2, 4)
    with pytest.raises(ValueError, match="target"):
        integrated_gradients(two, torch.zeros(1, 2))
    with pytest.raises(ValueError, match="between 0 and 3"):
        integrated_gradients(two, torch.zeros(1, 2), target=4)
    with pytest.raises(ValueError, match="Unknown method"):
        integrated_gradients(net, torch.zeros(1, 2), method="simpson")
    with pytest.raises(ValueError, match="Only the trapezoid rule grows its steps"):
        integrated_gradients(net, torch.zeros(1, 2), method="gauss_legendre")
    with pytest.raises(ValueError, match="tolerance must be a finite number above 0"):
        integrated_gradients(net, torch.zeros(1, 2), tolerance=0)
    with pytest.raises(ValueError, match=f"max_steps must be {FIRST_STEPS} or more"):
        integrated_gradients(net, torch.zeros(1, 2), max_steps=8)
    with pytest.raises(ValueError, match="shaped like x"):
        integrated_gradients(net, torch.zeros(1, 2), baseline=torch.zeros(2))
    with pytest.raises(ValueError, match="2 targets for 1 inputs"):
        integrated_gradients(net, torch.zeros(1, 2), target=[0, 1])
    with pytest.raises(ValueError, match=r"x\[None\]"):
        saliency(nn.Identity(), chelsea[0])


# --- maps for display ---------------------------------------------------------------------------

def test_attribution_map_sums_the_colour_channels_of_one_image():
    a = torch.randn(1, 3, 4, 5)
    assert torch.equal(attribution_map(a), a.sum(1)[0])
    assert torch.equal(attribution_map(a[:, 0]), a[0, 0])
    with pytest.raises(ValueError, match="batch of 2"):
        attribution_map(torch.randn(2, 3, 4, 5))
