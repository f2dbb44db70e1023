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



def test_model_register_reaches_only_the_cloud_host_and_trusts_only_its_bundle(
    deployment: Deployment, alipai: Path, tmp_path: Path
):
    """Why the flow above drives alipai's ModelAPI rather than `Model.register` itself (docs/clouds/alibaba.md):
    unmodified, it tunnels to the cloud's host whatever it is told, and over a proxy trusts only certifi's
    bundle: a CA given by SSL_CERT_FILE or REQUESTS_CA_BUNDLE is not read (darabonba calls `Session.send`)."""
    from fixtures.tls_gateway import TLSGateway

    ws = deployment.admin.ok("POST", "/api/v1/workspaces", json={"name": "team-b"})
    key = deployment.admin.ok("POST", "/api/v1/access-keys", json={})
    with TLSGateway(tmp_path, ("aiworkspace.cn-hangzhou.aliyuncs.com",), deployment.url + "/aiworkspace") as gateway:
        env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "HTTPS_PROXY": gateway.proxy_url,
               "SSL_CERT_FILE": str(gateway.ca_file), "REQUESTS_CA_BUNDLE": str(gateway.ca_file),
               "ALIBABA_CLOUD_ECS_METADATA_DISABLED": "true", "PAI_CONFIG_PATH": str(tmp_path / "absent.json")}  # fmt: skip
        done = subprocess.run([str(alipai), str(SCRIPT.with_name("register_model.py")), key["id"],
                               pai_workspace_id(ws["id"]), "resnet", "oss://models/resnet/"], input=key["secret"] + "\n",
                              env=env, capture_output=True, text=True, timeout=300, check=False)  # fmt: skip
    assert gateway.tunnels == ["aiworkspace.cn-hangzhou.aliyuncs.com:443"]
    assert done.returncode != 0 and "CERTIFICATE_VERIFY_FAILED" in done.stderr
    assert key["secret"] not in done.stderr
