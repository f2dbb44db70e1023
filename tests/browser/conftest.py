"""A real JupyterLab server, a real kernel and Debian's headless Chromium driven by Playwright.

`lab` starts `jupyter lab` on a free loopback port with its own root, settings, runtime dir and modeldeck
home, seeded through the public client; `page` opens a notebook in Chromium; `Kernel` reads the notebook's
kernel directly (through its connection file) so tests can assert what the kernel's state became.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

import modeldeck as md
from modeldeck import examples

from conftest import wait_for  # also re-exported for the browser tests
from services import stop_tree

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
XSS = "<img src=x onerror=alert(1)>"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic",
]  # fmt: skip


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def notebook(cells: list[str]) -> dict[str, Any]:
    return {
        "cells": [{"cell_type": "code", "execution_count": None, "id": f"c{i}", "metadata": {}, "outputs": [],
                   "source": src} for i, src in enumerate(cells)],  # fmt: skip
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }


@dataclass
class Lab:
    url: str
    token: str
    root: Path
    env: dict[str, str]
    runtime: Path
    admin_key: str

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.request(method, f"{self.url}{path}", params={"token": self.token}, timeout=30, **kwargs)

    def write_notebook(self, name: str, cells: list[str]) -> str:
        (self.root / name).write_text(json.dumps(notebook(cells)))
        return name

    def kernel(self, notebook_name: str) -> Kernel:
        sessions = self.api("GET", "/api/sessions").json()
        session = next(s for s in sessions if s["path"] == notebook_name)
        return Kernel(self.runtime / f"kernel-{session['kernel']['id']}.json")


class Kernel:
    """A second client of a running notebook kernel: evaluate an expression there, get its repr back."""

    def __init__(self, connection_file: Path) -> None:
        from jupyter_client import BlockingKernelClient

        self._client = BlockingKernelClient(connection_file=str(connection_file))
        self._client.load_connection_file()
        self._client.start_channels()
        self._client.wait_for_ready(timeout=60)

    def eval(self, expression: str) -> Any:
        """The value of a JSON-able expression in the kernel's namespace."""
        out: list[str] = []

        def hook(msg: dict[str, Any]) -> None:
            if msg["msg_type"] == "stream" and msg["content"]["name"] == "stdout":
                out.append(msg["content"]["text"])

        code = f"import json as _json; print(_json.dumps({expression}))"
        reply = self._client.execute_interactive(code, output_hook=hook, timeout=60)
        assert reply["content"]["status"] == "ok", reply["content"]
        return json.loads("".join(out))

    def run(self, code: str) -> None:
        reply = self._client.execute_interactive(code, output_hook=lambda msg: None, timeout=60)
        assert reply["content"]["status"] == "ok", reply["content"]

    def close(self) -> None:
        self._client.stop_channels()


