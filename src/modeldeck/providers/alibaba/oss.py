"""A local checkpoint file to OSS with `oss2` (the `[alibaba]` extra): resumable multipart, its record
under the modeldeck home, progress in bytes. The uri is `oss://bucket/key`, as PAI's versions take it."""

from __future__ import annotations

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
    oss2 = objects.sdk("oss2", "oss2", "alibaba")
    key_id, secret, token = objects.access_key(credentials, "OSS")
    auth = oss2.StsAuth(key_id, secret, token) if token else oss2.Auth(key_id, secret)
    session = oss2.Session(adapter=_adapter())
    target = oss2.Bucket(auth, endpoint, bucket, enable_crc=False, session=session)  # CRC checked once below
    store = oss2.ResumableStore(root=str(objects.checkpoints("oss")))
    report = (lambda sent, _total: progress(sent)) if progress is not None else None
    result = oss2.resumable_upload(target, key, str(source), store=store, multipart_threshold=part_size,
                                   part_size=part_size, num_threads=2, progress_callback=report)  # fmt: skip
    if result.crc is not None and result.crc != objects.crc64(source):
        raise DeckError(
            f"OSS stored other bytes than {source.name} holds (CRC-64 differs).", code="Upload.Corrupted",
            status=None, hint="The file changed while it was uploaded, or the bytes were damaged: upload it again.",
        )  # fmt: skip
    return f"oss://{bucket}/{key}"


def _adapter() -> Any:
    """requests' adapter for oss2's session, sending a part's file in SEND_BLOCK reads (urllib3's `blocksize`)
    instead of 16 KiB ones; two connections, one per upload thread."""
    import requests.adapters

    class LargeBlocks(requests.adapters.HTTPAdapter):  # type: ignore[misc]
        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            super().init_poolmanager(*args, blocksize=objects.SEND_BLOCK, **kwargs)

    return LargeBlocks(pool_connections=2, pool_maxsize=2)
