"""Screenshots of the model view, the inference view and the sidebar, for a change's before and after.

    python docs/screenshots/take.py docs/screenshots/after

writes `after-models.png`, `after-inference.png` and `after-sidebar.png`. Each run starts a real JupyterLab
on a temporary home (tests/browser/conftest.py's `running_lab`), seeds it with the same example models
(modeldeck.examples, fixed seeds and version names), drives Debian's Chromium at 1400x900 in the light theme, and stops
JupyterLab and the home's embedded server when it ends.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO / "tests")]  # the browser tests' harness: one way to start a lab and a browser

from browser.conftest import chromium, fresh_lab, new_page, open_panel, open_sidebar, running_lab

import modeldeck as md
from modeldeck import examples

HEIGHT = 900  # by 1400 px wide
ROW = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]


def seed(home: Path, checkpoints: Path) -> None:
    """A few models a newcomer would have: an ONNX classifier in two versions, a scikit-learn one, XGBoost."""
    with md.connect(home=home) as deck:
        deck.create_workspace("team-b", description="the second team")
        iris = examples.onnx_linear(checkpoints / "iris.onnx")
        deck.register("iris", iris, version="1.0.0", format="ONNX", metrics={"acc": 0.91}, progress=False)
        deck.register("iris", iris, version="1.1.0", format="ONNX", metrics={"acc": 0.96}, progress=False)
        deck.approve("iris", "1.1.0")
        churn = examples.save_skops(examples.sklearn_classifier(), checkpoints / "churn.skops")
        deck.register("churn", churn, version="1.0.0", format="SkopsModel", metrics={"acc": 0.88}, progress=False)
        fraud = examples.xgboost_classifier(checkpoints / "fraud.json")
        deck.register("fraud", fraud, version="1.0.0", format="XGBoost", progress=False)


def pick(view, name: str) -> None:
    """Select `name` in the model list (all of the seeded models stay listed)."""
    view.get_by_test_id("md-tab-models").click()
    view.get_by_test_id("md-model-row").filter(has_text=name).first.click()
    view.get_by_test_id("md-version-row").first.wait_for()


def settle(page) -> None:
    """Fonts and transitions done: the same picture on every run."""
    page.evaluate("document.fonts.ready")
    page.wait_for_timeout(500)


def take(prefix: str) -> list[Path]:
    out = Path(prefix)
    out.parent.mkdir(parents=True, exist_ok=True)
    shots = [Path(f"{prefix}-{name}.png") for name in ("models", "inference", "sidebar")]
    with tempfile.TemporaryDirectory(prefix="modeldeck-shots-") as tmp, running_lab(Path(tmp)) as lab:
        seed(Path(lab.env["MODELDECK_HOME"]), Path(tmp) / "checkpoints")
        name = lab.write_notebook("deck.ipynb", ["import modeldeck as md\ndeck = md.connect()\ndeck.panel()"])
        with chromium() as browser:
            page = open_panel(browser, lab, name, "shots-panel-failed.png", height=HEIGHT)
            view = page.locator(".jp-Notebook [data-testid=md-panel]").first
            pick(view, "iris")
            view.scroll_into_view_if_needed()
            settle(page)
            view.screenshot(path=str(shots[0]))

            view.get_by_test_id("md-tab-inference").click()
            view.get_by_test_id("md-predict-input").fill(json.dumps({"X": ROW}))
            view.get_by_test_id("md-predict-run").click()
            view.get_by_test_id("md-predict-output").locator("tbody tr").nth(1).wait_for(timeout=120_000)
            settle(page)
            view.screenshot(path=str(shots[1]))
            page.context.close()

            for kernel in lab.api("GET", "/api/kernels").json():
                lab.api("DELETE", f"/api/kernels/{kernel['id']}")
            page = new_page(browser, height=HEIGHT)
            page.goto(fresh_lab(lab))
            page.wait_for_selector(".jp-LauncherCard", timeout=60_000)
            side = open_sidebar(page)
            pick(side, "iris")
            settle(page)
            page.screenshot(path=str(shots[2]))
            page.context.close()
    return shots


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: take.py OUTPUT_PREFIX   (e.g. docs/screenshots/after)")
    for shot in take(sys.argv[1]):
        print(shot)
