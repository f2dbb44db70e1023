"""The `modeldeck` command line: the same operations as the Python API, for terminals and scripts.

Listings print a table, or JSON with `--json`. Errors print one line ending with the hint and exit 1.
The commands' arguments and the small pieces of logic behind them are shared with the `%modeldeck`
magic (modeldeck.magics), so a notebook and a terminal read the same words the same way.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ._version import __version__
from .errors import DeckError, InvalidParameter
from .vocabulary import ROLE_NAMES


def _network(value: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an address range: {value!r} (use CIDR, like 10.0.0.0/8)") from None


# ---- output --------------------------------------------------------------------------------------


def print_table(rows: list[dict[str, Any]], columns: Sequence[str], as_json: bool, title: str = "", keys: int = 1) -> None:
    """A table whose first `keys` columns (what a row is: a name, a status) are never cut or wrapped, on a
    terminal of any width (80 columns when not a terminal); the others give way, ending in "…"."""
    if as_json:
        print(json.dumps(rows, indent=2, default=str))
        return
    if not rows:
        print(f"no {title}" if title else "nothing")
        return
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False)
    cells = [[_text(row.get(c)) for c in columns] for row in rows]
    table = Table(title=title or None, box=None, header_style="bold", title_justify="left", pad_edge=False)
    for column, width in zip(columns, _widths(columns, cells, keys, console.width), strict=True):
        table.add_column(column, width=width, no_wrap=True, overflow="ellipsis")
    for line in cells:
        table.add_row(*line)
    Console(highlight=False).print(table)


def _widths(columns: Sequence[str], cells: list[list[str]], keys: int, total: int) -> list[int]:
    """Each column's width: the key columns whole, the rest sharing what is left, the narrow ones first
    (a column of 2 needs no more than 2, leaving the rest to a long description)."""
    natural = [max(len(c), *(len(line[at]) for line in cells)) for at, c in enumerate(columns)]
    widths = natural[:keys]
    left = total - sum(widths) - 2 * (len(columns) - 1)  # two spaces between columns
    rest = sorted(range(keys, len(columns)), key=lambda at: natural[at])
    shares: dict[int, int] = {}
    for done, at in enumerate(rest):
        shares[at] = max(1, min(natural[at], left // (len(rest) - done)))
        left -= shares[at]
    return widths + [shares[at] for at in range(keys, len(columns))]


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value))
    return str(value)


# What each command needs of the profile's platform (modeldeck.providers.base.CAPABILITIES), shared with the
# magics: a command the platform cannot do is refused with the hint before anything is sent.
NEEDS = {
    "workspaces": "workspaces", "use": "switch", "models": "models", "versions": "versions", "approve": "approve",
    "reject": "approve", "authorize": "grants", "revoke": "grants", "predict": "predict", "tasks": "tasks",
    "register": "register", "chat": "chat", "keys": "keys", "endpoints": "endpoints",
    "deploy": "deployments", "deployments": "deployments", "upgrade": "deployments", "rollback": "deployments",
    "stop": "deployments", "export": "deployments", "members": "members", "subaccounts": "accounts",
}  # fmt: skip


def _deck(args: argparse.Namespace) -> Any:
    """The deck of the command's profile, once the profile's kind is known to be able to run the command."""
    from .deck import connect
    from .profiles import choose
    from .providers import for_kind, require

    if args.command in NEEDS:  # from the profile alone: no server is started or contacted to refuse
        require(for_kind(choose(args.profile).kind), NEEDS[args.command])
    return connect(args.profile, workspace=args.workspace)


# ---- commands ------------------------------------------------------------------------------------


def models_of(deck: Any, args: argparse.Namespace) -> tuple[list[Any], list[Any]]:
    """The first `--limit` models, and the listing's notes (a part it could not show, and what to do)."""
    listing = deck.models(args.query, task=args.task, action=args.action)
    return listing.first(args.limit), listing.notes


def versions_of(deck: Any, args: argparse.Namespace) -> list[Any]:
    return deck.versions(args.model, approval_status=args.status).first(args.limit)


def tasks_of(deck: Any, args: argparse.Namespace) -> list[Any]:
    """The workspace's tasks, or the one named (canceled first with --cancel)."""
    if args.task_id:
        return [(deck.cancel_task(args.task_id) if args.cancel else deck.task(args.task_id)).record]
    return deck.tasks(status=args.status).first(args.limit)


def workspaces_action(deck: Any, args: argparse.Namespace) -> Any:
    """`workspaces [create|delete NAME]`: the listing, the new workspace, or None once deleted."""
    if args.action == "list":
        return deck.workspaces()
    if not args.name:
        raise InvalidParameter(f"`workspaces {args.action}` needs a workspace name.",
                               hint=f"modeldeck workspaces {args.action} NAME")  # fmt: skip
    if args.action == "create":
        return deck.create_workspace(args.name, args.description or "")
    deck.delete_workspace(args.name)
    return None


