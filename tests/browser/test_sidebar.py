"""The JupyterLab sidebar in a real JupyterLab, with no kernel: the same view over the server extension."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import modeldeck as md

from .conftest import ARTIFACTS, Lab, fresh_lab, goto_notebook, new_page, open_sidebar, sidebar, wait_for

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def lab_page(browser: Any, lab: Lab, seeded: dict[str, Any]) -> Any:
    """JupyterLab with nothing open and no kernel running (earlier tests' kernels are shut down)."""
    for kernel in lab.api("GET", "/api/kernels").json():
        lab.api("DELETE", f"/api/kernels/{kernel['id']}")
    page = new_page(browser)
    page.goto(fresh_lab(lab))
    page.wait_for_selector(".jp-LauncherCard", timeout=60_000)
    yield page
    page.context.close()


def test_the_sidebar_works_with_no_kernel(lab_page: Any, lab: Lab):
    view = open_sidebar(lab_page)
    view.get_by_test_id("md-tab-models").click()
    view.get_by_test_id("md-model-row").filter(has_text="lin").first.wait_for()
    assert lab.api("GET", "/api/kernels").json() == []
    assert "default" in lab_page.get_by_test_id("md-status").inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    sidebar(lab_page).screenshot(path=str(ARTIFACTS / "sidebar-light.png"))
    assert lab_page.errors == []


def test_a_models_versions_in_the_sidebar(lab_page: Any):
    view = open_sidebar(lab_page)
    view.get_by_test_id("md-tab-models").click()
    view.get_by_test_id("md-model-search").fill("lin")
    view.get_by_test_id("md-model-row").filter(has_text="lin").first.click()
    view.get_by_test_id("md-version-row").nth(1).wait_for()
    assert {"1.0.0", "1.1.0"} <= set(" ".join(view.get_by_test_id("md-version-row").all_inner_texts()).split())


def test_switching_workspace_sets_the_default_for_new_connections(lab_page: Any, lab: Lab, seeded: dict):
    view = open_sidebar(lab_page)
    view.get_by_test_id("md-tab-workspaces").click()
    view.get_by_test_id("md-sidebar-note").wait_for()
    home = Path(lab.env["MODELDECK_HOME"])
    with md.connect(home=home, workspace="default") as before:  # a kernel already connected
        view.locator(f"[data-testid=md-workspace-row][data-id='{seeded['team']}']").click()
        view.locator("[data-testid=md-workspace-row][aria-current=true]").filter(has_text="team-b").wait_for()
        lab_page.get_by_test_id("md-status").filter(has_text="team-b").wait_for()
        assert before.workspace.name == "default"
    env = {k: lab.env[k] for k in ("MODELDECK_HOME", "MODELDECK_CONFIG")}
    wait_for(lambda: _new_connection_workspace(env) == "team-b")
    view.locator("[data-testid=md-workspace-row]").filter(has_text="default").first.click()
    wait_for(lambda: _new_connection_workspace(env) == "default")


def _new_connection_workspace(env: dict[str, str]) -> str:
    """The workspace a new kernel's `md.connect()` lands in, with the lab's environment."""
    code = "import modeldeck as md; print(md.connect().workspace.name)"
    out = subprocess.run([sys.executable, "-c", code], env={**os.environ, **env}, capture_output=True, text=True)
    return out.stdout.strip()


def test_insert_code_into_a_notebook_and_run_it(lab_page: Any, lab: Lab):
    name = lab.write_notebook(f"insert-{secrets.token_hex(3)}.ipynb", ["print('start')"])
    goto_notebook(lab_page, fresh_lab(lab, name))  # a kernel dialog that comes late would block the sidebar
    view = open_sidebar(lab_page)
    view.get_by_test_id("md-tab-models").click()
    view.get_by_test_id("md-model-search").fill("lin")
    view.get_by_test_id("md-model-row").filter(has_text="lin").first.click()
    view.get_by_test_id("md-insert-code").first.click()
    cells = lab_page.locator(".jp-Notebook .jp-Cell")
    cells.nth(1).wait_for()
    inserted = cells.nth(1).locator(".jp-InputArea-editor").inner_text()
    assert "md.connect(" in inserted and 'deck.use("default")' in inserted
    cells.nth(1).locator(".jp-InputPrompt").click()
    lab_page.keyboard.press("Escape")
    lab_page.keyboard.press("Shift+Enter")
    wait_for(lambda: cells.nth(1).locator(".jp-InputPrompt").inner_text().strip() not in ("[ ]:", "[*]:"), timeout=60)
    errors = cells.nth(1).locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
    assert errors.count() == 0, errors.all_inner_texts()
    lab_page.keyboard.press("Control+s")

    def saved() -> bool:
        try:
            cells = json.loads((lab.root / name).read_text())["cells"]
        except json.JSONDecodeError:  # read while JupyterLab was writing it
            return False
        return any("md.connect(" in "".join(c["source"]) for c in cells)

    wait_for(saved)


def test_the_sidebar_is_restored_after_a_reload(lab_page: Any, lab: Lab):
    open_sidebar(lab_page)
    workspace = lab_page.url.split("/lab/workspaces/")[1].split("/")[0].split("?")[0]

    def layout_saved() -> bool:  # JupyterLab saves the layout to its workspace a moment after a change
        data = lab.api("GET", f"/lab/api/workspaces/{workspace}").json().get("data", {})
        return '"current": "modeldeck-sidebar"' in json.dumps(data.get("layout-restorer:data", {}))

    wait_for(layout_saved)
    lab_page.goto(f"{lab.url}/lab/workspaces/{workspace}?token={lab.token}")
    sidebar(lab_page).get_by_test_id("md-panel").wait_for(timeout=60_000)
    assert sidebar(lab_page).is_visible()
