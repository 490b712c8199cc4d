"""The figures: what each one draws, ax= for one-chart figures, and the plotting boundary."""

import subprocess
import sys
import textwrap

import matplotlib
import matplotlib.pyplot as plt
import pytest
import torch
from matplotlib.figure import Figure

import nstutils as nst
from nstutils.optim import History
from nstutils.patches import Patch
from nstutils.plot import panel_grid

matplotlib.use("Agg")

HISTORY = History(losses={"total": [4.0, 2.0, 1.0], "style": [3.0, 1.5, 0.5]}, steps=3)
GAPS = {"riemann": {8: 0.1, 16: 0.05}, "trapezoid": {8: 0.01, 16: 0.002}}


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def image_axes(fig: Figure) -> list:
    return [ax for ax in fig.axes if ax.images and ax.get_label() != "<colorbar>"]


def colorbars(fig: Figure) -> list:
    return [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]


# --- the shared helpers -------------------------------------------------------------------------

def test_panel_grid_wraps_panels_into_rows_and_turns_axes_off():
    fig, axes = panel_grid(7, 3, (2.0, 1.5), "seven", margin=(0.5, 0.25))
    assert axes.shape == (3, 3)
    assert not any(ax.axison for ax in axes.flat)
    assert fig._suptitle.get_text() == "seven"
    assert tuple(fig.get_size_inches()) == pytest.approx((3 * 2.0 + 0.5, 3 * 1.5 + 0.25))


def test_panel_grid_uses_no_more_columns_than_panels_and_can_keep_frames():
    fig, axes = panel_grid(2, 6, (1.0, 1.0), frames=True, width_ratios=[2, 1])
    assert axes.shape == (1, 2) and all(ax.axison for ax in axes.flat)
    assert fig._suptitle is None
    widths = [ax.get_position().width for ax in axes.flat]
    assert widths[0] > 1.5 * widths[1]


# --- one-chart figures draw into a given axes ---------------------------------------------------

ONE_CHART = {
    "losses": lambda ax: nst.plot_losses({"adam": HISTORY}, ax=ax),
    "spectra": lambda ax: nst.plot_spectra({"noise": torch.rand(1, 3, 16, 16)}, ax=ax),
    "layer values": lambda ax: nst.plot.plot_layer_values({"a": {"l1": 1.0, "l2": 2.0}}, ax=ax),
    "top k": lambda ax: nst.plot_top_k([nst.Prediction(1, "goldfish", 0.9),
                                        nst.Prediction(2, "shark", 0.1)], ax=ax),
    "completeness": lambda ax: nst.plot_completeness({"net": GAPS}, ax=ax),
}


@pytest.mark.parametrize("draw", ONE_CHART.values(), ids=ONE_CHART.keys())
def test_one_chart_figures_draw_into_the_given_axes(draw):
    fig, (left, right) = plt.subplots(1, 2)
    assert draw(right) is fig
    assert len(fig.axes) == 2  # no new axes
    assert right.lines or right.patches
    assert not (left.lines or left.patches)


@pytest.mark.parametrize("draw", ONE_CHART.values(), ids=ONE_CHART.keys())
def test_one_chart_figures_make_their_own_figure_without_ax(draw):
    fig = draw(None)
    assert isinstance(fig, Figure)
    charts = [ax for ax in fig.axes if ax.lines or ax.patches]
    assert len(charts) == 1


def test_losses_draw_one_line_per_run_and_term():
    fig = nst.plot_losses({"adam": HISTORY, "lbfgs": HISTORY}, terms=["style"], title="runs")
    ax = fig.axes[0]
    assert [line.get_label() for line in ax.lines] == ["adam · style", "lbfgs · style"]
    assert list(ax.lines[1].get_ydata()) == HISTORY.losses["style"]
    assert ax.get_title() == "runs" and ax.get_yscale() == "log"