def members_action(deck: Any, args: argparse.Namespace) -> Any:
    """`members WORKSPACE [add|remove ACCOUNT]`: the members, the member as now, or None once removed."""
    if args.action == "list":
        return deck.members(args.target).list()
    if not args.account:
        raise InvalidParameter(f"`members {args.action}` needs an account name.",
                               hint=f"modeldeck members {args.target} {args.action} ACCOUNT")  # fmt: skip
    if args.action == "add":
        return deck.add_member(args.target, args.account, args.role)
    deck.remove_member(args.target, args.account)
    return None


def subaccounts_action(deck: Any, args: argparse.Namespace) -> Any:
    """`subaccounts [create NAME]`: the accounts, or the new sub-account with its API key (there once)."""
    if args.action == "list":
        return deck.accounts().list()
    if not args.name:
        raise InvalidParameter("`subaccounts create` needs a name.", hint="modeldeck subaccounts create NAME")
    return deck.create_subaccount(args.name)


def cmd_workspaces(args: argparse.Namespace) -> None:
    with _deck(args) as deck:
        result = workspaces_action(deck, args)
        current = deck.workspace.id if deck.workspace else None
    if args.action == "list":
        rows = [{**w.raw, "current": "*" if w.id == current else ""} for w in result]
        print_table(rows, ["current", "name", "role", "description", "id"], args.json, "workspaces", keys=3)
    elif args.json:
        print(json.dumps(result.raw if result else None, indent=2, default=str))
    else:
        print(f"workspace {result.name!r} created" if result else f"workspace {args.name!r} deleted")


def cmd_members(args: argparse.Namespace) -> None:
    with _deck(args) as deck:
        result = members_action(deck, args)
    if args.action == "list":
        print_table([a.raw for a in result], ["name", "role", "kind"], args.json, f"members of {args.target}", keys=2)
    elif args.json:
        print(json.dumps(result.raw if result else None, indent=2, default=str))
    elif result:
        print(f"{result.name!r} is now {result.role} in workspace {args.target!r}")
    else:
        print(f"{args.account!r} is no longer a member of workspace {args.target!r}")


def cmd_subaccounts(args: argparse.Namespace) -> None:
    with _deck(args) as deck:
        result = subaccounts_action(deck, args)
    if args.action == "list":
        print_table([a.raw for a in result], ["name", "kind", "created_at"], args.json, "accounts")
        return
    print_once(args, result, "api_key", f"sub-account {result.name!r} created; it enters only the workspaces it "
               "is made a member of", "the key is shown this once: give it to its holder (modeldeck profile add NAME "
               "--api-key -).")  # fmt: skip


def print_once(args: argparse.Namespace, record: Any, secret: str, heading: str, advice: str) -> None:
    """A new credential's record with its secret, which the platform shows this once."""
    if args.json:
        print(json.dumps({**record.raw, secret: getattr(record, secret)}, indent=2, default=str))
        return
    print(heading)
    print(f"  {secret.replace('_', ' ')}: {getattr(record, secret)}")
    print(f"  {advice}")


def cmd_use(args: argparse.Namespace) -> None:
    """Make a workspace the profile's default for later commands and connections."""
    from .profiles import save_workspace

    with _deck(args) as deck:
        ws = deck.use(args.target)
    name = save_workspace(args.profile, ws.name)
    print(f"profile {name!r} now uses workspace {ws.name!r} (role: {ws.role})")


def cmd_models(args: argparse.Namespace) -> None:
    with _deck(args) as deck:
        listed, notes = models_of(deck, args)
    rows = [{**m.raw, "latest": m.latest} for m in listed]
    print_table(rows, ["model_name", "latest", "owner_workspace", "source", "task", "actions"], args.json, "models", keys=2)
    for note in notes:  # on stderr, so --json stays one document
        print(f"note: {note}", file=sys.stderr)


def cmd_versions(args: argparse.Namespace) -> None:
    with _deck(args) as deck:
        rows = [v.raw for v in versions_of(deck, args)]
    trained = ["training_state"] if any(r.get("training_state") for r in rows) else []  # versions a training job made
    print_table(rows, ["version_name", "approval_status", "format_type", *trained, "created_at", "metrics", "labels"],
                args.json, "versions", keys=2)  # fmt: skip


def json_arg(value: str | None, what: str) -> Any:
    if value is None:
        return None
    text = Path(value[1:]).read_text() if value.startswith("@") else value
    try:
        return json.loads(text)
    except ValueError:
        raise InvalidParameter(
            f"{what} is not valid JSON.", hint=f"Pass {what} as JSON text or as @file.json."
        ) from None


