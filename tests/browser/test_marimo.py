"""The panel in marimo through `mo.ui.anywidget`, clicked through in headless Chromium against a real
`marimo run` server: the same widget and bundle, marimo's own front end and its custom messages."""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Iterator
from typing import Any

import pytest

import modeldeck as md
from modeldeck import embedded, examples

from .conftest import ARTIFACTS, _free_port, new_page, predict_lin, serving

pytestmark = pytest.mark.browser

APP = '''
import marimo

app = marimo.App(width="full")


@app.cell
def _():
    import marimo as mo
    import modeldeck as md

    deck = md.connect()
    panel = mo.ui.anywidget(deck.panel())
    panel
    return
'''


@pytest.fixture(scope="module")
def marimo_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`marimo run` on a free loopback port, over a home seeded through the public client."""
    base = tmp_path_factory.mktemp("marimo")
    home = base / "home"
    env = {**os.environ, "MODELDECK_HOME": str(home), "MODELDECK_CONFIG": str(base / "profiles.toml"),
           "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring", "HOME": str(base / "user")}  # fmt: skip
    for name in ("MODELDECK_PROFILE", "MODELDECK_API_KEY", "MODELDECK_URL", "MODELDECK_WORKSPACE"):
        env.pop(name, None)
    with md.connect(home=home) as deck:
        lin = examples.onnx_linear(base / "ckpt" / "linear.onnx")
        deck.register("lin", lin, version="1.0.0", format="ONNX", progress=False)
        deck.register("other", lin, version="1.0.0", format="ONNX", progress=False)
    (base / "app.py").write_text(APP)
    port, token = _free_port(), secrets.token_hex(16)
    command = [sys.executable, "-m", "marimo", "run", str(base / "app.py"), "--headless", "--host", "127.0.0.1",
               "-p", str(port), "--token", "--token-password", token]  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        with serving(command, env, f"{url}/health", base / "marimo.log"):
            yield f"{url}/?access_token={token}"
    finally:
        embedded.stop(home)


def test_the_panel_lists_selects_and_predicts_in_marimo(browser: Any, marimo_url: str):
    page = new_page(browser)
    page.goto(marimo_url)
    view = page.get_by_test_id("md-panel")
    try:
        view.wait_for(timeout=90_000)
    except Exception:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "marimo-failed-to-render.png"))
        raise AssertionError(f"the panel did not render in marimo; page errors: {page.errors}") from None
    rows = view.get_by_test_id("md-model-row")
    rows.nth(1).wait_for()
    # styled inside marimo's shadow root too (the page's stylesheets do not reach into it)
    assert view.get_by_test_id("md-tab-models").evaluate("e => getComputedStyle(e.parentElement).display") == "flex"
    assert [r.split("\n")[0].split("1.0.0")[0] for r in rows.all_inner_texts()] == ["lin", "other"]
    rows.filter(has_text="lin").click()  # an action: a custom message to the kernel, answered by new state
    view.get_by_test_id("md-version-row").filter(has_text="1.0.0").wait_for()
    assert "probabilities" in predict_lin(view)
    ARTIFACTS.mkdir(exist_ok=True)
    view.screenshot(path=str(ARTIFACTS / "marimo-panel.png"))
    assert page.errors == []
    page.context.close()
