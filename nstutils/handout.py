"""Hand-out HTML that opens offline: formulas as MathML, widgets as what they showed, no script.

`handout_html` turns an executed notebook into one self-contained page: the markdown's TeX is
converted to MathML (which browsers draw natively, no MathJax), every widget is replaced by what
it showed when the notebook ran (the figure an ``interact`` drew, a progress bar's last state,
the controls' values), and the page loads no script at all.
"""

import copy
import html
import re

import latex2mathml.converter
import nbformat
from jinja2 import DictLoader, pass_context
from nbconvert import HTMLExporter
from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath

# Operator names latex2mathml does not know (it would print them as "\\arg"): written upright.
UPRIGHT_NAMES = re.compile(r"\\(arg|argmin|argmax)(?![A-Za-z])")
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


_HANDOUT_TEMPLATE = """{%- extends 'index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block extra_css -%}
<style type="text/css">
.nst-widget-static { color: var(--jp-content-font-color2); font-size: var(--jp-ui-font-size1);
                     font-style: italic; }
.nst-widget-static progress { vertical-align: middle; margin: 0 0.5em; }
math { font-family: math, "Latin Modern Math", "STIX Two Math", "Cambria Math", serif;
       font-size: 1.1em; }
math[display="block"] { margin: 0.5em 0; }
.nst-tex { font-family: var(--jp-code-font-family); }
</style>
{%- endblock extra_css -%}
"""


def handout_html(nb: nbformat.NotebookNode) -> str:
    """Render an executed notebook as HTML that opens offline, with formulas and figures.

    Args:
        nb: the executed notebook (left unchanged).

    Returns:
        str: the HTML page: markdown formulas as MathML, each widget replaced by its static
        outputs (`static_widgets`), no script loaded from anywhere.
    """
    exporter = _HandoutExporter(extra_loaders=[DictLoader({"handout.html.j2": _HANDOUT_TEMPLATE})],
                                template_file="handout.html.j2")
    page, _ = exporter.from_notebook_node(static_widgets(nb))
    return page


def tex_to_mathml(tex: str, block: bool) -> str:
    """Convert a TeX formula to MathML, which browsers draw without a script.

    Args:
        tex: the formula, without its ``$`` delimiters.
        block: a displayed formula (``$$...$$``) rather than one inside a sentence.

    Returns:
        str: a ``<math>`` element; a formula latex2mathml cannot read stays TeX, in code style.
    """
    tex = UPRIGHT_NAMES.sub(r"\\mathrm{\1}", tex)
    try:
        return latex2mathml.converter.convert(tex, display="block" if block else "inline")
    except Exception:  # noqa: BLE001 - latex2mathml's errors share no base class; show the TeX
        fence = "$$" if block else "$"
        return f'<code class="nst-tex">{html.escape(fence + tex + fence)}</code>'


class _MathMLRenderer(IPythonRenderer):
    """nbconvert's markdown renderer, with formulas as MathML instead of TeX for MathJax."""

    def block_math(self, body: str) -> str:
        """A displayed formula, ``$$...$$`` or ``\\[...\\]``."""
        return tex_to_mathml(body, block=True)

    def inline_math(self, body: str) -> str:
        """A formula inside a sentence, ``$...$`` or ``\\(...\\)``."""
        return tex_to_mathml(body, block=False)

    def latex_environment(self, name: str, body: str) -> str:
        """A ``\\begin{name} ... \\end{name}`` environment, displayed."""
        return tex_to_mathml(f"\\begin{{{name}}}{body}\\end{{{name}}}", block=True)


class _HandoutExporter(HTMLExporter):
    """nbconvert's lab HTML with MathML formulas; its template loads no script."""

    @pass_context
    def markdown2html(self, context: dict, source: str) -> str:
        """Render a markdown cell (nbconvert's filter), its formulas as MathML.

        Args:
            context: the template's context (the cell, for its attachments).
            source: the cell's markdown.

        Returns:
            str: HTML.
        """
        renderer = _MathMLRenderer(
            escape=False, attachments=context.get("cell", {}).get("attachments", {}),
            embed_images=self.embed_images,
            path=context.get("resources", {}).get("metadata", {}).get("path", ""),
            anchor_link_text=self.anchor_link_text, exclude_anchor_links=self.exclude_anchor_links)
        return MarkdownWithMath(renderer=renderer).render(source)


