"""Finding files inside a version folder without ever leaving it (``..``, absolute paths, symlinks)."""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath, PureWindowsPath

from ._errors import load_failed


def resolve_inside(folder: Path, relative: str, *, base: Path | None = None) -> Path | None:
    """The real path of ``relative`` (from ``base``, default ``folder``), or None if it leaves ``folder``.

    ``folder`` must already be resolved. The lexical checks refuse what could mean something else on
    another OS; the resolve check catches symlinks pointing out.
    """
    if not relative or "\\" in relative or "\x00" in relative or PureWindowsPath(relative).drive:
        return None
    pure = PurePosixPath(relative)
    if pure.is_absolute() or ".." in pure.parts:
        return None
    target = ((base or folder) / pure).resolve()
    return target if target.is_relative_to(folder) else None


def find_entry(folder: Path, entry: str | None, suffixes: tuple[str, ...]) -> Path:
    """The file to load: ``entry`` if given, else the only file in ``folder`` with one of ``suffixes``."""
    if entry is None:
        found = [
            os.path.relpath(os.path.join(directory, name), folder)
            for directory, _, names in os.walk(folder)
            for name in names
            if name.lower().endswith(suffixes)
        ]
        kinds = " or ".join(suffixes)
        if not found:
            raise load_failed(
                f"The model version has no {kinds} file.",
                hint="Upload the model file, or set the version's entry to the file to load.",
            )
        if len(found) > 1:
            raise load_failed(
                f"The model version has {len(found)} {kinds} files, so the one to load is ambiguous.",
                hint="Set the version's entry to the path of the file to load.",
            )
        entry = found[0].replace(os.sep, "/")
    path = resolve_inside(folder, entry)
    if path is None:
        raise load_failed(
            "The entry must be a relative path that stays inside the model version.",
            hint="Use a path like 'model.onnx' or 'sub/model.onnx', without '..', '\\' or links out.",
        )
    if not path.is_file():
        raise load_failed(
            "The entry file does not exist in the model version.",
            hint="Check the version's entry against its uploaded files.",
        )
    return path
