"""nst course --html: execute the lessons headless and hand out HTML with the figures."""

import nbformat

from nstutils.cli import main
from nstutils.course import run_notebook


def test_course_html_export_embeds_the_figures(tmp_path, capsys):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# A tiny lesson"),
        nbformat.v4.new_code_cell("import matplotlib.pyplot as plt\nimport nstutils as nst\n"
                                  "print('quick', nst.quick_mode())\nplt.plot([1, 3, 2]);"),
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, folder / "00_tiny.ipynb")
    (folder / "exercises" / "instructor").mkdir(parents=True)
    nbformat.write(nb, folder / "exercises" / "instructor" / "ex1_with_solutions.ipynb")

    assert main(["course", "--html", str(tmp_path / "html"), "--notebooks", str(folder),
                 "--quick"]) == 0
    html = (tmp_path / "html" / "00_tiny.html").read_text()
    assert "A tiny lesson" in html and "quick True" in html
    assert "data:image/png;base64" in html
    assert "wrote 1 HTML files" in capsys.readouterr().out  # not the exercises' solutions
    assert not (tmp_path / "html" / "exercises").exists()


def _notebook(folder, name, code):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(f"# {name}"),
                                         nbformat.v4.new_code_cell(code),
                                         nbformat.v4.new_code_cell("print('after')")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, folder / f"{name}.ipynb")


def test_course_html_goes_on_past_failing_notebooks_and_names_them(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("nstutils.course.QUICK_CELL_TIMEOUT_S", 3)
    folder = tmp_path / "notebooks"
    folder.mkdir()
    _notebook(folder, "00_fine", "print('fine')")
    _notebook(folder, "01_error", "1 / 0")
    _notebook(folder, "02_endless", "import time\nwhile True: time.sleep(0.1)")
    _notebook(folder, "03_dead_kernel", "import os\nos._exit(0)")
    _notebook(folder, "04_fine_too", "print('fine too')")

    status = main(["course", "--html", str(tmp_path / "html"), "--notebooks", str(folder),
                   "--quick"])
    out, err = capsys.readouterr()
    assert status == 1
    assert sorted(p.stem for p in (tmp_path / "html").glob("*.html")) == [
        "00_fine", "01_error", "02_endless", "03_dead_kernel", "04_fine_too"]
    assert "fine too" in (tmp_path / "html" / "04_fine_too.html").read_text()
    assert "ZeroDivisionError" in (tmp_path / "html" / "01_error.html").read_text()
    assert "01_error failed: ZeroDivisionError" in err
    assert "02_endless failed: a cell ran longer than its time limit" in err
    assert "03_dead_kernel failed: DeadKernelError" in err
    assert "3 of 5 notebooks failed" in err and "00_fine failed" not in err


def test_course_html_on_a_folder_without_notebooks_is_a_usage_error(tmp_path, capsys):
    assert main(["course", "--html", str(tmp_path / "html"), "--notebooks", str(tmp_path)]) == 2
    assert "no notebooks (*.ipynb) in" in capsys.readouterr().err.lower()


def test_headless_runs_keep_widget_outputs_without_echoing_them_to_the_kernel(tmp_path):
    # nbclient echoes what an Output widget captured back to the kernel on the shell socket it is
    # waiting on; beside a busy process that send could strand the cell's reply until the time
    # limit. Our client keeps the capture in the saved widget state and sends nothing back.
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("import ipywidgets as widgets\nout = widgets.Output()\n"
                                  "display(out)\nwith out:\n    print('caught by the widget')"),
        nbformat.v4.new_code_cell("print('kernel side:', len(out.outputs))"),
    ])
    run_notebook(nb, tmp_path, quick=True)
    assert nb.cells[1].outputs[0]["text"] == "kernel side: 0\n"
    states = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    captured = [o for w in states.values() for o in w["state"].get("outputs", [])]
    assert [o["text"] for o in captured] == ["caught by the widget\n"]
