"""Chat with Hugging Face causal language models (config, safetensors weights, tokenizer) on the CPU.

Weights load only from safetensors and never with the checkpoint's own Python code: a folder whose weights
are only pickles, or whose config asks for remote code, is refused. Tokens are generated one at a time
with the KV cache, so each piece of text is streamed as soon as it exists and a cancel takes effect within
one step. torch and transformers are imported on load, never on import.
"""

from __future__ import annotations

import json
import math
import secrets
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Any

from modeldeck.errors import InvalidParameter, UnsafeFormat

from ._errors import load_failed, require
from ._files import resolve_inside

CHAT_INVALID = "InvalidParameter.Chat"
# Two cores serve every request: more intra-op threads than that only contend.
TORCH_THREADS = 2
DEFAULT_MAX_TOKENS = 128
MAX_TOKENS_LIMIT = 4096
MAX_MESSAGES = 256
MAX_CONTENT_CHARS = 100_000
MAX_STOPS = 4
MAX_STOP_CHARS = 64
ROLES = ("system", "user", "assistant")
PARAMS = ("max_tokens", "temperature", "top_p", "seed", "stop")
# How often a caller waiting for its turn checks whether it was cancelled.
_WAIT_POLL_SECONDS = 0.05

_PICKLED_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle")
_TOKENIZER_FILES = frozenset({"tokenizer.json", "tokenizer.model", "vocab.json", "vocab.txt", "spiece.model"})
_EXPECTED_FILES = (
    "Upload the Hugging Face folder: config.json, model.safetensors (or model-*.safetensors shards with "
    "their index), and the tokenizer (tokenizer.json and tokenizer_config.json)."
)


@dataclass(frozen=True)
class ChatDelta:
    """One streamed piece of the answer; the last one carries why generation ended and the token usage."""

    text: str
    finish_reason: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0


@dataclass(frozen=True)
class ChatResult:
    text: str
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int


class ChatRuntime:
    """A causal LM and its tokenizer; one generation at a time, since a generation uses every core."""

    format_type = "SafeTensors"

    def __init__(self, model: Any, tokenizer: Any) -> None:
        self._model = model
        self._tokenizer = tokenizer
        self._turn = threading.Lock()  # held for a whole generation, across its yields
        self._text_lock = threading.Lock()  # the Rust tokenizer is not safe to share between threads
        config = model.config
        self.model_name = (getattr(config, "architectures", None) or [config.model_type])[0]
        self.nbytes = sum(t.numel() * t.element_size() for t in chain(model.parameters(), model.buffers()))
        self._context = _context_size(config)
        self._eos = _eos_ids(model, tokenizer)

    def stream(
        self,
        messages: list[dict],
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        seed: int | None = None,
        stop: str | list[str] | None = None,
        cancel: threading.Event | None = None,
    ) -> Iterator[ChatDelta]:
        """Check the request and build the prompt now (errors raise here), then generate as it is iterated.

        The runtime is held from the first ``next()`` until the generator finishes or is closed.
        """
        given = {"max_tokens": max_tokens, "temperature": temperature, "top_p": top_p, "seed": seed}
        messages, params = validate_chat_params(messages, {**given, "stop": stop})
        with self._text_lock:
            ids = _encode_chat(self._tokenizer, messages)
        return self._start(self._fits(ids, "conversation", "Send fewer or shorter messages."), params, cancel)

    def continuation(self, prompt: str, *, cancel: threading.Event | None = None, **given: Any) -> Iterator[ChatDelta]:
        """The prompt's raw continuation (a text completion): its tokens as they are, no chat template and no
        turn, so the model writes on from the prompt's last word. Checked now, generated as iterated."""
        _, params = validate_chat_params([{"role": "user", "content": prompt}], given)
        with self._text_lock:
            ids = self._tokenizer(prompt)["input_ids"]
        return self._start(self._fits(ids, "prompt", "Send a shorter prompt."), params, cancel)

    def complete(self, messages: list[dict], **params: Any) -> ChatResult:
        return collect(self.stream(messages, **params))

    def _start(self, prompt: list[int], params: dict[str, Any], cancel: threading.Event | None) -> Iterator[ChatDelta]:
        budget = min(params["max_tokens"], self._context - len(prompt))
        pick = _picker(params["temperature"], params["top_p"], params["seed"])
        return self._generate(prompt, budget, pick, params["stop"], cancel)

    def _fits(self, ids: list[int], what: str, hint: str) -> list[int]:
        if len(ids) >= self._context:
            raise _chat_error(
                f"The {what} is longer than the model's context of {self._context} tokens.",
                hint=hint,
            )
        return ids

    def _generate(
        self, prompt: list[int], budget: int, pick: Callable[[Any], int], stops: list[str], cancel: Any
    ) -> Iterator[ChatDelta]:
        if not self._wait_turn(cancel):
            yield ChatDelta("", "cancelled", len(prompt), 0)
            return
        try:
            yield from self._decode(prompt, budget, pick, stops, cancel)
        finally:
            self._turn.release()

    def _wait_turn(self, cancel: threading.Event | None) -> bool:
        """Wait for the running generation to end; give up if this caller cancels meanwhile."""
        while not self._turn.acquire(timeout=_WAIT_POLL_SECONDS):
            if cancel is not None and cancel.is_set():
                return False
        return True

    def _decode(
        self, prompt: list[int], budget: int, pick: Callable[[Any], int], stops: list[str], cancel: Any
    ) -> Iterator[ChatDelta]:
        import torch

        text = _Detokenizer(self._decode_ids)
        released = _StopFilter(stops)
        step_input, cache, finish, generated = torch.tensor([prompt]), None, "length", 0
        while generated < budget:
            if cancel is not None and cancel.is_set():
                finish = "cancelled"
                break
            logits, cache = self._forward(step_input, cache)
            token = pick(logits)
            generated += 1  # an end-of-sequence token counts too: it was computed, though never shown
            if token in self._eos:
                finish = "stop"
                break
            piece = released.feed(text.add(token))
            if released.stopped:
                yield ChatDelta(piece, "stop", len(prompt), generated)
                return
            if piece:
                yield ChatDelta(piece)
            step_input = torch.tensor([[token]])
        tail = released.feed(text.flush())
        if not released.stopped:
            tail += released.flush()
        yield ChatDelta(tail, "stop" if released.stopped else finish, len(prompt), generated)

    def _forward(self, ids: Any, cache: Any) -> tuple[Any, Any]:
        """One model step; inference mode is entered per step, as it must not leak to the consumer's code."""
        import torch

        with torch.inference_mode():
            out = self._model(input_ids=ids, past_key_values=cache, use_cache=True)
        return out.logits[0, -1].float(), out.past_key_values

    def _decode_ids(self, ids: list[int]) -> str:
        with self._text_lock:
            return self._tokenizer.decode(ids, skip_special_tokens=True)


