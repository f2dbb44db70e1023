"""Profiles and the credential chain.

A profile names a platform: `local` (an embedded home) or `server` (a modeldeck team server); the cloud
kinds (`alibaba`, `huawei`, `openai`) join the same file later. The file is TOML, under the user's config
directory or at `MODELDECK_CONFIG`, created 0600 and refused if others can read it. A key is looked up
in order: the explicit argument, `MODELDECK_API_KEY`, the profile file, the system keyring.
"""

from __future__ import annotations

import os
import stat
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import InvalidApiKey, InvalidParameter, NotFound

KINDS = ("local", "server", "openai")
KEYRING_SERVICE = "modeldeck"
DEFAULT_PROFILE = "local"

if TYPE_CHECKING:
    from ._http import Settings
    from .deck import Deck


def config_path() -> Path:
    env = os.environ.get("MODELDECK_CONFIG")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_config_dir("modeldeck", appauthor=False)) / "profiles.toml"


@dataclass
class Profile:
    name: str
    kind: str
    url: str | None = None
    home: str | None = None
    workspace: str | None = None
    api_key: str | None = field(default=None, repr=False)

    def to_toml(self) -> dict[str, str]:
        return {k: v for k, v in self.__dict__.items() if k != "name" and v is not None}

    def describe(self) -> dict[str, Any]:
        """What may be shown: never the key, only where it comes from."""
        return {
            "name": self.name, "kind": self.kind, "url": self.url, "home": self.home, "workspace": self.workspace,
            "key": "in file" if self.api_key else ("in keyring" if keyring_get(self.name) else None),
        }  # fmt: skip


@dataclass
class ProfileFile:
    path: Path
    default: str | None = None
    profiles: dict[str, Profile] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path | None = None) -> ProfileFile:
        path = path or config_path()
        if not path.exists():
            return cls(path)
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            raise InvalidParameter(
                f"The profiles file {path} can be read by other users (mode {mode:o}); it may hold API keys.",
                code="Config.InsecurePermissions",
                hint=f"Restrict it to yourself: chmod 600 {path}",
            )
        if sys.version_info >= (3, 11):
            import tomllib
        else:  # pragma: no cover
            import tomli as tomllib
        try:
            data = tomllib.loads(path.read_text())
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise InvalidParameter(
                f"The profiles file {path} is not valid TOML ({exc}).",
                code="Config.Invalid",
                hint="Fix or remove it; `modeldeck profile add` writes a correct one.",
            ) from None
        profiles = {}
        for name, values in (data.get("profiles") or {}).items():
            known = {k: values.get(k) for k in ("kind", "url", "home", "workspace", "api_key")}
            profiles[name] = Profile(name=name, **{k: v for k, v in known.items() if v is not None})  # type: ignore[arg-type]
        return cls(path, data.get("default"), profiles)

    def save(self) -> None:
        """Write atomically, 0600 from the first byte."""
        import tomli_w

        self.path.parent.mkdir(parents=True, exist_ok=True)
        data: dict[str, Any] = {}
        if self.default:
            data["default"] = self.default
        data["profiles"] = {name: p.to_toml() for name, p in sorted(self.profiles.items())}
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(tomli_w.dumps(data))
        os.replace(tmp, self.path)

    def get(self, name: str) -> Profile:
        if name in self.profiles:
            return self.profiles[name]
        if name == DEFAULT_PROFILE:
            return Profile(DEFAULT_PROFILE, "local")
        known = ", ".join(sorted(self.profiles)) or "none yet"
        raise NotFound(
            f"There is no profile named {name!r}.",
            code="Profile.NotFound",
            hint=f"Known profiles: {known}. Add one with `modeldeck profile add {name} --url ...`.",
        )


def keyring_get(profile: str) -> str | None:
    try:
        import keyring
    except ImportError:
        return None
    try:
        return keyring.get_password(KEYRING_SERVICE, profile)
    except Exception:  # no usable backend on this machine
        return None


def keyring_set(profile: str, key: str) -> bool:
    try:
        import keyring

        keyring.set_password(KEYRING_SERVICE, profile, key)
        return True
    except Exception:
        return False


def selected_profile(name: str | None, file: ProfileFile) -> str:
    return name or os.environ.get("MODELDECK_PROFILE") or file.default or DEFAULT_PROFILE


def save_workspace(profile: str | None, workspace: str) -> str:
    """Make a workspace the default of new connections of a profile (`modeldeck use`, the sidebar's `use`).

    With no profile configured it is saved as the `local` profile's, which `connect()` then picks.
    Returns the profile's name.
    """
    file = ProfileFile.load()
    name = selected_profile(profile, file)
    entry = file.profiles.get(name) or Profile(name, "local")
    entry.workspace = workspace
    file.profiles[name] = entry
    file.save()
    return name


