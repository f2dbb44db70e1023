"""Recognize pickles by their bytes, whatever the file is called.

A pickle runs code when loaded, so a pickle renamed ``model.onnx`` must be named for what it is before any
library touches it. Recognized: protocol 2+ pickles (``0x80`` + protocol byte), the same compressed with
gzip, bz2, xz/lzma or zlib (joblib's compressors), and zip archives holding a pickle (``torch.save``).
Protocol 0/1 pickles have no magic bytes; the safe formats' own parsers refuse them.
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