def test_losses_leave_out_a_total_that_repeats_the_only_term():
    single = History(losses={"objective": [3.0, 1.0], "total": [3.0, 1.0]}, steps=2)
    two = History(losses={"a": [1.0, 0.5], "b": [2.0, 1.0], "total": [3.0, 1.5]}, steps=2)
    ax = nst.plot_losses({"one": single, "two": two}, logy=False).axes[0]
    assert [line.get_label() for line in ax.lines] == ["one · objective", "two · a", "two · b",
                                                       "two · total"]


def test_losses_can_be_drawn_against_the_loss_evaluations():
    lbfgs = History(losses={"total": [4.0, 1.0, 0.5]}, steps=3, evaluations=[1, 5, 8])
    ax = nst.plot_losses({"lbfgs": lbfgs}, against="evaluations").axes[0]
    assert list(ax.lines[0].get_xdata()) == [1, 5, 8]
    assert ax.get_xlabel() == "loss evaluations"
    with pytest.raises(ValueError, match="no count of loss evaluations"):
        nst.plot_losses(HISTORY, against="evaluations")
    with pytest.raises(ValueError, match="against must be"):
        nst.plot_losses(HISTORY, against="time")


def test_content_style_grid_puts_photos_down_the_left_and_styles_on_top():
    photos = torch.rand(2, 3, 16, 24)
    styles = [torch.rand(1, 3, 20, 20), torch.rand(1, 3, 30, 20), torch.rand(1, 3, 8, 8)]
    results = [torch.full((2, 3, 16, 24), k / 4) for k in range(3)]
    fig = nst.plot_content_style_grid(photos, styles, results, ["cat", "cup"],
                                      ["a", "b", "c"], suptitle="grid")
    assert len(fig.axes) == 3 * 4 and len(image_axes(fig)) == 3 * 4 - 1
    rows = [fig.axes[4 * i:4 * i + 4] for i in range(3)]
    assert not rows[0][0].images  # the corner stays blank
    assert [ax.get_title() for ax in rows[0][1:]] == ["style: a", "style: b", "style: c"]
    assert [row[0].get_title() for row in rows[1:]] == ["photo: cat", "photo: cup"]
    assert (rows[2][3].images[0].get_array() == nst.to_numpy(results[2][1])).all()
    assert fig._suptitle.get_text() == "grid"
    with pytest.raises(ValueError, match="one result and one title per style"):
        nst.plot_content_style_grid(photos, styles, results[:2], ["cat", "cup"], ["a", "b", "c"])
    with pytest.raises(ValueError, match="one result per photo"):
        nst.plot_content_style_grid(photos, styles, results, ["cat"], ["a", "b", "c"])


def test_top_k_puts_the_image_beside_the_bars_and_refuses_it_with_ax():
    predictions = [nst.Prediction(1, "goldfish", 0.75), nst.Prediction(2, "shark", 0.25)]
    fig = nst.plot_top_k(predictions, torch.rand(1, 3, 8, 8))
    assert len(image_axes(fig)) == 1
    bars = [ax for ax in fig.axes if ax.patches][0]
    assert sorted(round(p.get_width()) for p in bars.patches) == [25, 75]
    with pytest.raises(ValueError, match="only the bars"):
        nst.plot_top_k(predictions, torch.rand(1, 3, 8, 8), ax=plt.subplots()[1])


def test_layer_values_draw_one_bar_per_series_and_layer():
    values = {"photo": {"a": 1.0, "b": 2.0, "c": 3.0}, "painting": {"a": 2.0, "b": 1.0, "c": 5.0}}
    ax = nst.plot.plot_layer_values(values).axes[0]
    assert len(ax.patches) == 6
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "c"]


def test_spectra_figure_draws_one_line_per_image():
    smooth = torch.linspace(0, 1, 32).view(1, 1, 1, 32).expand(1, 3, 32, 32)
    fig = nst.plot_spectra({"noise": torch.rand(1, 3, 32, 32), "ramp": smooth})
    assert [line.get_label() for line in fig.axes[0].lines] == ["noise", "ramp"]


# --- image grids --------------------------------------------------------------------------------

