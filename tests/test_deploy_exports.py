"""Exports of a deployment for engines this host does not run, each checked by that format's own rules:
KServe's InferenceService against its CRD's published OpenAPI schema (tests/fixtures/kserve), Triton's
config.pbtxt parsed against Triton's model_config.proto (as tritonclient ships it) and its repository
layout, the Ray Serve config loaded by Ray's own `ServeDeploySchema`, the vLLM command line parsed with
vLLM's documented flags (its own parser when vllm is installed)."""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

import modeldeck as md
from modeldeck import examples
from modeldeck.errors import InvalidParameter

from conftest import deploy
from modeldeck.platform import Settings
from test_cli import cli  # noqa: F401  (fixtures: the terminal and the notebook, as their tests run them)
from test_magics import ip  # noqa: F401
from test_magics import md as magic

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("sources")


@pytest.fixture(scope="module")
def deployment(sources: Path) -> Any:
    """One platform for this module's tests (exports change nothing), so its replicas start once."""
    platform = deploy(Settings(home=sources / "home"))
    yield platform
    platform.close()


@pytest.fixture(scope="module")
def deck(deployment: Any, sources: Path) -> Any:
    """`iris` (ONNX, 1.0.0) deployed rolling with 4 replicas as `iris-prod` and fully as `iris-full`; `tiny`
    (a language model) as `tiny-chat`. Exports read the rows: the deployments need not serve yet."""
    with md.connect(url=deployment.url, api_key=deployment.admin_key) as deck:
        deck.register("iris", examples.onnx_linear(sources / "src" / "linear.onnx"), version="1.0.0", format="ONNX",
                      progress=False)  # fmt: skip
        deck.register("tiny", examples.tiny_causal_lm(sources / "lm", seed=3), format="SafeTensors",
                      framework="Transformers", progress=False)  # fmt: skip
        deck.deploy("iris", "1.0.0", name="iris-prod", replicas=4, resources={"cpus": 0.5, "memory_mb": 512},
                    upgrade={"mode": "rolling", "batch_size": 1, "max_unavailable": 0}, wait=False)  # fmt: skip
        deck.deploy("iris", "1.0.0", name="iris-full", replicas=1, upgrade="full", wait=False)
        deck.deploy("tiny", name="tiny-chat", replicas=2, wait=False)
        yield deck
        for dep in deck.deployments():
            deck.delete_deployment(dep.name)


def strict(schema: Any) -> Any:
    """The schema as `kubectl apply --validate=strict` reads it: no field it does not know."""
    if isinstance(schema, dict):
        schema = {k: strict(v) for k, v in schema.items()}
        if "properties" in schema and "additionalProperties" not in schema:
            schema["additionalProperties"] = False
    return schema


def test_kserve_inference_service_validates_against_the_crd_schema(deck: Any, sources: Path, tmp_path: Path):
    jsonschema = pytest.importorskip("jsonschema")
    schema = strict(json.loads((FIXTURES / "kserve" / "inferenceservice-v1beta1.schema.json").read_text()))
    written = deck.export_deployment("iris-prod", "kserve", tmp_path / "out", storage_uri="s3://models/iris/1.0.0")
    manifest = yaml.safe_load((tmp_path / "out" / "iris-prod.inferenceservice.yaml").read_text())
    jsonschema.validate(manifest, schema)
    assert manifest["apiVersion"] == "serving.kserve.io/v1beta1" and manifest["kind"] == "InferenceService"
    predictor = manifest["spec"]["predictor"]
    assert predictor["model"]["modelFormat"] == {"name": "onnx"} and predictor["model"]["storageUri"] == "s3://models/iris/1.0.0"
    assert (predictor["minReplicas"], predictor["maxReplicas"], predictor["canaryTrafficPercent"]) == (4, 4, 25)
    assert predictor["model"]["resources"]["limits"] == {"cpu": "0.5", "memory": "512Mi"}
    model_file = tmp_path / "out" / "model" / "model.onnx"  # KServe's ONNX runtime looks for model.onnx
    assert model_file in written and model_file.read_bytes() == (sources / "src" / "linear.onnx").read_bytes()
    with pytest.raises(jsonschema.ValidationError):  # the check can fail: a misspelt field is refused
        bad = json.loads(json.dumps(manifest))
        bad["spec"]["predictor"]["minReplica"] = 1
        jsonschema.validate(bad, schema)

    deck.export_deployment("iris-full", "kserve", tmp_path / "full")  # a full upgrade switches at once: no canary
    full = yaml.safe_load((tmp_path / "full" / "iris-full.inferenceservice.yaml").read_text())
    jsonschema.validate(full, schema)
    assert "canaryTrafficPercent" not in full["spec"]["predictor"]
    assert full["spec"]["predictor"]["model"]["storageUri"].startswith("pvc://")


def test_triton_repository_follows_tritons_layout_and_config_proto(deck: Any, sources: Path, tmp_path: Path):
    model_config_pb2 = pytest.importorskip("tritonclient.grpc.model_config_pb2")
    from google.protobuf import text_format

    repo = tmp_path / "repo"
    deck.export_deployment("iris-prod", "triton", repo)
    # Triton's layout: <repository>/<model>/config.pbtxt and numbered version folders holding model.onnx
    (model_dir,) = repo.iterdir()
    assert model_dir.name == "iris-prod"
    versions = [p for p in model_dir.iterdir() if p.is_dir()]
    assert versions and all(p.name.isdigit() and int(p.name) > 0 for p in versions)
    assert all((p / "model.onnx").is_file() for p in versions)
    config = text_format.Parse((model_dir / "config.pbtxt").read_text(), model_config_pb2.ModelConfig())
    assert config.name == model_dir.name and config.platform == "onnxruntime_onnx"
    assert config.max_batch_size > 0 and [(g.count, g.kind) for g in config.instance_group] == [
        (4, model_config_pb2.ModelInstanceGroup.KIND_CPU)]  # fmt: skip

    import onnx

    graph = onnx.load(str(versions[0] / "model.onnx")).graph
    for declared, real in ((config.input, graph.input), (config.output, graph.output)):
        assert [t.name for t in declared] == [t.name for t in real]
        for tensor, value in zip(declared, real):
            dims = [d.dim_value or -1 for d in value.type.tensor_type.shape.dim][1:]  # the batch dimension is implied
            assert list(tensor.dims) == dims and tensor.data_type == model_config_pb2.TYPE_FP32
    stored = (versions[0] / "model.onnx").read_bytes()
    assert hashlib.sha256(stored).digest() == hashlib.sha256((sources / "src" / "linear.onnx").read_bytes()).digest()


