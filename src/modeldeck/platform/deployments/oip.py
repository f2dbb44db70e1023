"""The Open Inference Protocol (V2: KServe, Triton, MLServer) on a deployment's replicas.

`/v2/health/live|ready`, `/v2/models/{deployment}[/versions/{v}]` (metadata), `.../ready` and `.../infer`
with typed tensors, JSON or Triton's binary tensor extension for inputs. An infer request is turned into
a native predict body and answered by `inference.answer`, so the checks and errors are predict's own.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ...errors import InvalidParameter, NotFound
from .. import inference

PATH = re.compile(r"^/v2/models/(?P<name>[^/]+)(?:/versions/(?P<version>[^/]+))?(?P<action>/ready|/infer)?$")
HEALTH = frozenset({"/v2/health/live", "/v2/health/ready", "/v2"})
TYPES = {"bool": "BOOL", "uint8": "UINT8", "uint16": "UINT16", "uint32": "UINT32", "uint64": "UINT64",
         "int8": "INT8", "int16": "INT16", "int32": "INT32", "int64": "INT64", "float16": "FP16",
         "float32": "FP32", "float64": "FP64", "string": "BYTES"}  # fmt: skip
NUMPY = {v: k for k, v in TYPES.items() if k != "string"}


def _bad(message: str) -> InvalidParameter:
    return InvalidParameter(message, code="InvalidParameter.Infer",
                            hint="Send inputs as [{name, shape, datatype, data}], as the Open Inference Protocol says.")  # fmt: skip


def tensors(specs: list[Any]) -> list[dict[str, Any]]:
    return [{"name": s.name, "datatype": TYPES.get(s.dtype, s.dtype.upper()), "shape": [d or -1 for d in s.shape]}
            for s in specs]  # fmt: skip


def metadata(name: str, target: inference.Target, runtime: Any) -> dict[str, Any]:
    return {"name": name, "versions": [target.version], "platform": f"modeldeck_{target.format_type.lower()}",
            "inputs": tensors(runtime.inputs), "outputs": tensors(runtime.outputs)}  # fmt: skip


def resolve(path: str, name: str, target: inference.Target) -> str | None:
    """The action a V2 model path asks for ("", "/ready" or "/infer"), or None when it is not one."""
    match = PATH.match(path)
    if match is None:
        return None
    if match["name"] != name or match["version"] not in (None, target.version):
        raise NotFound(f"This deployment serves model '{name}' version {target.version} only.",
                       code="Model.NotFound", hint=f"Use /v2/models/{name}.")  # fmt: skip
    return match["action"] or ""


def infer(name: str, target: inference.Target, runtime: Any, raw: bytes, header_length: str | None) -> bytes:
    """An infer request's answer (JSON)."""
    import numpy as np

    json_end = int(header_length) if header_length and header_length.isdigit() else len(raw)
    try:
        request = json.loads(raw[:json_end])
    except (ValueError, UnicodeDecodeError):
        raise _bad("The infer request is not valid JSON.") from None
    items = request.get("inputs") if isinstance(request, dict) else None
    if not isinstance(items, list) or not items:
        raise _bad("The infer request has no inputs.")
    binary, inputs = raw[json_end:], {}
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not isinstance(item.get("shape"), list):
            raise _bad("Every input needs a name, a shape and a datatype.")
        datatype = item.get("datatype")
        size = (item.get("parameters") or {}).get("binary_data_size")
        try:
            if size is not None:
                if datatype not in NUMPY or not isinstance(size, int) or size > len(binary):
                    raise _bad("Binary inputs must be numeric tensors whose bytes follow the JSON header.")
                array = np.frombuffer(binary[:size], dtype=NUMPY[datatype]).reshape(item["shape"])
                binary = binary[size:]
            else:
                array = np.asarray(item.get("data"), dtype=NUMPY.get(datatype, object)).reshape(item["shape"])
        except (ValueError, TypeError):
            raise _bad(f"Input '{item['name'][:64]}' does not hold {item['shape']} values of {datatype}.") from None
        inputs[item["name"]] = array.tolist()
    answer = inference.answer(target, runtime, inference.check_body({"inputs": inputs}))
    wanted = {o.get("name") for o in request.get("outputs") or [] if isinstance(o, dict)}
    outputs = [
        {"name": o["name"], "datatype": TYPES.get(o["dtype"], "BYTES"), "shape": o["shape"],
         "data": np.asarray(o["data"]).ravel().tolist()}
        for o in answer["outputs"] if not wanted or o["name"] in wanted
    ]  # fmt: skip
    body = {"model_name": name, "model_version": target.version, "outputs": outputs}
    if "id" in request:
        body["id"] = request["id"]
    return json.dumps(body).encode()
