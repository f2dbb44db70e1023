"""The panel's static summary: what a notebook shows where no widget can run (exported to HTML, opened with no
kernel). Built from the panel's state over a real embedded platform; no key or URL in it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbclient
import nbformat
import pytest

import modeldeck as md
from modeldeck import examples
from modeldeck.panel import SUMMARY_MODELS, summary

XSS = "<img src=x onerror=alert(1)>"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


@pytest.fixture
def deck(tmp_path: Path):
    with md.connect() as deck:
        path = examples.onnx_linear(tmp_path / "ckpt" / "linear.onnx")
        deck.register("iris", path, version="1.0.0", format="ONNX", progress=False)
        deck.approve("iris", "1.0.0")
        deck.register(XSS, path, format="ONNX", progress=False)
        yield deck


def test_the_bundle_holds_the_widget_view_and_a_summary_without_secrets(deck: md.Deck, isolated_user: Path):
    panel = md.Panel(deck)
    data, _metadata = panel._repr_mimebundle_()
    assert data[WIDGET_VIEW]["model_id"] == panel.model_id
    page = data["text/html"]
    assert "profile <b>local</b> (local)" in page and "workspace <b>default</b>" in page and "2 models" in page
    assert "<td style='text-align:left;padding:2px 12px 2px 0'>iris</td>" in page and "Approved" in page
    assert XSS not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    key = (isolated_user / "home" / "admin.key").read_text().strip()
    assert key not in page and key[:12] not in page and deck.url not in page and "<script" not in page
    panel.close()


def test_a_long_list_is_cut_and_counted():
    models = [{"name": f"m{i}", "latest_version": "1.0.0"} for i in range(SUMMARY_MODELS + 3)]
    page = summary({"profile": "team", "kind": "server", "account": "ann"}, {"name": "cv"}, models)
    assert f"{SUMMARY_MODELS + 3} models" in page and "… and 3 more" in page
    assert f">m{SUMMARY_MODELS - 1}<" in page and f">m{SUMMARY_MODELS}<" not in page
    assert "0 models" in summary({}, None, []) and "<table>" not in summary({}, None, [])


def test_a_notebook_exported_to_html_shows_the_summary(deck: md.Deck, tmp_path: Path):
    """Run in a real kernel and saved as JupyterLab saves it by default (no widget state), then
    `jupyter nbconvert --to html`: the panel's place shows the summary, not an empty box."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import modeldeck as md\nmd.connect().panel()")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbclient.NotebookClient(nb, timeout=180, kernel_name="python3", store_widget_state=False).execute()
    (output,) = nb.cells[0].outputs
    assert WIDGET_VIEW in output["data"] and "iris" in output["data"]["text/html"]
    path = tmp_path / "deck.ipynb"
    nbformat.write(nb, path)
    subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "html", str(path)], check=True,
                   capture_output=True, timeout=120)  # fmt: skip
    page = (tmp_path / "deck.html").read_text()
    assert "modeldeck-summary" in page and "workspace <b>default</b>" in page and ">iris<" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page and XSS not in page