def test_show_images_titles_each_panel_and_wraps_rows():
    fig = nst.show_images(torch.rand(5, 3, 8, 12), titles=list("abcde"), ncols=2, suptitle="five")
    shown = image_axes(fig)
    assert [ax.get_title() for ax in shown] == list("abcde")
    assert len(fig.axes) == 6  # three rows of two, the last panel blank
    assert fig._suptitle.get_text() == "five"
    with pytest.raises(ValueError, match="2 titles"):
        nst.show_images(torch.rand(3, 3, 8, 8), titles=["a", "b"])


def test_filter_figure_flags_dead_filters_instead_of_drawing_them_at_full_contrast(model):
    fig = nst.plot_filters(model.net._conv_stem.weight, ncols=8)
    assert len(image_axes(fig)) == 32
    with pytest.raises(ValueError, match="RGB filters"):
        nst.plot_filters(torch.zeros(4, 1, 3, 3))
    weight = torch.randn(3, 3, 3, 3)
    weight[1] *= 1e-8
    panels = image_axes(nst.plot_filters(weight))
    assert [[t.get_text() for t in ax.texts] for ax in panels] == [[], ["dead"], []]
    dead = panels[1].images[0].get_array()
    assert abs(dead - 0.5).max() < 1e-6  # at the strongest filter's scale: flat gray
    assert abs(panels[0].images[0].get_array() - 0.5).max() == pytest.approx(0.5)


def test_feature_maps_are_scaled_each_to_its_peak_and_centred_on_zero_when_signed():
    act = torch.rand(1, 16, 5, 5)
    act[0, 3] *= 10
    fig = nst.plot_feature_maps(act, [0, 3, 15], image=torch.rand(1, 3, 20, 20), ncols=4)
    shown = image_axes(fig)
    assert [ax.get_title().split(" · ")[0] for ax in shown] == ["input", "channel 0", "channel 3",
                                                                "channel 15"]
    assert all(ax.images[0].get_array().max() == pytest.approx(1) for ax in shown[1:])
    assert shown[1].images[0].get_cmap().name == "magma" and shown[1].images[0].get_clim() == (0, 1)
    assert [ax.get_ylabel() for ax in colorbars(fig)] == ["activation ÷ the map's peak"]

    signed = nst.plot_feature_maps(act - 0.5, [0, 3], shared_scale=True)
    drawn = image_axes(signed)[0].images[0]
    peak = float((act[0, [0, 3]] - 0.5).abs().max())
    assert drawn.get_cmap().name == "RdBu_r" and drawn.get_clim() == pytest.approx((-peak, peak))
    assert [ax.get_title() for ax in image_axes(signed)] == ["channel 0", "channel 3"]
    assert [ax.get_ylabel() for ax in colorbars(signed)] == ["activation"]
    with pytest.raises(ValueError, match="do not exist"):
        nst.plot_feature_maps(act, [16])


def test_gram_matrices_get_one_heatmap_and_colorbar_each():
    grams = {"photo": torch.rand(1, 8, 8), "painting": torch.rand(8, 8)}
    fig = nst.plot.plot_gram_matrices(grams, channels=4)
    assert [ax.get_title() for ax in image_axes(fig)] == ["photo", "painting"]
    assert image_axes(fig)[0].images[0].get_array().shape == (4, 4)
    assert len(colorbars(fig)) == 2


def test_gram_matrices_can_be_shown_beside_their_cosine_normalization():
    features = torch.rand(3, 50)
    features[2] = 5 * features[0]  # channel 2: channel 0, five times as strong
    gram = features @ features.T / 50
    fig = nst.plot.plot_gram_matrices({"image": gram}, cosine=True)
    assert [ax.get_title() for ax in image_axes(fig)] == ["image", "image: normalized"]
    cosines = image_axes(fig)[1].images[0].get_array()
    assert cosines.diagonal().tolist() == pytest.approx([1, 1, 1])
    assert cosines[0, 2] == pytest.approx(1) and 0 < cosines[0, 1] < 1
    assert len(colorbars(fig)) == 2


# --- attribution --------------------------------------------------------------------------------