@contextmanager
def running_lab(base: Path, app: str = "lab") -> Iterator[Lab]:
    """`jupyter lab` (or another Jupyter front end: `app="notebook"`, Notebook 7) with its own root, settings,
    runtime dir and modeldeck home under `base`."""
    root, home, settings, runtime = (base / n for n in ("root", "home", "settings", "runtime"))
    for folder in (root, settings, runtime):
        folder.mkdir(parents=True)
    # Widget state is saved into the notebook, as a user who turned it on would: the secret test reads it.
    manager = settings / "@jupyter-widgets" / "jupyterlab-manager"
    manager.mkdir(parents=True)
    (manager / "plugin.jupyterlab-settings").write_text(json.dumps({"saveState": True}))
    news = settings / "@jupyterlab" / "apputils-extension"
    news.mkdir(parents=True)
    (news / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false"}))
    env = {
        **os.environ,
        "MODELDECK_HOME": str(home),
        "MODELDECK_CONFIG": str(base / "config" / "profiles.toml"),
        "JUPYTERLAB_SETTINGS_DIR": str(settings),
        "JUPYTERLAB_WORKSPACES_DIR": str(base / "workspaces"),
        "JUPYTER_RUNTIME_DIR": str(runtime),
        "JUPYTER_CONFIG_DIR": str(base / "jupyter-config"),
        "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
    }
    for name in ("MODELDECK_PROFILE", "MODELDECK_API_KEY", "MODELDECK_URL", "MODELDECK_WORKSPACE", "ANYWIDGET_HMR"):
        env.pop(name, None)
    # The lab extension built from this checkout, ahead of whichever one the environment was set up with
    # (JupyterLab takes the first of a name along JUPYTER_PATH).
    built = Path(md.__file__).parent / "labextension"
    if (built / "package.json").is_file():
        (base / "jupyter-data" / "labextensions").mkdir(parents=True)
        (base / "jupyter-data" / "labextensions" / "modeldeck").symlink_to(built)
        env["JUPYTER_PATH"] = os.pathsep.join(filter(None, [str(base / "jupyter-data"), os.environ.get("JUPYTER_PATH")]))
    from modeldeck import embedded

    admin_key = embedded.ensure(home).admin_key
    assert admin_key
    port, token = _free_port(), secrets.token_hex(16)
    command = [sys.executable, "-m", "jupyter", app, "--no-browser", f"--port={port}", "--ip=127.0.0.1",
               f"--ServerApp.token={token}", f"--ServerApp.root_dir={root}", "--allow-root",
               *(["--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate", "--LabApp.news_url=None"]
                 if app == "lab" else [])]  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        with serving(command, env, f"{url}/api/status?token={token}", base / "lab.log"):
            yield Lab(url, token, root, env, runtime, admin_key)
    finally:
        embedded.stop(home)


@contextmanager
def serving(command: list[str], env: dict[str, str], ready: str, log: Path) -> Iterator[None]:
    """A server process (JupyterLab, Notebook 7, marimo), until its `ready` URL answers 200; stopped by its pid,
    then any process it started (its kernels) that is still there. Jupyter Server can hang in its own shutdown
    (jupyter_client's InvalidStateError on a kernel restarted by a test): it gets 10 s, then SIGKILL."""
    server = subprocess.Popen(command, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(ready, timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{command[2:4]} did not start: {log.read_text()[-2000:]}")
            time.sleep(0.2)
        yield
    finally:
        stop_tree(server, timeout=10)


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    with running_lab(tmp_path_factory.mktemp("lab")) as lab:
        yield lab


@contextmanager
def chromium() -> Iterator[Any]:
    """Debian's Chromium, headless, through Playwright (browser downloads do not work here)."""
    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium")
    if executable is None:
        raise RuntimeError("Chromium is not installed: run `make test-deps` (apt-get install chromium).")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="session")
def seeded(lab: Lab) -> dict[str, Any]:
    return seed(lab)


def seed(lab: Lab) -> dict[str, Any]:
    """Workspaces and models made through the public client, before the notebook opens."""
    home = Path(lab.env["MODELDECK_HOME"])
    with md.connect(home=home) as deck:
        team = deck.create_workspace("team-b", description="the second team")
        lin = examples.onnx_linear(lab.root / "ckpt" / "linear.onnx")
        deck.register("lin", lin, version="1.0.0", format="ONNX", metrics={"acc": 0.8}, progress=False)
        deck.register("lin", lin, version="1.1.0", format="ONNX", metrics={"acc": 0.9}, progress=False)
        deck.register(XSS, lin, format="ONNX", progress=False)
        lm = examples.tiny_causal_lm(lab.root / "ckpt" / "lm")
        deck.register("tiny-lm", lm, format="SafeTensors", progress=False)
        deck.authorize("lin", team.id, ["fine_tune"])  # team-b sees lin but may not run it
        upload = examples.onnx_linear(lab.root / "upload-me.onnx", seed=3)
    return {"team": team.id, "upload": str(upload)}


# pytest-jupyter's autouse fixtures (for the server extension's tests) close the current event loop after
# each test, which here is the loop Playwright's sync API runs on. These tests start no in-process server.
@pytest.fixture(autouse=True)
def jp_asyncio_loop() -> None:
    return None


@pytest.fixture(autouse=True)
def jp_server_cleanup() -> None:
    return None


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    """One Chromium for the browser tests (each page is in a fresh context: no cookies or storage shared),
    closed when they end: Playwright's sync API keeps an event loop running while it is open, which would stop
    the tests after them from calling `asyncio.run`."""
    with chromium() as browser:
        yield browser


def new_page(browser: Any, *, color_scheme: str = "light", height: int = 1000) -> Any:
    """A page 1400 px wide in a fresh browser context; `page.errors` collects failing JS, failed requests and
    dialogs."""
    context = browser.new_context(viewport={"width": 1400, "height": height}, color_scheme=color_scheme)
    page = context.new_page()
    page.errors = []  # type: ignore[attr-defined]
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    page.on("console", lambda msg: page.errors.append(msg.text) if msg.type == "error"
            and not msg.text.startswith("Failed to load resource") else None)  # fmt: skip
    # Failed requests are told by URL instead; a fresh workspace's first lookup is a 404 by design.
    page.on("response", lambda r: page.errors.append(f"{r.status} {r.url}") if r.status >= 400
            and "/lab/api/workspaces/" not in r.url else None)  # fmt: skip
    page.on("dialog", lambda dialog: (page.errors.append(f"dialog: {dialog.message}"), dialog.dismiss()))
    return page


def fresh_lab(lab: Lab, notebook: str | None = None) -> str:
    """JupyterLab's URL in a new workspace (no tabs restored from earlier pages), on `notebook` if named."""
    tree = f"/tree/{notebook}" if notebook else ""
    return f"{lab.url}/lab/workspaces/{secrets.token_hex(4)}{tree}?reset&token={lab.token}"


def sidebar(page: Any) -> Any:
    return page.get_by_test_id("md-sidebar")


def open_sidebar(page: Any) -> Any:
    """The sidebar's view, opened if it is not (its tab toggles: click only to open)."""
    if not sidebar(page).is_visible():
        page.locator(".jp-SideBar .lm-TabBar-tab[data-id='modeldeck-sidebar']").click()
    view = sidebar(page).get_by_test_id("md-panel")
    view.wait_for(timeout=60_000)
    return view


def workspace_row(view: Any, ws: str) -> Any:
    return view.locator(f"[data-testid=md-workspace-row][data-id='{ws}']")


def switch(view: Any, ws: str) -> None:
    """Click a workspace on the Workspaces tab; wait until it is the current one."""
    view.get_by_test_id("md-tab-workspaces").click()
    workspace_row(view, ws).locator("button").click()
    workspace_row(view, ws).and_(view.locator("[aria-current=true]")).wait_for()


def padded_checkpoint(path: Path) -> Path:
    """A small ONNX classifier padded to 48 MiB by an initializer no node reads: three object-store parts of
    16 MiB, so the upload reports progress between parts."""
    import numpy as np
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(examples.onnx_linear(path, seed=0)))
    model.graph.initializer.append(numpy_helper.from_array(np.zeros(12 * 1024 * 1024, dtype=np.float32), "pad"))
    onnx.save(model, str(path))
    return path


def watch_register_job(page: Any, label: str) -> None:
    """Record, at every change of the page, the progress detail shown by the running job labelled `label`
    (`register <model>`)."""
    page.evaluate("""(wanted) => {
        window.__mdUpload = [];
        const watch = new MutationObserver(() => {
          for (const job of document.querySelectorAll('[data-testid=md-job]')) {
            const label = job.querySelector('.md-job-label')?.textContent ?? '';
            const bar = job.querySelector('[role=progressbar]');
            if (label.startsWith(wanted) && bar)
              window.__mdUpload.push(job.querySelector('.md-job-detail').textContent);
          }
        });
        watch.observe(document.body, {subtree: true, childList: true, characterData: true, attributes: true});
    }""", label)


def shown_between_parts(page: Any, total: str = "48.0 MiB") -> bool:
    """Whether the register job showed a part of the upload done (not none of it, not all of it)."""
    shown = page.evaluate("window.__mdUpload")
    return any(t.endswith(f"/ {total}") and not t.startswith(total) for t in shown)


def goto_notebook(page: Any, url: str) -> None:
    """Open a notebook's page (JupyterLab's or Notebook 7's) and wait until its kernel is idle."""
    page.goto(url)
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
    select = page.locator(".jp-Dialog .jp-mod-accept", has_text="Select")
    # A notebook never opened before may ask which kernel to start; until its server has a kernel for it,
    # the dialog may still come (no fixed wait for it: most notebooks here name their kernel and get it).
    wait_for(lambda: select.is_visible() or kernel_started(url), timeout=60)
    if not kernel_started(url):
        select.click()
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=60_000)


