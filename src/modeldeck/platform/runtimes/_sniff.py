"""Recognize pickles, and every format the platform knows, by their bytes, whatever the file is called.

A pickle runs code when loaded, so a pickle renamed ``model.onnx`` must be named for what it is before any
library touches it. Recognized: protocol 2+ pickles (``0x80`` + protocol byte), the same compressed with
gzip, bz2, xz/lzma or zlib (joblib's compressors), and zip archives holding a pickle (``torch.save``).
Protocol 0/1 pickles have no magic bytes; the safe formats' own parsers refuse them.

`sniff` names a file's format from its first bytes (and a zip's member names): it reads heads only, so it
costs the same for a 10 GB file, and never loads anything.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import zipfile
import zlib
from pathlib import Path

_PICKLE_PROTOCOLS = range(2, 6)
_PICKLE_NAMES = (".pkl", ".pickle")
_ZLIB_HEADERS = (b"\x78\x01", b"\x78\x5e", b"\x78\x9c", b"\x78\xda")
# After the opening '{', a UBJSON object continues with a key-length type marker or a container marker.
UBJ_SECOND_BYTES = b"iUIlL$#}"
_HEAD = 256
_MAX_SAFETENSORS_HEADER = 100 << 20  # the safetensors library's own limit

# How messages name each format's files.
FORMAT_NAMES = {
    "ONNX": "an ONNX model", "SkopsModel": "a skops file", "XGBoost": "an XGBoost model",
    "SafeTensors": "safetensors weights", "PickleModel": "a pickle",
}  # fmt: skip


def sniff(path: Path) -> str | None:
    """The format the file's bytes are (a key of FORMAT_NAMES), or None when they are none of them."""
    if pickle_kind(path) is not None:
        return "PickleModel"
    with path.open("rb") as f:
        head = f.read(_HEAD)
    if zipfile.is_zipfile(path):
        return "SkopsModel" if _zip_has(path, "schema.json") else None
    if head[:1] == b"{":
        if head[1:2] == b'"' and b'"learner"' in head[:32]:
            return "XGBoost"
        if len(head) > 1 and head[1] in UBJ_SECOND_BYTES and b"learner" in head[:32]:
            return "XGBoost"
        return None
    if len(head) >= 10 and head[8:9] == b"{":
        size = int.from_bytes(head[:8], "little")
        if 2 <= size <= _MAX_SAFETENSORS_HEADER and size + 8 <= path.stat().st_size:
            return "SafeTensors"
    # Protobuf has no magic bytes: an ONNX model is known by its name, then its parser decides (runtimes.onnx).
    if path.suffix.lower() == ".onnx":
        return "ONNX"
    return None


def _zip_has(path: Path, name: str) -> bool:
    try:
        with zipfile.ZipFile(path) as archive:
            return name in archive.namelist()
    except (zipfile.BadZipFile, OSError):
        return False


def pickle_kind(path: Path) -> str | None:
    """How the file holds a pickle ("a pickle", "a compressed pickle", ...), or None if it does not."""
    with path.open("rb") as f:
        head = f.read(8)
    if _is_pickle(head):
        return "a pickle"
    if _is_pickle(_decompressed_head(path, head)):
        return "a compressed pickle"
    if zipfile.is_zipfile(path) and _zip_holds_pickle(path):
        return "a zip archive containing a pickle"
    return None


def _is_pickle(head: bytes) -> bool:
    return len(head) >= 2 and head[0] == 0x80 and head[1] in _PICKLE_PROTOCOLS


def _decompressed_head(path: Path, head: bytes) -> bytes:
    """The first bytes after decompression, or b"" if the file is not compressed (or is corrupt)."""
    try:
        if head.startswith(b"\x1f\x8b"):
            with gzip.open(path, "rb") as f:
                return f.read(2)
        if head.startswith(b"BZh"):
            with bz2.open(path, "rb") as f:
                return f.read(2)
        if head.startswith((b"\xfd7zXZ\x00", b"\x5d\x00\x00")):
            with lzma.open(path, "rb") as f:
                return f.read(2)
        if head.startswith(_ZLIB_HEADERS):
            with path.open("rb") as f:
                return zlib.decompressobj().decompress(f.read(64), 2)
    except (OSError, EOFError, lzma.LZMAError, zlib.error):
        return b""
    return b""


def _zip_holds_pickle(path: Path) -> bool:
    """True if any member is named like a pickle or starts like one (unreadable members count as not)."""
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                if info.filename.lower().endswith(_PICKLE_NAMES):
                    return True
                if not info.is_dir() and _member_is_pickle(archive, info):
                    return True
    except (zipfile.BadZipFile, OSError):
        return False
    return False


def _member_is_pickle(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bool:
    try:
        with archive.open(info) as member:
            return _is_pickle(member.read(2))
    except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError, EOFError, zlib.error):
        # encrypted (RuntimeError) or unsupported compression members cannot be read by any loader either
        return False