def _pairs(pairs: list[str], option: str, shape: str) -> list[tuple[str, str]]:
    out = []
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise InvalidParameter(f"{option} {pair!r} is not {shape}.", hint=f"Pass it like {option} {shape}.")
        out.append((key, value))
    return out


def _labels(pairs: list[str]) -> dict[str, str] | None:
    return dict(_pairs(pairs, "--label", "KEY=VALUE")) if pairs else None


def version_fields(args: argparse.Namespace) -> dict[str, Any]:
    """`Deck.register`'s keyword arguments from the options `version_options` defines."""
    return {
        "version": args.version, "format": args.format, "framework": args.framework,
        "metrics": json_arg(args.metrics, "--metrics"), "labels": _labels(args.label),
        "source_type": args.source_type, "source_id": args.source_id, "description": args.description,
    }  # fmt: skip


def cmd_register(args: argparse.Namespace) -> None:
    if args.old_model is not None or args.path is None:  # `register PATH --model NAME`, the order of before
        model, path = (args.old_model, args.model) if args.old_model is not None else ("MODEL", args.model)
        raise InvalidParameter(
            "`register` takes the model, then the checkpoint (as deck.register and %modeldeck register do).",
            hint=f"modeldeck register {model} {path}",
        )
    with _deck(args) as deck:
        progress = not args.no_progress and not args.json
        version = deck.register(args.model, args.path, **version_fields(args), progress=progress)
    if args.json:
        print(json.dumps(version.raw, indent=2, default=str))
    else:
        print(f"registered {version.model_name} {version.version_name} ({version.approval_status}) {version.uri}")


def _decision(approve: bool) -> Callable[[argparse.Namespace], None]:
    def run(args: argparse.Namespace) -> None:
        with _deck(args) as deck:
            v = (deck.approve if approve else deck.reject)(args.model, args.version)
        print(f"{v.model_name} {v.version_name}: {v.approval_status}")

    return run


def cmd_authorize(args: argparse.Namespace) -> None:
    with _deck(args) as deck:
        grant = deck.authorize(args.model, args.target, actions=args.action or ["inference"])
    print(f"workspace {grant.workspace!r} may now use {args.model!r} for: {', '.join(grant.actions)}")


def cmd_revoke(args: argparse.Namespace) -> None:
    with _deck(args) as deck:
        deck.revoke(args.model, args.target)
    print(f"workspace {args.target!r} may no longer use {args.model!r}")


def cmd_predict(args: argparse.Namespace) -> None:
    inputs = json_arg(args.input, "--input")
    with _deck(args) as deck:
        result = deck.predict(args.model, inputs, version=args.version, allow_unsafe=args.allow_unsafe)
    if args.json:
        print(json.dumps(result.raw, indent=2))
        return
    print(f"{result.model} {result.version}")
    for name, data in result.outputs.items():
        print(f"  {name} {result.dtypes[name]} {result.shapes[name]}: {json.dumps(data)}")


def chat_params(args: argparse.Namespace) -> dict[str, Any]:
    return {k: v for k, v in {"max_tokens": args.max_tokens, "temperature": args.temperature,
                              "seed": args.seed}.items() if v is not None}  # fmt: skip


def stream_chat(deck: Any, model: str, prompt: str, version: str | None, params: dict[str, Any]) -> Any:
    """Print the reply as it is generated; return it whole, as a `Completion`."""
    from .resources import Completion

    text, finish, usage = [], None, None
    with deck.chat(model, prompt, stream=True, version=version, stream_options={"include_usage": True},
                   **params) as chunks:  # fmt: skip
        for chunk in chunks:
            print(chunk.text, end="", flush=True)
            text.append(chunk.text)
            finish, usage = chunk.finish_reason or finish, chunk.usage or usage
    print()
    return Completion.from_json({
        "model": model, "choices": [{"message": {"content": "".join(text)}, "finish_reason": finish}], "usage": usage,
    })  # fmt: skip


def cmd_chat(args: argparse.Namespace) -> None:
    """Stream the reply to the terminal as it is generated."""
    with _deck(args) as deck:
        if args.json:
            reply = deck.chat(args.model, args.prompt, version=args.version, **chat_params(args))
            print(json.dumps(reply.raw, indent=2))
            return
        stream_chat(deck, args.model, args.prompt, args.version, chat_params(args))


def cmd_tasks(args: argparse.Namespace) -> None:
    """List the workspace's tasks, or show (and with --cancel, cancel) one."""
    with _deck(args) as deck:
        rows = [t.raw for t in tasks_of(deck, args)]
    print_table(rows, ["id", "kind", "model", "status", "version", "progress", "created_at"], args.json, "tasks", keys=4)


