"""A service's EAS versions: each CreateService or UpdateService makes one (its spec, and the model version
it serves), and UpdateServiceVersion goes back to one. Kept in the store's `meta` rows
(`eas-versions:<deployment id>`, JSON), since the platform's deployment keeps only its version and the one
before. A deployment made through the native API has one version, its spec read off the row.

Which version is current is the one chosen last, unless the deployment serves another model version by now
(the platform rolled a failed upgrade back, or the native API upgraded it): then it is the newest version
serving what the deployment serves.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .....providers.alibaba.eas import PROCESSORS, RESOURCES, rolling_strategy
from ....schema import Deployment, Meta, Model, ModelVersion

TIME = "%Y-%m-%dT%H:%M:%SZ"


def _key(deployment_id: str) -> str:
    return f"eas-versions:{deployment_id}"


@dataclass
class History:
    versions: list[dict[str, Any]] = field(default_factory=list)  # {"config", "version", "time"}, oldest first
    current: int = 1  # from 1

    def config(self) -> dict[str, Any]:
        return self.versions[self.current - 1]["config"]

    def added(self, config: dict[str, Any], version: str, time: str) -> History:
        versions = [*self.versions, {"config": config, "version": version, "time": time}]
        return History(versions, len(versions))


def synthesized(db: Session, row: Deployment) -> dict[str, Any]:
    """The spec of a deployment no EAS request made: what CreateService would have been sent."""
    model = db.get(Model, row.model_id)
    version = db.scalar(select(ModelVersion).where(ModelVersion.model_id == row.model_id,
                                                   ModelVersion.version_name == row.version))  # fmt: skip
    resources = row.resources or {}
    metadata = {"instance": row.replicas, **{eas: resources[ours] for ours, eas in RESOURCES if ours in resources},
                "rolling_strategy": rolling_strategy(row.upgrade)}  # fmt: skip
    return {"name": row.name, "model_path": version.uri if version else "",
            "processor": PROCESSORS.get(version.format_type or "", "") if version else "",
            "metadata": metadata} if model else {}  # fmt: skip


def of(db: Session, row: Deployment) -> History:
    stored = db.get(Meta, _key(row.id))
    if stored is None:
        return History([{"config": synthesized(db, row), "version": row.version, "time": row.created_at.strftime(TIME)}])
    value = json.loads(stored.value)
    history = History(value["versions"], value["current"])
    if history.versions[history.current - 1]["version"] != row.version:
        serving = [n for n, v in enumerate(history.versions, 1) if v["version"] == row.version]
        history.current = serving[-1] if serving else history.current
    return history


def save(db: Session, deployment_id: str, history: History) -> None:
    value = json.dumps({"versions": history.versions, "current": history.current}, separators=(",", ":"))
    db.merge(Meta(key=_key(deployment_id), value=value))  # inserted, or updated where the key is kept already


def forget(db: Session, deployment_id: str) -> None:
    stored = db.get(Meta, _key(deployment_id))
    if stored is not None:
        db.delete(stored)
