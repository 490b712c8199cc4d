"""nst course --html: execute the lessons headless and hand out HTML with the figures."""

import nbformat

from nstutils.cli import main


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