def kernel_started(url: str) -> bool:
    """Whether the server of a notebook's page (JupyterLab's `/tree/` or Notebook 7's `/notebooks/` URL)
    has a kernel for that notebook."""
    parts = urllib.parse.urlsplit(url)
    path = urllib.parse.unquote(re.split("/tree/|/notebooks/", parts.path, maxsplit=1)[1])
    sessions = httpx.get(f"{parts.scheme}://{parts.netloc}/api/sessions", timeout=30,
                         params={"token": urllib.parse.parse_qs(parts.query)["token"][0]}).json()  # fmt: skip
    return any(s["path"] == path and s.get("kernel") for s in sessions)


def open_notebook(browser: Any, lab: Lab, name: str, *, color_scheme: str = "light", height: int = 1000) -> Any:
    """A fresh page on the notebook with every cell run; failing JS and dialogs fail the test."""
    page = new_page(browser, color_scheme=color_scheme, height=height)
    goto_notebook(page, fresh_lab(lab, name))
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
    return page


def open_panel(browser: Any, lab: Lab, name: str, shot: str, *, height: int = 1000) -> Any:
    """`open_notebook`, then wait for its panel; a panel that does not render leaves `shot` in the artifacts."""
    page = open_notebook(browser, lab, name, height=height)
    try:
        page.wait_for_selector(".jp-Notebook [data-testid=md-panel]", timeout=90_000)
    except Exception:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / shot))
        raise AssertionError(f"the panel did not render; page errors: {page.errors}") from None
    return page


