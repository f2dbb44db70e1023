"""Pickled (pickle/joblib) scikit-learn-like estimators: loading one runs arbitrary code, so the dispatcher
only calls this after the caller opted into ``PickleModel``."""

from __future__ import annotations

from pathlib import Path

from ._errors import load_failed, require
from ._sklearn import SklearnRuntime


def load(path: Path) -> SklearnRuntime:
    joblib = require("joblib", package="joblib", extra="sklearn")
    try:
        model = joblib.load(path)  # reads plain pickles too, and joblib's compressed files
    except Exception as exc:  # unpickling can fail in any way the pickled code chooses
        raise load_failed(
            "The pickled model could not be loaded.",
            hint="Check that it was saved with pickle or joblib by the library versions installed here.",
        ) from exc
    return SklearnRuntime(model, "PickleModel", path.stat().st_size)
