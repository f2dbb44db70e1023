"""alipai's model registration flow (alipai 0.4.13, import `pai`) against the AIWorkspace facade.

alipai pins numpy<2, so it lives in its own venv (`make test-deps` builds `.venv-alipai`); the flow runs
there as a subprocess (`tests/alipai/register.py`): alipai's `ModelAPI` over its vendored client with the
legacy ROA signature, the steps of `Model.register` (exact-name ListModels, CreateModel when none,
CreateModelVersion). alipai builds its endpoint itself (`ClientFactory.get_endpoint`, no setting), so
the script gives the vendored client the facade's endpoint through `Config`, as `create_client` would.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from conftest import Deployment

from modeldeck.platform.api.facades.aiworkspace import pai_workspace_id

ROOT = Path(__file__).resolve().parents[1]
VENV_PYTHON = ROOT / ".venv-alipai" / "bin" / "python"
SCRIPT = Path(__file__).parent / "alipai" / "register.py"


@pytest.fixture
def alipai() -> Path:
    if not VENV_PYTHON.exists():
        pytest.skip("the alipai venv is absent: `make test-deps` builds .venv-alipai (alipai 0.4.13 pins numpy<2)")
    return VENV_PYTHON


def register(python: Path, deployment: Deployment, key: dict, workspace: str, name: str) -> subprocess.CompletedProcess:
    env = {"PATH": os.environ.get("PATH", ""), "ALIBABA_CLOUD_ACCESS_KEY_ID": key["id"],
           "ALIBABA_CLOUD_ACCESS_KEY_SECRET": key["secret"], "ALIBABA_CLOUD_ECS_METADATA_DISABLED": "true"}  # fmt: skip
    endpoint = urlsplit(deployment.url).netloc + "/aiworkspace"
    return subprocess.run([str(python), str(SCRIPT), endpoint, workspace, name, "oss://models/resnet/"], env=env,
                          capture_output=True, text=True, timeout=300, check=False)  # fmt: skip


def test_alipai_registers_a_model_version_twice(deployment: Deployment, alipai: Path):
    ws = deployment.admin.ok("POST", "/api/v1/workspaces", json={"name": "team-b"})
    key = deployment.admin.ok("POST", "/api/v1/access-keys", json={})
    done = register(alipai, deployment, key, pai_workspace_id(ws["id"]), "resnet")
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert (out["first"]["found"], out["first"]["version"]) == (0, "0.1.0")
    assert (out["second"]["found"], out["second"]["version"]) == (1, "0.2.0")
    assert out["second"]["model_id"] == out["first"]["model_id"] and out["versions"] == ["0.2.0", "0.1.0"]
    # the registry holds them as the native API sees them
    native = deployment.client(workspace="team-b").ok("GET", "/api/v1/models/resnet/versions")["items"]
    assert [(v["version_name"], v["uri"], v["labels"]) for v in native] == [
        ("0.2.0", "oss://models/resnet/", {"stage": "dev"}), ("0.1.0", "oss://models/resnet/", {"stage": "dev"})]


def test_a_wrong_secret_is_refused_to_alipai(deployment: Deployment, alipai: Path):
    key = deployment.admin.ok("POST", "/api/v1/access-keys", json={})
    done = register(alipai, deployment, {**key, "secret": "wrong"}, "1", "resnet")
    assert done.returncode != 0 and "Signature.Mismatch" in done.stderr

