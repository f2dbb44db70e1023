"""What a runtime looks like from outside: its tensors, its size and its predict call."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import numpy as np

# Names listed in hints are capped so an odd model cannot produce a huge error body.
_MAX_LISTED = 10


@dataclass(frozen=True)
class TensorSpec:
    """One model input or output; ``None`` in ``shape`` is a dimension of any size (usually the batch)."""

    name: str
    dtype: str
    shape: list[int | None]


class Runtime(Protocol):
    """A loaded model. Runtimes may also expose ``feature_names`` (column order for tabular input)."""

    format_type: str
    inputs: list[TensorSpec]
    outputs: list[TensorSpec]
    nbytes: int

    def predict(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]: ...


@functools.lru_cache(maxsize=64)
def dtype_name(dtype: np.dtype) -> str:
    """Numeric dtypes by their numpy name; every text-like dtype is reported as ``string``.

    Cached: numpy computes `dtype.name` afresh each time, a visible cost on every predict.
    """
    return dtype.name if dtype.kind in "biuf" else "string"


def list_names(names: list[str]) -> str:
    """A short comma-separated list of model-side names, for messages and hints."""
    shown = ", ".join(names[:_MAX_LISTED])
    return shown if len(names) <= _MAX_LISTED else f"{shown} and {len(names) - _MAX_LISTED} more"


def describe(specs: list[TensorSpec]) -> str:
    """``X float32 [?, 4]`` for each spec: the model's own names and shapes, safe to show callers."""
    return list_names(
        [f"{s.name} {s.dtype} [{', '.join('?' if d is None else str(d) for d in s.shape)}]" for s in specs]
    )
