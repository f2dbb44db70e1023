"""The sidebar's server extension in a real Jupyter Server (pytest-jupyter): handshake, state socket, auth."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from jupyter_server.auth import Authorizer
from tornado.httpclient import HTTPClientError, HTTPRequest
from tornado.web import RequestHandler
from tornado.websocket import WebSocketHandler, websocket_connect
from traitlets.config import Config

import modeldeck as md
from modeldeck import __version__, doctor, embedded
from modeldeck.jupyter.handlers import MAX_MESSAGE
from modeldeck.jupyter import versions
from modeldeck.jupyter.host import TRAITS, Sidebar
from modeldeck.profiles import Profile, ProfileFile


REPO = Path(__file__).resolve().parents[1]
WAIT = 120  # a guard against a hang, never a measure: the first connect starts the embedded platform


@pytest.fixture
def jp_server_config(request: pytest.FixtureRequest) -> Config:
    """The extension enabled as its install does it; no anonymous access; a failing extension fails the server."""
    server = {"jpserver_extensions": {"modeldeck": True}, "allow_unauthenticated_access": False,
              "reraise_server_extension_failures": True, "terminals_enabled": False}  # fmt: skip
    server.update(getattr(request, "param", {}))
    return Config({"ServerApp": server})


@pytest.fixture
def sidebar(jp_serverapp: Any) -> Iterator[Sidebar]:
    host = jp_serverapp.web_app.settings["modeldeck_sidebar"]
    yield host
    if host.state is not None:  # the serial worker's last action (a first connect) ends before the close
        host.state.submit("dismiss_error").result(WAIT)
    host.close()


class Client:
    """One sidebar socket: its copy of the state, every frame it received, actions it sends."""

    def __init__(self, ws: Any) -> None:
        self.ws, self.state, self.frames = ws, {}, []

    async def next(self) -> dict[str, Any]:
        text = await asyncio.wait_for(self.ws.read_message(), WAIT)
        assert text is not None, "the socket closed"
        self.frames.append(text)
        message = json.loads(text)
        if message["type"] == "state":
            self.state = dict(message["state"])
        elif message["type"] == "change":
            self.state[message["name"]] = message["value"]
        return message

    async def until(self, done: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        while not done(message := await self.next()):
            pass
        return message

    async def settle(self, ready: Callable[[dict[str, Any]], Any]) -> None:
        """Read changes until the state satisfies `ready`."""
        while not ready(self.state):
            await self.next()

    async def act(self, name: str, /, **args: Any) -> dict[str, Any]:
        action = uuid.uuid4().hex
        self.ws.write_message(json.dumps({"type": "action", "id": action, "name": name, "args": args}))
        return await self.until(lambda m: m["type"] == "done" and m["id"] == action)

    async def send(self, frame: str | bytes) -> dict[str, Any]:
        self.ws.write_message(frame, binary=isinstance(frame, bytes))
        return await self.until(lambda m: m["type"] in ("error", "done"))


@pytest.fixture
def open_sidebar(jp_ws_fetch: Any, sidebar: Sidebar) -> Callable[[], Any]:
    async def opened() -> Client:
        client = Client(await jp_ws_fetch("modeldeck", "api", "state"))
        assert (await client.next())["type"] == "state"
        return client

    return opened


def connected(state: dict[str, Any]) -> bool:
    return bool(state["connection"]) and bool(state["workspaces"]) and state["workspace"] is not None


# ---- version handshake -------------------------------------------------------------------------------


async def test_version_handshake_agrees_or_says_the_fix(jp_fetch: Any, sidebar: Sidebar):
    same = json.loads((await jp_fetch("modeldeck", "api", "version", params={"frontend": __version__})).body)
    assert same == {"server": __version__, "frontend": __version__, "ok": True, "fix": None}
    other = json.loads((await jp_fetch("modeldeck", "api", "version", params={"frontend": "0.0.1"})).body)
    assert other["ok"] is False and other["server"] == __version__ and other["frontend"] == "0.0.1"
    assert f"pip install --force-reinstall modeldeck=={__version__}" in other["fix"] and "reload" in other["fix"]
    missing = json.loads((await jp_fetch("modeldeck", "api", "version")).body)
    assert missing["ok"] is False and missing["frontend"] is None and missing["fix"]


# ---- the state socket --------------------------------------------------------------------------------


async def test_a_socket_gets_the_whole_state_then_every_change(open_sidebar: Any):
    first, second = await open_sidebar(), await open_sidebar()
    assert set(first.state) == set(TRAITS) and first.state["host"] == "sidebar"
    await first.settle(connected)
    await second.settle(connected)
    assert first.state["connection"]["kind"] == "local" and first.state["workspace"]["name"] == "default"
    first.ws.write_message(json.dumps({"type": "set", "name": "view", "value": "register"}))
    await second.until(lambda m: m["type"] == "change" and m["name"] == "view")
    assert second.state["view"] == "register"
    late = await open_sidebar()  # joins the same state, already loaded
    assert late.state["view"] == "register" and connected(late.state)


async def test_an_actions_reply_goes_only_to_its_sender(open_sidebar: Any):
    asker, watcher = await open_sidebar(), await open_sidebar()
    await asker.settle(connected)
    done = await asker.act("create_workspace", name="team-b", description="")
    assert done["ok"] and done["result"]["name"] == "team-b"
    await watcher.settle(lambda s: any(w["name"] == "team-b" for w in s["workspaces"]))
    # the watcher's own action is answered after anything sent to it before: no other `done` came first
    assert (await watcher.act("dismiss_error"))["ok"]
    replies = [json.loads(f) for f in watcher.frames if json.loads(f)["type"] == "done"]
    assert [r["id"] for r in replies] == [replies[-1]["id"]] and done["id"] != replies[-1]["id"]


async def test_use_makes_the_workspace_the_default_of_new_connections(open_sidebar: Any):
    kernel = await asyncio.to_thread(md.connect)  # a kernel connected before the switch
    team = await asyncio.to_thread(kernel.create_workspace, "team-b")
    client = await open_sidebar()
    await client.settle(connected)
    done = await client.act("use", workspace=team.id)
    assert done["ok"] and client.state["workspace"]["name"] == "team-b"
    assert ProfileFile.load().profiles["local"].workspace == "team-b"  # as `modeldeck use` saves it
    fresh = await asyncio.to_thread(md.connect)
    assert fresh.workspace.name == "team-b"
    assert kernel.workspace.name == "default"  # already connected: keeps its workspace
    assert (await asyncio.to_thread(kernel.whoami))["workspace"]["name"] == "default"
    fresh.close()
    kernel.close()


async def test_a_failed_connection_is_the_error_and_refresh_retries(open_sidebar: Any, monkeypatch: Any):
    monkeypatch.setenv("MODELDECK_PROFILE", "ghost")
    client = await open_sidebar()
    await client.settle(lambda s: s["error"])
    assert client.state["error"]["code"] == "Profile.NotFound" and client.state["error"]["hint"]
    assert client.state["connection"] == {}
    monkeypatch.delenv("MODELDECK_PROFILE")
    assert (await client.act("refresh"))["ok"]
    await client.settle(connected)
    assert client.state["error"] is None


async def test_use_profile_reconnects_on_another_configured_profile(open_sidebar: Any):
    client = await open_sidebar()
    await client.settle(connected)
    assert (await client.act("create_workspace", name="team-b"))["ok"]
    file = ProfileFile.load()
    file.profiles["second"] = Profile("second", "local", home=os.environ["MODELDECK_HOME"], workspace="team-b")
    file.save()
    refused = await client.act("use_profile", profile="ghost")
    assert not refused["ok"] and refused["error"]["code"] == "Profile.NotFound" and "second" in refused["error"]["hint"]
    assert client.state["workspace"]["name"] == "default"  # still on the profile it had
    assert client.state["profiles"] == [{"name": "second", "kind": "local"}]  # names and kinds: nothing secret
    assert (await client.act("use_profile", profile=["second"]))["error"]["code"] == "Profile.Invalid"
    done = await client.act("use_profile", profile="second")
    assert done["ok"] and done["result"]["profile"] == "second"
    await client.settle(lambda s: connected(s) and s["connection"]["profile"] == "second")
    assert client.state["workspace"]["name"] == "team-b" and client.state["error"] is None


BAD_FRAMES = [
    "not json", "[1, 2]", '"text"', "{}", '{"type": "nope"}', '{"type": "action"}',
    '{"type": "action", "id": 7, "name": "refresh"}', '{"type": "action", "id": "a", "name": ["refresh"]}',
    '{"type": "action", "id": "a", "name": "refresh", "args": [1, 2]}',
    '{"type": "set", "name": "error", "value": null}', '{"type": "set", "name": "view", "value": 3}',
    '{"type": "set", "name": "view", "value": "' + "x" * 1000 + '"}', b"\x00\xff binary",
]  # fmt: skip


async def test_stopping_the_server_closes_the_sidebars_connection(open_sidebar: Any, jp_serverapp: Any,
                                                                    sidebar: Sidebar):
    client = await open_sidebar()
    await client.settle(connected)
    deck = sidebar.state.deck
    await jp_serverapp.extension_manager.stop_all_extensions()
    with pytest.raises(RuntimeError, match="closed"):  # httpx: the client has been closed
        deck.whoami()


async def test_bad_frames_get_a_typed_error_and_change_nothing(open_sidebar: Any):
    client = await open_sidebar()
    await client.settle(connected)
    before = dict(client.state)
    for frame in BAD_FRAMES:
        refused = await client.send(frame)
        assert refused["type"] == "error" and refused["error"]["code"] == "Sidebar.BadMessage", frame
        assert refused["error"]["message"] and refused["error"]["hint"]
    assert client.state == before
    unknown = await client.act("format_disk")  # well formed, unknown: the state's own typed answer
    assert unknown["ok"] is False and unknown["error"]["code"] == "InvalidParameter"
    wrong = await client.act("select", model=["x"], colour="red")
    assert wrong["ok"] is False
    client.ws.write_message("x" * (MAX_MESSAGE + 1))  # too big: this socket is closed, the server goes on
    assert await asyncio.wait_for(client.ws.read_message(), WAIT) is None
    assert client.ws.close_code == 1009
    assert connected((await open_sidebar()).state)


async def test_no_frame_carries_the_key(open_sidebar: Any):
    client = await open_sidebar()
    await client.settle(connected)
    assert (await client.act("create_workspace", name="team-b"))["ok"]
    assert (await client.act("use", workspace="team-b"))["ok"]
    assert (await client.act("refresh"))["ok"]
    assert (await client.act("predict", model="missing", inputs=[[1]]))["ok"] is False
    key = embedded.read_admin_key(embedded.home_dir(None))
    assert key and len(client.frames) > 5
    assert not any(key in frame for frame in client.frames)


# ---- authentication and authorization ----------------------------------------------------------------


def our_routes(app: Any) -> list[tuple[str, type[RequestHandler]]]:
    """Every route of the server whose pattern names /modeldeck/, however deep in the routers."""
    found, rules = [], list(app.wildcard_router.rules) + list(app.default_router.rules)
    while rules:
        rule = rules.pop()
        if hasattr(rule.target, "rules"):
            rules.extend(rule.target.rules)
        elif "/modeldeck/" in getattr(rule.matcher, "regex", None).pattern:
            found.append((rule.matcher.regex.pattern.rstrip("$"), rule.target))
    return found


def methods(handler: type[RequestHandler]) -> list[str]:
    return [m for m in handler.SUPPORTED_METHODS
            if getattr(handler, m.lower()) is not RequestHandler._unimplemented_method]  # fmt: skip


@pytest.mark.filterwarnings("error::jupyter_server.utils.JupyterServerAuthWarning")
async def test_no_route_of_ours_answers_without_a_token(jp_serverapp: Any, http_server_client: Any,
                                                        jp_http_port: int, sidebar: Sidebar):  # fmt: skip
    routes = our_routes(jp_serverapp.web_app)
    assert {path.rsplit("/", 1)[-1] for path, _ in routes} >= {"version", "state"}
    for path, handler in routes:
        if issubclass(handler, WebSocketHandler):
            with pytest.raises(HTTPClientError) as refused:
                await websocket_connect(f"ws://localhost:{jp_http_port}{path}")
            assert refused.value.code in (401, 403), path
            continue
        for method in methods(handler):
            body = b"{}" if method in ("POST", "PUT", "PATCH") else None
            response = await http_server_client.fetch(path, method=method, body=body, raise_error=False,
                                                      follow_redirects=False)  # fmt: skip
            if method == "OPTIONS":  # Jupyter's CORS preflight: open by design, and it answers nothing
                assert not response.body, path
                continue
            assert response.code in (401, 403), f"{method} {path} answered {response.code} without a token"
    assert sidebar.state is None  # no socket ever opened: nothing connected on an anonymous request


async def test_the_state_socket_refuses_another_origin(jp_fetch: Any, jp_http_port: int, jp_base_url: str,
                                                       sidebar: Sidebar):  # fmt: skip
    """A browser authenticates the socket by its login cookie, so another site's page must not use it."""
    login = await jp_fetch("modeldeck", "api", "version")  # a token-authenticated request sets the cookie
    cookie = "; ".join(c.split(";", 1)[0] for c in login.headers.get_list("Set-Cookie"))
    url = f"ws://127.0.0.1:{jp_http_port}{jp_base_url}modeldeck/api/state"  # the cookie's host
    with pytest.raises(HTTPClientError) as refused:
        await websocket_connect(HTTPRequest(url, headers={"Cookie": cookie, "Origin": "http://elsewhere.example"}))
    assert refused.value.code == 403
    same = await websocket_connect(HTTPRequest(url, headers={"Cookie": cookie,
                                                             "Origin": f"http://127.0.0.1:{jp_http_port}"}))  # fmt: skip
    assert json.loads(await same.read_message())["type"] == "state"
    same.close()


