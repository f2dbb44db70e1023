"""The `modeldeck` CLI, run as a user runs it: a subprocess, real platform, real files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import Deployment
from modeldeck import examples


@pytest.fixture
def cli(deployment: Deployment, tmp_path: Path):
    """Run `modeldeck ...` against the deployment through a saved profile."""
    env = {**os.environ}

    def run(*args: str, input: str | None = None, ok: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run(
            [sys.executable, "-m", "modeldeck", *args], env=env, input=input, capture_output=True, text=True,
            timeout=120,
        )  # fmt: skip
        if ok:
            assert proc.returncode == 0, proc.stdout + proc.stderr
        return proc

    added = run("profile", "add", "team", "--url", deployment.url, "--api-key", "-", "--default",
                input=deployment.admin_key + "\n")  # fmt: skip
    assert "saved" in added.stdout and deployment.admin_key not in added.stdout
    return run


def test_listings_take_json(cli):
    assert json.loads(cli("workspaces", "--json").stdout)[0]["name"] == "default"
    assert "default" in cli("workspaces").stdout
    profiles = json.loads(cli("profile", "list", "--json").stdout)
    assert profiles == [{"name": "team", "kind": "server", "url": profiles[0]["url"], "home": None,
                         "workspace": None, "key": "in file", "default": "*"}]  # fmt: skip


def test_register_approve_predict_authorize(cli, deployment: Deployment, tmp_path: Path):
    path = examples.onnx_linear(tmp_path / "linear.onnx")
    out = cli("register", "iris", str(path), "--format", "ONNX", "--version", "1.0.0",
              "--metrics", '{"acc": 0.9}', "--label", "team=cv")  # fmt: skip
    assert "registered iris 1.0.0 (Pending) artifact://sha256:" in out.stdout
    assert "upload linear.onnx" in out.stderr  # the progress bar
    versions = json.loads(cli("versions", "iris", "--json").stdout)
    assert [(v["version_name"], v["metrics"], v["labels"]) for v in versions] == [("1.0.0", {"acc": 0.9}, {"team": "cv"})]
    assert "Approved" in cli("approve", "iris", "1.0.0").stdout
    inputs = tmp_path / "in.json"
    inputs.write_text(json.dumps({"X": [[1, 2, 3, 4]]}))
    result = json.loads(cli("predict", "iris", "--input", f"@{inputs}", "--json").stdout)
    assert {o["name"] for o in result["outputs"]} == {"logits", "probabilities"}
    assert "probabilities float32 [1, 3]" in cli("predict", "iris", "--input", "[[1, 2, 3, 4]]").stdout
    cli("register", "iris", "oss://bucket/b.onnx")
    old = cli("register", "oss://bucket/b.onnx", "--model", "iris", ok=False)  # the order of earlier versions
    assert old.returncode == 1 and "modeldeck register iris oss://bucket/b.onnx" in old.stderr
    assert "Rejected" in cli("reject", "iris", "1.1.0").stdout
    models = json.loads(cli("models", "--json").stdout)
    assert models[0]["model_name"] == "iris" and models[0]["latest"] == "1.0.0 (Approved)"  # what `latest` serves
    deployment.admin.ok("POST", "/api/v1/workspaces", json={"name": "team-b"})
    assert "may now use 'iris' for: inference" in cli("authorize", "iris", "team-b").stdout
    assert "no longer" in cli("revoke", "iris", "team-b").stdout


def test_use_switches_the_profiles_workspace(cli, deployment: Deployment):
    deployment.admin.ok("POST", "/api/v1/workspaces", json={"name": "team-b"})
    assert "now uses workspace 'team-b'" in cli("use", "team-b").stdout
    rows = json.loads(cli("workspaces", "--json").stdout)
    assert [r["name"] for r in rows if r["current"]] == ["team-b"]
    assert json.loads(cli("models", "--json").stdout) == []


def test_errors_are_one_line_with_the_hint_and_exit_nonzero(cli, deployment: Deployment):
    key = deployment.subaccount("alice", {})
    proc = subprocess.run(
        [sys.executable, "-m", "modeldeck", "models"], capture_output=True, text=True,
        env={**os.environ, "MODELDECK_URL": deployment.url, "MODELDECK_API_KEY": key},
    )  # fmt: skip
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "[Workspace.AccessDenied] Hint:" in lines[0]
    missing = cli("versions", "nope", ok=False)
    assert missing.returncode == 1 and "Model.NotFound" in missing.stderr
    assert cli("predict", "nope", "--input", "{bad", ok=False).returncode == 1
    assert cli("profile", "use", "ghost", ok=False).returncode == 1


def test_profile_lifecycle(cli, deployment: Deployment):
    cli("profile", "add", "other", "--url", deployment.url)
    assert "default profile: 'other'" in cli("profile", "use", "other").stdout
    no_key = cli("workspaces", ok=False)
    assert no_key.returncode == 1 and "No API key" in no_key.stderr
    cli("profile", "remove", "other")
    names = [p["name"] for p in json.loads(cli("profile", "list", "--json").stdout)]
    assert names == ["team"]


def test_doctor_reports_and_says_what_to_fix(cli, deployment: Deployment):
    report = cli("doctor")
    assert "✓ platform:" in report.stdout and "✓ credentials:" in report.stdout
    assert deployment.admin_key not in report.stdout
    checks = {c["name"]: c for c in json.loads(cli("doctor", "--json").stdout)}
    assert checks["platform"]["status"] == "ok"
    os.chmod(os.environ["MODELDECK_CONFIG"], 0o644)
    broken = cli("doctor", ok=False)
    assert broken.returncode == 1 and "chmod 600" in broken.stdout


def test_keys_create_list_revoke_and_endpoints(cli, deployment: Deployment):
    import httpx

    from modeldeck.providers.auth import ACS3Auth

    created = cli("keys", "create", "--description", "laptop").stdout
    key_id = created.split()[1]
    secret = next(line.split(": ", 1)[1] for line in created.splitlines() if "secret:" in line)
    assert key_id.startswith("AK") and "shown this once" in created
    listed = cli("keys", "list", "--json").stdout
    assert [(k["id"], k["status"], k["description"]) for k in json.loads(listed)] == [(key_id, "Active", "laptop")]
    assert secret not in listed and secret not in cli("keys", "list").stdout
    with httpx.Client(base_url=deployment.url, auth=ACS3Auth(key_id, secret)) as signed:
        assert signed.get("/api/v1/whoami").json()["account"]["name"] == "main"
        assert f"AccessKey {key_id} revoked" in cli("keys", "revoke", key_id).stdout
        assert signed.get("/api/v1/whoami").json()["code"] == "AccessKey.Revoked"
    assert "AccessKey.NotFound" in cli("keys", "revoke", "AKNOSUCHKEY", ok=False).stderr
    lines = cli("endpoints").stdout.splitlines()
    assert lines[:2] == [f"MODELDECK_URL={deployment.url}", f"OPENAI_BASE_URL={deployment.url}/v1"]
    assert f"dashscope.base_http_api_url = '{deployment.url}/dashscope/api/v1'" in lines
    assert json.loads(cli("endpoints", "--json").stdout)["openai"] == f"{deployment.url}/v1"


def test_serve_prints_the_endpoints_never_a_key(tmp_path: Path):
    from test_home import serve, stop

    proc, url, lines = serve(tmp_path / "home", "--public-url", "https://deck.example.org/team/")
    try:
        lines += [proc.stdout.readline() for _ in range(2)]
        key = (tmp_path / "home" / "admin.key").read_text().strip()
        import httpx

        advertised = httpx.get(f"{url}/api/v1/endpoints", headers={"Authorization": f"Bearer {key}"}).json()
        assert advertised["openai"] == "https://deck.example.org/team/v1"
    finally:
        printed = "".join(lines) + stop(proc)
    assert "MODELDECK_URL=https://deck.example.org/team\n" in printed
    assert "OPENAI_BASE_URL=https://deck.example.org/team/v1\n" in printed
    assert key not in printed
    bad = subprocess.run([sys.executable, "-m", "modeldeck", "serve", "--public-url", "ftp://x"], capture_output=True,
                         text=True, timeout=60)  # fmt: skip
    assert bad.returncode == 2 and "not a base URL" in bad.stderr


def test_a_command_the_profile_cannot_do_is_refused_before_anything_is_sent(cli, deployment: Deployment):
    """An openai profile pointed at a port nothing listens on: a refusal, not a connection error, proves that
    nothing was sent; the hint names the kinds that can."""
    cli("profile", "add", "vllm", "--kind", "openai", "--url", "http://127.0.0.1:9/v1")
    for command in (["versions", "m"], ["register", "m", "x.onnx"], ["predict", "m", "-i", "[[1]]"],
                    ["approve", "m", "1.0.0"], ["authorize", "m", "team-b"], ["tasks"]):  # fmt: skip
        refused = cli("--profile", "vllm", *command, ok=False)
        assert refused.returncode == 1 and "Provider.Unsupported" in refused.stderr, refused.stderr
        assert "local or server" in refused.stderr and "ConnectionFailed" not in refused.stderr
    reached = cli("--profile", "vllm", "models", ok=False)  # a capability it has: it does try to connect
    assert "ConnectionFailed" in reached.stderr
    unknown = cli("profile", "add", "x", "--kind", "azure", ok=False)
    assert unknown.returncode == 1 and "local, server, openai" in unknown.stderr


def test_workspaces_members_and_subaccounts(cli, deployment: Deployment):
    assert "workspace 'team-b' created" in cli("workspaces", "create", "team-b", "--description", "the b team").stdout
    made = cli("subaccounts", "create", "dana")
    key = made.stdout.split("api key: ")[1].split()[0]
    assert len(key) > 20 and "*" not in key, made.stdout
    assert "dana" in [a["name"] for a in json.loads(cli("subaccounts", "--json").stdout)]
    assert key not in cli("subaccounts").stdout  # shown once, at creation
    assert "'dana' is now viewer in workspace 'team-b'" in cli("members", "team-b", "add", "dana", "--role", "viewer").stdout
    assert [(m["name"], m["role"]) for m in json.loads(cli("members", "team-b", "--json").stdout)] == [("dana", "viewer")]
    assert "no longer a member" in cli("members", "team-b", "remove", "dana").stdout
    assert "no members" in cli("members", "team-b").stdout
    refused = cli("members", "team-b", "add", ok=False)
    assert refused.returncode == 1 and "needs an account name" in refused.stderr
    assert "workspace 'team-b' deleted" in cli("workspaces", "delete", "team-b").stdout
    assert "team-b" not in cli("workspaces").stdout


def test_tables_keep_their_key_columns_whole_at_80_columns(cli, deployment: Deployment):
    long_name = "customer-churn-gradient-boosted-classifier"
    model = deployment.admin.ok("POST", "/api/v1/models", json={"model_name": long_name, "task": "tabular-classification"})
    deployment.admin.ok("POST", f"/api/v1/models/{model['id']}/versions",
                        json={"version_name": "12.30.1", "uri": "oss://bucket/a-rather-long-path/to/the/model.onnx",
                              "description": "a description long enough to need more than the width " * 3})  # fmt: skip
    cli("workspaces", "create", "a-workspace-with-a-long-name", "--description", "what it is for, at some length " * 3)
    for args, keys in (
        (("models",), [long_name, "12.30.1 (Pending)"]),
        (("versions", long_name), ["12.30.1", "Pending"]),
        (("workspaces",), ["a-workspace-with-a-long-name", "admin"]),
    ):
        out = subprocess.run([sys.executable, "-m", "modeldeck", *args], env={**os.environ, "COLUMNS": "80"},
                             capture_output=True, text=True, timeout=120).stdout  # fmt: skip
        assert all(len(line) <= 80 for line in out.splitlines()), out
        row = next(line for line in out.splitlines() if keys[0] in line)
        assert all(key in row for key in keys), out


def test_profile_add_takes_provider_options(cli):
    """`--option NAME=VALUE` saves a provider setting (PAI's workspace, the OSS bucket); unknown names refused."""
    cli("profile", "add", "pai", "--kind", "alibaba", "--region", "cn-beijing", "--option", "pai_workspace=41394",
        "--option", "oss_bucket=checkpoints")  # fmt: skip
    from modeldeck.profiles import ProfileFile

    assert ProfileFile.load().get("pai").options() == {"pai_workspace": "41394", "oss_bucket": "checkpoints"}
    refused = cli("profile", "add", "x", "--kind", "alibaba", "--option", "bucket=b", ok=False)
    assert refused.returncode == 1 and "pai_workspace, oss_bucket" in refused.stderr
