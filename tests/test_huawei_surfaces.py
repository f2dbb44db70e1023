"""The CLI and the magics on a `huawei` profile against the local facades (ModelArts, IAM and Pangu at the
server's root), signed with AccessKey pairs from the SDK's own variables: the main account's workspaces,
models, deployments and a Pangu chat; an IAM sub-user refused in strict mode, with the hint saying which
condition is missing and who can grant it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator

import pytest
from IPython.core.interactiveshell import InteractiveShell
from test_huawei_pangu import TINY, native_text, no_huawei_environment, platform_with_tiny, profile, serving  # noqa: F401
from traitlets.config import Config

from modeldeck import examples
from modeldeck.errors import WorkspaceAccessDenied
from modeldeck.profiles import ProfileFile

PROMPT = "the cat sat on the mat"  # MESSAGES of test_huawei_pangu, as one user message


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """`tiny` deployed in the default workspace; a workspace `research`; a sub-user `bob` (no member of it)
    with his own AccessKey pair."""
    found = platform_with_tiny(tmp_path_factory.mktemp("surfaces"))
    server = found["server"]
    try:
        server.admin.ok("POST", "/api/v1/workspaces", json={"name": "research"})
        bob = server.client(server.subaccount("bob")).ok("POST", "/api/v1/access-keys", json={"description": "bob"})
        dep = server.admin.ok("POST", "/api/v1/deployments", json={"name": "tiny", "model": "tiny", "version": "1.0.0"})
        serving(server, dep["name"])
        yield {**found, "bob": (bob["id"], bob["secret"]), "expected": native_text(server, "1.0.0")}
    finally:
        server.close()


def signed_as(monkeypatch: pytest.MonkeyPatch, ak: str, sk: str) -> None:
    monkeypatch.setenv("HUAWEICLOUD_SDK_AK", ak)
    monkeypatch.setenv("HUAWEICLOUD_SDK_SK", sk)


@pytest.fixture
def cli(cloud: dict, monkeypatch: pytest.MonkeyPatch) -> Callable[..., subprocess.CompletedProcess]:
    """`modeldeck --profile hw ...` as a user runs it (a subprocess), as the main account unless `as_bob`."""
    name = profile(cloud["server"].url)

    def run(*args: str, as_bob: bool = False, ok: bool = True, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        ak, sk = cloud["bob"] if as_bob else (cloud["ak"], cloud["sk"])
        env = {**os.environ, "HUAWEICLOUD_SDK_AK": ak, "HUAWEICLOUD_SDK_SK": sk, **(env or {})}
        proc = subprocess.run([sys.executable, "-m", "modeldeck", "--profile", name, *args], env=env,
                              capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
        if ok:
            assert proc.returncode == 0, proc.stdout + proc.stderr
        assert cloud["sk"] not in proc.stdout + proc.stderr and cloud["bob"][1] not in proc.stdout + proc.stderr
        return proc

    return run


def research_id(cli: Callable[..., subprocess.CompletedProcess]) -> str:
    listed = json.loads(cli("workspaces", "--json").stdout)
    assert {w["name"] for w in listed} == {"default", "research"}
    return next(w["id"] for w in listed if w["name"] == "research")


def test_the_cli_lists_workspaces_models_deployments_and_chats(cli, cloud: dict):
    workspace = research_id(cli)
    assert workspace[:30] in cli("workspaces").stdout  # the table cuts long ids
    assert "tiny        1.0.1 (Approved)" in cli("models").stdout
    assert [line.split()[:2] for line in cli("versions", "tiny").stdout.splitlines()[2:]] == [["1.0.1", "Approved"],
                                                                                             ["1.0.0", "Approved"]]  # fmt: skip
    listed = cli("deployments").stdout
    assert "name=tiny" in listed and "version=1.0.0" in listed and "status=Running" in listed
    assert "message=1 replica(s) of 1.0.0 are serving." in cli("deployments", "tiny").stdout
    chat = cli("chat", "tiny", PROMPT, "--max-tokens", str(TINY["max_tokens"]), "--temperature", "0")
    assert chat.stdout.startswith(cloud["expected"] + "\n"), chat.stdout  # Pangu's chat, streamed


def test_the_cli_shows_both_strict_mode_denials_with_their_hints(cli, cloud: dict, tmp_path):
    workspace = research_id(cli)
    assert cli("workspaces", as_bob=True).stdout == "no workspaces\n"  # strict: nothing granted yet
    refused = cli("--workspace", workspace, "models", as_bob=True, ok=False)
    assert refused.returncode == 1 and refused.stdout == "" and refused.stderr.startswith("error: ")
    assert "[ModelArts.0105] Hint: No access to this workspace: in strict authorization mode" in refused.stderr
    checkpoint = examples.onnx_linear(tmp_path / "scorer.onnx")
    cloud["server"].admin.ok("PUT", "/api/v1/workspaces/research/members/bob", json={"role": "viewer"})
    try:  # a member now, without the action's permission: refused before any upload, naming the role
        assert cli("--workspace", workspace, "models", as_bob=True).stdout.strip() == "no models"
        refused = cli("--workspace", workspace, "register", "scorer", str(checkpoint), as_bob=True, ok=False,
                      env={"HUAWEICLOUD_OBS_BUCKET": "research"})  # fmt: skip
        assert refused.returncode == 1 and "[ModelArts.0104] Hint: Your role there (viewer) does not allow" in refused.stderr
        assert "100%" not in refused.stderr  # the progress bar never moved: not a byte went to OBS
    finally:
        cloud["server"].admin.ok("DELETE", "/api/v1/workspaces/research/members/bob")


@pytest.fixture
def ip(cloud: dict, monkeypatch: pytest.MonkeyPatch) -> Iterator[InteractiveShell]:
    """A fresh shell with the extension loaded, whose default profile is the huawei one."""
    name = profile(cloud["server"].url)
    file = ProfileFile.load()
    file.default = name
    file.save()
    signed_as(monkeypatch, cloud["ak"], cloud["sk"])
    shell = InteractiveShell(config=Config())
    shell.extension_manager.load_extension("modeldeck")
    yield shell
    shell.extension_manager.unload_extension("modeldeck")


def test_the_magics_on_a_huawei_profile(ip: InteractiveShell, cloud: dict, capsys: pytest.CaptureFixture[str]):
    assert {w.name for w in ip.run_line_magic("modeldeck", "workspaces")} == {"default", "research"}
    assert [m.model_name for m in ip.run_line_magic("modeldeck", "models")] == ["tiny"]
    assert [(d.name, d.status) for d in ip.run_line_magic("modeldeck", "deployments")] == [("tiny", "Running")]
    ip.run_line_magic("config", f"ModelDeck.max_tokens = {TINY['max_tokens']}")
    capsys.readouterr()
    assert ip.run_cell_magic("modeldeck", "chat tiny --temperature 0", PROMPT) is None
    assert ip.user_ns["_modeldeck_reply"].text == cloud["expected"]
    assert capsys.readouterr().out.startswith(cloud["expected"])


def test_the_magics_show_a_strict_mode_denial_with_its_hint(ip: InteractiveShell, cloud: dict,
                                                           monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]):  # fmt: skip
    workspace = next(w.id for w in ip.run_line_magic("modeldeck", "workspaces") if w.name == "research")
    signed_as(monkeypatch, *cloud["bob"])
    ip.run_line_magic("config", f'ModelDeck.workspace = "{workspace}"')  # reconnects, now as bob
    capsys.readouterr()
    result = ip.run_cell("%modeldeck models")
    shown = capsys.readouterr()
    assert isinstance(result.error_in_exec, WorkspaceAccessDenied)
    assert "Traceback" not in shown.out + shown.err
    line, hint = shown.out.splitlines()
    assert line.endswith("[ModelArts.0105]") and hint.startswith("Hint: ") and "add you" in hint
