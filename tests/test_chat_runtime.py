"""The chat runtime on a tiny random Llama written here: transformers' tokens, streaming, refusals."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from modeldeck.errors import InvalidParameter, UnsafeFormat
from modeldeck.examples import tiny_causal_lm
from modeldeck.platform.runtimes import RuntimeCache
from modeldeck.platform.runtimes.chat import ChatRuntime, load_chat_runtime, validate_chat_params

MESSAGES = [
    {"role": "system", "content": "you are a model"},
    {"role": "user", "content": "hello how are you ?"},
]
SENTINEL = "sentinel-7f3a9"


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_causal_lm(tmp_path_factory.mktemp("llm"), seed=0)


@pytest.fixture(scope="module")
def runtime(folder: Path) -> ChatRuntime:
    return load_chat_runtime(folder)


def copy_without(folder: Path, tmp_path: Path, *names: str) -> Path:
    target = tmp_path / "copy"
    shutil.copytree(folder, target, ignore=lambda _, files: [f for f in files if f in names])
    return target


def test_greedy_is_deterministic_and_matches_transformers_generate(runtime: ChatRuntime, folder: Path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    result = runtime.complete(MESSAGES, max_tokens=24)
    assert runtime.complete(MESSAGES, max_tokens=24) == result
    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(folder, local_files_only=True, use_safetensors=True).eval()
    prompt = tokenizer.apply_chat_template(
        MESSAGES, add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
    n = prompt["input_ids"].shape[1]
    new = model.generate(**prompt, max_new_tokens=24, do_sample=False)[0, n:].tolist()
    assert (result.prompt_tokens, result.completion_tokens) == (n, len(new))
    assert result.text == tokenizer.decode(new, skip_special_tokens=True)
    shown = [t for t in new if t not in tokenizer.all_special_ids]
    assert tokenizer(result.text, add_special_tokens=False)["input_ids"] == shown


def test_a_continuation_is_the_raw_prompt_continued_as_transformers_generate_does(runtime: ChatRuntime, folder: Path):
    """A text completion: the prompt's own tokens, no chat template, continued (not a reply to a user turn)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    prompt = "the cat sat on the"
    pieces = list(runtime.continuation(prompt, max_tokens=12))
    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(folder, local_files_only=True, use_safetensors=True).eval()
    ids = tokenizer(prompt, return_tensors="pt")
    n = ids["input_ids"].shape[1]
    new = model.generate(**ids, max_new_tokens=12, do_sample=False)[0, n:].tolist()
    assert (pieces[-1].prompt_tokens, pieces[-1].completion_tokens) == (n, len(new))
    assert "".join(p.text for p in pieces) == tokenizer.decode(new, skip_special_tokens=True)
    assert pieces[-1].prompt_tokens < runtime.complete([{"role": "user", "content": prompt}], max_tokens=1).prompt_tokens
    with pytest.raises(InvalidParameter, match="top_p"):
        runtime.continuation(prompt, top_p=0)


def test_stream_delivers_each_token_as_it_comes(runtime: ChatRuntime):
    deltas = list(runtime.stream(MESSAGES, max_tokens=20))
    whole = runtime.complete(MESSAGES, max_tokens=20)
    assert "".join(d.text for d in deltas) == whole.text
    assert len(deltas) > 10 and all(d.finish_reason is None and d.completion_tokens == 0 for d in deltas[:-1])
    last = deltas[-1]
    assert (last.finish_reason, last.prompt_tokens, last.completion_tokens) == (
        whole.finish_reason, whole.prompt_tokens, whole.completion_tokens,
    )  # fmt: skip
    # Cancelling on the first piece stops the very next step: the piece was sent before the rest existed.
    cancel = threading.Event()
    stream = runtime.stream(MESSAGES, max_tokens=200, cancel=cancel)
    first = next(stream)
    cancel.set()
    rest = list(stream)
    assert first.text and first.finish_reason is None
    assert [d.finish_reason for d in rest] == ["cancelled"] and rest[-1].completion_tokens == 1