def keys_action(deck: Any, args: argparse.Namespace) -> Any:
    """`keys create|list|revoke`: the new AccessKey (its secret there once), the listing, or None once revoked."""
    if args.action == "create":
        return deck.create_access_key(args.description or "")
    if args.action == "list":
        return deck.access_keys(account=args.account).first(args.limit)
    if not args.key_id:
        raise InvalidParameter("`keys revoke` needs an AccessKey id.", hint="modeldeck keys revoke AK...")
    deck.revoke_access_key(args.key_id)
    return None


def cmd_keys(args: argparse.Namespace) -> None:
    """AccessKey pairs: create one (its secret printed this once), list them, revoke one."""
    with _deck(args) as deck:
        result = keys_action(deck, args)
    if args.action == "create":
        print_once(args, result, "secret", f"AccessKey {result.id} for account {result.account!r}",
                   "the secret is shown this once: store it now (it signs requests, like a password).")  # fmt: skip
        return
    if args.action == "revoke":
        print(f"AccessKey {args.key_id} revoked")
        return
    rows = [k.raw for k in result]
    print_table(rows, ["id", "account", "status", "description", "created_at", "last_used_at"], args.json,
                "access keys", keys=3)  # fmt: skip


ENDPOINT_LINES = {"native": "MODELDECK_URL={}", "openai": "OPENAI_BASE_URL={}",
                  "dashscope": "dashscope.base_http_api_url = '{}'",
                  "oss": "oss2.Bucket(oss2.Auth(key_id, key_secret), '{}', '<workspace id>')",
                  "obs": "ObsClient(access_key_id=key_id, secret_access_key=key_secret, server='{}')"}  # fmt: skip


def endpoint_lines(endpoints: dict[str, str]) -> list[str]:
    """Each protocol's base URL as a line to paste where its SDK reads it."""
    return [ENDPOINT_LINES.get(name, name + ": {}").format(url) for name, url in endpoints.items()]


def cmd_endpoints(args: argparse.Namespace) -> None:
    with _deck(args) as deck:
        endpoints = deck.endpoints()
    print(json.dumps(endpoints, indent=2) if args.json else "\n".join(endpoint_lines(endpoints)))


def _public_url(value: str) -> str:
    if not value.startswith(("http://", "https://")) or "?" in value or "#" in value:
        raise argparse.ArgumentTypeError(f"not a base URL: {value!r} (use http(s)://host[:port][/path])")
    return value.rstrip("/")


def cmd_profile(args: argparse.Namespace) -> None:
    from .profiles import OPTIONS, Profile, ProfileFile, keyring_set
    from .providers import KINDS

    file = ProfileFile.load()
    if args.action == "list":
        list_profiles(file, args.json)
        return
    if not args.name:
        raise InvalidParameter(f"`profile {args.action}` needs a profile name.", hint=f"modeldeck profile {args.action} NAME")
    if args.action == "add":
        kind = args.kind or ("server" if args.url else "local")
        if kind not in KINDS:
            raise InvalidParameter(f"Unknown profile kind {kind!r}.", hint=f"Use one of {', '.join(KINDS)}.")
        options = dict(_pairs(args.option, "--option", "NAME=VALUE"))
        if unknown := sorted(set(options) - set(OPTIONS)):
            raise InvalidParameter(f"Profiles have no option {', '.join(unknown)}.", hint=f"Use: {', '.join(OPTIONS)}.")
        profile = Profile(args.name, kind, url=args.url, home=args.home, workspace=args.workspace_name,
                          region=args.region, endpoints=dict(_pairs(args.endpoint, "--endpoint", "SERVICE=URL")),
                          **options)  # fmt: skip
        secrets = {"api_key": args.api_key, "access_key_id": args.access_key_id,
                   "access_key_secret": args.access_key_secret}  # fmt: skip
        for secret, value in secrets.items():
            if value:  # "-": one line of standard input each, in this order
                value = sys.stdin.readline().strip() if value == "-" else value
                if not keyring_set(args.name, value, secret):
                    setattr(profile, secret, value)
        file.profiles[args.name] = profile
        if args.default or not file.default:
            file.default = args.name
        file.save()
        print(f"profile {args.name!r} saved to {file.path}" + (" (default)" if file.default == args.name else ""))
    elif args.action == "use":
        file.get(args.name)
        file.default = args.name
        file.save()
        print(f"default profile: {args.name!r}")
    elif args.action == "remove":
        if file.profiles.pop(args.name, None) is None:
            file.get(args.name)
        if file.default == args.name:
            file.default = None
        file.save()
        print(f"profile {args.name!r} removed")


