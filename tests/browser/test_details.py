"""The panel's details in a real JupyterLab: nothing cut off at 1400 px nor in a 250 px sidebar (which
stacks the model list and one model's details, with a way back), keys pressed in the panel stay in it (the
notebook's shortcuts do not take them), Enter submits, and the model list lets the wheel scroll the
notebook on once it is at its end."""

from __future__ import annotations

import secrets
from typing import Any

import pytest

from .conftest import Lab, fresh_lab, new_page, open_panel, open_sidebar, sidebar, wait_for

pytestmark = pytest.mark.browser

MODELS = 12  # more than the list's 360 px show, so it scrolls


@pytest.fixture(scope="module")
def page(browser: Any, lab: Lab, seeded: dict[str, Any]) -> Any:
    name = lab.write_notebook(f"details-{secrets.token_hex(3)}.ipynb", [
        (
            "import modeldeck as md\ndeck = md.connect()\n"
            f"for i in range({MODELS}):\n"
            "    deck.register(f'scroll-{i:02d}-a-model-with-a-rather-long-name', 'oss://bucket/m.onnx', progress=False)\n"
            "panel = deck.panel()\npanel"
        ),
        *[f"# a cell below the panel, {i}\nprint({i})" for i in range(12)],
    ])  # fmt: skip
    page = open_panel(browser, lab, name, "details-failed-to-render.png")
    yield page
    page.context.close()


def view(page: Any) -> Any:
    return page.locator(".jp-Notebook [data-testid=md-panel]").first


CUT_OFF = """(panel) => {
  // Elements whose box reaches past the panel's right edge, outside a container that scrolls them.
  const edge = panel.getBoundingClientRect().right + 1;
  const scrolls = (el) => { const s = getComputedStyle(el); return /(auto|scroll)/.test(s.overflowX + s.overflow); };
  const out = [];
  for (const el of panel.querySelectorAll("*")) {
    if (!el.getClientRects().length) continue;
    let inside = false;
    for (let p = el.parentElement; p && p !== panel; p = p.parentElement) if (scrolls(p)) { inside = true; break; }
    if (!inside && el.getBoundingClientRect().right > edge) out.push(el.className || el.tagName);
  }
  if (panel.scrollWidth > panel.clientWidth + 1) out.push("the panel scrolls sideways");
  return out;
}"""


def test_nothing_is_cut_off_at_1400_px(page: Any):
    panel = view(page)
    assert page.viewport_size["width"] == 1400
    for tab in ("workspaces", "models", "register", "inference"):
        panel.get_by_test_id(f"md-tab-{tab}").click()
        if tab == "models":
            panel.get_by_test_id("md-model-row").first.click()
            panel.get_by_test_id("md-headline").or_(panel.get_by_test_id("md-versions")).first.wait_for()
        assert panel.evaluate(CUT_OFF) == [], tab


def active_cell(page: Any) -> int:
    return page.evaluate("() => [...document.querySelectorAll('.jp-Notebook .jp-Cell')]"
                         ".findIndex((c) => c.classList.contains('jp-mod-active'))")  # fmt: skip


def test_arrow_keys_in_a_dropdown_stay_in_the_dropdown(page: Any):
    panel = view(page)
    panel.get_by_test_id("md-tab-models").click()
    task = panel.get_by_label("Source")
    task.focus()
    before = active_cell(page)
    for key in ("ArrowDown", "ArrowDown", "ArrowUp", "ArrowDown"):
        page.keyboard.press(key)
    assert active_cell(page) == before  # the notebook did not move to another cell
    assert task.evaluate("(el) => el === document.activeElement")
    search = panel.get_by_test_id("md-model-search")
    search.focus()
    page.keyboard.press("ArrowDown")
    assert active_cell(page) == before


def test_enter_submits_a_form(page: Any):
    panel = view(page)
    panel.get_by_test_id("md-tab-workspaces").click()
    name = f"by-enter-{secrets.token_hex(2)}"
    panel.get_by_test_id("md-create-workspace-name").fill(name)
    before = active_cell(page)
    panel.get_by_test_id("md-create-workspace-name").press("Enter")
    panel.get_by_test_id("md-workspace-row").filter(has_text=name).wait_for()
    assert active_cell(page) == before


def test_the_model_list_passes_the_wheel_on_at_its_end(page: Any):
    panel = view(page)
    panel.get_by_test_id("md-tab-models").click()
    panel.get_by_test_id("md-model-search").fill("scroll-")
    listbox = panel.get_by_role("listbox", name="Models")
    wait_for(lambda: listbox.evaluate("(el) => el.scrollHeight > el.clientHeight + 100"))
    listbox.evaluate("(el) => { el.scrollTop = el.scrollHeight; }")
    scroller = page.locator(".jp-NotebookPanel-notebook .jp-WindowedPanel-outer").first
    scroller = scroller if scroller.count() else page.locator(".jp-NotebookPanel-notebook").first
    listbox.scroll_into_view_if_needed()
    box = listbox.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    before = scroller.evaluate("(el) => el.scrollTop")
    for _ in range(6):
        page.mouse.wheel(0, 200)
    wait_for(lambda: scroller.evaluate("(el) => el.scrollTop") > before + 100, timeout=10)
    assert page.errors == []


def test_a_250_px_sidebar_cuts_nothing_off_and_stacks_list_and_details(browser: Any, lab: Lab, seeded: dict):
    page = new_page(browser)
    page.goto(fresh_lab(lab))
    page.wait_for_selector(".jp-LauncherCard", timeout=60_000)
    view = open_sidebar(page)
    target = sidebar(page).bounding_box()
    x, y = page.evaluate("""(right) => {  // the split handle at the sidebar's right edge, dragged as a user would
        const handles = [...document.querySelectorAll('.lm-SplitPanel-handle')].map((h) => h.getBoundingClientRect())
            .filter((r) => r.height > 100).sort((a, b) => Math.abs(a.left - right) - Math.abs(b.left - right));
        return [handles[0].left + handles[0].width / 2, handles[0].top + handles[0].height / 2];
    }""", target["x"] + target["width"])  # fmt: skip
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(target["x"] + 250, y, steps=8)
    page.mouse.up()
    wait_for(lambda: abs(sidebar(page).bounding_box()["width"] - 250) <= 8)
    for tab in ("workspaces", "models", "register", "inference"):
        view.get_by_test_id(f"md-tab-{tab}").click()
        assert view.evaluate(CUT_OFF) == [], tab
    view.get_by_test_id("md-tab-models").click()
    view.get_by_test_id("md-model-row").filter(has_text="lin").first.click()
    view.get_by_test_id("md-back").wait_for()
    assert view.get_by_role("listbox", name="Models").count() == 0  # details instead of the list, not beside it
    assert view.evaluate(CUT_OFF) == []
    view.get_by_test_id("md-back").click()
    view.get_by_role("listbox", name="Models").wait_for()
    assert page.errors == []
    page.context.close()
