"""nst course --html hands out pages that open offline: MathML formulas, static widgets, no script."""

import os
import re

import nbformat
import pytest

from nstutils.cli import main
from nstutils.handout import WIDGET_VIEW, static_widgets, tex_to_mathml

LESSON = [
    nbformat.v4.new_markdown_cell("# Gram matrices\nThe style loss $E_l = \\frac{1}{4 N_l^2 M_l^2}"
                                  " \\sum_{ij} (G^l_{ij} - A^l_{ij})^2$, with\n\n"
                                  "$$G^l_{ij} = \\sum_k F^l_{ik} F^l_{jk}$$"),
    nbformat.v4.new_code_cell("import ipywidgets as widgets\nimport matplotlib.pyplot as plt\n\n"
                              "@widgets.interact(n=widgets.IntSlider(value=3, min=1, max=5),\n"
                              "                  layer=['block3', 'block7'])\n"
                              "def explore(n, layer):\n"
                              "    plt.plot(range(n))\n    plt.show()\n"
                              "    print('drew', n, layer)"),
    nbformat.v4.new_code_cell("from tqdm.auto import tqdm\n\n"
                              "def run(steps):\n"
                              "    for _ in tqdm(range(steps), desc='inner', leave=False):\n"
                              "        pass\n"
                              "    print('ran', steps)\n\n"
                              "widgets.interact_manual(run, steps=widgets.IntText(value=7));"),
    nbformat.v4.new_code_cell("for _ in tqdm(range(4), desc='painting'):\n    pass"),
]


@pytest.fixture(scope="module")
def handout(tmp_path_factory):
    """The HTML of a tiny lesson (a formula, two explorers, a progress bar), and the run's stderr."""
    folder = tmp_path_factory.mktemp("notebooks")
    nb = nbformat.v4.new_notebook(cells=LESSON)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, folder / "00_gram.ipynb")
    out = folder.parent / "html"
    assert main(["course", "--html", str(out), "--notebooks", str(folder), "--quick"]) == 0
    return (out / "00_gram.html").read_text(encoding="utf-8")


def test_the_handout_loads_no_script(handout):
    assert not re.search(r"<script[^>]*\bsrc=", handout)
    assert "<script" not in handout  # not even inline: the widget manager needs a CDN
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", handout)


def test_formulas_are_mathml_not_tex(handout):
    assert handout.count("<math") == 2 and 'display="block"' in handout
    assert "\\frac" not in handout and "\\sum" not in handout and "$$" not in handout


def test_widgets_become_what_they_showed(handout):
    assert WIDGET_VIEW not in handout
    # the interact: its controls' values, then the figure and the text it drew
    assert "drawn here with n = 3, layer = block3" in handout
    assert "drew 3 block3" in handout and "data:image/png;base64" in handout
    # interact_manual drew once with its defaults instead of showing a button; the progress bar
    # it showed and closed (leave=False) left nothing
    assert "ran 7" in handout and "Run Interact" not in handout
    assert "inner:" not in handout and "0/7" not in handout
    # the progress bar: its label, a static bar at its end, its counts
    assert re.search(r'painting:.{0,3}100%\s*<progress max="4(\.0)?" value="4(\.0)?">', handout)
    assert "4/4" in handout


@pytest.mark.skipif(os.name == "nt", reason="no IPC on Windows: the kernel runs over TCP")
def test_headless_kernels_run_without_the_tcp_warning(tmp_path, capfd):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print('hello')")])
    nbformat.write(nb, folder / "00_hello.ipynb")
    assert main(["course", "--html", str(tmp_path / "html"), "--notebooks", str(folder)]) == 0
    assert "without encryption" not in capfd.readouterr().err


def test_closed_or_hidden_widgets_leave_no_empty_box():
    shown = {"model_name": "LabelModel", "state": {"value": "kept", "layout": "IPY_MODEL_l1"}}
    hidden = {"model_name": "LabelModel", "state": {"value": "gone", "layout": "IPY_MODEL_l2"}}
    layouts = {"l1": {"model_name": "LayoutModel", "state": {}},
               "l2": {"model_name": "LayoutModel", "state": {"visibility": "hidden"}}}
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(outputs=[
        nbformat.v4.new_output("display_data", data={WIDGET_VIEW: {"model_id": model_id}})
        for model_id in ("shown", "hidden", "closed")])])
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {
        "state": {"shown": shown, "hidden": hidden, **layouts}}}
    static = static_widgets(nb)
    assert [o["data"]["text/html"] for o in static.cells[0].outputs] == [
        '<div class="nst-widget-static">kept</div>']
    assert "widgets" not in static.metadata and "widgets" in nb.metadata  # a copy


def test_unreadable_tex_stays_tex_in_code_style():
    assert tex_to_mathml("x^2", block=False).startswith("<math")
    assert tex_to_mathml("x^", block=True) == '<code class="nst-tex">$$x^$$</code>'


def test_operator_names_latex2mathml_lacks_are_written_upright():
    mathml = tex_to_mathml(r"\arg\min_{x} f(x)", block=True)
    assert "\\arg" not in mathml and mathml.count('mathvariant="normal"') == 3