def list_profiles(file: Any, as_json: bool = False) -> None:
    """The profiles with where each key is kept, never the key."""
    rows = [{**p.describe(), "default": "*" if file.default == name else ""} for name, p in sorted(file.profiles.items())]
    print_table(rows, ["default", "name", "kind", "workspace", "key", "url", "home", "region"], as_json, "profiles",
                keys=3)  # fmt: skip


def print_checks(checks: list[Any]) -> None:
    for c in checks:
        mark = {"ok": "✓", "warn": "!", "fail": "✗"}[c.status]
        print(f"{mark} {c.name}: {c.detail}" + (f"\n    fix: {c.fix}" if c.fix else ""))


def cmd_doctor(args: argparse.Namespace) -> int:
    from .doctor import diagnose

    checks = diagnose(args.profile)
    if args.json:
        print(json.dumps([c.__dict__ for c in checks], indent=2))
    else:
        print_checks(checks)
    return 1 if any(c.status == "fail" for c in checks) else 0


def serve(args: argparse.Namespace) -> int:
    from .platform import Platform, PlatformServer
    from ._http import is_loopback

    settings = store_settings(
        args, allowed_networks=tuple(args.allow_network), allow_unsafe_formats=frozenset(args.allow_unsafe_formats),
        gc_interval=args.gc_interval, public_url=args.public_url,
    )  # fmt: skip
    if args.embedded:  # the user's own machine: they may opt into their own pickles and import by path
        settings.allow_unsafe_formats |= {"PickleModel"}
    settings.local_imports = args.embedded or args.allow_local_imports
    if args.log_format == "json":
        from .platform.metrics import log_as_json

        log_as_json()
    platform = Platform(settings)
    server = PlatformServer(
        platform, args.host, args.port, idle_timeout=args.idle_timeout, runtime_idle=args.runtime_idle,
        home=settings.home if args.embedded else None,
    )  # fmt: skip
    print(f"modeldeck {__version__} platform serving on {server.url}", flush=True)
    print(f"  home: {settings.home}", flush=True)
    from .platform.api.facades import endpoints

    for line in endpoint_lines(endpoints(settings.public_url or server.url)):
        print(f"  {line}", flush=True)
    if platform.initial_key is not None:
        print(f"  a new main account was created; its admin key is in {settings.admin_key_file} (mode 0600).")
        print(f"  read it once with: cat {settings.admin_key_file}", flush=True)
    if not is_loopback(str(server.host)):
        print(f"  warning: listening on {server.host}, reachable from other machines.", flush=True)
    record = settings.home / "run" / "platform.json" if args.embedded else None
    if record is not None:
        write_runtime_file(record, {"url": server.url, "pid": os.getpid(), "version": __version__})
    # uvicorn re-raises SIGTERM once it has shut down; exit through Python so the cleanup below runs.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        server.run()
    finally:
        if record is not None and _recorded_pid(record) == os.getpid():
            record.unlink(missing_ok=True)
        platform.close()
    return 0


