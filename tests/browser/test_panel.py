"""The notebook panel in a real JupyterLab, clicked through in headless Chromium.

One notebook shows the panel twice (two views of one widget); the kernel is read directly to check that
what the browser did reached the kernel's DeckState.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import modeldeck as md

from .conftest import (
    ARTIFACTS,
    XSS,
    Lab,
    open_panel,
    stream_a_reply,
    wait_for,
)

pytestmark = pytest.mark.browser

@pytest.fixture(scope="module")
def page(browser: Any, lab: Lab, seeded: dict[str, Any]) -> Any:
    name = lab.write_notebook("panel.ipynb", [
        "import modeldeck as md\ndeck = md.connect()\npanel = deck.panel()\npanel",
        "panel  # a second view of the same widget",
    ])  # fmt: skip
    page = open_panel(browser, lab, name, "panel-failed-to-render.png")
    yield page
    page.context.close()


@pytest.fixture(scope="module")
def kernel(page: Any, lab: Lab) -> Any:
    kernel = lab.kernel("panel.ipynb")
    yield kernel
    kernel.close()


def first_view(page: Any) -> Any:
    return page.locator(".jp-Notebook [data-testid=md-panel]").first


def current_workspace(view: Any) -> Any:
    return view.locator("[data-testid=md-workspace-row][aria-current=true]")


def test_the_panel_renders_twice_and_shows_the_workspaces(page: Any):
    assert page.locator(".jp-Notebook [data-testid=md-panel]").count() == 2
    view = first_view(page)
    view.get_by_test_id("md-tab-workspaces").click()
    rows = view.get_by_test_id("md-workspace-row")
    rows.nth(1).wait_for()
    # the seeded two, and any another browser test made meanwhile (every view follows the platform's events)
    assert rows.count() >= 2 and "the second team" in " ".join(rows.all_inner_texts())
    assert "default" in current_workspace(view).inner_text()


def test_switching_workspace_reaches_the_kernel_and_every_view(page: Any, kernel: Any, seeded: dict[str, Any]):
    view = first_view(page)
    view.get_by_test_id("md-tab-workspaces").click()
    view.locator(f"[data-testid=md-workspace-row][data-id='{seeded['team']}']").click()
    wait_for(lambda: kernel.eval("panel.state.workspace['name']") == "team-b")
    assert kernel.eval("deck.workspace.name") == "team-b"
    second = page.locator(".jp-Notebook [data-testid=md-panel]").nth(1)
    second.get_by_test_id("md-tab-workspaces").click()
    current_workspace(second).filter(has_text="team-b").wait_for()

    kernel.run("deck.use('default')")  # a cell switching back: the panel follows
    current_workspace(view).filter(has_text="default").wait_for()


def test_a_hostile_model_name_renders_as_text(page: Any):
    view = first_view(page)
    view.get_by_test_id("md-tab-models").click()
    view.get_by_test_id("md-model-search").fill("img")
    row = view.get_by_test_id("md-model-row").filter(has_text=XSS)
    row.wait_for()
    assert XSS in row.inner_text()
    assert view.locator("img").count() == 0
    assert page.errors == []


def test_versions_and_approval(page: Any, kernel: Any):
    view = first_view(page)
    view.get_by_test_id("md-tab-models").click()
    view.get_by_test_id("md-model-search").fill("lin")
    view.get_by_test_id("md-model-row").filter(has_text="lin").first.click()
    view.get_by_test_id("md-version-row").nth(1).wait_for()
    assert view.get_by_test_id("md-version-row").count() == 2
    view.get_by_test_id("md-approve").first.click()
    wait_for(lambda: "Approved" in kernel.eval("[v['approval_status'] for v in panel.state.versions]"))


def test_register_a_checkpoint_from_the_panel(page: Any, lab: Lab, seeded: dict[str, Any]):
    view = first_view(page)
    view.get_by_test_id("md-tab-register").click()
    view.get_by_test_id("md-register-source-path").fill(seeded["upload"])
    view.get_by_test_id("md-register-model").fill("from-panel")
    view.get_by_test_id("md-register-version").fill("2.0.0")
    view.get_by_test_id("md-register-format").select_option("ONNX")
    view.get_by_test_id("md-register-submit").click()
    view.get_by_test_id("md-registered").filter(has_text="from-panel").filter(has_text="2.0.0").wait_for()
    assert _version(lab, "from-panel", "2.0.0") is not None
    assert _version(lab, "from-panel", "2.0.0")["format_type"] == "ONNX"


def _version(lab: Lab, model: str, version: str) -> dict[str, Any] | None:
    import httpx

    with md.connect(home=Path(lab.env["MODELDECK_HOME"])) as deck:
        url, key = deck.url, lab.admin_key
    response = httpx.get(f"{url}/api/v1/models/{model}/versions/{version}", headers={"Authorization": f"Bearer {key}"})
    return response.json() if response.status_code == 200 else None


def test_predict_from_the_panel(page: Any):
    view = first_view(page)
    _pick_model(view, "lin")
    view.get_by_test_id("md-predict-input").fill(json.dumps({"X": [[1, 2, 3, 4], [0, 0, 0, 1]]}))
    view.get_by_test_id("md-predict-run").click()
    output = view.get_by_test_id("md-predict-output")
    output.locator("tbody tr").nth(1).wait_for()
    assert "probabilities" in output.inner_text()


def test_the_predict_form_starts_from_the_signature(page: Any):
    """The version's signature (recorded at registration) prefills the form; the answer shows its latency;
    copy as code offers curl."""
    view = first_view(page)
    _pick_model(view, "lin")
    inputs = view.get_by_test_id("md-predict-input")
    wait_for(lambda: inputs.input_value() != "")
    assert json.loads(inputs.input_value()) == [[0, 0, 0, 0]]  # X float32 [?, 4]: one sample row
    view.get_by_test_id("md-predict-run").click()
    latency = view.get_by_test_id("md-predict-latency")
    latency.wait_for()
    assert latency.inner_text().endswith((" ms", " s"))
    choices = view.get_by_test_id("md-copy-as").first.locator("option").all_inner_texts()
    assert choices == ["Python", "curl"]


def test_chat_streams_before_the_reply_ends(page: Any, kernel: Any):
    view = first_view(page)
    _pick_model(view, "tiny-lm")
    stream_a_reply(view, page, lambda: kernel.eval("panel.state.chat['messages'][-1]['content']"))


def test_an_access_denied_error_shows_its_hint(page: Any, kernel: Any, seeded: dict[str, Any]):
    kernel.run(f"deck.use({seeded['team']!r})")  # team-b may fine-tune lin, not run it
    wait_for(lambda: kernel.eval("[m['name'] for m in panel.state.models]") == ["lin"])
    view = first_view(page)
    _pick_model(view, "lin")
    view.get_by_test_id("md-predict-input").fill(json.dumps({"X": [[1, 2, 3, 4]]}))
    view.get_by_test_id("md-predict-run").click()
    error = view.get_by_test_id("md-error")
    error.wait_for()
    assert "Model.AccessDenied" in error.inner_text()
    hint = view.get_by_test_id("md-error-hint").inner_text()
    assert "inference" in hint and "default" in hint
    kernel.run("deck.use('default')")


def test_saved_notebook_and_widget_state_hold_no_key(page: Any, lab: Lab):
    page.keyboard.press("Control+s")
    wait_for(lambda: "widgets" in _saved(lab.root / "panel.ipynb").get("metadata", {}), timeout=30)
    saved = (lab.root / "panel.ipynb").read_text()
    state = json.loads(saved)["metadata"]["widgets"]["application/vnd.jupyter.widget-state+json"]
    assert any("workspaces" in m.get("state", {}) for m in state["state"].values())  # the panel's state is there
    assert lab.admin_key not in saved and lab.admin_key[:16] not in saved


def test_screenshots_in_light_and_dark(page: Any):
    ARTIFACTS.mkdir(exist_ok=True)
    view = first_view(page)
    view.get_by_test_id("md-tab-models").click()
    view.scroll_into_view_if_needed()
    view.screenshot(path=str(ARTIFACTS / "panel-light.png"))
    page.keyboard.press("Control+Shift+c")
    page.locator(".lm-CommandPalette-input").fill("JupyterLab Dark")
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'")
    page.wait_for_timeout(500)  # let the theme's stylesheet apply before the picture
    view.screenshot(path=str(ARTIFACTS / "panel-dark.png"))
    assert (ARTIFACTS / "panel-dark.png").stat().st_size > 10_000


def _saved(path: Path) -> dict[str, Any]:
    """The notebook as saved so far ({} while the server is midway through writing it)."""
    try:
        return json.loads(path.read_text())
    except ValueError:
        return {}


def _pick_model(view: Any, name: str) -> None:
    view.get_by_test_id("md-tab-models").click()
    view.get_by_test_id("md-model-search").fill(name)
    view.get_by_test_id("md-model-row").filter(has_text=name).first.click()
    view.get_by_test_id("md-tab-inference").click()
