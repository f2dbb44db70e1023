"""The CLI and the magics on an `alibaba` profile, against the local DashScope and Model Studio facades of a
real platform server: workspaces, authorized models, authorize, chat, and the hints a RAM sub-account meets
(`Workspace.AccessDenied`, then `Model.AccessDenied`) on the way.

The credentials are the cloud's own variables (`DASHSCOPE_API_KEY`, `DASHSCOPE_WORKSPACE`,
`ALIBABA_CLOUD_ACCESS_KEY_ID` / `_SECRET`); the profile only says where the services are.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import Deployment, deploy
from IPython.core.interactiveshell import InteractiveShell
from test_alibaba_dashscope import MESSAGES
from test_alibaba_provider import ALIBABA_VARIABLES
from traitlets.config import Config

from modeldeck import examples
from modeldeck.errors import ModelAccessDenied, WorkspaceAccessDenied
from modeldeck.platform import Settings


@dataclass
class Cloud:
    """The local platform as Alibaba Cloud would be set up: the main account's key and AccessKey pair, a
    sub-workspace `team-b` and a RAM sub-account `alice` developing there (ids `ws_…`, as Model Studio
    writes them), the language model `tiny` in the default workspace."""

    deployment: Deployment
    main: str
    sub: str
    ws: str
    default: str
    pair: dict[str, str]

    @property
    def url(self) -> str:
        return self.deployment.url

    def granted(self) -> list[tuple[str, list[str]]]:
        """tiny's grants, as the platform's native API tells them."""
        import modeldeck as md

        with md.connect(url=self.url, api_key=self.main) as deck:
            return [(g.workspace, g.actions) for g in deck.grants("tiny")]

    def revoke(self) -> None:
        self.deployment.admin.request("DELETE", "/api/v1/models/tiny/grants/team-b")


@contextmanager
def alibaba_cloud(base: Path) -> Iterator[Cloud]:
    """A platform server under `base`, set up as `Cloud` says, stopped at the end."""
    import modeldeck as md

    dep = deploy(Settings(home=base / "home"))
    try:
        with md.connect(url=dep.url, api_key=dep.admin_key) as deck:
            deck.register("tiny", examples.tiny_causal_lm(base / "lm", seed=3), format="SafeTensors",
                          framework="Transformers", progress=False)  # fmt: skip
            ws = deck.create_workspace("team-b").id
            default = next(w.id for w in deck.workspaces() if w.is_default)
        alice = dep.subaccount("alice", {"team-b": "developer"})
        pair = dep.admin.ok("POST", "/api/v1/access-keys", json={"description": "console"})
        yield Cloud(dep, dep.admin_key, alice, "ws_" + ws[3:], "ws_" + default[3:], pair)
    finally:
        dep.close()


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    with alibaba_cloud(tmp_path_factory.mktemp("alibaba")) as cloud:
        yield cloud


@pytest.fixture(autouse=True)
def ungranted(cloud: Cloud, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test starts before the grant, with none of the cloud's variables set."""
    for name in ALIBABA_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    cloud.revoke()
    yield
    cloud.revoke()


def as_sub(cloud: Cloud, monkeypatch: pytest.MonkeyPatch, workspace: str | None = None) -> None:
    monkeypatch.setenv("DASHSCOPE_API_KEY", cloud.sub)
    if workspace:
        monkeypatch.setenv("DASHSCOPE_WORKSPACE", workspace)


def as_admin(cloud: Cloud, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DASHSCOPE_API_KEY", cloud.main)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", cloud.pair["id"])
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", cloud.pair["secret"])


# ---- the CLI, as a user runs it: a subprocess -------------------------------------------------------


def modeldeck(*args: str, ok: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "modeldeck", *args], env={**os.environ}, capture_output=True, check=False,
                          text=True, timeout=180)  # fmt: skip
    if ok:
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


@pytest.fixture
def cli(cloud: Cloud) -> Any:
    added = modeldeck("profile", "add", "ali", "--kind", "alibaba", "--url", f"{cloud.url}/dashscope",
                      "--endpoint", f"modelstudio={cloud.url}", "--default")  # fmt: skip
    assert "saved" in added.stdout
    return modeldeck


