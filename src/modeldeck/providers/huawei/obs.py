"""A local checkpoint file to OBS with `esdk-obs-python` (the `[huawei]` extra): `uploadFile` (always
multipart) with its checkpoint record under the modeldeck home, progress in bytes. The uri is
`obs://bucket/key`, as ModelArts' source_location takes it."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ...errors import DeckError
from .. import objects


def upload(path: Path, *, endpoint: str, bucket: str, key: str, credentials: Any,
           progress: Callable[[int], None] | None = None, part_size: int = objects.PART_SIZE) -> str:  # fmt: skip
    """Upload `path` to `bucket`/`key` at `endpoint`; an interrupted upload resumes where it stopped when
    called again with the same file. `progress(bytes_sent)` is called as parts finish."""
    source = objects.check_source(path)
    obs = objects.sdk("obs", "esdk-obs-python", "huawei")
    key_id, secret, token = objects.access_key(credentials, "OBS")
    client = obs.ObsClient(access_key_id=key_id, secret_access_key=secret, security_token=token, server=endpoint,
                           chunk_size=objects.SEND_BLOCK)  # fmt: skip
    name = hashlib.sha256(f"{endpoint}\n{bucket}\n{key}\n{source.resolve()}".encode()).hexdigest()[:32]
    record = objects.checkpoints("obs") / f"{name}.record"
    report = (lambda sent, _total, _seconds: progress(sent)) if progress is not None else None
    try:
        answer = client.uploadFile(bucket, key, str(source), partSize=part_size, taskNum=2,
                                   enableCheckpoint=True, checkpointFile=str(record), progressCallback=report)  # fmt: skip
    except Exception as exc:  # noqa: BLE001  (the SDK raises bare Exceptions: a refused HEAD bucket, failed parts)
        raise _refused(str(exc)) from None
    finally:
        client.close()
    if answer.status >= 300:
        raise _refused(f"{answer.errorCode} {answer.errorMessage}")
    return f"obs://{bucket}/{key}"


def _refused(why: str) -> DeckError:
    return DeckError(f"OBS refused the upload: {why}", code="OBS.UploadFailed", status=None,
                     hint="Check the bucket, the key and the AccessKey pair; calling again resumes the upload.")  # fmt: skip
