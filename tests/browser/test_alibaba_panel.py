"""The panel and the sidebar on an `alibaba` profile, in a real JupyterLab and Chromium, against the local
DashScope and Model Studio facades of a real platform server (the profile names its `url` and its
`modelstudio` endpoint, with the main account's API key and AccessKey pair).

Both views, clicked: switch Model Studio workspaces (ListWorkspaces), see the models the workspace is
authorized for with their actions (`/api/v1/models/permissions`), authorize the sub-workspace from the
default one (UpdateModelPermissions), then chat there with a streamed reply.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_alibaba_surfaces import Cloud, alibaba_cloud

from modeldeck.profiles import Profile, ProfileFile

from .conftest import (
    ARTIFACTS,
    Lab,
    chromium,
    fresh_lab,
    new_page,
    open_panel,
    open_sidebar,
    running_lab,
    shown_while_streaming,
    wait_for,
    wait_until_the_reply_grows,
    watch_replies,
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
        file.profiles["ali"] = Profile("ali", "alibaba", url=f"{cloud.url}/dashscope", endpoints={"modelstudio": cloud.url},
                                       api_key=cloud.main, access_key_id=cloud.pair["id"],
                                       access_key_secret=cloud.pair["secret"])  # fmt: skip
        file.default = "ali"
        file.save()
        yield lab


@pytest.fixture(scope="module")
def browser(ali_lab: Lab) -> Iterator[Any]:
    with chromium() as browser:
        yield browser


def row(view: Any, ws: str) -> Any:
    return view.locator(f"[data-testid=md-workspace-row][data-id='{ws}']")


def switch(view: Any, ws: str) -> None:
    """Click a workspace on the Workspaces tab; wait until it is the current one."""
    view.get_by_test_id("md-tab-workspaces").click()
    row(view, ws).locator("button").click()
    row(view, ws).and_(view.locator("[aria-current=true]")).wait_for()


def models_shown(view: Any) -> list[str]:
    view.get_by_test_id("md-tab-models").click()
    return view.get_by_test_id("md-model-row").all_inner_texts()


def authorize_and_chat(view: Any, page: Any, cloud: Cloud, chat_text: Any) -> None:
    """The story in one view: team-b sees no model; from the default workspace, authorize team-b for tiny;
    in team-b, tiny is listed for inference, and a chat there streams its reply."""
    cloud.revoke()
    switch(view, cloud.ws)
    view.get_by_test_id("md-tab-models").click()
    wait_for(lambda: models_shown(view) == [])

    switch(view, cloud.default)
    view.get_by_test_id("md-tab-models").click()
    tiny = view.get_by_test_id("md-model-row").filter(has_text="tiny")
    tiny.wait_for()
    assert "authorized\n· Inference, Fine-tune, Deploy" in tiny.inner_text()  # everything, in the default workspace
    tiny.click()
    view.get_by_test_id("md-authorize-workspace").select_option(cloud.ws)
    view.get_by_test_id("md-authorize-submit").click()
    view.locator(".md-grant").filter(has_text="team-b").wait_for()
    assert cloud.granted() == [("team-b", ["inference"])]

    switch(view, cloud.ws)
    wait_for(lambda: [t.split("\n")[0] for t in models_shown(view)] == ["tiny"])
    listed = view.get_by_test_id("md-model-row").filter(has_text="tiny")
    assert "Inference" in listed.inner_text() and "Deploy" not in listed.inner_text()
    listed.click()
    view.get_by_test_id("md-tab-inference").click()
    watch_replies(page)
    view.get_by_test_id("md-chat-input").fill("tell me a long story")
    view.get_by_test_id("md-chat-send").click()
    view.get_by_test_id("md-chat-stop").wait_for()
    # the first chat loads the model (tens of seconds on a busy machine): a generous bound, not a timing
    wait_until_the_reply_grows(page)
    view.get_by_test_id("md-chat-stop").click()
    view.get_by_test_id("md-chat-stop").wait_for(state="detached")
    final = chat_text()
    assert final and shown_while_streaming(page, final)
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
        assert page.errors == []
        ARTIFACTS.mkdir(exist_ok=True)
        view.screenshot(path=str(ARTIFACTS / "sidebar-alibaba.png"))
    finally:
        page.context.close()
