"""`%modeldeck` and `%%modeldeck chat`: the CLI's commands in a notebook, on one deck per kernel.

`%load_ext modeldeck` registers `ModelDeck`. Its subcommands take the CLI's arguments (one parser
definition, in `cli.define_commands`) and return records and listings, which show as HTML tables with
a text fallback; `%%modeldeck chat` prints its reply and usage. A `DeckError` propagates as itself (a cell may catch it), shown as its message and code
on one line and its hint on the next, without a traceback; the cell fails, so "Run all" stops there.
Only a malformed command line is IPython's `UsageError`. Arguments may name notebook variables: `$df`
(or plain `df`) for predict inputs or a model to register.
"""

from __future__ import annotations

import argparse
import functools
import shlex
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class, no_var_expand
from traitlets import Float, Int, Unicode, observe

from . import cli
from .errors import DeckError, InvalidParameter
from .resources import Listing


class _Parser(argparse.ArgumentParser):
    """argparse that reports to IPython instead of exiting the kernel."""

    def error(self, message: str) -> Any:
        raise UsageError(f"{self.prog}: {message}")

    def exit(self, status: int = 0, message: str | None = None) -> Any:
        if status:
            raise UsageError(message or f"{self.prog}: failed")
        raise _HelpShown


class _HelpShown(Exception):
    """`-h` printed the help: nothing more to do."""


def _parser() -> tuple[_Parser, dict[str, argparse.ArgumentParser]]:
    parser = _Parser(prog="%modeldeck", description="Work with model platforms from a notebook.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help, description=help)

    command("help", "list the commands, or show one command's arguments").add_argument("topic", nargs="?", metavar="COMMAND")
    command("panel", "show the interactive panel on this notebook's deck")
    command("use", "switch this notebook's deck to a workspace").add_argument("target", metavar="WORKSPACE")
    cli.define_commands(command)
    p = command("register", "register a checkpoint (path, URI or notebook variable) as a model version")
    p.add_argument("model")
    p.add_argument("source", help="a path, a URI or a variable ($clf): scikit-learn, ONNX, XGBoost")
    cli.version_options(p)
    p = command("chat", "%%%%modeldeck chat MODEL: the cell is the prompt, {name} inserts a variable")
    p.add_argument("model")
    cli.chat_options(p)
    p = command("profile", "list the profiles (never their keys), or connect this notebook with one")
    p.add_argument("name", nargs="?")
    return parser, sub.choices


PARSER, SUBCOMMANDS = _parser()
COMMANDS = tuple(SUBCOMMANDS)

# Which names complete the word at a position: (subcommand, position after %modeldeck) -> kind.
_COMPLETES = {
    ("use", 2): "workspaces", ("versions", 2): "models", ("approve", 2): "models", ("reject", 2): "models",
    ("authorize", 2): "models", ("authorize", 3): "workspaces", ("revoke", 2): "models",
    ("revoke", 3): "workspaces", ("predict", 2): "models", ("register", 2): "models", ("chat", 2): "models",
    ("profile", 2): "profiles", ("help", 2): "commands", ("members", 2): "workspaces",
}  # fmt: skip
_NOT_A_VARIABLE = object()


class _Variables:
    """The notebook's namespace for `str.format_map`, failing with a clear error on a missing name."""

    def __init__(self, namespace: Mapping[str, Any]) -> None:
        self._namespace = namespace

    def __getitem__(self, name: str) -> Any:
        if name not in self._namespace:
            raise InvalidParameter(
                f"The prompt names {{{name}}}, which is not defined in the notebook.",
                code="InvalidParameter.Prompt",
                hint=f"Define {name} in a cell first, or write {{{{ and }}}} for literal braces.",
            )
        return self._namespace[name]


def prompt(cell: str, namespace: Mapping[str, Any]) -> str:
    """The cell with each `{name}` replaced by that notebook variable (`{{` and `}}` are literal braces)."""
    try:
        return cell.strip().format_map(_Variables(namespace))
    except (ValueError, IndexError, AttributeError, KeyError) as exc:
        raise InvalidParameter(
            f"The prompt's braces do not name a variable: {exc}.",
            code="InvalidParameter.Prompt",
            hint="Write {name} to insert a variable, {{ and }} for literal braces.",
        ) from None


class _Names:
    """Names for tab completion, fetched on a worker thread and kept a short while.

    A Tab never waits longer than `wait()` seconds and never raises: a slow fetch answers nothing now
    and its names at the next Tab; a failed one answers nothing until it is tried again.
    """

    def __init__(self, fetch: Callable[[str], list[str]], wait: Callable[[], float], ttl: float = 30) -> None:
        self._fetch = fetch
        self._wait = wait
        self._ttl = ttl
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="modeldeck-complete")
        self._cache: dict[str, tuple[float, list[str]]] = {}
        self._pending: dict[str, Future[list[str]]] = {}

    def get(self, kind: str) -> list[str]:
        cached = self._cache.get(kind)
        if cached and time.monotonic() - cached[0] < self._ttl:
            return cached[1]
        future = self._pending.get(kind)
        if future is None:
            future = self._pending[kind] = self._pool.submit(self._fetch, kind)
        try:
            names = future.result(timeout=self._wait())
        except TimeoutError:
            return cached[1] if cached else []
        except Exception:
            names = []
        self._pending.pop(kind, None)
        self._cache[kind] = (time.monotonic(), names)
        return names

    def clear(self) -> None:
        self._cache.clear()
        self._pending.clear()

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def _option(trait: Any) -> Any:
    """A setting of `%config ModelDeck.<name>` (and of ipython_config.py)."""
    return trait.tag(config=True)