def collect(deltas: Iterator[ChatDelta]) -> ChatResult:
    """A whole generation from its pieces (the last one carries the finish and the counts)."""
    parts: list[str] = []
    for delta in deltas:
        parts.append(delta.text)
    return ChatResult("".join(parts), delta.finish_reason, delta.prompt_tokens, delta.completion_tokens)


class _Detokenizer:
    """The generated tokens' text, piece by piece, decoding only a short window of tokens per step.

    Decoding the previous window with and without the new token (TGI/vLLM's prefix and read offsets)
    keeps tokenizers' spacing rules right; a piece ending in an incomplete UTF-8 character waits.
    """

    def __init__(self, decode: Callable[[list[int]], str]) -> None:
        self._decode = decode
        self._ids: list[int] = []
        self._prefix = 0
        self._read = 0

    def add(self, token: int) -> str:
        self._ids.append(token)
        return self._piece(final=False)

    def flush(self) -> str:
        return self._piece(final=True)

    def _piece(self, *, final: bool) -> str:
        before = self._decode(self._ids[self._prefix : self._read])
        after = self._decode(self._ids[self._prefix :])
        if len(after) <= len(before) or (after.endswith("\ufffd") and not final):
            return ""
        self._prefix, self._read = self._read, len(self._ids)
        return after[len(before) :]


class _StopFilter:
    """Releases text as it comes, except an end that could be the start of a stop string.

    Held-back text never reaches the caller if the stop string completes; ``stopped`` then says so and
    the text is cut before it.
    """

    def __init__(self, stops: list[str]) -> None:
        self._stops = stops
        self._text = ""
        self._sent = 0
        self.stopped = False

    def feed(self, piece: str) -> str:
        self._text += piece
        # A stop string can only start in text not yet released: released text was never a stop's prefix.
        found = [i for s in self._stops if (i := self._text.find(s, self._sent)) >= 0]
        if found:
            self.stopped = True
            return self._release(min(found))
        return self._release(len(self._text) - self._held())

    def flush(self) -> str:
        return self._release(len(self._text))

    def _held(self) -> int:
        return max(
            (k for s in self._stops for k in range(1, len(s)) if self._text.endswith(s[:k])), default=0
        )

    def _release(self, end: int) -> str:
        piece, self._sent = self._text[self._sent : end], end
        return piece