class DenyModelDeck(Authorizer):
    """A server's authorizer that lets its user do anything but use the sidebar."""

    def is_authorized(self, handler: Any, user: Any, action: str, resource: str) -> bool:
        return resource != "modeldeck"


@pytest.mark.parametrize("jp_server_config", [{"authorizer_class": DenyModelDeck}], indirect=True)
async def test_the_servers_authorizer_decides(jp_fetch: Any, jp_ws_fetch: Any, sidebar: Sidebar):
    with pytest.raises(HTTPClientError) as refused:
        await jp_fetch("modeldeck", "api", "version", params={"frontend": __version__})
    assert refused.value.code == 403
    with pytest.raises(HTTPClientError) as refused:
        await jp_ws_fetch("modeldeck", "api", "state")
    assert refused.value.code == 403
    assert (await jp_fetch("api", "status")).code == 200  # the rest of the server still answers


# ---- modeldeck doctor ------------------------------------------------------------------------------


def test_doctor_finds_both_halves_where_jupyter_looks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    data, config = tmp_path / "data", tmp_path / "config"
    (data / "labextensions" / "modeldeck").mkdir(parents=True)
    (data / "labextensions" / "modeldeck" / "package.json").write_text(json.dumps({"version": "0.0.9"}))
    (config / "jupyter_server_config.d").mkdir(parents=True)
    shutil.copy(REPO / "jupyter-config" / "server-config" / "modeldeck.json", config / "jupyter_server_config.d")
    monkeypatch.setenv("JUPYTER_PATH", str(data))  # searched first, as JupyterLab does
    monkeypatch.setenv("JUPYTER_CONFIG_PATH", str(config))
    assert versions.labextensions()[0] == (data / "labextensions" / "modeldeck", "0.0.9")
    assert versions.server_extension_enabled()
    assert doctor._server_extension().status == "ok"


@pytest.mark.parametrize(("copies", "status", "fix"), [
    ([("/env/modeldeck", __version__)], "ok", ""),
    ([], "warn", f"pip install --force-reinstall modeldeck=={__version__}"),
    ([("/env/modeldeck", "0.0.9")], "fail", f"pip install --force-reinstall modeldeck=={__version__}"),
    ([("/user/modeldeck", "0.0.9"), ("/env/modeldeck", __version__)], "fail", "Remove /user/modeldeck"),
])  # fmt: skip
def test_doctor_says_the_exact_fix_for_the_lab_extension(copies: list, status: str, fix: str,
                                                         monkeypatch: pytest.MonkeyPatch):  # fmt: skip
    monkeypatch.setattr(versions, "labextensions", lambda: [(Path(f), v) for f, v in copies])
    check = doctor._lab_extension()
    assert check.status == status and check.fix.startswith(fix)
