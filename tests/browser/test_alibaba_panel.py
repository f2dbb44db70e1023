"""The panel and the sidebar on an `alibaba` profile, in a real JupyterLab and Chromium, against the local
DashScope, Model Studio, AIWorkspace, STS, OSS and EAS facades of a real platform server (the profile names its
`url` and its other services' endpoints, with the main account's API key and AccessKey pair).

Both views, clicked: switch Model Studio workspaces (ListWorkspaces), see the models the workspace is
authorized for with their actions (`/api/v1/models/permissions`), authorize the sub-workspace from the
default one (UpdateModelPermissions), then chat there with a streamed reply. The Models tab lists PAI's
registry beside them (rows of `source` `pai`): the sidebar opens a PAI model's versions pane and approves a
version there, Approve offered because PAI names the caller its workspace's owner (GetCallerIdentity, then
ListMembers).

The panel also registers a checkpoint on PAI from its Register form, uploaded through the local OSS facade to
the profile's `oss_bucket` with the upload's progress shown; "Show in Models" lands on the PAI model with the
new version selected, Approve there makes it Approved, its Deploy… opens the Deploy form (which offers PAI's
rows only: Model Studio's own deploy authorization is not an EAS service), which creates the EAS service
(CreateService on the `/eas` facade); the Deployments view shows it Running with its endpoint, and the panel
predicts on it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_alibaba_surfaces import Cloud, alibaba_cloud

import modeldeck as md
from modeldeck.profiles import Profile, ProfileFile

from .conftest import (
    ARTIFACTS,
    Lab,
    fresh_lab,
    new_page,
    open_panel,
    open_sidebar,
    padded_checkpoint,
    running_lab,
    shown_between_parts,
    stream_a_reply,
    switch,
    wait_for,
    watch_register_job,
)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    with alibaba_cloud(tmp_path_factory.mktemp("alibaba")) as cloud:
        yield cloud


@pytest.fixture(scope="module")
def ali_lab(cloud: Cloud, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """A JupyterLab whose default profile (the sidebar's too) is `alibaba` on the server's facades, with the
    main account's API key and AccessKey pair."""
    with running_lab(tmp_path_factory.mktemp("alibaba-lab")) as lab:
        file = ProfileFile.load(Path(lab.env["MODELDECK_CONFIG"]))
        services = {"modelstudio": cloud.url, "pai": f"{cloud.url}/aiworkspace", "oss": cloud.url, "eas": f"{cloud.url}/eas",
                    "sts": f"{cloud.url}/sts"}  # fmt: skip
        file.profiles["ali"] = Profile("ali", "alibaba", url=f"{cloud.url}/dashscope", endpoints=services,
                                       oss_bucket=cloud.default.replace("ws_", "ws-"), api_key=cloud.main,
                                       access_key_id=cloud.pair["id"], access_key_secret=cloud.pair["secret"])  # fmt: skip
        file.default = "ali"
        file.save()
        yield lab


STUDIO_ROW = "[data-testid=md-model-row][data-source=authorized]"  # Model Studio's rows; PAI's are `pai`


def models_shown(view: Any) -> list[str]:
    """The Model Studio rows of the Models tab (PAI's registry, listed beside them, is the same in every one)."""
    view.get_by_test_id("md-tab-models").click()
    return view.locator(STUDIO_ROW).all_inner_texts()


def authorize_and_chat(view: Any, page: Any, cloud: Cloud, chat_text: Any) -> None:
    """The story in one view: team-b sees no model; from the default workspace, authorize team-b for tiny;
    in team-b, tiny is listed for inference, and a chat there streams its reply."""
    cloud.revoke()
    switch(view, cloud.ws)
    view.get_by_test_id("md-tab-models").click()
    wait_for(lambda: models_shown(view) == [])

    switch(view, cloud.default)
    view.get_by_test_id("md-tab-models").click()
    tiny = view.locator(STUDIO_ROW).filter(has_text="tiny")
    tiny.wait_for()
    assert "authorized\n· Inference, Fine-tune, Deploy" in tiny.inner_text()  # everything, in the default workspace
    tiny.click()
    view.get_by_test_id("md-authorize-workspace").select_option(cloud.ws)
    view.get_by_test_id("md-authorize-submit").click()
    view.locator(".md-grant").filter(has_text="team-b").wait_for()
    assert cloud.granted() == [("team-b", ["inference"])]

    switch(view, cloud.ws)
    # team-b's list once it has loaded: tiny, for inference only (the default workspace's row said all three)
    wait_for(lambda: models_shown(view) == ["tiny\nauthorized\n· Inference"])
    listed = view.locator(STUDIO_ROW).filter(has_text="tiny")
    listed.click()
    view.get_by_test_id("md-tab-inference").click()
    stream_a_reply(view, page, chat_text)
    assert view.get_by_test_id("md-error").count() == 0


@pytest.fixture(scope="module")
def notebook_page(browser: Any, ali_lab: Lab) -> Iterator[Any]:
    name = ali_lab.write_notebook("alibaba.ipynb", [
        'import modeldeck as md\ndeck = md.connect("ali")\npanel = deck.panel()\npanel',
    ])  # fmt: skip
    page = open_panel(browser, ali_lab, name, "panel-alibaba-failed-to-render.png")
    yield page
    page.context.close()


def test_the_panel_switches_authorizes_and_chats(notebook_page: Any, ali_lab: Lab, cloud: Cloud):
    kernel = ali_lab.kernel("alibaba.ipynb")
    try:
        wait_for(lambda: kernel.eval("panel.state.connection.get('kind')") == "alibaba")
        view = notebook_page.locator(".jp-Notebook [data-testid=md-panel]").first
        authorize_and_chat(view, notebook_page, cloud, lambda: kernel.eval("panel.state.chat['messages'][-1]['content']"))
        assert kernel.eval("panel.state.workspace['id']") == cloud.ws and kernel.eval("panel.state.error") is None
        assert notebook_page.errors == []
        ARTIFACTS.mkdir(exist_ok=True)
        view.screenshot(path=str(ARTIFACTS / "panel-alibaba.png"))
    finally:
        kernel.close()


def test_the_sidebar_switches_authorizes_and_chats(browser: Any, ali_lab: Lab, cloud: Cloud):
    page = new_page(browser)
    try:
        page.goto(fresh_lab(ali_lab))
        page.wait_for_selector(".jp-LauncherCard", timeout=60_000)
        view = open_sidebar(page)

        def reply() -> str:
            replies = view.locator("[data-testid=md-chat-message][data-role=assistant]")
            return replies.last.locator(".md-msg-text").inner_text()

        authorize_and_chat(view, page, cloud, reply)
        page.get_by_test_id("md-status").filter(has_text="team-b").wait_for()

        # PAI's registry, listed beside Model Studio's models: tiny's PAI row opens its versions pane
        view.get_by_test_id("md-tab-models").click()
        view.locator("[data-testid=md-model-row][data-source=pai]").filter(has_text="tiny").click()
        approve_the_version(view, "0.1.0")
        assert view.get_by_test_id("md-error").count() == 0 and page.errors == []
        ARTIFACTS.mkdir(exist_ok=True)
        view.screenshot(path=str(ARTIFACTS / "sidebar-alibaba.png"))
    finally:
        page.context.close()


def approve_the_version(view: Any, version: str) -> None:
    """In the open versions pane, `version` is Pending with Approve (the caller owns the PAI workspace):
    click it; the version shows Approved and no more Approve (a decision is final)."""
    row = view.locator(f"[data-testid=md-version-row][data-id='{version}']")
    row.filter(has_text="Pending").wait_for()
    row.get_by_test_id("md-approve").click()
    row.filter(has_text="Approved").wait_for()
    assert row.get_by_test_id("md-approve").count() == 0 and row.get_by_test_id("md-reject").count() == 0


def test_the_panel_registers_on_pai_through_oss_and_predicts_on_eas(notebook_page: Any, ali_lab: Lab, cloud: Cloud,
                                                                    tmp_path: Path):  # fmt: skip
    kernel = ali_lab.kernel("alibaba.ipynb")
    checkpoint = padded_checkpoint(tmp_path / "iris.onnx")
    try:
        view = notebook_page.locator(".jp-Notebook [data-testid=md-panel]").first
        watch_register_job(notebook_page, "register iris")
        view.get_by_test_id("md-tab-register").click()
        view.get_by_test_id("md-register-source-path").fill(str(checkpoint))
        view.get_by_test_id("md-register-model").fill("iris")
        view.get_by_test_id("md-register-format").select_option("ONNX")
        view.get_by_test_id("md-register-submit").click()
        view.get_by_test_id("md-registered").filter(has_text="iris").filter(has_text="Pending").wait_for(timeout=120_000)
        assert shown_between_parts(notebook_page), notebook_page.evaluate("window.__mdUpload")
        job = next(j for j in kernel.eval("panel.state.jobs") if j["label"] == "register iris")
        assert job["status"] == "succeeded" and job["progress"] == 1.0

        # PAI holds the version at the uploaded object's oss:// uri; Show in Models lands on its PAI model
        selected = kernel.eval("panel.state.selected")
        versions = kernel.eval("panel.state.versions")
        assert [(v["version_name"], v["approval_status"]) for v in versions] == [(selected["version"], "Pending")]
        assert versions[0]["uri"].startswith(f"oss://{cloud.default.replace('ws_', 'ws-')}/modeldeck/")
        view.get_by_test_id("md-registered").get_by_role("button", name="Show in Models").click()
        iris = view.locator(f"[data-testid=md-model-row][data-source=pai][data-id='{selected['model']}']")
        iris.and_(view.locator("[aria-selected=true]")).wait_for()
        assert "PAI registry" in iris.inner_text() and "Approve" in iris.inner_text()
        view.get_by_test_id("md-versions").wait_for()
        approve_the_version(view, selected["version"])
        assert [v["approval_status"] for v in kernel.eval("panel.state.versions")] == ["Approved"]

        # the approved PAI version deploys as an EAS service from the Deploy form (CreateService), the
        # version's model detail opening it; Model Studio's rows (their own `deploy` flag) are not offered
        view.get_by_test_id("md-deploy-open").click()
        form = view.get_by_test_id("md-deploy-form")
        offered = [o.get_attribute("value") for o in form.get_by_test_id("md-deploy-model").locator("option").all()][1:]
        listed = kernel.eval("[(m['id'], m['source']) for m in panel.state.models]")
        assert "authorized" in {source for _, source in listed}  # Model Studio's rows are listed, and not offered
        assert selected["model"] in offered and set(offered) == {i for i, source in listed if source == "pai"}
        assert form.get_by_test_id("md-deploy-model").input_value() == selected["model"]
        assert form.get_by_test_id("md-deploy-engine").count() == 0  # an EAS service runs on EAS: no engine to pick
        assert form.get_by_test_id("md-deploy-version").input_value() == selected["version"]
        form.get_by_test_id("md-deploy-name").fill("iris-svc")
        form.get_by_test_id("md-deploy-submit").click()
        try:
            row = view.locator("[data-testid=md-deployment-row][data-name='iris-svc']")
            row.locator("[data-testid=md-deployment-status][data-status=Running]").wait_for(timeout=60_000)
            assert row.get_by_test_id("md-deployment-replicas").inner_text() == "1/1 ready"  # EAS's RunningInstance
            assert "iris" in row.inner_text() and selected["version"] in row.inner_text()
            with md.connect(url=cloud.url, api_key=cloud.main) as admin:
                served = admin.deployment("iris-svc")  # the platform's deployment behind the EAS service
            assert (served.model_name, served.version, served.status) == ("iris", selected["version"], "Running")
            row.click()
            detail = view.get_by_test_id("md-deployment-detail")
            endpoint = detail.get_by_test_id("md-deployment-endpoint").inner_text()  # the service's InternetEndpoint
            assert endpoint.startswith(cloud.url) and endpoint.endswith("/iris-svc")
            detail.get_by_test_id("md-deployment-predict-input").fill("[[5.1, 3.5, 1.4, 0.2]]")
            detail.get_by_test_id("md-deployment-predict-run").click()
            output = detail.get_by_test_id("md-deployment-output")
            output.wait_for(timeout=60_000)
            assert "probabilities" in output.inner_text() and "iris" in output.inner_text()
            shown = kernel.eval("{k: panel.state.prediction[k] for k in ('deployment', 'model_name', 'columns')}")
            assert shown["deployment"] == "iris-svc" and shown["model_name"] == "iris" and "probabilities" in shown["columns"]
            assert view.get_by_test_id("md-error").count() == 0 and notebook_page.errors == []
            ARTIFACTS.mkdir(exist_ok=True)
            view.screenshot(path=str(ARTIFACTS / "panel-alibaba-eas.png"))
        finally:
            with md.connect(url=cloud.url, api_key=cloud.main) as admin:
                admin.delete_deployment("iris-svc")
    finally:
        kernel.close()
