"""Drive the harness in headless Chromium: render, scroll 10,000 models, exercise each tab, screenshot.

    npm run harness && python -m http.server 8731 --bind 127.0.0.1   # in js/
    python dev/look.py                                                  # screenshots in dev/screenshots/
"""

import shutil
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

BASE = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8731/dev/harness.html"
OUT = Path(__file__).parent / "screenshots"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]  # fmt: skip


def tid(name: str) -> str:
    return f'[data-testid="{name}"]'


def tour(page, theme: str) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{BASE}?theme={theme}&view=workspaces")
    page.wait_for_selector(tid("md-panel"))
    page.screenshot(path=OUT / f"{theme}-workspaces.png", full_page=True)

    page.click(tid("md-tab-models"))
    page.click(f'{tid("md-model-row")}[data-id="model-00001"]')
    page.wait_for_selector(tid("md-version-row"))
    page.screenshot(path=OUT / f"{theme}-models.png", full_page=True)

    # Scroll the 10,000 rows: the DOM stays small and frames stay short.
    rows_before = page.locator(tid("md-model-row")).count()
    timing = page.evaluate("""async () => {
        const list = document.querySelector('[role="listbox"]');
        const frames = [];
        let last = performance.now();
        for (let i = 0; i < 120; i++) {
            list.scrollTop += 4000;
            await new Promise(requestAnimationFrame);
            const now = performance.now(); frames.push(now - last); last = now;
        }
        frames.sort((a, b) => a - b);
        return {median: frames[60], p95: frames[114], max: frames[119], scrollTop: list.scrollTop,
                rows: document.querySelectorAll('[data-testid="md-model-row"]').length};
    }""")
    last_id = page.locator(tid("md-model-row")).last.get_attribute("data-id")
    print(f"{theme}: rows in DOM {rows_before} -> {timing['rows']}, frame ms median {timing['median']:.1f} "
          f"p95 {timing['p95']:.1f} max {timing['max']:.1f}, scrolled to {timing['scrollTop']}, last row {last_id}")
    page.screenshot(path=OUT / f"{theme}-models-scrolled.png", full_page=True)

    page.fill(tid("md-model-search"), "model 99")
    page.keyboard.press("Tab")
    page.click(tid("md-tab-register"))
    page.fill(tid("md-register-source-path"), "checkpoints/iris.onnx")
    page.fill(tid("md-register-model"), "iris")
    page.fill(tid("md-register-version"), "1.2")
    page.screenshot(path=OUT / f"{theme}-register-invalid.png", full_page=True)
    page.fill(tid("md-register-version"), "1.5.0")
    page.select_option(tid("md-register-format"), "ONNX")
    page.click(tid("md-register-submit"))
    page.wait_for_selector(tid("md-job"))
    page.wait_for_timeout(900)
    page.screenshot(path=OUT / f"{theme}-register-progress.png", full_page=True)
    page.wait_for_selector(".md-success")

    page.click(tid("md-tab-inference"))
    page.select_option(".md-inference select >> nth=0", "model-00003")  # a chat model
    page.fill(tid("md-chat-input"), "Hello <img src=x onerror=alert(1)>")
    page.keyboard.press("Enter")
    page.wait_for_selector(tid("md-chat-stop"))
    page.wait_for_timeout(700)
    page.screenshot(path=OUT / f"{theme}-chat-streaming.png", full_page=True)
    page.wait_for_selector(tid("md-chat-send"), timeout=15000)
    assert page.locator(".md-transcript img").count() == 0

    page.select_option(".md-inference select >> nth=0", "model-00001")  # a classifier
    page.fill(tid("md-predict-input"), '[{"sepal_length": 5.1, "sepal_width": 3.5}, {"sepal_length": 6.2, "sepal_width": 2.9}]')
    page.click(tid("md-predict-run"))
    page.wait_for_selector(f'{tid("md-predict-output")} table')
    page.evaluate("""() => window.deck.set('error', {code: 'Workspace.AccessDenied',
        message: 'This key may not use workspace team-b.', hint: 'Pass one of: team-a, research.', action: 'use'})""")
    page.screenshot(path=OUT / f"{theme}-predict-error.png", full_page=True)
    assert not errors, errors


def main() -> None:
    OUT.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), headless=True, args=ARGS)
        for theme in ("light", "dark"):
            page = browser.new_page(viewport={"width": 1100, "height": 800})
            tour(page, theme)
            page.close()
        browser.close()
    print("screenshots in", OUT)


if __name__ == "__main__":
    main()
