"""The panel on an `openai` profile, in a real JupyterLab and Chromium, against a real OpenAI-compatible
server: the embedded platform's own `/v1`, serving the tiny language model `seeded` registered.

The view offers only what such a server can do (no Register tab, no versions pane), and listing,
selecting and a streamed chat work without an error on screen or in the page.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import modeldeck as md
from modeldeck.profiles import Profile, ProfileFile

from .conftest import ARTIFACTS, Lab, open_panel, wait_for
from .conftest import stream_a_reply

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def page(browser: Any, lab: Lab, seeded: dict[str, Any]) -> Any:
    with md.connect(home=Path(lab.env["MODELDECK_HOME"])) as deck:
        base = f"{deck.url}/v1"
    file = ProfileFile.load(Path(lab.env["MODELDECK_CONFIG"]))
    file.profiles["vllm"] = Profile("vllm", "openai", url=base, api_key=lab.admin_key)
    file.save()
    name = lab.write_notebook("openai.ipynb", [
        'import modeldeck as md\ndeck = md.connect("vllm")\npanel = deck.panel()\npanel',
    ])  # fmt: skip
    page = open_panel(browser, lab, name, "panel-openai-failed-to-render.png")
    yield page
    page.context.close()


@pytest.fixture(scope="module")
def kernel(page: Any, lab: Lab) -> Any:
    kernel = lab.kernel("openai.ipynb")
    yield kernel
    kernel.close()


def view(page: Any) -> Any:
    return page.locator(".jp-Notebook [data-testid=md-panel]").first


def test_only_what_the_server_can_do_is_offered(page: Any, kernel: Any):
    wait_for(lambda: kernel.eval("panel.state.connection.get('kind')") == "openai")
    assert kernel.eval("panel.state.connection['capabilities']") == ["chat", "models", "switch", "workspaces"]
    panel = view(page)
    panel.get_by_test_id("md-tab-models").wait_for()
    assert panel.get_by_test_id("md-tab-register").count() == 0
    assert panel.get_by_test_id("md-tab-inference").count() == 1


def test_list_select_and_chat_with_streaming(page: Any, kernel: Any):
    panel = view(page)
    panel.get_by_test_id("md-tab-models").click()
    panel.get_by_test_id("md-model-search").fill("tiny-lm")
    panel.get_by_test_id("md-model-row").filter(has_text="tiny-lm").first.click()
    wait_for(lambda: kernel.eval("panel.state.selected['model']") == "tiny-lm")
    assert panel.get_by_test_id("md-versions").count() == 0 and "Authorize" not in panel.inner_text()
    panel.get_by_test_id("md-tab-inference").click()
    stream_a_reply(panel, page, lambda: kernel.eval("panel.state.chat['messages'][-1]['content']"))
    assert panel.get_by_test_id("md-error").count() == 0 and kernel.eval("panel.state.error") is None
    assert page.errors == []
    ARTIFACTS.mkdir(exist_ok=True)
    panel.screenshot(path=str(ARTIFACTS / "panel-openai.png"))
