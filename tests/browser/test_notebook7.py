"""The panel in Jupyter Notebook 7 (the `notebook` package), clicked through in headless Chromium: the same
widget and bundle as in JupyterLab, shown by Notebook 7's own front end."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from .conftest import ARTIFACTS, Lab, goto_notebook, new_page, predict_lin, running_lab, seed, wait_for

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def notebook7(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    with running_lab(tmp_path_factory.mktemp("nb7"), app="notebook") as server:
        seed(server)
        yield server


@pytest.fixture(scope="module")
def page(browser: Any, notebook7: Lab) -> Iterator[Any]:
    name = notebook7.write_notebook("panel.ipynb", ["import modeldeck as md\ndeck = md.connect()\npanel = deck.panel()\npanel"])
    page = new_page(browser)
    page.upstream = []  # errors thrown inside Notebook 7's own bundles only (its settings load, with or without us)
    page.on("pageerror", lambda exc: page.upstream.append(str(exc)) if _only_notebook7(exc.stack) else None)
    goto_notebook(page, f"{notebook7.url}/notebooks/{name}?token={notebook7.token}")
    page.locator(".jp-Notebook .jp-Cell").first.click()
    page.keyboard.press("Shift+Enter")
    try:
        page.wait_for_selector(".jp-Notebook [data-testid=md-panel]", timeout=90_000)
    except Exception:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "notebook7-failed-to-render.png"))
        raise AssertionError(f"the panel did not render in Notebook 7; page errors: {page.errors}") from None
    yield page
    page.context.close()


def test_the_panel_lists_selects_and_predicts_in_notebook7(page: Any, notebook7: Lab):
    view = page.locator(".jp-Notebook [data-testid=md-panel]").first
    view.get_by_test_id("md-tab-models").click()
    rows = view.get_by_test_id("md-model-row")
    rows.filter(has_text="tiny-lm").wait_for()
    assert {"lin", "tiny-lm"} <= {r.split("\n")[0].strip() for r in rows.all_inner_texts()}
    rows.filter(has_text="lin").first.click()
    view.get_by_test_id("md-version-row").nth(1).wait_for()
    kernel = notebook7.kernel("panel.ipynb")
    try:
        wait_for(lambda: kernel.eval("panel.state.selected.get('model')") is not None)
    finally:
        kernel.close()
    assert "probabilities" in predict_lin(view)
    ARTIFACTS.mkdir(exist_ok=True)
    view.screenshot(path=str(ARTIFACTS / "notebook7-panel.png"))
    assert [e for e in page.errors if e not in page.upstream] == []


def _only_notebook7(stack: str | None) -> bool:
    """Whether every frame of the stack that names a script is in Notebook 7's bundles (natives name none)."""
    frames = [line for line in (stack or "").splitlines() if line.strip().startswith("at ") and "://" in line]
    return bool(frames) and all("/static/notebook/" in frame for frame in frames)