def test_the_cli_walks_the_sub_accounts_story(cli, cloud: Cloud, monkeypatch: pytest.MonkeyPatch):
    as_sub(cloud, monkeypatch)
    denied = cli("chat", "tiny", "hello", "--max-tokens", "4", ok=False)
    assert denied.returncode == 1 and "[Workspace.AccessDenied]" in denied.stderr
    assert "DASHSCOPE_WORKSPACE" in denied.stderr and "Traceback" not in denied.stderr

    as_sub(cloud, monkeypatch, cloud.ws)
    assert json.loads(cli("models", "--json").stdout) == []
    unauthorized = cli("chat", "tiny", "hello", "--max-tokens", "4", ok=False)
    assert "[Model.AccessDenied]" in unauthorized.stderr and "Models > View Details > Authorize" in unauthorized.stderr

    with monkeypatch.context() as admin:  # the admin, with the account's AccessKey, in the default workspace
        as_admin(cloud, admin)
        admin.delenv("DASHSCOPE_WORKSPACE")
        listed = json.loads(cli("workspaces", "--json").stdout)
        assert {w["name"]: w["id"] for w in listed}["team-b"] == cloud.ws
        table = cli("workspaces").stdout
        assert "team-b" in table and cloud.ws in table
        granted = cli("authorize", "tiny", cloud.ws, "--action", "inference").stdout
        assert "may now use 'tiny' for: inference" in granted

    models = json.loads(cli("models", "--json").stdout)
    assert [(m["model_name"], m["actions"]) for m in models] == [("tiny", ["inference"])]
    assert "tiny" in cli("models").stdout
    reply = cli("chat", "tiny", MESSAGES[0]["content"], "--max-tokens", "6", "--temperature", "0").stdout
    assert reply.strip() and "Traceback" not in reply
    answer = json.loads(cli("chat", "tiny", MESSAGES[0]["content"], "--max-tokens", "6", "--json").stdout)
    assert answer["choices"][0]["message"]["content"]
    for secret in (cloud.sub, cloud.main, cloud.pair["secret"]):
        assert secret not in reply


def test_the_cli_switches_workspaces_by_name(cli, cloud: Cloud, monkeypatch: pytest.MonkeyPatch):
    as_admin(cloud, monkeypatch)
    used = cli("use", "team-b").stdout
    assert "uses workspace 'team-b'" in used
    current = [w for w in json.loads(cli("workspaces", "--json").stdout) if w["current"] == "*"]
    assert [w["id"] for w in current] == [cloud.ws]


def alice_on_pai(cloud: Cloud, monkeypatch: pytest.MonkeyPatch) -> None:
    """alice in team-b, authorized there for tiny, with her own AccessKey pair: she is no member of the
    account's default PAI workspace, which the profile's PAI part lists."""
    import modeldeck as md

    with md.connect(url=cloud.url, api_key=cloud.main) as admin:
        admin.authorize("tiny", "team-b", actions=["inference"])
    pair = cloud.deployment.client(cloud.sub).ok("POST", "/api/v1/access-keys", json={})
    as_sub(cloud, monkeypatch, cloud.ws)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", pair["id"])
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", pair["secret"])


def test_the_cli_lists_model_studio_and_notes_the_pai_workspace_that_refuses(cloud: Cloud, monkeypatch: pytest.MonkeyPatch):
    added = modeldeck("profile", "add", "ali-pai", "--kind", "alibaba", "--url", f"{cloud.url}/dashscope",
                      "--endpoint", f"modelstudio={cloud.url}", "--endpoint", f"pai={cloud.url}/aiworkspace",
                      "--endpoint", f"sts={cloud.url}/sts", "--default")  # fmt: skip
    assert "saved" in added.stdout
    alice_on_pai(cloud, monkeypatch)
    listed = modeldeck("models", "--json")
    assert [(m["source"], m["model_name"]) for m in json.loads(listed.stdout)] == [("authorized", "tiny")]
    assert "note: PAI workspace" in listed.stderr and "[Workspace.AccessDenied]" in listed.stderr
    assert "add you as a member" in listed.stderr and "Traceback" not in listed.stderr


# ---- the magics, in a real IPython shell --------------------------------------------------------------


