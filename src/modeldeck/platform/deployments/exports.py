"""A deployment written out for serving engines this host does not run: a KServe `InferenceService`, a
Triton model repository, and for a language model a `vllm serve` command line and a Ray Serve config.

An export is a list of files: texts made here, and the version's own files (fetched by the client from
the artifact they belong to), laid out where each engine looks for them. The version's files travel
with the export because an uploaded checkpoint lives in this platform's store, which the cluster cannot
read: `storage_uri` says where they will be put (KServe's storageUri), `model_path` where vLLM and Ray
Serve will find them.
"""

from __future__ import annotations

import json
import re
import shlex
from typing import Any

from ...errors import InvalidParameter
from .. import fields
from ..inference import Target
from ..runtimes.chat import ChatRuntime
from . import oip

FORMATS = ("kserve", "triton", "vllm", "ray")
KSERVE_FORMATS = {"ONNX": ("onnx", "kserve-tritonserver"), "SkopsModel": ("sklearn", "kserve-sklearnserver"),
                  "XGBoost": ("xgboost", "kserve-xgbserver")}  # fmt: skip
CHAT = ChatRuntime.format_type
TRITON_MAX_BATCH = 64
SERVE_PORT = 8000


def _refused(message: str, hint: str) -> InvalidParameter:
    return InvalidParameter(message, code="InvalidParameter.Export", hint=hint)


def k8s_name(name: str) -> str:
    """A DNS-1123 label, as Kubernetes names objects: lower case, '-' for '_'."""
    return re.sub(r"[^a-z0-9-]", "-", name.lower()).strip("-")[:63]


def label(value: str) -> str:
    """A Kubernetes label value: letters, digits, '.', '_', '-' (63 at most)."""
    return re.sub(r"[^A-Za-z0-9._-]", "-", value).strip("-._")[:63]


def check(fmt: Any, storage_uri: Any, model_path: Any) -> str:
    fmt = fields.choice(fmt, FORMATS, "export format")
    for value, what in ((storage_uri, "storage_uri"), (model_path, "model_path")):
        if value is not None and (not isinstance(value, str) or not value or len(value) > 1024 or "\n" in value):
            raise _refused(f"{what} must be one line of text.", hint=f"Pass {what}='s3://bucket/models/iris' or leave it out.")
    return fmt


def export(row: Any, model_name: str, target: Target, files: list[dict[str, Any]], runtime: Any, fmt: str,
           storage_uri: str | None = None, model_path: str | None = None) -> dict[str, Any]:  # fmt: skip
    """The export of deployment `row` serving `target`, whose artifact holds `files`; `runtime` is the
    version's loaded predict runtime (for Triton's tensors), or None."""
    chat = target.format_type == CHAT
    if fmt in ("vllm", "ray") and not chat:
        raise _refused(f"A {fmt} export is for language-model versions; {model_name} {target.version} is "
                       f"{target.format_type}.", hint="Export it for kserve or triton.")  # fmt: skip
    if fmt in ("kserve", "triton") and chat:
        raise _refused(f"{model_name} {target.version} is a language model.", hint="Export it for vllm or ray.")
    if fmt == "triton" and target.format_type != "ONNX":
        raise _refused("A Triton repository is written for ONNX versions.", hint="Export it for kserve instead.")
    name = row.name
    model_files = [_file(f"model/{f['path']}", target, f) for f in files]
    if target.format_type == "ONNX":  # KServe's ONNX runtime (Triton) looks for model.onnx
        model_files = [_file("model/model.onnx", target, _onnx_entry(target, files))]
    if fmt == "kserve":
        if target.format_type == "SkopsModel":
            notes = ["KServe's sklearn server loads joblib or pickle files: convert model/ (skops.io.load, then joblib.dump) before copying it."]
        else:
            notes = []
        uri = storage_uri or f"pvc://modeldeck-models/{k8s_name(model_name)}/{target.version}"
        text = _yaml(inference_service(row, model_name, target, uri))
        return _bundle(fmt, [{"path": f"{name}.inferenceservice.yaml", "text": text}, *model_files],
                       [*notes, f"Copy model/ to {uri} (the manifest's storageUri), then kubectl apply -f {name}.inferenceservice.yaml."])  # fmt: skip
    if fmt == "triton":
        return _bundle(fmt, [{"path": f"{name}/config.pbtxt", "text": triton_config(row, target, runtime)},
                             _file(f"{name}/1/model.onnx", target, _onnx_entry(target, files))],
                       [f"Point tritonserver --model-repository at the folder holding {name}/."])  # fmt: skip
    path = model_path or "./model"
    if fmt == "vllm":
        argv = vllm_command(row, path)
        return {**_bundle(fmt, [{"path": f"{name}.vllm.sh", "text": "#!/bin/sh\nexec " + shlex.join(argv) + "\n"},
                                *model_files], [f"Run {name}.vllm.sh where model/ is {path}."]), "command": argv}  # fmt: skip
    return _bundle(fmt, [{"path": f"{name}.serve.yaml", "text": _yaml(ray_serve_config(row, path))}, *model_files],
                   [f"serve deploy {name}.serve.yaml (Ray Serve LLM runs the model with vLLM)."])  # fmt: skip


