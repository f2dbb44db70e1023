"""JSON request bodies to model inputs, and model outputs back to JSON.

Request forms (exactly one key):

- ``{"inputs": {name: nested list}}``: one tensor per model input, cast to the input's dtype.
- ``{"records": [{column: value, ...}, ...]}``: rows of a table.
- ``{"columns": {column: [value, ...]}}``: columns of a table.

A table feeds a model with one input per column (column names equal the input names; each column becomes
``[n, 1]``, or ``[n]`` for a 1-D input), or else a model with one 2-D input, whose columns are ordered by
the runtime's ``feature_names`` when it has them and otherwise by the order given.

``null`` is accepted as a missing value (NaN) in float inputs. Strings are never parsed as numbers.
Errors describe the request's structure and the model's own names, never the caller's values.

Outputs: ``[{"name", "dtype", "shape", "data"}]``; NaN and +/-inf become ``null`` so the body stays valid
JSON; non-numeric outputs are reported with dtype ``string`` and their elements as text.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from modeldeck.errors import PayloadTooLarge

from ._errors import invalid_input
from ._spec import Runtime, TensorSpec, describe, dtype_name, list_names

MAX_ELEMENTS = 10_000_000
_FORMS = ("inputs", "records", "columns")
_FORMS_HINT = (
    'Send {"inputs": {name: nested list}}, {"records": [{column: value}, ...]} '
    'or {"columns": {column: [values]}}.'
)


def decode_inputs(payload: dict, runtime: Runtime) -> dict[str, np.ndarray]:
    """The model's inputs from a request body's input part."""
    if not isinstance(payload, dict) or len(payload) != 1 or next(iter(payload)) not in _FORMS:
        raise invalid_input(
            "The request must contain exactly one of 'inputs', 'records' or 'columns'.", _FORMS_HINT
        )
    ((form, body),) = payload.items()
    if form == "inputs":
        return _decode_tensors(body, runtime.inputs)
    names, columns = _records(body) if form == "records" else _columns(body)
    return _decode_table(names, columns, runtime)


def encode_outputs(outputs: dict[str, np.ndarray]) -> list[dict]:
    """JSON-ready outputs, in the runtime's order."""
    return [_encode(name, np.asarray(value)) for name, value in outputs.items()]


def _decode_tensors(body: Any, specs: list[TensorSpec]) -> dict[str, np.ndarray]:
    if not isinstance(body, dict) or not body:
        raise invalid_input(
            "'inputs' must be a non-empty object mapping model input names to nested lists.", _inputs_hint(specs)
        )
    if len(body) != len(specs) or any(spec.name not in body for spec in specs):
        known = {spec.name for spec in specs}
        unknown = sum(1 for name in body if name not in known)
        if unknown:
            raise invalid_input(
                f"The request names {unknown} input(s) the model does not have.", _inputs_hint(specs)
            )
        missing = [spec.name for spec in specs if spec.name not in body]
        raise invalid_input(
            f"The request is missing the model input(s) {list_names(missing)}.", _inputs_hint(specs)
        )
    _check_size(sum(_leading_size(body[spec.name]) for spec in specs))
    return {spec.name: _tensor(body[spec.name], spec) for spec in specs}


def _inputs_hint(specs: list[TensorSpec]) -> str:
    return f"The model's inputs are: {describe(specs)}."


def _records(body: Any) -> tuple[list[str], dict[str, list]]:
    """Records turned into columns, after checking every record has the same keys."""
    if not isinstance(body, list) or not body or not all(isinstance(record, dict) for record in body):
        raise invalid_input(
            "'records' must be a non-empty list of objects.", 'Send rows like [{"a": 1.0, "b": 2.0}, ...].'
        )
    names = list(body[0])
    if not names:
        raise invalid_input("The records have no columns.", 'Send rows like [{"a": 1.0, "b": 2.0}, ...].')
    _check_size(len(body) * len(names))
    if any(record.keys() != body[0].keys() for record in body):
        raise invalid_input(
            "Every record must have the same columns.",
            "Send each record with all of the columns; use null for a missing float value.",
        )
    return names, {name: [record[name] for record in body] for name in names}


def _columns(body: Any) -> tuple[list[str], dict[str, list]]:
    if (
        not isinstance(body, dict)
        or not body
        or not all(isinstance(values, list) for values in body.values())
    ):
        raise invalid_input(
            "'columns' must be a non-empty object mapping column names to lists of values.",
            'Send columns like {"a": [1.0, 2.0], "b": [3.0, 4.0]}.',
        )
    _check_size(sum(len(values) for values in body.values()))
    lengths = {len(values) for values in body.values()}
    if len(lengths) > 1:
        raise invalid_input(
            "All columns must have the same number of values.", "Send one value per row in every column."
        )
    if 0 in lengths:
        raise invalid_input("The columns have no values.", "Send at least one row.")
    return list(body), body


def _decode_table(names: list[str], columns: dict[str, list], runtime: Runtime) -> dict[str, np.ndarray]:
    specs = runtime.inputs
    if set(names) == {spec.name for spec in specs}:
        return {spec.name: _column_input(columns[spec.name], spec) for spec in specs}
    if len(specs) != 1 or len(specs[0].shape) != 2:
        raise invalid_input(
            "Records and columns need a model with one 2-D input, or column names equal to its input names.",
            f"Name one column per model input, or send 'inputs'. The model's inputs are: {describe(specs)}.",
        )
    spec = specs[0]
    order = _column_order(names, getattr(runtime, "feature_names", None), spec)
    return {spec.name: np.column_stack([_column(columns[name], spec) for name in order])}