@magics_class
class ModelDeck(Magics):
    """The `%modeldeck` line magic and `%%modeldeck chat` cell magic; defaults via `%config ModelDeck.*`."""

    profile = _option(Unicode(None, allow_none=True, help="Profile to connect with (default: the default)."))
    workspace = _option(Unicode(None, allow_none=True, help="Workspace to start in (default: profile's)."))
    max_tokens = _option(Int(None, allow_none=True, help="The default --max-tokens of %%modeldeck chat."))
    completion_timeout = _option(Float(0.5, help="Seconds a Tab may wait for workspace or model names."))

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        super().__init__(shell, **kwargs)
        self._deck: Any = None
        self._lock = threading.Lock()  # completion may connect on its worker thread
        self._names = _Names(self._fetch_names, lambda: self.completion_timeout)

    @property
    def deck(self) -> Any:
        """This notebook's deck, connected on first use and reused by every magic."""
        with self._lock:
            if self._deck is None:
                from .deck import connect

                self._deck = connect(self.profile, workspace=self.workspace)
            return self._deck

    @observe("profile", "workspace")
    def _reconnect(self, change: Any) -> None:
        """The next magic connects anew. The old deck is left open: a panel or a variable may still use it."""
        with self._lock:
            self._deck = None
        self._names.clear()

    @no_var_expand
    @line_cell_magic
    def modeldeck(self, line: str, cell: str | None = None) -> Any:
        """Run `%modeldeck -h` for the subcommands."""
        try:
            try:
                args = PARSER.parse_args(shlex.split(line))
            except ValueError as exc:  # unbalanced quotes
                raise UsageError(f"%modeldeck: {exc}") from None
            if cell is None and args.command == "chat":
                raise UsageError("chat is a cell magic: %%modeldeck chat MODEL, the cell being the prompt")
            if cell is not None and args.command != "chat":
                raise UsageError(f"{args.command} is a line magic: %modeldeck {args.command} ...")
            if args.command in cli.NEEDS:
                self.deck.require(cli.NEEDS[args.command])  # refused before anything is sent
            if args.command in cli.DEPLOYMENT_ACTIONS:
                result = cli.DEPLOYMENT_ACTIONS[args.command](self.deck, args)
                if args.command == "export":
                    return result  # the files written
                return _shown(result, args.command) if isinstance(result, list) else result
            return getattr(self, f"_{args.command}")(args, *([cell] if cell is not None else []))
        except _HelpShown:
            return None
        except DeckError as exc:
            exc._render_traceback_ = functools.partial(_error_lines, exc)  # type: ignore[attr-defined]
            raise exc from None

    # ---- subcommands ------------------------------------------------------------------------------

    def _help(self, args: argparse.Namespace) -> None:
        if args.topic and args.topic not in SUBCOMMANDS:
            raise UsageError(f"%modeldeck help: no command {args.topic!r}; the commands: {', '.join(COMMANDS)}")
        print((SUBCOMMANDS[args.topic] if args.topic else PARSER).format_help(), end="")

    def _panel(self, args: argparse.Namespace) -> Any:
        from .panel import Panel

        return Panel(deck=self.deck)

    def _workspaces(self, args: argparse.Namespace) -> Any:
        result = cli.workspaces_action(self.deck, args)
        self._names.clear()
        if args.action != "list":
            return result
        current = self.deck.workspace.name if self.deck.workspace else None
        return _shown(result, f"workspaces (current: {current})")

    def _members(self, args: argparse.Namespace) -> Any:
        result = cli.members_action(self.deck, args)
        return _shown(result, f"members of {args.target}") if args.action == "list" else result

    def _subaccounts(self, args: argparse.Namespace) -> Any:
        """A new sub-account shows masked; its key is the record's `api_key` (`_.api_key`), there this once."""
        result = cli.subaccounts_action(self.deck, args)
        return _shown(result, "accounts") if args.action == "list" else result

    def _keys(self, args: argparse.Namespace) -> Any:
        """A new AccessKey shows masked; its secret is the record's `secret`, there this once."""
        result = cli.keys_action(self.deck, args)
        return _shown(result, "access keys") if args.action == "list" else result

    def _use(self, args: argparse.Namespace) -> Any:
        workspace = self.deck.use(args.target)
        self._names.clear()
        return workspace

    def _models(self, args: argparse.Namespace) -> Listing[Any]:
        listed, notes = cli.models_of(self.deck, args)
        return _shown(listed, "models", notes)

    def _versions(self, args: argparse.Namespace) -> Listing[Any]:
        return _shown(cli.versions_of(self.deck, args), f"versions of {args.model}")

    def _register(self, args: argparse.Namespace) -> Any:
        source = self._variable(args.source)
        # a path, or a kernel object that deck.register saves as a checkpoint
        target = args.source if source is _NOT_A_VARIABLE else source
        version = self.deck.register(args.model, target, **cli.version_fields(args), progress=not args.no_progress)
        self._names.clear()
        return version

    def _approve(self, args: argparse.Namespace) -> Any:
        return self.deck.approve(args.model, args.version)

    def _reject(self, args: argparse.Namespace) -> Any:
        return self.deck.reject(args.model, args.version)

    def _authorize(self, args: argparse.Namespace) -> Any:
        return self.deck.authorize(args.model, args.target, actions=args.action or ["inference"])

    def _revoke(self, args: argparse.Namespace) -> None:
        self.deck.revoke(args.model, args.target)
        print(f"workspace {args.target!r} may no longer use {args.model!r}")

    def _predict(self, args: argparse.Namespace) -> Any:
        inputs = self._variable(args.input)
        if inputs is _NOT_A_VARIABLE:
            inputs = cli.json_arg(args.input, "--input")
        return self.deck.predict(args.model, inputs, version=args.version, allow_unsafe=args.allow_unsafe)

    def _chat(self, args: argparse.Namespace, cell: str) -> None:
        """The reply printed as it comes, then its usage; nothing returned, so it is not shown twice (the
        `Completion` is kept as `_modeldeck_reply`, as IPython keeps `_` for a shown result)."""
        params = cli.chat_params(args)
        if self.max_tokens is not None:
            params.setdefault("max_tokens", self.max_tokens)
        text = prompt(cell, self.shell.user_ns)
        reply = cli.stream_chat(self.deck, args.model, text, args.version, params)
        print(usage_line(reply))
        self.shell.user_ns["_modeldeck_reply"] = reply

    def _tasks(self, args: argparse.Namespace) -> Listing[Any]:
        return _shown(cli.tasks_of(self.deck, args), "tasks")

    def _profile(self, args: argparse.Namespace) -> Any:
        if args.name:
            previous, self.profile = self.profile, args.name
            try:
                return self.deck
            except DeckError:
                self.profile = previous
                raise
        from .profiles import ProfileFile

        cli.list_profiles(ProfileFile.load())
        if self._deck is not None:
            print(f"this notebook uses profile {self._deck.profile!r}")
        return None

    def _doctor(self, args: argparse.Namespace) -> None:
        from .doctor import diagnose

        cli.print_checks(diagnose(self.profile))

    # ---- helpers ----------------------------------------------------------------------------------

    def _variable(self, token: str) -> Any:
        """The notebook variable `$name` (or `name`) refers to, else `_NOT_A_VARIABLE`."""
        namespace = self.shell.user_ns
        name = token[1:] if token.startswith("$") else token
        if name.isidentifier() and name in namespace:
            return namespace[name]
        if token.startswith("$"):
            raise InvalidParameter(
                f"There is no variable {name!r} in the notebook.",
                code="InvalidParameter.Variable",
                hint="Define it in a cell first, or pass JSON, a path or a URI.",
            )
        return _NOT_A_VARIABLE

    def complete(self, text: str) -> list[str]:
        """What Tab offers after `%modeldeck` (text up to the cursor): subcommands, then workspace, model
        or profile names, or after `$` the notebook's variables."""
        try:
            words = text.split()
            if text[-1:].isspace():
                words.append("")
            kind = "commands" if len(words) == 2 else _COMPLETES.get((words[1], len(words) - 1))
            if len(words) > 2 and words[-1].startswith("$"):
                hidden = self.shell.user_ns_hidden  # In, Out, exit, ...: IPython's, not the notebook's
                names = ["$" + n for n in self.shell.user_ns if n.isidentifier() and n[0] != "_" and n not in hidden]
            else:
                names = list(COMMANDS) if kind == "commands" else self._names.get(kind) if kind else []
            return [n for n in names if n.startswith(words[-1])]
        except Exception:  # a Tab must never show a traceback
            return []

    def _fetch_names(self, kind: str) -> list[str]:
        if kind == "profiles":
            from .profiles import ProfileFile

            return sorted(ProfileFile.load().profiles)
        if kind == "workspaces":
            return [w.name for w in self.deck.workspaces()]
        return [m.name for m in self.deck.models().first(1000)]


