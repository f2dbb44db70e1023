"""`modeldeck doctor`: check what usually goes wrong, and say how to fix it. Never prints a secret."""

from __future__ import annotations

import os
import stat
import sys
import time
from dataclasses import dataclass
from importlib import metadata

from ._version import __version__
from .errors import DeckError

PACKAGES = ("httpx", "fastapi", "sqlalchemy", "alembic", "uvicorn", "onnxruntime", "skops", "scikit-learn",
            "xgboost-cpu", "xgboost", "psycopg", "keyring", "jupyterlab")  # fmt: skip


@dataclass
class Check:
    name: str
    status: str  # ok | warn | fail
    detail: str
    fix: str = ""


def _versions() -> Check:
    found = []
    for name in PACKAGES:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    try:
        installed = metadata.version("modeldeck")
    except metadata.PackageNotFoundError:
        installed = __version__
    if installed != __version__:
        return Check("packages", "fail", f"modeldeck {__version__} is imported but {installed} is installed",
                     "Restart the kernel or shell; then reinstall with `pip install -U modeldeck`.")  # fmt: skip
    py = ".".join(map(str, sys.version_info[:3]))
    return Check("packages", "ok", f"modeldeck {__version__}, python {py}; " + ", ".join(found))


def _profile_file() -> tuple[Check, object | None]:
    from .profiles import ProfileFile, config_path

    path = config_path()
    try:
        file = ProfileFile.load(path)
    except DeckError as exc:
        return Check("profiles file", "fail", exc.message, exc.hint), None
    if not path.exists():
        return Check("profiles file", "ok", f"none at {path} (the embedded platform is the default)"), file
    return Check("profiles file", "ok", f"{path} (mode 600), {len(file.profiles)} profile(s)"), file


def _credentials(profile: str | None, file: object | None) -> Check:
    from .profiles import ProfileFile, keyring_credentials, selected_profile
    from .providers import for_kind

    if not isinstance(file, ProfileFile):
        return Check("credentials", "warn", "skipped: the profiles file could not be read")
    name = selected_profile(profile, file)
    try:
        chosen = file.get(name)
        provider = for_kind(chosen.kind)
    except DeckError as exc:
        return Check("credentials", "fail", exc.message, exc.hint)
    variables = [v for names in provider.environment.values() for v in names if os.environ.get(v)]
    if variables:
        source = f"the {', '.join(variables)} environment variable"
    elif chosen.credentials():
        source = "the profiles file"
    elif keyring_credentials(name):
        source = "the system keyring"
    elif chosen.kind == "local":
        source = "the embedded home's admin.key"
    elif not provider.needs_credentials:
        return Check("credentials", "ok", f"profile {name!r} ({chosen.kind}): no key (this server may need none)")
    else:
        return Check("credentials", "fail", f"profile {name!r} has no API key",
                     f"Run modeldeck.login() in a notebook or `modeldeck profile add {name} --api-key -`.")  # fmt: skip
    return Check("credentials", "ok", f"profile {name!r} ({chosen.kind}): key from {source}")


def _home() -> Check:
    from .embedded import home_dir

    home = home_dir(None)
    if not home.exists():
        return Check("embedded home", "ok", f"{home} (created on first use)")
    problems = []
    if stat.S_IMODE(home.stat().st_mode) & 0o077:
        problems.append(f"chmod 700 {home}")
    key = home / "admin.key"
    if key.exists() and stat.S_IMODE(key.stat().st_mode) & 0o077:
        problems.append(f"chmod 600 {key}")
    if problems:
        return Check("embedded home", "fail", f"{home} is readable by other users", "; ".join(problems))
    return Check("embedded home", "ok", f"{home} (private)")


def _platform(profile: str | None) -> Check:
    from .deck import connect

    start = time.perf_counter()
    try:
        with connect(profile) as deck:
            me = deck.whoami()
    except DeckError as exc:
        return Check("platform", "fail", exc.message, exc.hint or "Check the profile's URL and key.")
    took = (time.perf_counter() - start) * 1000
    where = me.get("workspace", {}).get("name", "no workspace")
    server = me.get("platform_version")
    if server is not None and server != __version__:  # None: not a modeldeck platform (an OpenAI server)
        return Check("platform", "warn", f"{deck.url} answers as modeldeck {server}, this client is {__version__}",
                     "Upgrade the older side so both run the same version.")  # fmt: skip
    return Check("platform", "ok", f"{deck.url} as {me['account']['name']} in {where!r} ({took:.0f} ms)")


def _server_extension() -> Check:
    """Whether Jupyter Server loads the sidebar's routes. Missing only warns: the client works without it."""
    from .jupyter.versions import server_extension_enabled

    try:
        enabled = server_extension_enabled()
    except ImportError:
        return Check("server extension", "ok", "Jupyter Server is not installed (the sidebar needs modeldeck[lab])")
    if enabled:
        return Check("server extension", "ok", "enabled")
    return Check("server extension", "warn", "modeldeck is not enabled in Jupyter Server's config",
                 "jupyter server extension enable modeldeck, then restart Jupyter.")  # fmt: skip


def _lab_extension() -> Check:
    """The copy of the lab extension JupyterLab loads (the first on its path): a version mismatch breaks the sidebar."""
    from .jupyter.versions import labextensions, mismatch_fix

    try:
        copies = labextensions()
    except ImportError:
        return Check("lab extension", "ok", "JupyterLab is not installed (the sidebar needs modeldeck[lab])")
    if not copies:
        return Check("lab extension", "warn", "not installed where JupyterLab looks", mismatch_fix(None))
    (folder, version), *others = copies
    if version == __version__:
        return Check("lab extension", "ok", f"{version} at {folder}")
    if any(other == __version__ for _, other in others):
        return Check("lab extension", "fail", f"{folder} ({version}) hides this package's {__version__}",
                     f"Remove {folder}, then reload the page.")  # fmt: skip
    return Check("lab extension", "fail", f"{version} at {folder}, but modeldeck is {__version__}",
                 mismatch_fix(version))  # fmt: skip


def diagnose(profile: str | None = None) -> list[Check]:
    files, parsed = _profile_file()
    return [_versions(), files, _credentials(profile, parsed), _home(), _server_extension(), _lab_extension(),
            _platform(profile)]
