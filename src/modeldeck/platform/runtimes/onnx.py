"""ONNX models on onnxruntime (CPU), after checking that external data stays inside the version folder."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from modeldeck.errors import InvalidParameter

from ._errors import UNSAFE_EXTERNAL_DATA, invalid_input, load_failed
from ._files import resolve_inside
from ._spec import TensorSpec, describe

# The platform answers concurrent requests on small machines: one thread per session avoids oversubscription.
ORT_THREADS = 1

_ORT_DTYPES = {
    "tensor(float)": "float32",
    "tensor(double)": "float64",
    "tensor(float16)": "float16",
    "tensor(int8)": "int8",
    "tensor(int16)": "int16",
    "tensor(int32)": "int32",
    "tensor(int64)": "int64",
    "tensor(uint8)": "uint8",
    "tensor(uint16)": "uint16",
    "tensor(uint32)": "uint32",
    "tensor(uint64)": "uint64",
    "tensor(bool)": "bool",
    "tensor(string)": "string",
}


class OnnxRuntime:
    """One onnxruntime session; predict returns every tensor output (sequence/map outputs are skipped)."""

    format_type = "ONNX"

    def __init__(self, session: Any, nbytes: int) -> None:
        self._session = session
        self.nbytes = nbytes
        self.inputs = [_input_spec(arg) for arg in session.get_inputs()]
        self.outputs = [
            TensorSpec(arg.name, _ORT_DTYPES.get(arg.type, arg.type[7:-1]), _dims(arg.shape))
            for arg in session.get_outputs()
            if arg.type.startswith("tensor(")
        ]
        if not self.outputs:
            raise load_failed(
                "The ONNX model has no tensor output.",
                hint="Export the model with tensor outputs (for skl2onnx classifiers, disable ZipMap).",
            )

    def predict(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        try:
            values = self._session.run([spec.name for spec in self.outputs], inputs)
        except Exception as exc:  # onnxruntime raises its own exception types, none of them public
            raise invalid_input(
                "The ONNX model could not run on the given input.",
                hint=f"Send inputs matching the model's inputs: {describe(self.inputs)}.",
            ) from exc
        return {spec.name: np.asarray(value) for spec, value in zip(self.outputs, values, strict=True)}


def load(folder: Path, path: Path) -> OnnxRuntime:
    """Parse the graph without its weights, vet every external data location, then open the session."""
    external = check_graph(folder, path)
    nbytes = path.stat().st_size + sum(f.stat().st_size for f in external)
    return OnnxRuntime(_session(path), nbytes)


def check_graph(folder: Path, path: Path) -> set[Path]:
    """Parse the graph without its external weights and vet their locations; returns the files they are in."""
    import onnx

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # protobuf raises several types on corrupt input
        raise _not_onnx() from exc
    if model.ir_version <= 0 or not model.graph.output:
        raise _not_onnx()
    return _external_files(model, folder, path.parent)


def _session(path: Path) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = ORT_THREADS
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    try:
        # From the path, so onnxruntime resolves external data next to the model file.
        return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime's messages include server paths: keep them out of the error
        raise load_failed(
            "onnxruntime could not load the ONNX model.",
            hint=f"Check that its operators and opset are supported by onnxruntime {ort.__version__}.",
        ) from exc


def _not_onnx() -> InvalidParameter:
    return load_failed(
        "The file is not a valid ONNX model.",
        hint="Export the model to ONNX again and upload the .onnx file.",
    )


def _external_files(model: Any, folder: Path, model_dir: Path) -> set[Path]:
    """The external data files the model reads; refuses any location that is not a file inside ``folder``."""
    from onnx import TensorProto

    files = set()
    for tensor in _tensors(model):
        if tensor.data_location != TensorProto.EXTERNAL:
            continue
        location = next((entry.value for entry in tensor.external_data if entry.key == "location"), "")
        target = resolve_inside(folder, location, base=model_dir)
        if target is None:
            raise InvalidParameter(
                "The ONNX model references external data outside its model version.",
                hint="Save the model with its external data as relative files next to the .onnx file, "
                "and upload them together.",
                code=UNSAFE_EXTERNAL_DATA,
                status=422,
            )
        if not target.is_file():
            raise load_failed(
                "An external data file of the ONNX model is missing from the model version.",
                hint="Upload the external data files saved next to the .onnx file.",
            )
        files.add(target)
    return files


def _tensors(model: Any) -> Iterator[Any]:
    """Every tensor the model can carry: initializers, attribute tensors, subgraphs, functions, training."""
    yield from _graph_tensors(model.graph)
    for function in model.functions:
        yield from _attribute_tensors(function.attribute_proto)
        for node in function.node:
            yield from _attribute_tensors(node.attribute)
    for training in model.training_info:
        yield from _graph_tensors(training.initialization)
        yield from _graph_tensors(training.algorithm)


def _graph_tensors(graph: Any) -> Iterator[Any]:
    yield from graph.initializer
    for sparse in graph.sparse_initializer:
        yield from (sparse.values, sparse.indices)
    for node in graph.node:
        yield from _attribute_tensors(node.attribute)


def _attribute_tensors(attributes: Iterable[Any]) -> Iterator[Any]:
    for attribute in attributes:
        if attribute.HasField("t"):
            yield attribute.t
        yield from attribute.tensors
        for sparse in [attribute.sparse_tensor, *attribute.sparse_tensors]:
            yield from (sparse.values, sparse.indices)
        if attribute.HasField("g"):
            yield from _graph_tensors(attribute.g)
        for graph in attribute.graphs:
            yield from _graph_tensors(graph)


def _input_spec(arg: Any) -> TensorSpec:
    if arg.type not in _ORT_DTYPES:
        raise load_failed(
            "The ONNX model has an input type the platform cannot fill from JSON.",
            hint="Use float, integer, bool or string tensor inputs.",
        )
    return TensorSpec(arg.name, _ORT_DTYPES[arg.type], _dims(arg.shape))


def _dims(shape: Any) -> list[int | None]:
    """onnxruntime reports symbolic dims as strings and unknown ones as None; both mean any size."""
    return [d if isinstance(d, int) and d > 0 else None for d in shape or []]