def write_runtime_file(path: Path, info: dict) -> None:
    """Atomically, so a client never reads half a record."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(json.dumps(info))
    os.replace(tmp, path)


def _recorded_pid(path: Path) -> int | None:
    try:
        return int(json.loads(path.read_text())["pid"])
    except (FileNotFoundError, ValueError, KeyError):
        return None


# ---- parser --------------------------------------------------------------------------------------


def define_commands(command: Callable[[str, str], argparse.ArgumentParser]) -> None:
    """The commands the terminal and the `%modeldeck` magic share; `command(name, help)` adds a subparser."""
    p = command("workspaces", "list the workspaces you may enter, or create or delete one")
    p.add_argument("action", nargs="?", choices=["list", "create", "delete"], default="list")
    p.add_argument("name", nargs="?", metavar="NAME", help="the workspace to create or delete")
    p.add_argument("--description", help="what the new workspace is for")
    p = command("members", "list a workspace's members, or add one with a role (or change it), or remove one")
    p.add_argument("target", metavar="WORKSPACE")
    p.add_argument("action", nargs="?", choices=["list", "add", "remove"], default="list")
    p.add_argument("account", nargs="?", metavar="ACCOUNT", help="the sub-account to add or remove")
    p.add_argument("--role", choices=ROLE_NAMES, default="developer", help="add: the member's role (default developer)")
    p = command("subaccounts", "list the accounts, or create a sub-account (its API key shown once)")
    p.add_argument("action", nargs="?", choices=["list", "create"], default="list")
    p.add_argument("name", nargs="?", metavar="NAME", help="the sub-account to create")
    p = command("models", "list the models the workspace may see")
    p.add_argument("query", nargs="?", help="only models whose name contains this")
    p.add_argument("--task")
    p.add_argument("--action", help="only models this workspace may use for ACTION (e.g. inference)")
    p.add_argument("--limit", type=int, default=200)
    p = command("versions", "list a model's versions, newest first")
    p.add_argument("model")
    p.add_argument("--status", help="Pending, Approved or Rejected")
    p.add_argument("--limit", type=int, default=100)
    for name in ("approve", "reject"):
        p = command(name, f"{name} a Pending version (final)")
        p.add_argument("model")
        p.add_argument("version")
    p = command("authorize", "authorize another workspace to use a model")
    p.add_argument("model")
    p.add_argument("target", metavar="WORKSPACE")
    p.add_argument("--action", action="append", help="inference (default), fine_tune or deploy; repeatable")
    p = command("revoke", "take a workspace's authorization for a model away")
    p.add_argument("model")
    p.add_argument("target", metavar="WORKSPACE")
    p = command("predict", "run a registered checkpoint")
    p.add_argument("model")
    p.add_argument("--input", "-i", required=True, help="JSON inputs, or @file.json")
    p.add_argument("--version")
    p.add_argument("--allow-unsafe", action="append", default=[], metavar="FORMAT")
    p = command("tasks", "list the workspace's tasks, or show or cancel one")
    p.add_argument("task_id", nargs="?", metavar="TASK")
    p.add_argument("--status", help="PENDING, RUNNING, SUCCEEDED, FAILED or CANCELED")
    p.add_argument("--cancel", action="store_true", help="cancel TASK")
    p.add_argument("--limit", type=int, default=50)
    p = command("keys", "create, list or revoke AccessKey pairs (for signed requests)")
    p.add_argument("action", choices=["create", "list", "revoke"])
    p.add_argument("key_id", nargs="?", metavar="ID", help="the AccessKey to revoke")
    p.add_argument("--description", help="what the new AccessKey is for")
    p.add_argument("--account", help="list this account's AccessKeys (the main account only)")
    p.add_argument("--limit", type=int, default=100)
    command("doctor", "check the installation, credentials and platform, and say what to fix")
    deployment_commands(command)


def deployment_commands(command: Callable[[str, str], argparse.ArgumentParser]) -> None:
    """`deploy`, `deployments`, `upgrade`, `rollback`, `stop`: each runs `DEPLOYMENT_ACTIONS[name]`."""
    p = command("deploy", "serve a model version as a named deployment with replicas")
    p.add_argument("model")
    p.add_argument("--version")
    p.add_argument("--name", required=True, help="the deployment's name, unique in the workspace")
    p.add_argument("--replicas", type=int, default=1)
    p.add_argument("--engine", default="local", help="local (processes of the platform host) or ray (Ray Serve)")
    p.add_argument("--upgrade", default="rolling", help="how later upgrades run: full or rolling")
    p.add_argument("--batch-size", type=int, default=1, help="rolling: replicas replaced at a time")
    p.add_argument("--max-unavailable", type=int, default=0, help="rolling: replicas that may stop before their replacement serves")
    p = command("deployments", "list the workspace's deployments, or show one with its events")
    p.add_argument("name", nargs="?")
    p = command("upgrade", "serve another version in a deployment (rolled back by itself if it fails)")
    p.add_argument("name")
    p.add_argument("version")
    p.add_argument("--mode", help="full or rolling (default: the deployment's mode)")
    command("rollback", "serve the version the last upgrade replaced").add_argument("name")
    command("stop", "stop every replica of a deployment").add_argument("name")
    p = command("export", "write a deployment out for KServe, Triton, vLLM or Ray Serve (with the version's files)")
    p.add_argument("name")
    p.add_argument("--format", default="kserve", help="kserve, triton, or for a language model vllm or ray")
    p.add_argument("--out", default=".", help="the folder to write into")
    p.add_argument("--storage-uri", help="kserve: where the model's files will be (the manifest's storageUri)")
    p.add_argument("--model-path", help="vllm, ray: where the model's files will be")


def _deploy(deck: Any, args: argparse.Namespace) -> Any:
    upgrade = {"mode": args.upgrade, "batch_size": args.batch_size, "max_unavailable": args.max_unavailable}
    return deck.deploy(args.model, args.version, name=args.name, replicas=args.replicas, engine=args.engine,
                       upgrade=upgrade)  # fmt: skip


def _deployments(deck: Any, args: argparse.Namespace) -> Any:
    """The listing, or one deployment followed by its events (newest first)."""
    if args.name:
        return [deck.deployment(args.name), *deck.deployment_events(args.name).first(20)]
    return deck.deployments().list()


# Each returns a record or a list of records; the terminal prints them, the magic shows them.
DEPLOYMENT_ACTIONS: dict[str, Callable[[Any, argparse.Namespace], Any]] = {
    "deploy": _deploy, "deployments": _deployments,
    "upgrade": lambda deck, args: deck.upgrade(args.name, args.version, mode=args.mode),
    "rollback": lambda deck, args: deck.rollback(args.name), "stop": lambda deck, args: deck.stop(args.name),
    "export": lambda deck, args: deck.export_deployment(args.name, args.format, args.out, storage_uri=args.storage_uri,
                                                        model_path=args.model_path),
}  # fmt: skip


def cmd_deployment(args: argparse.Namespace) -> None:
    with _deck(args) as deck:
        result = DEPLOYMENT_ACTIONS[args.command](deck, args)
    records = result if isinstance(result, list) else [result]
    if records and all(isinstance(r, Path) for r in records):  # an export: the files it wrote
        print(json.dumps([str(r) for r in records]) if args.json else "\n".join(map(str, records)))
        return
    if args.json:
        print(json.dumps([r.raw for r in records], indent=2, default=str))
        return
    for record in records:
        print("  ".join(f"{k}={_text(v)}" for k, v in record._row().items()))


def version_options(p: argparse.ArgumentParser) -> None:
    """The new version's fields, for `register` (read back by `version_fields`)."""
    p.add_argument("--version", "-v", dest="version", help="like 1.2.0 or 1.2.0_beta (default: bump the minor)")
    p.add_argument("--format", help="format_type, e.g. ONNX, SkopsModel, XGBoost")
    p.add_argument("--framework", help="framework_type, e.g. Pytorch, ScikitLearn")
    p.add_argument("--metrics", help="JSON object or @file.json")
    p.add_argument("--label", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--source-type")
    p.add_argument("--source-id")
    p.add_argument("--description")
    p.add_argument("--no-progress", action="store_true")


def chat_options(p: argparse.ArgumentParser) -> None:
    """Chat's parameters (read back by `chat_params`)."""
    p.add_argument("--version")
    p.add_argument("--max-tokens", type=int)
    p.add_argument("--temperature", type=float)
    p.add_argument("--seed", type=int)


_SHARED = {
    "workspaces": cmd_workspaces, "models": cmd_models, "versions": cmd_versions, "approve": _decision(True),
    "reject": _decision(False), "authorize": cmd_authorize, "revoke": cmd_revoke, "predict": cmd_predict,
    "tasks": cmd_tasks, "doctor": cmd_doctor, "members": cmd_members, "subaccounts": cmd_subaccounts,
    "keys": cmd_keys, **{name: cmd_deployment for name in DEPLOYMENT_ACTIONS},
}  # fmt: skip
_WITH_JSON = {"workspaces", "models", "versions", "predict", "tasks", "doctor", "members", "subaccounts", "keys",
              *DEPLOYMENT_ACTIONS}  # fmt: skip


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="modeldeck", description="Work with model platforms from the terminal.")
    parser.add_argument("--version", action="version", version=f"modeldeck {__version__}")
    parser.add_argument("--profile", "-p", help="profile to use (default: MODELDECK_PROFILE or the file's default)")
    parser.add_argument("--workspace", "-w", help="workspace for this command (name or id)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, func: Callable[..., Any], help: str, listing: bool = False) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help)
        p.set_defaults(func=func)
        if listing:
            p.add_argument("--json", action="store_true", help="print JSON instead of a table")
        return p

    define_commands(lambda name, help: command(name, _SHARED[name], help, listing=name in _WITH_JSON))
    command("use", cmd_use, "make a workspace the profile's default").add_argument("target", metavar="WORKSPACE")
    p = command("register", cmd_register, "register a checkpoint (file, folder or URI) as a model version", True)
    p.add_argument("model", metavar="MODEL")
    p.add_argument("path", metavar="PATH", nargs="?", help="local file or folder, or a URI such as oss://bucket/key")
    p.add_argument("--model", "-m", dest="old_model", help=argparse.SUPPRESS)  # the old order, refused with the new
    version_options(p)
    p = command("chat", cmd_chat, "chat with a language model, streaming the reply", listing=True)
    p.add_argument("model")
    p.add_argument("prompt")
    chat_options(p)
    command("endpoints", cmd_endpoints, "each protocol's base URL, as lines to paste", listing=True)
    p = command("profile", cmd_profile, "list, add, select or remove profiles", listing=True)
    p.add_argument("action", choices=["list", "add", "use", "remove"])
    p.add_argument("name", nargs="?")
    p.add_argument("--url", help="a team server's URL, or an OpenAI-compatible base URL ending in /v1")
    p.add_argument("--kind", help="local, server or openai (default: server with --url, else local)")
    p.add_argument("--home", help="the embedded platform's home (local profile)")
    p.add_argument("--workspace-name", "--ws", dest="workspace_name", help="the profile's default workspace")
    p.add_argument("--api-key", help="the key, or - to read it from standard input (stored in the keyring if any)")
    p.add_argument("--access-key-id", help="an AccessKey id (or -), for platforms that sign requests")
    p.add_argument("--access-key-secret", help="its secret, or - to read it from standard input")
    p.add_argument("--region", help="the platform's region, where it has regions")
    p.add_argument("--endpoint", action="append", default=[], metavar="SERVICE=URL",
                   help="a service's base URL instead of the region's default (a gateway, a local facade); repeatable")
    p.add_argument("--option", action="append", default=[], metavar="NAME=VALUE",
                   help="a provider setting: pai_workspace (PAI's workspace id), oss_bucket (where checkpoints are "
                   "uploaded for PAI); repeatable")
    p.add_argument("--default", action="store_true", help="make it the default profile")

    serve_p = command("serve", serve, "run the platform as a server (a team server with --db and --blobs)")
    store_options(serve_p)
    serve_p.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback only)")
    serve_p.add_argument("--port", type=int, default=8765, help="port (0 picks a free one; default 8765)")
    serve_p.add_argument("--gc-interval", type=float, default=3600.0, help="seconds between garbage collections (0: never)")
    serve_p.add_argument("--log-format", choices=["json", "none"], default="json",
                         help="one JSON line per request on stderr (default), or none")  # fmt: skip
    serve_p.add_argument(
        "--allow-network", action="append", type=_network, default=[], metavar="CIDR",
        help="let model URIs point into this private address range (repeatable)",
    )  # fmt: skip
    serve_p.add_argument(
        "--allow-unsafe-formats", action="append", default=[], metavar="FORMAT",
        help="let callers opt into loading this code-running format, e.g. PickleModel (repeatable)",
    )  # fmt: skip
    serve_p.add_argument(
        "--allow-local-imports", action="store_true",
        help="let the main account's key import files of this machine by path (only where that key's holder "
        "may read this server user's files; on by default for --embedded)",
    )  # fmt: skip
    serve_p.add_argument(
        "--public-url", type=_public_url,
        help="the URL clients reach this server at (behind a proxy); GET /api/v1/endpoints answers with it",
    )  # fmt: skip
    serve_p.add_argument("--idle-timeout", type=float, help="exit after this many seconds without a client")
    serve_p.add_argument("--runtime-idle", type=float, help="release loaded models unused for this many seconds")
    serve_p.add_argument(
        "--embedded", action="store_true",
        help="run as the home's shared embedded server (recorded in HOME/run/platform.json)",
    )  # fmt: skip
    gc_p = command("gc", cmd_gc, "remove blobs, uploads and staged files left behind by interrupted work")
    store_options(gc_p)
    gc_p.add_argument("--grace", type=float, default=3600.0, help="keep what changed in the last SECONDS (default 3600)")
    backup_p = command("backup", cmd_backup, "copy a home or a team server (database and blobs) to a folder")
    store_options(backup_p)
    backup_p.add_argument("dest", type=Path, metavar="DEST", help="a new or empty folder")
    restore_p = command("restore", cmd_restore, "restore a backup into an empty home or team server")
    store_options(restore_p)
    restore_p.add_argument("src", type=Path, metavar="SRC", help="a folder written by modeldeck backup")
    return parser