def resolve(
    profile: str | None = None,
    *,
    url: str | None = None,
    api_key: str | None = None,
    workspace: str | None = None,
    home: str | Path | None = None,
) -> tuple[str | None, Settings]:
    """The profile name and transport settings the arguments, environment and files amount to.

    A local profile's embedded server is started first, so it boots on another core while this process
    looks in the keyring and loads the transport (httpx): a cold `connect()` waits for the longer of the two.
    """
    url = url or (None if profile or home else os.environ.get("MODELDECK_URL"))
    if url or home:  # named directly: no profile involved
        chosen = Profile("", "server", url=url) if url else Profile("", "local", home=str(home))
    else:
        file = ProfileFile.load()
        chosen = file.get(selected_profile(profile, file))
    launch = None
    if chosen.kind == "local":
        from . import embedded

        launch = embedded.Launch(Path(chosen.home).expanduser() if chosen.home else None)
    key = api_key or os.environ.get("MODELDECK_API_KEY") or chosen.api_key
    if not key and not (url or home):
        key = keyring_get(chosen.name)
    ws = workspace or os.environ.get("MODELDECK_WORKSPACE") or chosen.workspace
    from ._http import Settings

    if launch is not None:
        target = launch.result()
        return chosen.name or None, Settings(target.url, key or target.admin_key, ws, kind="embedded")
    if chosen.kind == "openai" and chosen.url:  # any OpenAI-compatible server; some need no key
        return chosen.name or None, Settings(chosen.url.rstrip("/"), key, None, kind="openai")
    if chosen.kind != "server" or not chosen.url:
        raise InvalidParameter(
            f"Profile {chosen.name!r} has kind {chosen.kind!r}, which this version cannot connect to.",
            code="Profile.Invalid",
            hint=f"Use a profile of kind {' or '.join(KINDS)} (a server profile needs a url).",
        )
    if not key:
        raise InvalidApiKey(
            f"No API key was found for {f'profile {chosen.name!r}' if chosen.name else chosen.url}.",
            hint="Pass api_key=..., set MODELDECK_API_KEY, run modeldeck.login() in a notebook, or "
            f"`modeldeck profile add {chosen.name or 'NAME'} --url {chosen.url} --api-key -`.",
        )
    return chosen.name or None, Settings(chosen.url.rstrip("/"), key, ws)


def connect(
    profile: str | None = None,
    *,
    url: str | None = None,
    api_key: str | None = None,
    workspace: str | None = None,
    home: str | Path | None = None,
) -> Deck:
    """Connect to a platform.

    With no arguments: the default profile (`MODELDECK_PROFILE`, else the profiles file's default), and with
    nothing configured, the embedded platform of `MODELDECK_HOME`, started on first use and shared by
    every kernel and the CLI. `url=` names a team server; `home=` another embedded home. Credentials come
    from the argument, then the environment (`MODELDECK_API_KEY`), the profiles file, the system keyring.
    """
    name, settings = resolve(profile, url=url, api_key=api_key, workspace=workspace, home=home)
    from .deck import Deck
    from .resources import Workspace

    deck = Deck(settings, profile=name)
    try:
        me = deck.whoami()
        if deck._openai:
            deck.models().first(1)  # reach the server now: a wrong URL or key fails here, not later
    except BaseException:
        deck.close()
        raise
    deck.account = me["account"]
    if "workspace" in me:
        deck.workspace = Workspace.from_json(me["workspace"])
    return deck


def login(profile: str | None = None, *, url: str | None = None, workspace: str | None = None) -> Profile:
    """Ask for an API key in a password field (never echoed) and store it with a profile.

    The key goes to the system keyring when one is available, else to the 0600 profiles file.
    """
    import getpass

    file = ProfileFile.load()
    name = selected_profile(profile, file)
    existing = file.profiles.get(name)
    target_url = url or (existing.url if existing else None)
    if target_url is None and (existing is None or existing.kind == "server"):
        target_url = input("Platform URL: ").strip()
    key = getpass.getpass(f"API key for profile {name!r}: ").strip()
    if not key:
        raise InvalidApiKey("No key was entered.", hint="Run login again and paste the key.")
    entry = existing or Profile(name, "server" if target_url else "local")
    entry.url = target_url or entry.url
    entry.workspace = workspace or entry.workspace
    entry.api_key = None if keyring_set(name, key) else key
    file.profiles[name] = entry
    file.default = file.default or name
    file.save()
    return entry