def _error_lines(exc: DeckError) -> list[str]:
    """What a notebook shows of a platform error: its message and code, then its hint."""
    return [f"{exc.message} [{exc.code}]", *([f"Hint: {exc.hint}"] if exc.hint else [])]


def usage_line(reply: Any) -> str:
    """`(stopped: length · 12 prompt + 6 completion tokens)` under a streamed reply."""
    usage = reply.usage or {}
    tokens = f"{usage.get('prompt_tokens', '?')} prompt + {usage.get('completion_tokens', '?')} completion tokens"
    return f"(stopped: {reply.finish_reason or 'unknown'} · {tokens})" if usage else f"(stopped: {reply.finish_reason or 'unknown'})"


def _shown(items: list[Any], title: str, notes: list[Any] | None = None) -> Listing[Any]:
    """Records already fetched (and the listing's notes), shown as a listing's table."""
    return Listing(lambda cursor, limit: (items, None), title, notes)


def _matcher(magics: ModelDeck) -> Any:
    """An IPython completion matcher (API v2) whose names, when it has any, replace every other matcher's:
    Python keywords and Jedi's guesses never come before a model's name."""
    from IPython.core.completer import SimpleCompletion, context_matcher

    @context_matcher(identifier="modeldeck")
    def modeldeck(context: Any) -> dict[str, Any]:
        before = context.text_until_cursor
        at = before.find("%modeldeck")
        names = magics.complete(before[at:].lstrip("%")) if at >= 0 and context.cursor_line == 0 else []
        word = "" if not before or before[-1].isspace() else before.split()[-1]
        return {"completions": [SimpleCompletion(text=n, type="modeldeck") for n in names],
                "suppress": bool(names), "matched_fragment": word, "ordered": True}  # fmt: skip

    return modeldeck


def load(ipython: Any) -> None:
    magics = ModelDeck(ipython)
    ipython.register_magics(magics)
    ipython.Completer.custom_matchers.append(_matcher(magics))


def unload(ipython: Any) -> None:
    magics = ipython.magics_manager.registry.pop(ModelDeck.__name__, None)
    for kind in ("line", "cell"):
        ipython.magics_manager.magics[kind].pop("modeldeck", None)
    ipython.Completer.custom_matchers[:] = [m for m in ipython.Completer.custom_matchers
                                            if getattr(m, "matcher_identifier", None) != "modeldeck"]  # fmt: skip
    if magics is not None:
        if magics in ipython.configurables:
            ipython.configurables.remove(magics)
        magics._names.close()
