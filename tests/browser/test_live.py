"""Every view stays in step: changes made in a cell reach the notebook panel and the sidebar, and a change
made in the sidebar reaches the panel, with no click on ↻ (the platform's change events)."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Lab, open_notebook, open_sidebar

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def views(browser: Any, lab: Lab, seeded: dict[str, Any]) -> Any:
    """A page with a notebook panel and the sidebar side by side; the kernel read directly."""
    name = lab.write_notebook("live.ipynb", [
        "import modeldeck as md\nfrom modeldeck import examples\ndeck = md.connect()\npanel = deck.panel()\npanel",
    ])  # fmt: skip
    page = open_notebook(browser, lab, name)
    panel = page.locator(".jp-Notebook [data-testid=md-panel]").first
    panel.wait_for(timeout=90_000)
    side = open_sidebar(page)
    kernel = lab.kernel(name)
    yield page, panel, side, kernel
    kernel.close()
    page.context.close()


def both(views: Any, tab: str) -> list[Any]:
    _, panel, side, _ = views
    for view in (panel, side):
        view.get_by_test_id(f"md-tab-{tab}").click()
    return [panel, side]


def test_a_cell_registers_and_both_views_show_it(views: Any, lab: Lab):
    kernel = views[3]
    shown = both(views, "models")
    kernel.run(f"deck.register('live-model', examples.onnx_linear({str(lab.root / 'live.onnx')!r}), "
               "format='ONNX', progress=False)")  # fmt: skip
    for view in shown:
        view.get_by_test_id("md-model-row").filter(has_text="live-model").wait_for(timeout=10_000)


def test_a_cell_creates_a_workspace_and_both_views_show_it(views: Any):
    kernel = views[3]
    shown = both(views, "workspaces")
    kernel.run("deck.create_workspace('live-team')")
    for view in shown:
        view.get_by_test_id("md-workspace-row").filter(has_text="live-team").wait_for(timeout=10_000)


def test_a_cell_grants_and_revokes_and_both_views_follow(views: Any):
    kernel = views[3]
    shown = both(views, "models")
    for view in shown:
        view.get_by_test_id("md-model-search").fill("live-model")
        view.get_by_test_id("md-model-row").filter(has_text="live-model").first.click()
    kernel.run("deck.authorize('live-model', 'live-team', ['inference'])")
    for view in shown:
        view.locator(".md-grant").filter(has_text="live-team").wait_for(timeout=10_000)
    kernel.run("deck.revoke('live-model', 'live-team')")
    for view in shown:
        view.locator(".md-grant").filter(has_text="live-team").wait_for(state="detached", timeout=10_000)


def test_the_sidebar_registers_and_the_panel_shows_it(views: Any, seeded: dict[str, Any]):
    page, panel, side, _ = views
    panel.get_by_test_id("md-tab-models").click()
    panel.get_by_test_id("md-model-search").fill("")
    side.get_by_test_id("md-tab-register").click()
    side.get_by_test_id("md-register-source-path").fill(seeded["upload"])
    side.get_by_test_id("md-register-model").fill("from-sidebar")
    side.get_by_test_id("md-register-format").select_option("ONNX")
    side.get_by_test_id("md-register-submit").click()
    panel.get_by_test_id("md-model-row").filter(has_text="from-sidebar").wait_for(timeout=10_000)
    assert page.errors == []


def test_a_closed_deck_shows_one_line_and_reconnects(views: Any):
    _, panel, _, kernel = views
    kernel.run("deck.close()")
    banner = panel.get_by_test_id("md-connection-banner")
    banner.filter(has_text="connection was closed").wait_for(timeout=10_000)
    panel.get_by_test_id("md-reconnect").click()
    banner.wait_for(state="detached", timeout=30_000)
    kernel.run("md.connect().create_workspace('after-reconnect')")
    panel.get_by_test_id("md-tab-workspaces").click()
    panel.get_by_test_id("md-workspace-row").filter(has_text="after-reconnect").wait_for(timeout=10_000)


def test_a_restarted_kernel_shows_one_line(views: Any):
    page, panel, _, _ = views
    page.locator(".jp-Notebook").first.click()
    page.locator(".lm-MenuBar-itemLabel", has_text="Kernel").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Restart Kernel…").first.click()
    page.locator(".jp-Dialog .jp-mod-accept").click()  # "Restart"
    panel.get_by_test_id("md-connection-banner").filter(has_text="stopped or restarted").wait_for(timeout=30_000)
