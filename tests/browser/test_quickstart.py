"""`make lab` opens the quickstart notebook: run in a real JupyterLab, its panel shows what it made."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from .conftest import Lab, open_notebook

pytestmark = pytest.mark.browser

QUICKSTART = Path(__file__).resolve().parents[2] / "notebooks" / "01-quickstart.ipynb"


def test_the_quickstart_runs_and_its_panel_shows_its_model(browser: Any, lab: Lab):
    shutil.copy(QUICKSTART, lab.root / QUICKSTART.name)
    page = open_notebook(browser, lab, QUICKSTART.name)
    try:
        panel = page.locator(".jp-Notebook [data-testid=md-panel]")
        panel.wait_for(timeout=120_000)
        panel.get_by_test_id("md-model-row").filter(has_text="iris-linear").wait_for()
        page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=120_000)
        assert page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").count() == 0
        assert page.errors == []
    finally:
        page.context.close()
