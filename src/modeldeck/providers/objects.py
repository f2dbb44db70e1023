"""What the object-store uploaders share (alibaba/oss.py, huawei/obs.py): the SDK from its extra, the
AccessKey pair from the profile's credentials, the resumable uploads' checkpoint folder in the home, and
the providers' upload step (`put_checkpoint`: a local checkpoint to the profile's bucket, registered by
its `oss://` / `obs://` uri, as the clouds' own tools register a model)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from .._home import default_home
from ..errors import InvalidParameter, MissingDependency

if TYPE_CHECKING:
    from .base import Context, Progress

PART_SIZE = 16 << 20  # large enough for few requests, small enough that a resume repeats little
SEND_BLOCK = 1 << 20  # bytes read and sent at a time: the SDKs' 16 / 64 KiB cost ~10 us of Python each


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


def put_checkpoint(context: Context, local: Path, progress: Progress | None, *, put: Callable[..., str],
                   scheme: str, service: str, bucket_option: str, bucket_hint: str) -> dict[str, Any]:  # fmt: skip
    """A provider's upload step: `local` (a file or a folder) to the profile's bucket with `put` (the store's
    resumable uploader), at `modeldeck/<digest>/<name>`, the digest naming the file by its path, size and
    modification time (`transfer.resume_key`): registering the same file again lands on the same key and
    resumes an upload that was cut. A folder goes file by file under that prefix and registers as
    `<scheme>://bucket/prefix/`."""
    from ..transfer import checkpoint_files, resume_key

    bucket = context.option(bucket_option, bucket_hint)
    endpoint = context.service(service)
    prefix = f"modeldeck/{resume_key(local)[:16]}/{local.name}"
    folder = local.is_dir() or local.is_symlink()  # a link is refused by checkpoint_files
    for rel, path in checkpoint_files(local) if folder else [("", local)]:
        put(path, endpoint=endpoint, bucket=bucket, key=f"{prefix}/{rel}" if folder else prefix,
            credentials=context.credentials, progress=_increments(progress))  # fmt: skip
    return {"uri": f"{scheme}://{bucket}/{prefix}" + ("/" if folder else "")}


def _increments(progress: Progress | None) -> Progress | None:
    """The uploaders report the bytes sent so far; the deck's progress takes each increment."""
    if progress is None:
        return None
    done = 0

    def report(sent: int) -> None:
        nonlocal done
        step, done = sent - done, max(done, sent)
        if step > 0:
            progress(step)

    return report