def test_attribution_overlays_get_a_colorbar_each_signed_or_not():
    image = torch.rand(1, 3, 16, 24)
    maps = {"saliency": torch.rand(1, 16, 24), "IG": torch.randn(1, 3, 16, 24)}
    fig = nst.plot_attributions(image, maps, suptitle="maps")
    assert [ax.get_title() for ax in image_axes(fig)] == ["input", "saliency", "IG"]
    low_unsigned, low_signed = (bar.get_ylim()[0] for bar in colorbars(fig))
    assert low_unsigned == 0 and low_signed < 0  # only a signed map gets the blue half
    fig = nst.plot_attributions(image, maps, show_input=False, ncols=1)
    assert [ax.get_title() for ax in image_axes(fig)] == ["saliency", "IG"]
    with pytest.raises(ValueError, match=r"is \(32, 32\)"):
        nst.plot_attributions(image, {"bad": torch.rand(32, 32)})


def test_attributions_can_be_drawn_blurred_and_split_by_sign_without_changing_them():
    image = torch.rand(1, 3, 16, 24)
    spikes = torch.zeros(1, 3, 16, 24)
    spikes[0, 0, 4, 5], spikes[0, 1, 10, 15] = 1.0, -2.0
    kept = spikes.clone()
    fig = nst.plot_attributions(image, {"IG": spikes, "saliency": spikes.abs().amax(1)},
                                show_input=False, smooth=1.5, split=True)
    assert torch.equal(spikes, kept)  # only what is drawn is blurred
    assert [ax.get_title() for ax in image_axes(fig)] == ["IG: pushes up", "IG: pushes down",
                                                          "saliency"]
    up, down = (ax.images[1].get_array() for ax in image_axes(fig)[:2])
    assert (up[..., 3] > 0).sum() > 9 and (down[..., 3] > 0).sum() > 9  # each spike spread out
    assert up[10, 15, 3] < 0.1 and down[4, 5, 3] < 0.1               # and each sign apart
    limits = [bar.get_ylim() for bar in colorbars(fig)]
    assert limits[0][0] == 0 and limits[1][1] == 0 and limits[0][1] == -limits[1][0]


def test_completeness_figure_draws_one_panel_per_entry_and_one_line_per_rule():
    fig = nst.plot_completeness({"smooth": GAPS, "photo": GAPS}, title="gaps")
    assert [ax.get_title() for ax in fig.axes] == ["smooth", "photo"]
    assert all(len(ax.lines) == len(GAPS) + 1 for ax in fig.axes)  # the rules and the 1 % line
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["riemann", "trapezoid", "1 %"]
    assert fig._suptitle.get_text() == "gaps"
    with pytest.raises(ValueError, match="one panel"):
        nst.plot_completeness({"smooth": GAPS, "photo": GAPS}, ax=plt.subplots()[1])


# --- top patches --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def pool():
    return nst.patch_pool(64, photos=["chelsea", "coffee"], device="cpu")


def patches_of(pool, boxes):
    return [Patch(i, 10.0 - i, box, pool.sources[i]) for i, box in enumerate(boxes)]


def test_plot_patches_boxes_each_field_where_it_is(pool):
    boxes = [(0, 0, 10, 10), (20, 30, 52, 62), (40, 8, 64, 40)]
    fig = nst.plot_patches(pool, patches_of(pool, boxes), title="unit", ncols=2)
    panels = image_axes(fig)
    assert len(panels) == 3 and len(fig.axes) == 4
    drawn = [(r.get_x(), r.get_y(), r.get_x() + r.get_width(), r.get_y() + r.get_height())
             for ax in panels for r in ax.patches]
    assert drawn == boxes
    assert panels[1].get_title() == "chelsea · 9.0"
    assert fig._suptitle.get_text() == "unit"
    with pytest.raises(ValueError, match="No patches"):
        nst.plot_patches(pool, [])


