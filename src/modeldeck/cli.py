"""The `modeldeck` command line."""

from __future__ import annotations

import argparse
import ipaddress
import sys
from collections.abc import Sequence
from pathlib import Path

from ._version import __version__
from .errors import DeckError


def _network(value: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an address range: {value!r} (use CIDR, like 10.0.0.0/8)") from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="modeldeck", description=__doc__)
    parser.add_argument("--version", action="version", version=f"modeldeck {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the platform as a server (a team server with --db and --blobs)")
    serve.add_argument("--home", type=Path, help="state directory (default: MODELDECK_HOME or the user data dir)")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback only)")
    serve.add_argument("--port", type=int, default=8765, help="port (0 picks a free one; default 8765)")
    serve.add_argument("--db", help="database URL (default: SQLite in the home; postgresql://... for teams)")
    serve.add_argument("--blobs", help="blob store URL, any fsspec URL (default: HOME/blobs)")
    serve.add_argument(
        "--allow-network", action="append", type=_network, default=[], metavar="CIDR",
        help="let model URIs point into this private address range (repeatable)",
    )  # fmt: skip
    serve.add_argument(
        "--allow-unsafe-formats", action="append", default=[], metavar="FORMAT",
        help="let callers opt into loading this code-running format, e.g. PickleModel (repeatable)",
    )  # fmt: skip
    return parser


def serve(args: argparse.Namespace) -> int:
    from .platform import Platform, PlatformServer, Settings
    from .platform.server import is_loopback

    settings_kw = {"home": args.home} if args.home else {}
    settings = Settings(
        **settings_kw, db_url=args.db, blobs_url=args.blobs, allowed_networks=tuple(args.allow_network),
        allow_unsafe_formats=frozenset(args.allow_unsafe_formats),
    )  # fmt: skip
    platform = Platform(settings)
    server = PlatformServer(platform, args.host, args.port)
    print(f"modeldeck {__version__} platform serving on {server.url}", flush=True)
    print(f"  home: {settings.home}", flush=True)
    if platform.initial_key is not None:
        print(f"  a new main account was created; its admin key is in {settings.admin_key_file} (mode 0600).")
        print(f"  read it once with: cat {settings.admin_key_file}", flush=True)
    if not is_loopback(str(server.host)):
        print(f"  warning: listening on {server.host}, reachable from other machines.", flush=True)
    try:
        server.run()
    finally:
        platform.close()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return {"serve": serve}[args.command](args)
    except DeckError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