def _picker(temperature: float | None, top_p: float | None, seed: int | None) -> Callable[[Any], int]:
    """Greedy without a temperature; else nucleus sampling with a generator of its own, so a seed repeats."""
    import torch

    if not temperature:
        return lambda logits: int(logits.argmax())
    generator = torch.Generator().manual_seed(seed if seed is not None else secrets.randbits(63))

    def pick(logits: Any) -> int:
        probs = torch.softmax(logits / temperature, dim=-1)
        if top_p is not None and top_p < 1:
            ranked, order = probs.sort(descending=True)
            keep = ranked.cumsum(0) - ranked < top_p  # the smallest top set reaching top_p (at least one)
            probs = torch.zeros_like(probs).scatter(0, order[keep], ranked[keep])
        return int(torch.multinomial(probs, 1, generator=generator))

    return pick


def _encode_chat(tokenizer: Any, messages: list[dict]) -> list[int]:
    if not tokenizer.chat_template:
        plain = "".join(f"{m['role']}: {m['content']}\n" for m in messages) + "assistant:"
        return tokenizer(plain)["input_ids"]
    try:
        encoded = tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
        )
    except Exception as exc:  # templates raise their own errors (jinja's), whose text may quote the messages
        raise _chat_error(
            "The model's chat template refused this conversation.",
            hint="Check the roles: many templates want user and assistant turns to alternate after one "
            "optional system message.",
        ) from exc
    return encoded["input_ids"][0].tolist()