def _column_order(names: list[str], feature_names: list[str] | None, spec: TensorSpec) -> list[str]:
    if feature_names:
        hint = f"Send exactly the model's columns: {list_names(feature_names)}."
        given = set(names)
        missing = [name for name in feature_names if name not in given]
        if missing:
            raise invalid_input(f"The request is missing the model's column(s) {list_names(missing)}.", hint)
        if len(names) > len(feature_names):
            extra = len(names) - len(feature_names)
            raise invalid_input(f"The request has {extra} column(s) the model does not use.", hint)
        return feature_names
    width = spec.shape[1]
    if width is not None and len(names) != width:
        raise invalid_input(
            f"The model expects {width} columns, but the request has {len(names)}.",
            "Send one column per model feature, in the order the model was trained with.",
        )
    return names


def _column_input(values: list, spec: TensorSpec) -> np.ndarray:
    """One column as a whole model input: ``[n]`` for a 1-D input, ``[n, 1]`` for a 2-D one."""
    rank = len(spec.shape)
    if rank not in (1, 2) or (rank == 2 and spec.shape[1] not in (None, 1)):
        raise invalid_input(
            f"The model input {spec.name} cannot be filled from a single column.",
            f"Send it with 'inputs' instead. The model's inputs are: {describe([spec])}.",
        )
    column = _column(values, spec)
    return column if rank == 1 else column.reshape(-1, 1)


def _column(values: list, spec: TensorSpec) -> np.ndarray:
    # Checked before numpy sees them: a nested value would also slip past the size cap.
    if any(isinstance(value, (list, dict)) for value in values):
        raise invalid_input(
            "Each record or column value must be a single number or string.",
            "Send one scalar per row and column; use 'inputs' for tensors.",
        )
    return _cast(np.array(values), spec)


def _tensor(value: Any, spec: TensorSpec) -> np.ndarray:
    array = _array(value, spec)
    if array.size == 0:
        raise invalid_input(f"The model input {spec.name} is empty.", "Send at least one value.")
    if array.ndim != len(spec.shape) or any(
        want not in (None, got) for got, want in zip(array.shape, spec.shape, strict=True)
    ):
        raise invalid_input(
            f"The model input {spec.name} has shape {list(array.shape)} in the request, which does not fit "
            f"the model's shape {_shape(spec)}.",
            f"Send a nested list of shape {_shape(spec)}, where ? is any size.",
        )
    return _cast(array, spec)


def _array(value: Any, spec: TensorSpec) -> np.ndarray:
    try:
        return np.array(value)
    except (ValueError, TypeError) as exc:  # numpy refuses inhomogeneous (ragged) nesting
        raise invalid_input(
            f"The values for the model input {spec.name} are ragged.",
            "Send a rectangular nested list: every row with the same length.",
        ) from exc


def _cast(array: np.ndarray, spec: TensorSpec) -> np.ndarray:
    """``array`` as the input's dtype; refuses text for numbers, fractions for integers, and out-of-range."""
    if spec.dtype == "string":
        if array.dtype.kind != "U":
            raise invalid_input(
                f"The model input {spec.name} expects strings.", "Send every value as a string."
            )
        return array.astype(object)
    target = np.dtype(spec.dtype)
    if array.dtype.kind == "O":
        array = _nulls_to_nan(array, spec, target)
    if array.dtype.kind not in "biuf" or (target.kind == "b" and array.dtype.kind != "b"):
        expected = "booleans" if target.kind == "b" else "numbers"
        raise invalid_input(
            f"The model input {spec.name} expects {expected}, but the request has other values.",
            f"Send {expected} only (JSON {'true/false' if target.kind == 'b' else 'numbers, not strings'}).",
        )
    with np.errstate(invalid="ignore", over="ignore"):  # out-of-range values are refused just below
        cast = array.astype(target)
    if target.kind in "iu" and not np.array_equal(cast, array):
        raise invalid_input(
            f"The model input {spec.name} expects whole numbers that fit in {target.name}.",
            "Send integers within the input's range.",
        )
    return cast


def _nulls_to_nan(array: np.ndarray, spec: TensorSpec, target: np.dtype) -> np.ndarray:
    """Object arrays come from nulls (or very large integers); only float inputs take null, as NaN."""
    allowed = (int, float, type(None)) if target.kind == "f" else (int, float)
    if not all(isinstance(value, allowed) for value in array.flat):
        raise invalid_input(
            f"The model input {spec.name} expects numbers, but the request has other values.",
            "Send numbers only; null is accepted as a missing value in float inputs.",
        )
    return array.astype(np.float64)


def _check_size(count: int) -> None:
    if count > MAX_ELEMENTS:
        raise PayloadTooLarge(
            f"The request has more than {MAX_ELEMENTS:,} input values.",
            hint="Split the request into smaller batches.",
        )


def _leading_size(value: Any) -> int:
    """The element count implied by the first item at every nesting level: cheap, and exact unless ragged
    (which numpy then refuses)."""
    size = 1
    while isinstance(value, list):
        size *= len(value)
        if not value:
            break
        value = value[0]
    return size


def _shape(spec: TensorSpec) -> str:
    return "[" + ", ".join("?" if d is None else str(d) for d in spec.shape) + "]"


def _encode(name: str, array: np.ndarray) -> dict:
    if array.dtype.kind not in "biuf":
        text = [_text(value) for value in array.ravel().tolist()]
        data = np.array(text, dtype=object).reshape(array.shape).tolist()
    elif array.dtype.kind == "f" and not np.isfinite(array).all():
        finite = np.isfinite(array)
        objects = array.astype(object)  # Python floats, so the non-finite ones can become None
        objects[~finite] = None
        data = objects.tolist()
    else:
        data = array.tolist()
    return {"name": name, "dtype": dtype_name(array.dtype), "shape": list(array.shape), "data": data}


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)
