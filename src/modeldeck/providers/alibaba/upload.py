"""A local checkpoint on its way to PAI: uploaded to the profile's OSS bucket (`oss_bucket`, at the `oss`
service: the region's host or the profile's endpoint) with `oss.upload` (resumable multipart), so the
version registers by its `oss://` uri, as PAI's own tools register a model.

The key is `modeldeck/<digest>/<name>`, the digest naming the file by its path, size and modification
time (`transfer.resume_key`): registering the same file again lands on the same key and resumes an upload
that was cut. A folder goes file by file under that prefix and registers as `oss://bucket/prefix/`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..base import Context, Progress

BUCKET_HINT = ("Name the OSS bucket checkpoints go to: `oss_bucket = \"...\"` in the profile, or register "
               "a checkpoint already in OSS by its oss://bucket/key uri.")  # fmt: skip


def upload(context: Context, local: Path, progress: Progress | None) -> dict[str, Any]:
    from ...transfer import checkpoint_files, resume_key
    from . import oss

    bucket = context.option("oss_bucket", BUCKET_HINT)
    endpoint = context.service("oss")
    prefix = f"modeldeck/{resume_key(local)[:16]}/{local.name}"
    folder = local.is_dir() or local.is_symlink()  # a link is refused by checkpoint_files
    entries = checkpoint_files(local) if folder else [("", local)]
    for rel, path in entries:
        key = f"{prefix}/{rel}" if folder else prefix
        oss.upload(path, endpoint=endpoint, bucket=bucket, key=key, credentials=context.credentials,
                   progress=_increments(progress))  # fmt: skip
    return {"uri": f"oss://{bucket}/{prefix}" + ("/" if folder else "")}


def _increments(progress: Progress | None) -> Progress | None:
    """The uploader reports the bytes sent so far; the deck's progress takes each increment."""
    if progress is None:
        return None
    done = 0

    def report(sent: int) -> None:
        nonlocal done
        step, done = sent - done, max(done, sent)
        if step > 0:
            progress(step)

    return report