def predict_lin(view: Any) -> str:
    """On the Inference tab, predict two rows with the model already selected; the output's text."""
    view.get_by_test_id("md-tab-inference").click()
    view.get_by_test_id("md-predict-input").fill(json.dumps({"X": [[1, 2, 3, 4], [0, 0, 0, 1]]}))
    view.get_by_test_id("md-predict-run").click()
    output = view.get_by_test_id("md-predict-output")
    output.locator("tbody tr").nth(1).wait_for(timeout=120_000)
    return output.inner_text()


def watch_replies(page: Any) -> None:
    """Record, at every change of the page, the length of the last assistant reply and whether it streams."""
    page.evaluate("""() => {
        window.__mdSeen = [];
        const watch = new MutationObserver(() => {
          const replies = document.querySelectorAll('[data-testid=md-chat-message][data-role=assistant]');
          const last = replies[replies.length - 1];
          const streaming = document.querySelector('[data-testid=md-chat-stop]') !== null;
          if (last) window.__mdSeen.push([last.querySelector('.md-msg-text').textContent.length, streaming]);
        });
        watch.observe(document.body, {subtree: true, childList: true, characterData: true});
    }""")


def wait_until_the_reply_grows(page: Any) -> None:
    """Until two lengths of reply were seen while streaming. The first chat loads the model, tens of seconds
    on a busy machine: the bound is generous, and not a timing."""
    grown = "() => new Set(window.__mdSeen.filter(([n, streaming]) => n > 0 && streaming).map(([n]) => n)).size >= 2"
    page.wait_for_function(grown, timeout=180_000)


def shown_while_streaming(page: Any, final: str) -> bool:
    """Whether part of the final reply was on screen before the reply ended."""
    return any(0 < n < len(final) and streaming for n, streaming in page.evaluate("window.__mdSeen"))


def stream_a_reply(view: Any, page: Any, chat_text: Any) -> str:
    """On the Inference tab of a chat model: ask for a long story, see the reply grow while it streams, stop
    it if it still streams; `chat_text()` reads the final reply (from the kernel, or the view)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    watch_replies(page)
    view.get_by_test_id("md-chat-input").fill("tell me a long story")
    view.get_by_test_id("md-chat-send").click()
    view.get_by_test_id("md-chat-stop").wait_for()
    # the first chat loads the model (tens of seconds on a busy machine): a generous bound, not a timing
    wait_until_the_reply_grows(page)
    stop = view.get_by_test_id("md-chat-stop")
    with suppress(PlaywrightTimeout):  # a warm model may end its reply before Stop is clicked
        stop.click(timeout=2_000)
    stop.wait_for(state="detached")
    final = chat_text()
    assert final and shown_while_streaming(page, final)
    return final
