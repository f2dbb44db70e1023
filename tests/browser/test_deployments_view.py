"""The Deployments view in a real JupyterLab: a version deployed from the notebook panel serves predictions
and survives a killed replica, its status following live (no click); the sidebar lists the deployment."""

from __future__ import annotations

import os
import signal
from typing import Any

import pytest

from .conftest import ARTIFACTS, Lab, open_panel, open_sidebar, wait_for

pytestmark = pytest.mark.browser

NAME = "lin-prod"
ROW = f"[data-testid=md-deployment-row][data-name='{NAME}']"


@pytest.fixture(scope="module")
def views(browser: Any, lab: Lab, seeded: dict[str, Any]) -> Any:
    name = lab.write_notebook("deployments.ipynb", [
        "import modeldeck as md\ndeck = md.connect()\npanel = deck.panel()\npanel",
    ])  # fmt: skip
    page = open_panel(browser, lab, name, "deployments-panel-failed-to-render.png")
    kernel = lab.kernel(name)
    yield page, kernel
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "deployments-last.png"))  # what the page showed at the end
    try:
        kernel.run(f"[deck.delete_deployment(d.name) for d in deck.deployments() if d.name == {NAME!r}]")
    finally:
        kernel.close()
        page.context.close()


def panel(page: Any) -> Any:
    return page.locator(".jp-Notebook [data-testid=md-panel]").first


def watch_replicas(page: Any) -> None:
    """Record every replicas text the deployment's row shows, so a short-lived one is not missed."""
    page.evaluate("""(row) => {
        window.__mdReplicas = [];
        const seen = () => {
          const cell = document.querySelector(`.jp-Notebook ${row} [data-testid=md-deployment-replicas]`);
          const text = cell && cell.textContent;
          if (text && window.__mdReplicas.at(-1) !== text) window.__mdReplicas.push(text);
        };
        seen();
        new MutationObserver(seen).observe(document.body, {subtree: true, childList: true, characterData: true});
    }""", ROW)


def predictions(kernel: Any) -> int:
    return kernel.eval(f"sum(j['status'] == 'succeeded' for j in panel.state.jobs if j['label'] == 'predict {NAME}')")


def test_deploy_from_the_panel_predict_and_survive_a_killed_replica(views: Any):
    page, kernel = views
    view = panel(page)
    view.get_by_test_id("md-tab-deployments").click()
    view.get_by_test_id("md-deploy-new").click()
    view.get_by_test_id("md-deploy-model").select_option(label="lin")
    view.get_by_test_id("md-deploy-version").locator("option[value='1.0.0']").wait_for(state="attached")
    view.get_by_test_id("md-deploy-version").select_option("1.0.0")
    view.get_by_test_id("md-deploy-replicas").fill("2")
    view.get_by_test_id("md-deploy-name").fill(NAME)
    view.get_by_test_id("md-deploy-name").press("Enter")  # Enter submits the form

    # Creating, then Running with 2/2 replicas, with no click: the status follows the platform's events
    row = view.locator(ROW)
    row.locator("[data-testid=md-deployment-status][data-status=Running]").wait_for(timeout=120_000)
    row.get_by_test_id("md-deployment-replicas").filter(has_text="2/2 ready").wait_for(timeout=60_000)
    detail = view.get_by_test_id("md-deployment-detail")
    assert NAME in detail.inner_text() and "lin 1.0.0" in detail.inner_text()  # names, not ids
    assert "mdl-" not in view.inner_text()
    events = detail.get_by_test_id("md-deployment-event")
    events.filter(has_text="Running").first.wait_for(timeout=30_000)
    assert "Created" in events.last.inner_text()

    detail.get_by_test_id("md-deployment-predict-input").fill("[[0.5, -1.0, 2.0, 0.25]]")
    detail.get_by_test_id("md-deployment-predict-input").press("Enter")
    output = detail.get_by_test_id("md-deployment-output")
    output.wait_for(timeout=60_000)
    assert "lin 1.0.0" in output.inner_text() and "logits" in output.inner_text()
    wait_for(lambda: predictions(kernel) == 1)

    # kill -9 one replica (its pid from the platform, as deck.deployment reports it), then predict again
    watch_replicas(page)
    pids = kernel.eval(f"[r['pid'] for r in deck.deployment({NAME!r}).replica_status]")
    assert len(pids) == 2
    os.kill(pids[0], signal.SIGKILL)
    detail.get_by_test_id("md-deployment-predict-run").click()
    wait_for(lambda: predictions(kernel) == 2, timeout=60)
    assert view.get_by_test_id("md-error").count() == 0
    events.filter(has_text="Replica exited").first.wait_for(timeout=60_000)
    events.filter(has_text="Replica restarted").first.wait_for(timeout=120_000)
    row.get_by_test_id("md-deployment-replicas").filter(has_text="2/2 ready").wait_for(timeout=60_000)
    seen = page.evaluate("window.__mdReplicas")
    # the replacement was shown by its events above; "1/2 ready" may be shown too, unless the restart's event
    # came before the view drew the exit's
    assert seen[-1] == "2/2 ready" and set(seen) <= {"1/2 ready", "2/2 ready"}, seen
    reason = events.filter(has_text="Replica exited").first.inner_text()
    assert str(pids[0]) in reason and "by platform" in reason
    new_pids = kernel.eval(f"[r['pid'] for r in deck.deployment({NAME!r}).replica_status]")
    assert pids[0] not in new_pids and pids[1] in new_pids
    ARTIFACTS.mkdir(exist_ok=True)
    view.screenshot(path=str(ARTIFACTS / "deployments-panel.png"))
    assert page.errors == []


def test_the_sidebar_lists_the_deployment(views: Any):
    page, _ = views
    side = open_sidebar(page)
    side.get_by_test_id("md-tab-deployments").click()
    row = side.locator(ROW)
    row.locator("[data-testid=md-deployment-status][data-status=Running]").wait_for(timeout=60_000)
    assert "2/2 ready" in row.inner_text() and "lin" in row.inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    page.get_by_test_id("md-sidebar").screenshot(path=str(ARTIFACTS / "deployments-sidebar.png"))
    assert page.errors == []
