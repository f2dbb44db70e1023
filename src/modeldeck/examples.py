"""Small real checkpoints made on the spot, for tutorials, tests and benchmarks (nothing is downloaded).

Each builder writes a file that the platform's runtimes load exactly as they load a user's checkpoint.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def tabular_data(n: int = 200, n_features: int = 4, seed: int = 0) -> tuple[Any, Any]:
    """A separable three-class problem shaped like iris: (X float32 [n, n_features], y int64 [n])."""
    import numpy as np

    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, size=n)
    centers = rng.normal(0, 3, size=(3, n_features))
    X = centers[y] + rng.normal(0, 0.7, size=(n, n_features))
    return X.astype(np.float32), y.astype(np.int64)


def onnx_linear(path: str | Path, n_features: int = 4, n_classes: int = 3, seed: int = 0) -> Path:
    """A linear classifier as an ONNX graph: input `X` [batch, n_features] -> `logits`, `probabilities`."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    weights = numpy_helper.from_array(rng.normal(size=(n_features, n_classes)).astype(np.float32), "W")
    bias = numpy_helper.from_array(rng.normal(size=(n_classes,)).astype(np.float32), "B")
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["X", "W"], ["XW"]),
            helper.make_node("Add", ["XW", "B"], ["logits"]),
            helper.make_node("Softmax", ["logits"], ["probabilities"], axis=-1),
        ],
        "linear",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, n_features])],
        [
            helper.make_tensor_value_info("logits", TensorProto.FLOAT, [None, n_classes]),
            helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [None, n_classes]),
        ],
        initializer=[weights, bias],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="modeldeck")
    model.ir_version = 8
    onnx.checker.check_model(model)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


def sklearn_classifier(seed: int = 0) -> Any:
    """A fitted scikit-learn LogisticRegression on `tabular_data`."""
    from sklearn.linear_model import LogisticRegression

    X, y = tabular_data(seed=seed)
    return LogisticRegression(max_iter=500).fit(X, y)


def save_skops(estimator: Any, path: str | Path) -> Path:
    import skops.io

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    skops.io.dump(estimator, path)
    return path


def xgboost_classifier(path: str | Path, seed: int = 0, rounds: int = 10) -> Path:
    """A small multi-class XGBoost booster saved as JSON (`.json`) or UBJ (`.ubj`)."""
    import xgboost

    X, y = tabular_data(seed=seed)
    booster = xgboost.train(
        {"objective": "multi:softprob", "num_class": 3, "max_depth": 3, "nthread": 1, "seed": seed},
        xgboost.DMatrix(X, label=y),
        num_boost_round=rounds,
    )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    booster.save_model(str(path))
    return path


_WORDS = (
    "the a an and or but if then so because of to in on at by for with from about as into over under "
    "i you he she it we they me him her us them my your his its our their this that these those "
    "is are was were be been being have has had do does did will would can could should may might must "
    "not no yes all some any many much more most few each every other same new old good bad big small "
    "long short high low first last next early late young right left great little own true false "
    "time year day week night morning hour minute people man woman child friend family world life "
    "hand eye head house home room door water fire air earth tree flower river sea sky sun moon star "
    "city road car train ship book word story name question answer idea thing way place part point "
    "model data number value list file code test result error server client request platform chat "
    "go come see look know think say tell ask give take make find use work call try need want like "
    "help keep let begin show hear play run move live believe hold bring write read learn change "
    "hello hi thanks please sorry welcome goodbye here there now today tomorrow always never often "
    "very quite really just only also still even again too well how what why when where who which "
    "one two three four five six seven eight nine ten hundred system user assistant"
).split()
_PUNCTUATION = (".", ",", "!", "?", ":", ";", "'", '"', "(", ")", "-")
_CHAT_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}"
    "{{ message['role'] }}: {{ message['content'] }}{{ eos_token }}{% endfor %}"
    "{% if add_generation_prompt %}assistant:{% endif %}"
)


def tiny_causal_lm(path: str | Path, seed: int = 0, vocab_words: list[str] | None = None) -> Path:
    """A random two-layer Llama chat model in Hugging Face format (safetensors, word-level tokenizer).

    It talks nonsense but loads in a fraction of a second, so chat can be tried and tested offline. The
    tokenizer knows ``vocab_words`` (default: a few hundred common English words) and punctuation.
    """
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast
    from transformers.utils import logging as hf_logging

    specials = ["<unk>", "<s>", "</s>", "<pad>"]
    words = list(dict.fromkeys([*(vocab_words or _WORDS), *_PUNCTUATION]))
    vocab = {token: i for i, token in enumerate([*specials, *(w for w in words if w not in specials)])}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, unk_token="<unk>", bos_token="<s>", eos_token="</s>", pad_token="<pad>"
    )
    tokenizer.chat_template = _CHAT_TEMPLATE
    config = LlamaConfig(
        vocab_size=len(vocab), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512, initializer_range=0.2,
        bos_token_id=vocab["<s>"], eos_token_id=vocab["</s>"], pad_token_id=vocab["<pad>"],
    )  # fmt: skip
    with torch.random.fork_rng(devices=[]):  # seeded without disturbing the caller's random state
        torch.manual_seed(seed)
        model = LlamaForCausalLM(config)
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    shown = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # a bar for one tiny shard is noise in notebooks and logs
    try:
        model.save_pretrained(path, safe_serialization=True)
    finally:
        if shown:
            hf_logging.enable_progress_bar()
    tokenizer.save_pretrained(path)
    return path