def test_unit_grid_shows_each_units_crops_at_one_scale(pool):
    small = patches_of(pool, [(0, 0, 10, 10), (5, 5, 15, 15), (54, 50, 64, 64)])
    large = patches_of(pool, [(0, 0, 24, 24)] * 9)
    fig = nst.plot_unit_grid(pool, [("unit a", small), ("unit b", large)], title="layer")
    panels = image_axes(fig)
    assert [ax.get_title() for ax in panels] == ["unit a", "unit b"]
    assert fig._suptitle.get_text() == "layer"
    pad = 24 // 12
    # every cell is as large as the largest crop (24 px), three cells to a row
    assert panels[1].images[0].get_array().shape[:2] == (3 * 24 + 2 * pad,) * 2
    tile = panels[0].images[0].get_array()
    assert tile.shape[:2] == (24, 3 * 24 + 2 * pad)
    # the first crop, 10 px, sits in the middle of its 24 px cell, with gray around it
    assert (tile[7:17, 7:17] == nst.to_numpy(pool.images[0, :, 0:10, 0:10])).all()
    assert (tile[0, 0] == nst.to_numpy(torch.full((3, 1, 1), 0.85))[0, 0]).all()
    with pytest.raises(ValueError, match="at least one unit"):
        nst.plot_unit_grid(pool, [("unit a", [])])
    with pytest.raises(ValueError, match="at most 9"):
        nst.plot_unit_grid(pool, [("unit a", large + small)])


def test_dataset_vs_optimized_rows_read_patches_optimized_diversity(pool):
    patches = patches_of(pool, [(0, 0, 10, 10), (5, 5, 20, 20), (30, 30, 40, 40)])
    optimized = [torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32)]
    diverse = [torch.rand(3, 3, 24, 24), torch.rand(3, 3, 24, 24)]
    units = [("unit a", optimized[0], patches), ("unit b", optimized[1], patches[:2])]
    fig = nst.plot_dataset_vs_optimized(pool, units, diverse)
    assert len(fig.axes) == len(image_axes(fig)) == 2 * 5
    titles = [ax.get_title() for ax in fig.axes[:5]]
    assert titles == ["unit a\ntop 3 patches", "optimized", "diversity 1", "diversity 2",
                      "diversity 3"]
    assert fig.axes[5].get_title() == "unit b\ntop 2 patches"
    # the patches are cut to their fields (15 px at most here) and tiled three to a row
    assert fig.axes[0].images[0].get_array().shape[:2] == (15, 3 * 15 + 2)
    assert (fig.axes[6].images[0].get_array() == nst.to_numpy(optimized[1])).all()
    assert (fig.axes[9].images[0].get_array() == nst.to_numpy(diverse[1][2])).all()
    assert len(nst.plot_dataset_vs_optimized(pool, units).axes) == 2 * 2  # no diversity set
    with pytest.raises(ValueError, match="one batch of images per unit"):
        nst.plot_dataset_vs_optimized(pool, units, diverse[:1])
    with pytest.raises(ValueError, match="No units"):
        nst.plot_dataset_vs_optimized(pool, [])


# --- the plotting boundary ----------------------------------------------------------------------

def test_computing_modules_do_not_import_matplotlib():
    # The package's __init__ exports the figures too, so load the modules under an empty
    # package: what is left in sys.modules is what they import themselves.
    code = textwrap.dedent("""
        import importlib.util, sys, types
        package = types.ModuleType("nstutils")
        package.__path__ = list(importlib.util.find_spec("nstutils").submodule_search_locations)
        sys.modules["nstutils"] = package
        import nstutils.attribution, nstutils.patches, nstutils.axioms
        print(sorted(name for name in sys.modules if name.split(".")[0] == "matplotlib"))
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "[]"


def test_channel_stats_put_one_dot_per_channel_at_its_mean_and_spread():
    stats = {"a": torch.tensor([[0.5, 1.0], [2.0, 0.25]]), "b": torch.tensor([[1.0, 1.0]])}
    fig = nst.plot.plot_channel_stats(stats)
    dots = [c.get_offsets().tolist() for c in fig.axes[0].collections]
    assert dots == [[[0.5, 1.0], [2.0, 0.25]], [[1.0, 1.0]]]
    plt.close(fig)
    with pytest.raises(ValueError, match=r"expected \(C, 2\)"):
        nst.plot.plot_channel_stats({"a": torch.zeros(3, 3)})
