"""A local checkpoint on its way to PAI: uploaded to the profile's OSS bucket (`oss_bucket`, at the `oss`
service: the region's host or the profile's endpoint) with `oss.upload` (resumable multipart), so the
version registers by its `oss://` uri (`providers.objects.put_checkpoint` says where it lands)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..base import Context, Progress

BUCKET_HINT = ("Name the OSS bucket checkpoints go to: `oss_bucket = \"...\"` in the profile, or register "
               "a checkpoint already in OSS by its oss://bucket/key uri.")  # fmt: skip


def upload(context: Context, local: Path, progress: Progress | None) -> dict[str, Any]:
    from ..objects import put_checkpoint
    from . import oss

    return put_checkpoint(context, local, progress, put=oss.upload, scheme="oss", service="oss",
                          bucket_option="oss_bucket", bucket_hint=BUCKET_HINT)  # fmt: skip