def vllm_parser() -> argparse.ArgumentParser:
    """vLLM's own `vllm serve` parser when it is installed, else one built from its documented flags."""
    try:
        from vllm.entrypoints.openai.cli_args import make_arg_parser
        from vllm.utils import FlexibleArgumentParser

        return make_arg_parser(FlexibleArgumentParser())
    except ImportError:
        documented = json.loads((FIXTURES / "vllm_serve_flags.json").read_text())
        parser = argparse.ArgumentParser(prog="vllm serve", exit_on_error=False)
        parser.add_argument(documented["positional"])
        for flag, kind in documented["flags"].items():
            if isinstance(kind, list):
                parser.add_argument(flag, choices=kind)
            else:
                parser.add_argument(flag, type=int if kind == "int" else str, nargs="+" if kind == "str+" else None)
        return parser


def test_vllm_command_line_parses_with_vllms_flags(deck: Any, tmp_path: Path):
    written = deck.export_deployment("tiny-chat", "vllm", tmp_path / "out", model_path="/models/tiny")
    script = (tmp_path / "out" / "tiny-chat.vllm.sh").read_text()
    argv = shlex.split(script.splitlines()[-1].removeprefix("exec "))
    assert argv[:2] == ["vllm", "serve"]
    args = vllm_parser().parse_args(argv[2:])
    assert vars(args)["model_tag"] == "/models/tiny" and args.served_model_name == ["tiny-chat"]
    assert args.tensor_parallel_size == 1 and args.data_parallel_size == 2
    assert (tmp_path / "out" / "model" / "config.json") in written  # the Hugging Face folder travels along
    assert {p.name for p in written} >= {"config.json", "model.safetensors", "tokenizer.json"}


RAY_SCHEMA_CHECK = """
import json, sys
from ray.serve.schema import ServeDeploySchema
config = json.load(sys.stdin)
(app,) = ServeDeploySchema(**config).applications
try:
    ServeDeploySchema(**{**config, "applications": [{**config["applications"][0], "import_path": 5}]})
    refused = False
except Exception:
    refused = True
print(json.dumps({"name": app.name, "import_path": app.import_path, "args": app.args, "refused": refused}))
"""


def test_ray_serve_config_loads_with_rays_own_schema(deck: Any, tmp_path: Path):
    if importlib.util.find_spec("ray") is None:
        pytest.skip("the [serve] extra (ray[serve]) is not installed")
    deck.export_deployment("tiny-chat", "ray", tmp_path / "out", model_path="/models/tiny")
    config = yaml.safe_load((tmp_path / "out" / "tiny-chat.serve.yaml").read_text())
    # In a child: Ray fixes some settings when first imported, so importing it in this process would
    # leave test_ray_serve's driver unable to join the head it starts.
    checked = subprocess.run([sys.executable, "-c", RAY_SCHEMA_CHECK], input=json.dumps(config),
                             capture_output=True, text=True, check=True)  # fmt: skip
    app = json.loads(checked.stdout.splitlines()[-1])
    assert app["name"] == "tiny-chat" and app["import_path"] == "ray.serve.llm:build_openai_app"
    (llm,) = app["args"]["llm_configs"]
    assert llm["model_loading_config"] == {"model_id": "tiny-chat", "model_source": "/models/tiny"}
    assert llm["deployment_config"]["autoscaling_config"] == {"min_replicas": 2, "max_replicas": 2}
    assert app["refused"]  # Ray's schema refuses what it does not know


def test_exports_refuse_what_a_format_cannot_hold(deck: Any, tmp_path: Path):
    for name, fmt in (("iris-prod", "vllm"), ("iris-prod", "ray"), ("tiny-chat", "kserve"), ("tiny-chat", "triton")):
        with pytest.raises(InvalidParameter) as err:
            deck.export_deployment(name, fmt, tmp_path / "out")
        assert err.value.code == "InvalidParameter.Export" and err.value.hint
    with pytest.raises(InvalidParameter) as err:
        deck.export_deployment("iris-prod", "helm", tmp_path / "out")
    assert "kserve" in err.value.hint
    assert not (tmp_path / "out").exists()


def test_the_cli_and_the_magic_export(deck: Any, cli: Any, ip: Any, tmp_path: Path):
    shown = cli("export", "iris-prod", "--format", "triton", "--out", str(tmp_path / "cli"), "--json")
    assert sorted(Path(p).relative_to(tmp_path / "cli").as_posix() for p in json.loads(shown.stdout)) == [
        "iris-prod/1/model.onnx", "iris-prod/config.pbtxt"]  # fmt: skip
    written = magic(ip, f"export iris-prod --format kserve --out {tmp_path / 'magic'}")
    assert (tmp_path / "magic" / "iris-prod.inferenceservice.yaml") in written
    failed = cli("export", "iris-prod", "--format", "nope", ok=False)
    assert failed.returncode == 1 and "export format" in failed.stderr
