"""What a deployment may be asked to be: engines, upgrade modes, statuses, and the checks on each value."""

from __future__ import annotations

from typing import Any

from ... import vocabulary
from ...errors import InvalidParameter
from .. import fields

ENGINES = ("local", "ray")
MODES = ("full", "rolling")
STATUSES = ("Creating", "Running", "Upgrading", "RollingBack", "Failed", "Stopped", "Deleting")
LIVE = ("Creating", "Running", "Upgrading", "RollingBack")  # replicas serve, or should: restored on restart
RESTORED = (*LIVE, "Deleting")  # what a restart carries on with: serving again, or deleting
BUSY = vocabulary.DEPLOYMENT_BUSY  # a change is under way
MAX_REPLICAS = 16
RESOURCE_KEYS = {"cpus": float, "memory_mb": int}


def name(value: Any) -> str:
    return fields.slug(value, "deployment")


def replicas(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_REPLICAS:
        raise InvalidParameter(
            "replicas must be a whole number from 1 to 16.",
            code="InvalidParameter.Replicas",
            hint="Pass replicas=2, for example; the local engine runs each replica as a process of this host.",
        )
    return value


def engine(value: Any) -> str:
    return fields.choice(value or "local", ENGINES, "engine")


def resources(value: Any) -> dict[str, Any]:
    value = value or {}
    ok = isinstance(value, dict) and all(
        k in RESOURCE_KEYS and isinstance(v, (int, float)) and not isinstance(v, bool) and 0 < v <= 1 << 20
        for k, v in value.items()
    )
    if not ok:
        raise InvalidParameter(
            "resources may hold cpus (a number) and memory_mb (a whole number), both positive.",
            code="InvalidParameter.Resources",
            hint='Pass resources={"cpus": 1, "memory_mb": 512}, or leave it out.',
        )
    return {k: RESOURCE_KEYS[k](v) for k, v in value.items()}


def upgrade(value: Any, replica_count: int) -> dict[str, Any]:
    """`full` or `rolling`, as a mode name or {"mode", "batch_size", "max_unavailable"}."""
    if value is None or isinstance(value, str):
        value = {"mode": value or "rolling"}
    if not isinstance(value, dict) or set(value) - {"mode", "batch_size", "max_unavailable"}:
        raise _bad_upgrade()
    mode = fields.choice(value.get("mode") or "rolling", MODES, "upgrade mode")
    batch = value.get("batch_size", 1)
    unavailable = value.get("max_unavailable", 0)
    for number, low in ((batch, 1), (unavailable, 0)):
        if isinstance(number, bool) or not isinstance(number, int) or number < low:
            raise _bad_upgrade()
    if unavailable >= replica_count and replica_count > 0 and mode == "rolling":
        raise InvalidParameter(
            "max_unavailable must leave at least one replica serving during a rolling upgrade.",
            code="InvalidParameter.Upgrade",
            hint=f"Use max_unavailable below replicas ({replica_count}), or the full mode.",
        )
    return {"mode": mode, "batch_size": batch, "max_unavailable": unavailable}


def _bad_upgrade() -> InvalidParameter:
    return InvalidParameter(
        "upgrade is 'full', 'rolling', or an object with mode, batch_size (1 or more) and max_unavailable (0 or more).",
        code="InvalidParameter.Upgrade",
        hint='Pass upgrade="full", or upgrade={"mode": "rolling", "batch_size": 1, "max_unavailable": 0}.',
    )