def _context_size(config: Any) -> int:
    for name in ("max_position_embeddings", "n_positions", "n_ctx"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    return MAX_TOKENS_LIMIT * 4  # no declared limit: the request's max_tokens is the only bound


def _eos_ids(model: Any, tokenizer: Any) -> frozenset[int]:
    declared = getattr(model.generation_config, "eos_token_id", None)
    ids = declared if isinstance(declared, list) else [declared]
    return frozenset(i for i in [*ids, tokenizer.eos_token_id] if isinstance(i, int))


def validate_chat_params(messages: Any, params: dict) -> tuple[list[dict], dict]:
    """The messages as ``[{"role", "content"}]`` and every parameter of ``stream`` with its default.

    Errors name the field and the rule, never the value sent.
    """
    unknown = set(params) - set(PARAMS)
    if unknown:
        raise _chat_error(
            "The request has an unknown generation parameter.", hint=f"Use only {', '.join(PARAMS)}."
        )
    get = params.get
    return _messages(messages), {
        "max_tokens": _max_tokens(get("max_tokens")),
        "temperature": _number(get("temperature"), "temperature", 0, 2, low_open=False),
        "top_p": _number(get("top_p"), "top_p", 0, 1, low_open=True),
        "seed": _seed(get("seed")),
        "stop": _stops(get("stop")),
    }


def _messages(messages: Any) -> list[dict]:
    if not isinstance(messages, list) or not 1 <= len(messages) <= MAX_MESSAGES:
        raise _chat_error(
            f"messages must be a list of 1 to {MAX_MESSAGES} messages.",
            hint='Send messages like [{"role": "user", "content": "Hello"}].',
        )
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ROLES:
            raise _chat_error(
                f"messages[{i}] must be an object whose role is {', '.join(ROLES)}.",
                hint='Send messages like {"role": "user", "content": "Hello"}.',
            )
        if not isinstance(message.get("content"), str):
            raise _chat_error(
                f"messages[{i}].content must be a string.", hint="Send the message's text as a string."
            )
    if sum(len(m["content"]) for m in messages) > MAX_CONTENT_CHARS:
        raise _chat_error(
            f"The messages hold more than {MAX_CONTENT_CHARS} characters.",
            hint="Send a shorter conversation.",
        )
    return [{"role": m["role"], "content": m["content"]} for m in messages]


def _max_tokens(value: Any) -> int:
    if value is None:
        return DEFAULT_MAX_TOKENS
    if not _is_int(value) or not 1 <= value <= MAX_TOKENS_LIMIT:
        raise _chat_error(
            f"max_tokens must be an integer from 1 to {MAX_TOKENS_LIMIT}.",
            hint=f"Leave it out for the default of {DEFAULT_MAX_TOKENS}.",
        )
    return value


def _number(value: Any, name: str, low: float, high: float, *, low_open: bool) -> float | None:
    if value is None:
        return None
    is_number = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if not (is_number and (value > low if low_open else value >= low) and value <= high):
        interval = f"{'(' if low_open else '['}{low:g}, {high:g}]"
        raise _chat_error(
            f"{name} must be a number in {interval}.", hint=f"Leave {name} out for the default."
        )
    return float(value)


def _seed(value: Any) -> int | None:
    if value is not None and not (_is_int(value) and 0 <= value < 2**63):
        raise _chat_error(
            "seed must be a non-negative integer below 2**63.", hint="Leave seed out for random sampling."
        )
    return value


def _stops(value: Any) -> list[str]:
    stops = [value] if isinstance(value, str) else [] if value is None else value
    if (
        not isinstance(stops, list)
        or len(stops) > MAX_STOPS
        or not all(isinstance(s, str) and 1 <= len(s) <= MAX_STOP_CHARS for s in stops)
    ):
        raise _chat_error(
            f"stop must be a string or a list of up to {MAX_STOPS} strings "
            f"of 1 to {MAX_STOP_CHARS} characters.",
            hint="Send fewer or shorter stop strings.",
        )
    return list(stops)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _chat_error(message: str, hint: str) -> InvalidParameter:
    return InvalidParameter(message, hint=hint, code=CHAT_INVALID)


def load_chat_runtime(folder: Path) -> ChatRuntime:
    """Vet the folder's files, then load the tokenizer and the float32 model from safetensors only."""
    transformers = require("transformers", package="transformers", extra="llm")
    torch = require("torch", package="torch", extra="llm")
    root = Path(folder).resolve()
    _vet_folder(root)
    torch.set_num_threads(TORCH_THREADS)
    transformers.utils.logging.disable_progress_bar()  # the platform's log is no terminal
    options = {"local_files_only": True, "trust_remote_code": False}
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(root, **options)
    except Exception as exc:  # the library's messages hold server paths: chained, not shown
        raise load_failed("transformers could not load the model's tokenizer.", hint=_EXPECTED_FILES) from exc
    try:
        # use_safetensors only here: AutoConfig would keep unknown keywords as config attributes
        model = transformers.AutoModelForCausalLM.from_pretrained(
            root, use_safetensors=True, dtype=torch.float32, **options
        )
    except Exception as exc:
        raise load_failed(
            "transformers could not load the model as a causal language model.",
            hint="Upload a text-generation checkpoint whose architecture transformers knows, with its "
            "safetensors weights.",
        ) from exc
    return ChatRuntime(model.eval(), tokenizer)


def _vet_folder(root: Path) -> None:
    """Refuse, before any library reads them, folders that would load pickles or run the checkpoint's code."""
    if not root.is_dir():
        raise load_failed("The model version's files are not available.", hint=_EXPECTED_FILES)
    names = {p.name for p in root.iterdir()}
    if any(resolve_inside(root, name) is None for name in names):
        raise load_failed(
            "The model version has a link pointing outside it.", hint="Upload the files themselves."
        )
    if not any(n.endswith(".safetensors") for n in names):
        if any(n.lower().endswith(_PICKLED_SUFFIXES) for n in names):
            raise UnsafeFormat(
                "The model's weights are pickled, a format that runs code when loaded.",
                hint="Convert the weights to safetensors "
                "(model.save_pretrained(folder, safe_serialization=True)) and upload those.",
            )
        raise load_failed("The model version has no safetensors weights.", hint=_EXPECTED_FILES)
    if "config.json" not in names or not names & _TOKENIZER_FILES:
        raise load_failed("The model version lacks its config or its tokenizer.", hint=_EXPECTED_FILES)
    for name in ("config.json", "tokenizer_config.json"):
        if name in names and "auto_map" in _json_object(root / name):
            raise load_failed(
                "The model asks for its own Python code, which the platform never runs.",
                hint="Use a checkpoint whose architecture is built into transformers "
                "(no auto_map in its configs).",
            )


def _json_object(path: Path) -> dict:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise load_failed(f"{path.name} is not valid JSON.", hint=_EXPECTED_FILES) from exc
    if not isinstance(value, dict):
        raise load_failed(f"{path.name} is not a JSON object.", hint=_EXPECTED_FILES)
    return value
