"""What the object-store uploaders share (alibaba/oss.py, huawei/obs.py): the SDK from its extra, the
AccessKey pair from the profile's credentials, and the resumable uploads' checkpoint folder in the home."""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType
from typing import Any

from .._home import default_home
from ..errors import InvalidParameter, MissingDependency

PART_SIZE = 16 << 20  # large enough for few requests, small enough that a resume repeats little


def sdk(module: str, package: str, extra: str) -> ModuleType:
    """The cloud's SDK, loaded on first use; absent, the error names the extra that installs it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingDependency(
            f"Uploading a checkpoint here needs {package}, which is not installed.",
            hint=f"pip install 'modeldeck[{extra}]'",
        ) from None


def access_key(credentials: Any, cloud: str) -> tuple[str, str, str | None]:
    """(id, secret, security token) of the profile's AccessKey pair."""
    key_id = getattr(credentials, "access_key_id", None)
    secret = getattr(credentials, "access_key_secret", None)
    if not key_id or not secret:
        raise InvalidParameter(
            f"Uploading to {cloud} needs an AccessKey pair.", code="InvalidParameter.Credentials",
            hint="Set the AccessKey id and secret in the profile (or the cloud's environment variables).",
        )  # fmt: skip
    return key_id, secret, getattr(credentials, "security_token", None) or None


def checkpoints(store: str) -> Path:
    """Where an SDK keeps its resumable uploads' records, private to the user (0700)."""
    folder = default_home() / "uploads" / store
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return folder


def check_source(path: Path) -> Path:
    path = Path(path)
    if not path.is_file():
        raise InvalidParameter(f"{path.name!r} is not a file.", code="InvalidParameter.Path",
                               hint="Upload a checkpoint file; upload a folder file by file under a key prefix.")  # fmt: skip
    return path


def crc64(path: Path) -> int:
    """CRC-64/ECMA of a file, as OSS answers it in x-oss-hash-crc64ecma: ~25x faster than oss2's own
    (crcmod), so the uploader checks the whole object once instead of letting oss2 check every part."""
    import anycrc

    model, crc = anycrc.Model("CRC64-XZ"), 0
    with open(path, "rb") as fh:
        while data := fh.read(8 << 20):
            crc = model.calc(data, crc) if crc else model.calc(data)
    return int(crc)
