"""The panel and the sidebar on a `huawei` profile, in a real JupyterLab and Chromium, against the local IAM,
ModelArts, Pangu and OBS facades of a real platform server (every service at the server's root; the profile
signs with the main account's AccessKey pair).

Both views, clicked, one page visit each: switch ModelArts workspaces; see what the workspace may call (the
model rows' actions, from ValidateAuthorization); register a checkpoint, uploaded through OBS with the
upload's progress shown; deploy it as a real-time service on two instances, upgrade it fully, then rolling
with remove-instances (the form and the detail say the choice), status and events shown; chat with the Pangu
deployment `tiny`, streamed.

The notebook also shows a second panel, signed as the IAM sub-user bob in strict mode: first no access to
`research` (the hint: its owner or the main account must add him), then a member as viewer whose register is
refused for the action permission (the hint names his role and who can grant one), before any byte is sent.
The sidebar walks the same story on bob's profile, picked in its profile picker, then sees `ext` become
usable once the admin makes him a developer, and goes back to the main account's profile.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from test_huawei_pangu import profile
from test_huawei_surfaces import cloud  # noqa: F401  (the module's platform: tiny deployed, research, bob)

import modeldeck as md
from modeldeck import examples
from modeldeck.profiles import ProfileFile
from modeldeck.providers import huawei

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
    sidebar,
    stream_a_reply,
    switch,
    wait_for,
    watch_register_job,
)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]  # a platform, a lab and a language model start first


@pytest.fixture(scope="module")
def hw_lab(cloud: dict, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """A JupyterLab whose default profile (the sidebar's too) is `hw` on the server's facades, signed as the main
    account, with uploads to the default workspace's bucket; `hw-bob` is bob's, in `research`. Before it
    opens: the agency delegated, `iris` 1.0.0 registered through OBS, `ext` (an OBS uri) in `research`."""
    server = cloud["server"]
    with running_lab(tmp_path_factory.mktemp("huawei-lab")) as lab, pytest.MonkeyPatch.context() as mp:
        mp.setenv("MODELDECK_CONFIG", lab.env["MODELDECK_CONFIG"])
        mp.setenv("MODELDECK_HOME", lab.env["MODELDECK_HOME"])
        for name, (ak, sk) in (("hw", (cloud["ak"], cloud["sk"])), ("hw-bob", cloud["bob"])):
            profile(server.url, name)
            file = ProfileFile.load()
            file.profiles[name].access_key_id, file.profiles[name].access_key_secret = ak, sk
            file.save()
        file = ProfileFile.load()
        workspaces = server.admin.ok("GET", "/api/v1/workspaces")["items"]  # a workspace is an OBS bucket
        file.profiles["hw"].obs_bucket = next(w["id"] for w in workspaces if w["name"] == "default")
        file.default = "hw"
        file.save()
        with md.connect("hw") as main:
            research = next(w.id for w in main.workspaces() if w.name == "research")
            huawei.agency(main, delegate_to="all")
            main.register("iris", examples.onnx_linear(lab.root / "iris-1.onnx", seed=1), version="1.0.0", progress=False)
            main.use(research)
            main.register("ext", "obs://models/ckpt/model.pt", version="1.0.0", framework="pytorch")
        file = ProfileFile.load()
        file.profiles["hw-bob"].workspace = research
        file.save()
        cloud["research"] = research
        yield lab


def model_row(view: Any, name: str) -> Any:
    view.get_by_test_id("md-tab-models").click()
    return view.get_by_test_id("md-model-row").filter(has_text=name)


def switch_and_see_what_it_may_call(view: Any, research: str) -> None:
    """To `research` and back: in the default workspace the main account may call every action on tiny."""
    switch(view, research)
    model_row(view, "ext").wait_for()
    assert model_row(view, "tiny").count() == 0
    switch(view, "0")
    tiny = model_row(view, "tiny")
    tiny.wait_for()
    assert "· Inference, Fine-tune, Deploy" in tiny.inner_text()


def register_through_obs(view: Any, page: Any, checkpoint: Path, version: str) -> None:
    """The Register form: a 48 MiB checkpoint to OBS in three parts, the progress shown between them."""
    watch_register_job(page, "register iris")
    view.get_by_test_id("md-tab-register").click()
    view.get_by_test_id("md-register-source-path").fill(str(checkpoint))
    view.get_by_test_id("md-register-model").fill("iris")
    view.get_by_test_id("md-register-version").fill(version)
    view.get_by_test_id("md-register-format").select_option("ONNX")
    view.get_by_test_id("md-register-submit").click()
    view.get_by_test_id("md-registered").filter(has_text="iris").filter(has_text=version).wait_for(timeout=120_000)
    assert shown_between_parts(page), page.evaluate("window.__mdUpload")


def settled(view: Any, name: str, version: str) -> Any:
    """The deployment's row once it serves `version` on both instances (the view polls the provider); if it
    does not, the view as shown is left in the artifacts."""
    row = view.locator(f"[data-testid=md-deployment-row][data-name='{name}']").filter(has_text=f"iris {version}")
    try:
        row.locator("[data-testid=md-deployment-status][data-status=Running]").wait_for(timeout=180_000)
    except PlaywrightTimeout:
        ARTIFACTS.mkdir(exist_ok=True)
        view.screenshot(path=str(ARTIFACTS / f"huawei-{name}-not-running.png"))
        raise AssertionError(f"{name} does not serve {version}: {view.inner_text()}") from None
    wait_for(lambda: row.get_by_test_id("md-deployment-replicas").inner_text() == "2/2 ready", timeout=120)
    return row


def deploy_and_upgrade(view: Any, name: str, new: str) -> None:
    """Deploy iris 1.0.0 on two instances (rolling, adding instances), upgrade fully to `new`, then rolling
    back to 1.0.0 removing instances first; the detail says each mode and its events tell each change."""
    view.get_by_test_id("md-tab-deployments").click()
    view.get_by_test_id("md-deploy-new").click()
    form = view.get_by_test_id("md-deploy-form")
    form.get_by_test_id("md-deploy-model").select_option("iris")
    form.get_by_test_id("md-deploy-version").select_option("1.0.0")
    form.get_by_test_id("md-deploy-name").fill(name)
    form.get_by_test_id("md-deploy-replicas").fill("2")
    assert form.get_by_test_id("md-upgrade-choice").inner_text() == "Each batch adds instances: new ones start beside the old."
    form.get_by_test_id("md-deploy-submit").click()
    settled(view, name, "1.0.0")
    detail = view.get_by_test_id("md-deployment-detail")
    assert "rolling (batch 1, max unavailable 0: adds instances" in detail.inner_text()

    detail.get_by_test_id("md-upgrade-version").select_option(new)
    detail.get_by_test_id("md-upgrade-mode-full").check()
    detail.get_by_test_id("md-upgrade-submit").click()
    settled(view, name, new)
    detail.filter(has_text="2/2 ready · local engine · full").wait_for()

    detail.get_by_test_id("md-upgrade-version").select_option("1.0.0")
    detail.get_by_test_id("md-upgrade-mode-rolling").check()
    detail.get_by_test_id("md-upgrade-unavailable").fill("1")
    assert detail.get_by_test_id("md-upgrade-choice").inner_text() == "Each batch removes instances: old ones are freed first."
    detail.get_by_test_id("md-upgrade-submit").click()
    settled(view, name, "1.0.0")
    detail.filter(has_text="rolling (batch 1, max unavailable 1: removes instances").wait_for()
    events = detail.get_by_test_id("md-deployment-event")  # newest first; the view polls them too
    told = (f"Upgrading from {new} to 1.0.0 (rolling).", f"Upgrading from 1.0.0 to {new} (full).")
    wait_for(lambda: all(any(m in t for t in events.all_inner_texts()) for m in told), timeout=60)


def chat_with_tiny(view: Any, page: Any, chat_text: Any) -> None:
    """The Pangu deployment `tiny` (the model of that name, as Pangu chats with a deployment), streamed."""
    model_row(view, "tiny").click()
    view.get_by_test_id("md-tab-inference").click()
    stream_a_reply(view, page, chat_text)


def make_bob(cloud: dict, role: str) -> None:
    """What an admin of `research` does in the console: bob a member with `role`."""
    cloud["server"].admin.ok("PUT", "/api/v1/workspaces/research/members/bob", json={"role": role})


def bob_denied_twice(view: Any, cloud: dict, research: str, checkpoint: Path) -> None:
    """Bob's view opened in `research`: no access; made a viewer (the Refresh button shows it at once), who may
    list but not register. He stays a viewer: the caller removes him."""
    error = view.get_by_test_id("md-error")
    error.filter(has_text="ModelArts.0105").wait_for(timeout=60_000)
    hint = error.get_by_test_id("md-error-hint").inner_text()
    assert "No access to this workspace" in hint and "owner or the main account to add you" in hint
    make_bob(cloud, "viewer")
    view.get_by_test_id("md-refresh").click()
    switch(view, research)  # listed now, and entered
    ext = model_row(view, "ext")
    ext.wait_for()
    assert "Inference" not in ext.inner_text() and "Deploy" not in ext.inner_text()  # a viewer calls nothing
    view.get_by_test_id("md-tab-register").click()
    view.get_by_test_id("md-register-source-path").fill(str(checkpoint))
    view.get_by_test_id("md-register-model").fill("scorer")
    view.get_by_test_id("md-register-submit").click()
    error.filter(has_text="ModelArts.0104").wait_for(timeout=60_000)
    hint = error.get_by_test_id("md-error-hint").inner_text()
    assert "Your role there (viewer) does not allow modelarts:model:create" in hint and "main account" in hint


@contextmanager
def bob_removed_at_the_end(cloud: dict) -> Iterator[None]:
    try:
        yield
    finally:
        cloud["server"].admin.request("DELETE", "/api/v1/workspaces/research/members/bob")  # a member or not


def test_the_panel_on_a_huawei_profile(browser: Any, hw_lab: Lab, cloud: dict, tmp_path: Path):
    research = cloud["research"]
    name = hw_lab.write_notebook("huawei.ipynb", [
        'import modeldeck as md\ndeck = md.connect("hw")\npanel = deck.panel()\npanel',
        'bob = md.connect("hw-bob")\nbob_panel = bob.panel()\nbob_panel',
    ])  # fmt: skip
    page = open_panel(browser, hw_lab, name, "panel-huawei-failed-to-render.png", height=1400)
    kernel = hw_lab.kernel(name)
    try:
        wait_for(lambda: kernel.eval("panel.state.connection.get('kind')") == "huawei")
        view, bobs = (page.locator(".jp-Notebook [data-testid=md-panel]").nth(i) for i in (0, 1))
        with bob_removed_at_the_end(cloud):
            bob_denied_twice(bobs, cloud, research, examples.onnx_linear(tmp_path / "scorer.onnx"))
        assert not any(j["label"] == "register scorer" and j["status"] == "succeeded" for j in kernel.eval("bob_panel.state.jobs"))

        switch_and_see_what_it_may_call(view, research)
        register_through_obs(view, page, padded_checkpoint(tmp_path / "iris.onnx"), "1.1.0")
        job = next(j for j in kernel.eval("panel.state.jobs") if j["label"] == "register iris")
        assert job["status"] == "succeeded" and job["progress"] == 1.0
        try:
            deploy_and_upgrade(view, "iris-nb", "1.1.0")
        finally:
            kernel.run('deck.delete_deployment("iris-nb")')
        chat_with_tiny(view, page, lambda: kernel.eval("panel.state.chat['messages'][-1]['content']"))
        assert kernel.eval("panel.state.error") is None and view.get_by_test_id("md-error").count() == 0
        assert page.errors == []
        ARTIFACTS.mkdir(exist_ok=True)
        view.screenshot(path=str(ARTIFACTS / "panel-huawei.png"))
    finally:
        kernel.close()
        page.context.close()


def test_the_sidebar_on_a_huawei_profile(browser: Any, hw_lab: Lab, cloud: dict, tmp_path: Path):
    page = new_page(browser, height=1400)
    try:
        page.goto(fresh_lab(hw_lab))
        page.wait_for_selector(".jp-LauncherCard", timeout=60_000)
        view = open_sidebar(page)

        def reply() -> str:
            replies = view.locator("[data-testid=md-chat-message][data-role=assistant]")
            return replies.last.locator(".md-msg-text").inner_text()

        switch_and_see_what_it_may_call(view, cloud["research"])
        register_through_obs(view, page, padded_checkpoint(tmp_path / "iris.onnx"), "1.2.0")
        try:
            deploy_and_upgrade(view, "iris-sb", "1.2.0")
        finally:
            with md.connect(url=cloud["server"].url, api_key=cloud["server"].admin_key) as admin:
                admin.delete_deployment("iris-sb")
        chat_with_tiny(view, page, reply)
        assert view.get_by_test_id("md-error").count() == 0
        ARTIFACTS.mkdir(exist_ok=True)
        view.screenshot(path=str(ARTIFACTS / "sidebar-huawei.png"))

        picker = sidebar(page).get_by_test_id("md-sidebar-profile")
        assert picker.locator("option").all_inner_texts() == ["hw (huawei)", "hw-bob (huawei)"]
        picker.select_option("hw-bob")  # the data scientist's own profile: bob, strict mode, in research
        with bob_removed_at_the_end(cloud):
            bob_denied_twice(view, cloud, cloud["research"], examples.onnx_linear(tmp_path / "scorer.onnx"))
            make_bob(cloud, "developer")  # the admin grants the actions
            view.get_by_test_id("md-refresh").click()
            model_row(view, "ext").filter(has_text="· Inference, Fine-tune, Deploy").wait_for()
            view.get_by_test_id("md-error").wait_for(state="detached")  # the Refresh succeeded: the error is gone
        picker.select_option("hw")  # and back to the main account, where the sidebar started
        model_row(view, "tiny").filter(has_text="· Inference, Fine-tune, Deploy").wait_for()
        assert picker.input_value() == "hw" and page.errors == []
        sidebar(page).screenshot(path=str(ARTIFACTS / "sidebar-huawei-bob.png"))  # the picker too
    finally:
        page.context.close()