def test_a_cancel_before_the_start_generates_nothing(runtime: ChatRuntime):
    cancel = threading.Event()
    cancel.set()
    result = list(runtime.stream(MESSAGES, cancel=cancel))
    assert [(d.text, d.finish_reason, d.completion_tokens) for d in result] == [("", "cancelled", 0)]


def test_seed_makes_sampling_repeatable(runtime: ChatRuntime):
    def sample(seed: int) -> str:
        return runtime.complete(MESSAGES, max_tokens=16, temperature=1.0, top_p=0.9, seed=seed).text

    assert sample(7) == sample(7)
    assert sample(7) != sample(8)


def test_stop_strings_cut_the_text_before_them(runtime: ChatRuntime):
    full = runtime.complete(MESSAGES, max_tokens=30).text
    stop = " ".join(full.split()[4:6])  # two tokens: the first is held back until the second decides
    expected = full[: full.index(stop)]
    result = runtime.complete(MESSAGES, max_tokens=30, stop=["never-generated", stop])
    assert (result.text, result.finish_reason) == (expected, "stop")
    assert "".join(d.text for d in runtime.stream(MESSAGES, max_tokens=30, stop=stop)) == expected


def test_an_end_of_sequence_token_stops_and_counts(runtime: ChatRuntime, folder: Path, tmp_path: Path):
    words = runtime.complete(MESSAGES, max_tokens=8).text.split()
    copy = copy_without(folder, tmp_path)
    generation = json.loads((copy / "generation_config.json").read_text())
    vocab = json.loads((copy / "tokenizer.json").read_text())["model"]["vocab"]
    generation["eos_token_id"] = [generation["eos_token_id"], vocab[words[2]]]  # several ends, as Llama 3
    (copy / "generation_config.json").write_text(json.dumps(generation))
    result = load_chat_runtime(copy).complete(MESSAGES, max_tokens=8)
    assert (result.text, result.finish_reason, result.completion_tokens) == (" ".join(words[:2]), "stop", 3)


def test_length_limits_and_the_context_window(runtime: ChatRuntime):
    short = runtime.complete(MESSAGES, max_tokens=3)
    assert (short.finish_reason, short.completion_tokens) == ("length", 3)
    clamped = runtime.complete(MESSAGES, max_tokens=4096)  # the tiny model has 512 positions
    assert clamped.finish_reason == "length" and clamped.prompt_tokens + clamped.completion_tokens == 512
    with pytest.raises(InvalidParameter) as info:
        runtime.stream([{"role": "user", "content": "word " * 600}])
    assert info.value.code == "InvalidParameter.Chat" and "512" in info.value.message


def test_a_second_caller_waits_for_the_running_generation(runtime: ChatRuntime):
    expected = runtime.complete(MESSAGES, max_tokens=12)
    first = runtime.stream(MESSAGES, max_tokens=12)
    next(first)
    results: list = []
    waiting = threading.Thread(target=lambda: results.append(runtime.complete(MESSAGES, max_tokens=12)))
    waiting.start()
    time.sleep(0.3)
    assert results == []  # still held by the first stream
    list(first)
    waiting.join(timeout=30)
    assert results == [expected]


def test_pickled_weights_are_refused(folder: Path, tmp_path: Path):
    import torch
    from safetensors.torch import load_file

    pickled = copy_without(folder, tmp_path, "model.safetensors")
    torch.save(load_file(folder / "model.safetensors"), pickled / "pytorch_model.bin")
    with pytest.raises(UnsafeFormat) as info:
        load_chat_runtime(pickled)
    assert info.value.code == "Model.UnsafeFormat" and "safetensors" in info.value.hint


