"""The JSON service spec CreateService and UpdateService take (EAS's "Parameters of model services"), as
far as a local service keeps it: `name`, `model_path` (a registered PAI model version's `Uri`), `processor`
(onnx, sklearn, xgboost, llm: it must fit the version's format), and `metadata`: `instance` (replicas),
`cpu`, `memory` (MB) and `rolling_strategy` (`max_surge`, `max_unavailable`). Any other field is refused,
named, rather than dropped: a service that silently ignored `containers` would not be the one asked for.
"""

from __future__ import annotations

from typing import Any

from .....errors import InvalidParameter
from .....providers.alibaba.eas import PROCESSORS, RESOURCES
from ....deployments import spec as deployment_spec
from ....wirejson import parse_json

FIELDS = ("name", "model_path", "processor", "metadata")
METADATA = ("instance", "cpu", "memory", "rolling_strategy")
EXAMPLE = ('Send {"name": "iris-svc", "model_path": "<the PAI version\'s Uri>", "processor": "onnx", "metadata": '
           '{"instance": 2, "cpu": 1, "memory": 2000, "rolling_strategy": {"max_surge": 1, "max_unavailable": 0}}}.')  # fmt: skip


def invalid(message: str, hint: str = EXAMPLE) -> InvalidParameter:
    return InvalidParameter(message, code="InvalidParameter.ServiceSpec", hint=hint)


def parse(raw: bytes) -> dict[str, Any]:
    """The request body: a JSON object (the tea client sends the spec string as it is)."""
    value = parse_json(raw) if raw.strip() else None
    if not isinstance(value, dict):
        raise invalid("The request body must be the service spec, a JSON object.")
    return value


def _unknown(given: dict[str, Any], known: tuple[str, ...], where: str) -> None:
    extra = sorted(str(k)[:40] for k in given if k not in known)
    if extra:
        raise invalid(f"{where} has field(s) a local EAS service does not serve: {', '.join(extra[:8])}.",
                      f"Use only {', '.join(known)} there. {EXAMPLE}")  # fmt: skip


def check(spec: dict[str, Any]) -> dict[str, Any]:
    """`spec` itself once every field it has is one kept here, of the right type."""
    _unknown(spec, FIELDS, "The service spec")
    for field in ("name", "model_path", "processor"):
        if field in spec and (not isinstance(spec[field], str) or not spec[field] or len(spec[field]) > 1024):
            raise invalid(f"{field} must be a non-empty string.")
    if "processor" in spec and spec["processor"] not in PROCESSORS.values():
        raise invalid(f"processor '{spec['processor'][:40]}' is not served here.",
                      f"Use one of {', '.join(sorted(set(PROCESSORS.values())))}: the one of the version's format.")  # fmt: skip
    metadata = spec.get("metadata", {})
    if not isinstance(metadata, dict):
        raise invalid("metadata must be an object.")
    _unknown(metadata, METADATA, "metadata")
    for field in ("cpu", "memory"):
        value = metadata.get(field, 1)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise invalid(f"metadata.{field} must be a positive number.")
    deployment_spec.replicas(metadata.get("instance", 1))
    return spec


def resources(spec: dict[str, Any]) -> dict[str, Any]:
    """`metadata.cpu` / `memory` as a deployment's resources."""
    metadata = spec.get("metadata") or {}
    return deployment_spec.resources({ours: metadata[eas] for ours, eas in RESOURCES if eas in metadata})


def merge(current: dict[str, Any], change: dict[str, Any]) -> dict[str, Any]:
    """UpdateService's default (`UpdateType=merge`): the change's fields over the current spec's, objects merged."""
    merged = dict(current)
    for key, value in change.items():
        old = merged.get(key)
        merged[key] = merge(old, value) if isinstance(old, dict) and isinstance(value, dict) else value
    return merged
