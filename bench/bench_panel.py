"""The panel in a real JupyterLab and Debian's headless Chromium (the browser tests' harness).

1. Time from running `deck.panel()` in a cell to the panel being interactive (its model list filled from
   the platform) vs running `ipywidgets.Button(...)` the same way until the button shows; alternated
   rounds, medians (target: at most 2x).
2. Frame time while scrolling a list of 10,000 models in the panel vs the frame time of the same page at
   rest (the display's own interval, measured in the same run); medians and p95 (target: p50 within 1.5x,
   i.e. scrolling keeps the frame rate).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))
import modeldeck as md  # noqa: E402
from _common import median, percentile, verdict  # noqa: E402
from modeldeck import examples  # noqa: E402
from browser.conftest import chromium, open_notebook, running_lab  # noqa: E402

# Mark the outputs a cell has now, then note the time of the next keydown (the run) and of the moment a
# new `selector` shows in that cell.
ARM = """([index, selector]) => {
  const cell = document.querySelectorAll('.jp-Notebook .jp-Cell')[index];
  cell.querySelectorAll(selector).forEach((el) => el.setAttribute('data-old', '1'));
  window.__mdStart = null; window.__mdTook = null;
  document.addEventListener('keydown', () => { window.__mdStart ??= performance.now(); }, {capture: true, once: true});
  const watch = new MutationObserver(() => {
    if ([...cell.querySelectorAll(selector)].some((el) => !el.hasAttribute('data-old'))) {
      watch.disconnect(); window.__mdTook = performance.now() - window.__mdStart;
    }
  });
  watch.observe(cell, {subtree: true, childList: true});
}"""

# Frame intervals over `ms` milliseconds, scrolling the last panel's model list by `step` pixels a frame.
FRAMES = """async ([step, ms]) => {
  const lists = document.querySelectorAll('.jp-Notebook [data-testid=md-panel] [role=listbox]');
  const box = lists[lists.length - 1];
  const times = [];
  let last = performance.now();
  const end = last + ms;
  return await new Promise((resolve) => {
    const tick = (now) => {
      times.push(now - last); last = now;
      if (step) { box.scrollTop = (box.scrollTop + step) % (box.scrollHeight - box.clientHeight); }
      if (now < end) requestAnimationFrame(tick); else resolve(times.slice(1));
    };
    requestAnimationFrame(tick);
  });
}"""


def run_cell(page: object, index: int, selector: str) -> float:
    """Milliseconds from pressing Ctrl+Enter on cell `index` to a new `selector` in its output."""
    page.evaluate(ARM, [index, selector])
    page.locator(".jp-Notebook .jp-Cell").nth(index).locator(".jp-InputPrompt").click()
    page.keyboard.press("Escape")
    page.keyboard.press("Control+Enter")
    page.wait_for_function("() => window.__mdTook !== null", timeout=60_000)
    return page.evaluate("window.__mdTook")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--models", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="modeldeck-bench-panel-") as tmp, running_lab(Path(tmp)) as lab, \
            chromium() as browser:  # fmt: skip
        with md.connect(home=Path(lab.env["MODELDECK_HOME"])) as deck:  # one model, so the list has a row
            deck.register("bench-model", examples.onnx_linear(Path(tmp) / "m.onnx"), format="ONNX", progress=False)
        name = lab.write_notebook("bench.ipynb", [
            "import modeldeck as md, ipywidgets\ndeck = md.connect()",
            "deck.panel()",
            "ipywidgets.Button(description='baseline')",
            "big = deck.panel()\nbig",
        ])  # fmt: skip
        page = open_notebook(browser, lab, name)  # runs every cell once: imports and first loads are warm
        page.wait_for_selector(".jp-Notebook [data-testid=md-panel]", timeout=90_000)
        page.wait_for_selector(".widget-button", timeout=60_000)
        panel_ms, button_ms = [], []
        for _ in range(args.rounds):
            panel_ms.append(run_cell(page, 1, "[data-testid=md-model-row]"))
            button_ms.append(run_cell(page, 2, ".widget-button"))
        ratio = median(panel_ms) / median(button_ms)
        print(f"panel interactive: p50 {median(panel_ms):.0f} ms (rounds {[round(x) for x in panel_ms]})")
        print(f"ipywidgets Button shown: p50 {median(button_ms):.0f} ms (rounds {[round(x) for x in button_ms]})")
        ok = verdict("panel-ready", f"{ratio:.2f}x of an ipywidgets Button (target <= 2x)", ratio <= 2.0)

        kernel = lab.kernel(name)
        kernel.run(
            "rows = [{'id': f'mdl-{i:012x}', 'name': f'model-{i:05d}', 'task': 'classification', 'domain': None,"
            " 'owner_workspace_id': 'ws', 'owner_workspace_name': 'default', 'source': 'owned',"
            " 'actions': ['inference'], 'latest_version': '1.0.0', 'latest_approval': 'Approved',"
            " 'latest_format': 'ONNX', 'labels': {}, 'description': ''}"
            f" for i in range({args.models})]\nbig.state.models = rows"
        )
        kernel.close()
        last_panel = page.locator(".jp-Notebook [data-testid=md-panel]").last
        last_panel.scroll_into_view_if_needed()
        last_panel.get_by_test_id("md-model-row").filter(has_text="model-00000").wait_for()
        rest, scrolling = [], []
        for _ in range(3):
            rest += page.evaluate(FRAMES, [0, 1500])
            scrolling += page.evaluate(FRAMES, [40, 1500])
        frame_ratio = median(scrolling) / median(rest)
        print(f"frames at rest: p50 {median(rest):.1f} ms, p95 {percentile(rest, 95):.1f} ms ({len(rest)} frames)")
        print(f"frames scrolling {args.models} models: p50 {median(scrolling):.1f} ms, "
              f"p95 {percentile(scrolling, 95):.1f} ms ({len(scrolling)} frames)")  # fmt: skip
        ok &= verdict("panel-scroll", f"{frame_ratio:.2f}x of the frame time at rest (target <= 1.5x)", frame_ratio <= 1.5)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