def _onnx_entry(target: Target, files: list[dict[str, Any]]) -> dict[str, Any]:
    entry = target.entry or next(f["path"] for f in files if f["path"].endswith(".onnx"))
    return next(f for f in files if f["path"] == entry)


def _file(path: str, target: Target, entry: dict[str, Any]) -> dict[str, Any]:
    return {"path": path, "artifact": target.artifact_digest, "file": entry["path"], "size": entry["size"],
            "sha256": entry["sha256"]}  # fmt: skip


def _bundle(fmt: str, files: list[dict[str, Any]], notes: list[str]) -> dict[str, Any]:
    return {"format": fmt, "files": files, "notes": notes}


def _yaml(document: dict[str, Any]) -> str:
    """A YAML file's text, written as JSON (which YAML 1.2 contains): kubectl and `serve deploy` read it,
    and no YAML library is needed at run time."""
    return json.dumps(document, indent=2) + "\n"


def inference_service(row: Any, model_name: str, target: Target, storage_uri: str) -> dict[str, Any]:
    """A KServe v1beta1 InferenceService: one predictor of the version's format, its replicas pinned, and
    for a rolling deployment a canary share (KServe's gradual rollout) of one batch of replicas."""
    model_format, runtime = KSERVE_FORMATS[target.format_type]
    model: dict[str, Any] = {"modelFormat": {"name": model_format}, "runtime": runtime, "protocolVersion": "v2",
                             "storageUri": storage_uri}  # fmt: skip
    quantities = {}
    if "cpus" in row.resources:
        quantities["cpu"] = f"{row.resources['cpus']:g}"
    if "memory_mb" in row.resources:
        quantities["memory"] = f"{row.resources['memory_mb']}Mi"
    if quantities:
        model["resources"] = {"requests": quantities, "limits": quantities}
    predictor: dict[str, Any] = {"minReplicas": row.replicas, "maxReplicas": row.replicas, "model": model}
    if row.upgrade["mode"] == "rolling":
        predictor["canaryTrafficPercent"] = max(1, min(100, round(100 * row.upgrade["batch_size"] / row.replicas)))
    labels = {"modeldeck/model": label(model_name), "modeldeck/version": label(target.version)}
    return {"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
            "metadata": {"name": k8s_name(row.name), "labels": labels}, "spec": {"predictor": predictor}}  # fmt: skip


def triton_config(row: Any, target: Target, runtime: Any) -> str:
    """config.pbtxt for platform onnxruntime_onnx: the graph's tensors, batching when every tensor's first
    dimension is free, one CPU instance per replica."""
    tensors = [*runtime.inputs, *runtime.outputs]
    batched = all(t.shape and t.shape[0] is None for t in tensors)
    lines = [f"# modeldeck deployment {row.name}: version folder 1 is {target.version}",
             f"name: {json.dumps(row.name)}", 'platform: "onnxruntime_onnx"',
             f"max_batch_size: {TRITON_MAX_BATCH if batched else 0}"]  # fmt: skip
    for kind, specs in (("input", runtime.inputs), ("output", runtime.outputs)):
        for spec in specs:
            dims = [d or -1 for d in (spec.shape[1:] if batched else spec.shape)] or [1]
            datatype = oip.TYPES.get(spec.dtype, "BYTES").replace("BYTES", "STRING")
            lines.append(f"{kind} {{ name: {json.dumps(spec.name)} data_type: TYPE_{datatype} dims: {dims} }}")
    lines.append(f"instance_group {{ count: {row.replicas} kind: KIND_CPU }}")
    lines.append("version_policy { latest { num_versions: 1 } }")
    return "\n".join(lines) + "\n"


def vllm_command(row: Any, model_path: str) -> list[str]:
    """`vllm serve` for the version, under the deployment's name: each replica a data-parallel engine."""
    return ["vllm", "serve", model_path, "--served-model-name", row.name, "--host", "0.0.0.0", "--port",
            str(SERVE_PORT), "--tensor-parallel-size", "1", "--data-parallel-size", str(row.replicas), "--dtype", "auto"]  # fmt: skip


def ray_serve_config(row: Any, model_path: str) -> dict[str, Any]:
    """A Ray Serve config (`serve deploy`) running the version with Ray Serve LLM's OpenAI app, replicas pinned."""
    replicas = {"min_replicas": row.replicas, "max_replicas": row.replicas}
    llm = {"model_loading_config": {"model_id": row.name, "model_source": model_path},
           "deployment_config": {"autoscaling_config": replicas}}  # fmt: skip
    if "cpus" in row.resources:
        llm["deployment_config"]["ray_actor_options"] = {"num_cpus": row.resources["cpus"]}
    return {"proxy_location": "EveryNode", "http_options": {"host": "0.0.0.0", "port": SERVE_PORT},
            "applications": [{"name": k8s_name(row.name), "route_prefix": "/", "import_path": "ray.serve.llm:build_openai_app",
                              "args": {"llm_configs": [llm]}}]}  # fmt: skip