@pytest.fixture
def ip(cloud: Cloud) -> Iterator[InteractiveShell]:
    from modeldeck.profiles import Profile, ProfileFile

    file = ProfileFile.load()
    file.profiles["ali"] = Profile("ali", "alibaba", url=f"{cloud.url}/dashscope", endpoints={"modelstudio": cloud.url})
    file.default = "ali"
    file.save()
    shell = InteractiveShell(config=Config())
    shell.extension_manager.load_extension("modeldeck")
    yield shell
    shell.extension_manager.unload_extension("modeldeck")


def run(ip: InteractiveShell, line: str) -> Any:
    return ip.run_line_magic("modeldeck", line)


def failed(ip: InteractiveShell, cell: str, capsys: pytest.CaptureFixture) -> tuple[BaseException, str]:
    """A cell that must fail: its error, and what the notebook showed."""
    result = ip.run_cell(cell)
    assert result.error_in_exec is not None
    return result.error_in_exec, capsys.readouterr().out


def test_the_magics_walk_the_sub_accounts_story(ip, cloud: Cloud, monkeypatch: pytest.MonkeyPatch, capsys):
    as_sub(cloud, monkeypatch)
    error, shown = failed(ip, "%%modeldeck chat tiny --max-tokens 4\nhello", capsys)
    assert isinstance(error, WorkspaceAccessDenied)
    line, hint = shown.strip().splitlines()[-2:]
    assert line.endswith("[Workspace.AccessDenied]") and "DASHSCOPE_WORKSPACE" in hint and hint.startswith("Hint:")

    run(ip, f"use {cloud.ws}")  # the hint's own remedy: name the workspace
    assert list(run(ip, "models")) == []
    error, shown = failed(ip, "%%modeldeck chat tiny --max-tokens 4\nhello", capsys)
    assert isinstance(error, ModelAccessDenied) and "Models > View Details > Authorize" in shown

    with monkeypatch.context() as admin:
        as_admin(cloud, admin)
        ip.run_line_magic("modeldeck", "profile ali")  # a new deck with the admin's credentials
        assert {w.name: w.id for w in run(ip, "workspaces")}["team-b"] == cloud.ws
        grant = run(ip, f"authorize tiny {cloud.ws} --action inference")
        assert grant.actions == ["inference"]

    ip.run_line_magic("modeldeck", "profile ali")  # alice again, in her workspace
    run(ip, f"use {cloud.ws}")
    models = run(ip, "models")
    assert [(m.model_name, m.actions) for m in models] == [("tiny", ["inference"])]
    assert "tiny" in models._repr_html_()
    returned = ip.run_cell_magic("modeldeck", "chat tiny --max-tokens 6 --temperature 0", MESSAGES[0]["content"])
    assert returned is None
    reply = ip.user_ns["_modeldeck_reply"]
    assert reply.text and reply.text in capsys.readouterr().out


def test_the_magics_show_the_note_of_a_pai_workspace_that_refuses(ip, cloud: Cloud, monkeypatch: pytest.MonkeyPatch):
    from modeldeck.profiles import ProfileFile

    file = ProfileFile.load()
    file.profiles["ali"].endpoints.update({"pai": f"{cloud.url}/aiworkspace", "sts": f"{cloud.url}/sts"})
    file.save()
    alice_on_pai(cloud, monkeypatch)
    models = run(ip, "models")
    assert [(m.source, m.model_name) for m in models] == [("authorized", "tiny")]
    assert [n.code for n in models.notes] == ["Workspace.AccessDenied"] and "add you as a member" in models.notes[0].hint
    assert "add you as a member" in models._repr_html_()


def test_the_magics_switch_workspaces_by_name_and_back(ip, cloud: Cloud, monkeypatch: pytest.MonkeyPatch):
    as_admin(cloud, monkeypatch)
    assert run(ip, "use team-b").id == cloud.ws
    error = ip.run_cell("%%modeldeck chat tiny --max-tokens 4\nhi").error_in_exec
    assert isinstance(error, ModelAccessDenied)  # the main account in team-b: tiny is not authorized there
    default = next(w for w in run(ip, "workspaces") if w.is_default)
    assert run(ip, f"use {default.id}").id == default.id  # an id is taken as it is: no AccessKey needed
    assert [m.model_name for m in run(ip, "models")] == ["tiny"]