def store_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--home", type=Path, help="state directory (default: MODELDECK_HOME or the user data dir)")
    p.add_argument("--db", help="database URL (default: SQLite in the home; postgresql://... for teams)")
    p.add_argument("--blobs", help="blob store URL, any fsspec URL (default: HOME/blobs)")


def store_settings(args: argparse.Namespace, **extra: Any) -> Any:
    from .platform import Settings

    return Settings(**({"home": args.home} if args.home else {}), db_url=args.db, blobs_url=args.blobs, **extra)


def cmd_gc(args: argparse.Namespace) -> None:
    from datetime import timedelta

    from .platform import gc

    done = gc.run(store_settings(args), grace=timedelta(seconds=args.grace))
    print(f"removed {done.blobs} orphan blobs, {done.uploads} abandoned uploads, {done.staged} staged files")


def cmd_backup(args: argparse.Namespace) -> None:
    from .platform import backup

    made = backup.backup(store_settings(args), args.dest)
    print(f"backed up the database and {made.blobs} blobs to {args.dest}")


def cmd_restore(args: argparse.Namespace) -> None:
    from .platform import backup

    made = backup.restore(args.src, store_settings(args))
    print(f"restored the database and {made.blobs} blobs from {args.src}")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return args.func(args) or 0
    except DeckError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