def test_a_folder_without_tokenizer_is_refused(folder: Path, tmp_path: Path):
    with pytest.raises(InvalidParameter) as info:
        load_chat_runtime(copy_without(folder, tmp_path, "tokenizer.json"))
    assert info.value.code == "Model.LoadFailed" and "tokenizer.json" in info.value.hint


def test_remote_code_is_refused(folder: Path, tmp_path: Path):
    copy = copy_without(folder, tmp_path)
    config = json.loads((copy / "config.json").read_text())
    config["auto_map"] = {"AutoModelForCausalLM": "modeling_evil.EvilForCausalLM"}
    (copy / "config.json").write_text(json.dumps(config))
    (copy / "modeling_evil.py").write_text("raise SystemExit('remote code ran')\n")
    with pytest.raises(InvalidParameter) as info:
        load_chat_runtime(copy)
    assert info.value.code == "Model.LoadFailed" and "code" in info.value.message


def test_a_missing_library_says_which_extra_installs_it(folder: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(sys.modules, "transformers", None)
    with pytest.raises(InvalidParameter) as info:
        load_chat_runtime(folder)
    assert info.value.code == "Model.RuntimeUnavailable" and "modeldeck[llm]" in info.value.hint


def user(content: object = SENTINEL) -> list:
    return [{"role": "user", "content": content}]


@pytest.mark.parametrize(
    ("messages", "params"),
    [
        (user(), {"max_tokens": 0}),
        (user(), {"max_tokens": 4097}),
        (user(), {"max_tokens": True}),
        (user(), {"temperature": 5}),
        (user(), {"temperature": float("nan")}),
        (user(), {"top_p": 0}),
        (user(), {"seed": SENTINEL}),
        (user(), {"stop": ["a", "b", "c", "d", "e"]}),
        (user(), {"stop": [""]}),
        (user(), {"stop": SENTINEL * 10}),
        (user(), {SENTINEL: 1}),
        ({"role": "user", "content": SENTINEL}, {}),
        ([], {}),
        ([{"role": "hacker", "content": SENTINEL}], {}),
        (user(["parts", SENTINEL]), {}),
        (user(SENTINEL * 20_000), {}),
    ],
)
def test_bad_requests_are_refused_without_echo(runtime: ChatRuntime, messages: object, params: dict):
    calls = [lambda: validate_chat_params(messages, params)]
    if SENTINEL not in params:  # an unknown keyword is stream()'s TypeError, as for any function
        calls.append(lambda: runtime.stream(messages, **params))
    for call in calls:
        with pytest.raises(InvalidParameter) as info:
            call()
        error = info.value
        assert error.code == "InvalidParameter.Chat" and error.hint
        assert SENTINEL not in str(error) and SENTINEL not in json.dumps(error.to_dict())


def test_validation_fills_defaults():
    messages, params = validate_chat_params([{"role": "user", "content": "hi", "name": "x"}], {"stop": "\n"})
    assert messages == [{"role": "user", "content": "hi"}]
    assert params == {"max_tokens": 128, "temperature": None, "top_p": None, "seed": None, "stop": ["\n"]}


def test_the_runtime_is_cached_by_size(folder: Path, runtime: ChatRuntime):
    cache = RuntimeCache(max_bytes=10 * runtime.nbytes)
    loaded = cache.get("chat|tiny", lambda: load_chat_runtime(folder))
    assert loaded.nbytes > 0 and cache.get("chat|tiny", lambda: pytest.fail("loaded twice")) is loaded
    assert loaded.format_type == "SafeTensors" and loaded.model_name == "LlamaForCausalLM"


def test_the_example_writes_no_pickle_and_importing_the_runtime_stays_light(folder: Path):
    assert not [p for p in folder.iterdir() if p.suffix in {".bin", ".pt", ".pth", ".pkl", ".ckpt"}]
    probe = (
        "import sys, modeldeck.platform.runtimes.chat\n"
        "print('torch' in sys.modules, 'transformers' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.split() == ["False", "False"], out.stderr