def static_widgets(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Replace every widget in a notebook's outputs by what it showed when the notebook ran.

    An ``interact`` becomes its controls' values (one line) and the figure or text it drew; a
    progress bar becomes its label, an HTML ``<progress>`` at its last value, and its counts; a
    widget that was closed or hidden, or that shows nothing without a browser (a button, an
    upload), disappears instead of leaving an empty box.

    Args:
        nb: an executed notebook; nbclient saved its widgets' state in its metadata.

    Returns:
        NotebookNode: a copy without widget views nor widget state.
    """
    nb = copy.deepcopy(nb)
    state = nb.metadata.pop("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        outputs = []
        for output in cell.outputs:
            view = output.get("data", {}).get(WIDGET_VIEW)
            outputs += _widget_outputs(view["model_id"], state) if view else [output]
        cell.outputs = outputs
    return nb


def _widget_outputs(model_id: str, state: dict) -> list[nbformat.NotebookNode]:
    """The static outputs of one widget: its lines of values and the outputs it captured."""
    outputs, line, kind = [], [], None
    for piece_kind, piece in _widget_pieces(model_id, state) + [(None, None)]:
        if line and piece_kind != kind:  # a line ends where another kind of piece starts
            outputs.append(_html_output(line, kind))
            line = []
        if piece_kind == "output":
            outputs.append(nbformat.from_dict(piece))
        elif piece_kind is not None:
            line.append(piece)
        kind = piece_kind
    return outputs


def _widget_pieces(model_id: str, state: dict) -> list[tuple[str, object]]:
    """A widget as (kind, piece): ``control`` and ``html`` text it showed, ``output`` it captured."""
    model = state.get(model_id.removeprefix("IPY_MODEL_"))
    if model is None or _hidden(model["state"].get("layout"), state):
        return []  # closed (its state is gone) or hidden: nothing was on screen
    name, fields = model["model_name"], model["state"]
    if name == "OutputModel":  # what it captured, a widget shown inside it (a progress bar) too
        return [piece for output in fields.get("outputs", []) for piece in (
            _widget_pieces(output["data"][WIDGET_VIEW]["model_id"], state)
            if WIDGET_VIEW in output.get("data", {}) else [("output", output)])]
    if "children" in fields:  # boxes: a progress bar's row, an interact's column
        return [p for child in fields["children"] for p in _widget_pieces(child, state)]
    if name in ("FloatProgressModel", "IntProgressModel"):
        return [("html", f'<progress value="{fields.get("value", 0)}" '
                         f'max="{fields.get("max", 100)}"></progress>')]
    if name in ("HTMLModel", "HTMLMathModel", "LabelModel"):  # text (tqdm's labels are HTML)
        text = fields.get("value", "")
        return [("html", html.escape(text) if name == "LabelModel" else text)] if text else []
    value = _control_value(name, fields)
    if value is None:
        return []
    label = fields.get("description", "")
    return [("control", html.escape(f"{label} = {value}" if label else value))]


def _control_value(name: str, fields: dict) -> str | None:
    """The value a control showed, as text; None for one that shows no value (a button)."""
    if "_options_labels" in fields:  # dropdowns and selections keep indices, not values
        labels, index = fields["_options_labels"], fields.get("index")
        chosen = index if isinstance(index, (list, tuple)) else [] if index is None else [index]
        return ", ".join(labels[i] for i in chosen)
    if name in ("ButtonModel", "FileUploadModel") or "value" not in fields:
        return None
    value = fields["value"]
    if isinstance(value, (list, tuple)):  # range sliders
        return " to ".join(str(v) for v in value)
    return str(value)


def _hidden(layout_id: str | None, state: dict) -> bool:
    """Whether a widget's layout hides it (``display: none`` or ``visibility: hidden``)."""
    layout = state.get((layout_id or "").removeprefix("IPY_MODEL_"), {}).get("state", {})
    return layout.get("display") == "none" or layout.get("visibility") == "hidden"


def _html_output(snippets: list[str], kind: str) -> nbformat.NotebookNode:
    """One line of a widget's visible values (controls, or a progress bar), as an HTML output."""
    text = ("an explorer in the notebook; drawn here with " + ", ".join(snippets)
            if kind == "control" else " ".join(snippets))
    return nbformat.v4.new_output("display_data", data={
        "text/html": f'<div class="nst-widget-static">{text}</div>'})
