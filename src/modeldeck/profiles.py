"""Profiles and the credential chain.

A profile names a platform by kind (modeldeck.providers.KINDS): `local` (an embedded home), `server` (a
modeldeck team server), `openai` (any OpenAI-compatible server); the clouds' kinds join later. It may
name a region where the platform has regions, and endpoints overriding the region's default per service
(a private gateway, a local facade). Its named secrets are an API key, an AccessKey pair (id, secret,
optional security token) or a token. The file is TOML, under the user's config directory or at
`MODELDECK_CONFIG`, created 0600 and refused if others can read it. Credentials are looked up in order:
the explicit argument, the environment variables of the profile's platform (`MODELDECK_API_KEY`,
`OPENAI_API_KEY`, ...), the profiles file, the system keyring; the first source that has any wins whole.
"""

from __future__ import annotations

import os
import stat
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import InvalidApiKey, InvalidParameter, NotFound
from .providers import for_kind

KEYRING_SERVICE = "modeldeck"
DEFAULT_PROFILE = "local"
SECRETS = ("api_key", "access_key_id", "access_key_secret", "security_token", "token")
# Provider settings a profile may carry (Settings.options; a provider reads the ones it knows): the PAI
# workspace (numeric id), and the OSS / OBS bucket a local checkpoint is uploaded to before PAI or ModelArts
# registers it.
OPTIONS = ("pai_workspace", "oss_bucket", "obs_bucket")

if TYPE_CHECKING:
    from ._http import Credentials, Settings
    from .providers.base import Provider


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
    region: str | None = None
    endpoints: dict[str, str] = field(default_factory=dict)  # service -> base URL, overriding the region's
    pai_workspace: str | None = None
    oss_bucket: str | None = None
    obs_bucket: str | None = None
    api_key: str | None = field(default=None, repr=False)
    access_key_id: str | None = field(default=None, repr=False)
    access_key_secret: str | None = field(default=None, repr=False)
    security_token: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)

    def to_toml(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "name" and v not in (None, {})}

    def credentials(self) -> Credentials:
        """The secrets this profile keeps in the file."""
        from ._http import Credentials

        return Credentials(**{name: getattr(self, name) for name in SECRETS})

    def options(self) -> dict[str, str]:
        """The provider settings this profile sets."""
        return {name: value for name in OPTIONS if (value := getattr(self, name))}

    def describe(self) -> dict[str, Any]:
        """What may be shown: never a secret, only where the credentials come from."""
        in_file = bool(self.credentials())
        where = {"region": self.region, "endpoints": dict(self.endpoints), **self.options()}
        return {
            "name": self.name, "kind": self.kind, "url": self.url, "home": self.home, "workspace": self.workspace,
            **{k: v for k, v in where.items() if v},  # only where the platform has them
            "key": "in file" if in_file else ("in keyring" if keyring_credentials(self.name) else None),
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
        profiles = {name: _profile(path, name, values) for name, values in (data.get("profiles") or {}).items()}
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


def _profile(path: Path, name: str, values: Any) -> Profile:
    """One `[profiles.NAME]` table; keys this version does not know are left alone (a newer one wrote them)."""
    fields = ("kind", "url", "home", "workspace", "region", *OPTIONS, *SECRETS)
    known = {k: values.get(k) for k in fields} if isinstance(values, dict) else {}
    endpoints = values.get("endpoints", {}) if isinstance(values, dict) else None
    bad = not isinstance(values, dict) or not isinstance(known["kind"], str)
    bad = bad or not all(v is None or isinstance(v, str) for v in known.values())
    bad = bad or not isinstance(endpoints, dict) or not all(isinstance(v, str) for v in endpoints.values())
    if bad:
        raise InvalidParameter(
            f"Profile {name!r} in {path} is malformed.",
            code="Config.Invalid",
            hint="Each profile needs a kind; its values are strings and `endpoints` a table of service = URL. "
            "`modeldeck profile add` writes a correct one.",
        )
    given = {k: v for k, v in known.items() if v is not None}
    return Profile(name=name, endpoints=dict(endpoints or {}), **given)  # type: ignore[arg-type]


def _keyring_user(profile: str, secret: str) -> str:
    return profile if secret == "api_key" else f"{profile}:{secret}"  # an API key keeps its older entry name


def keyring_get(profile: str, secret: str = "api_key") -> str | None:
    try:
        import keyring
    except ImportError:
        return None
    try:
        return keyring.get_password(KEYRING_SERVICE, _keyring_user(profile, secret))
    except Exception:  # no usable backend on this machine
        return None


def keyring_set(profile: str, value: str, secret: str = "api_key") -> bool:
    try:
        import keyring

        keyring.set_password(KEYRING_SERVICE, _keyring_user(profile, secret), value)
        return True
    except Exception:
        return False


def keyring_credentials(profile: str) -> Credentials:
    """The profile's secrets in the keyring; the API key, the usual one, is asked for first and alone."""
    from ._http import Credentials

    key = keyring_get(profile)
    if key:
        return Credentials(api_key=key)
    return Credentials(**{name: keyring_get(profile, name) for name in SECRETS[1:]})


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


def choose(profile: str | None = None, *, url: str | None = None, home: str | Path | None = None) -> Profile:
    """The profile the arguments and environment name, without starting or contacting anything."""
    url = url or (None if profile or home else os.environ.get("MODELDECK_URL"))
    if url:  # named directly: no profile involved
        return Profile("", "server", url=url)
    if home:
        return Profile("", "local", home=str(home))
    file = ProfileFile.load()
    return file.get(selected_profile(profile, file))


def _credentials(chosen: Profile, provider: Provider, api_key: str | None, direct: bool) -> Credentials:
    """The first source that has any: the argument, the platform's environment variables, the file, the keyring."""
    from ._http import Credentials

    environment = {name: _from_environment(names) for name, names in provider.environment.items()}
    for source in (lambda: Credentials(api_key=api_key), lambda: Credentials(**environment), chosen.credentials,
                   lambda: Credentials() if direct else keyring_credentials(chosen.name)):  # fmt: skip
        found = source()
        if found:
            return found
    return Credentials()


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
    chosen = choose(profile, url=url, home=home)
    provider = for_kind(chosen.kind)
    launch = None
    if chosen.kind == "local":
        from . import embedded

        launch = embedded.Launch(Path(chosen.home).expanduser() if chosen.home else None)
    credentials = _credentials(chosen, provider, api_key, direct=bool(url or home))
    ws = workspace or os.environ.get("MODELDECK_WORKSPACE") or _from_environment(provider.workspace_environment) \
        or chosen.workspace
    ws = ws if provider.workspace_header else None  # a platform without workspaces has its implicit one
    from ._http import Credentials, Settings

    options = {**chosen.options(), **_options_from_environment(provider)}
    if launch is not None:
        target = launch.result()
        return chosen.name or None, Settings(target.url, credentials or Credentials(api_key=target.admin_key), ws,
                                             kind=chosen.kind, options=options)  # fmt: skip
    region = chosen.region or _from_environment(provider.region_environment)
    if region and region not in provider.regions:
        regions = ", ".join(provider.regions) or "none: remove `region` from the profile"
        raise InvalidParameter(
            f"Profile {chosen.name!r} names region {region!r}, which {provider.title} does not have.",
            code="Profile.Invalid",
            hint=f"Its regions: {regions}.",
        )
    from_env = provider.url_from_environment(os.environ) if provider.url_from_environment else None
    base = provider.endpoint(region, chosen.endpoints, chosen.url or from_env)
    if not base:
        raise InvalidParameter(
            f"Profile {chosen.name!r} (kind {chosen.kind!r}) says nowhere to connect.",
            code="Profile.Invalid",
            hint=f"Give it a url: `modeldeck profile add {chosen.name or 'NAME'} --kind {chosen.kind} --url ...`.",
        )
    if provider.needs_credentials and not credentials:
        env = " or ".join(provider.environment["api_key"])
        pair = [provider.environment.get(n, ("",))[0] for n in ("access_key_id", "access_key_secret")]
        env += f" (or the AccessKey pair {pair[0]} and {pair[1]})" if all(pair) else ""
        raise InvalidApiKey(
            f"No API key was found for {f'profile {chosen.name!r}' if chosen.name else base}.",
            hint=f"Pass api_key=..., set {env}, run modeldeck.login() in a notebook, or "
            f"`modeldeck profile add {chosen.name or 'NAME'} --url {base} --api-key -`.",
        )
    services = provider.services(region, chosen.endpoints)
    return chosen.name or None, Settings(base.rstrip("/"), credentials, ws, kind=chosen.kind, services=services,
                                         options=options)  # fmt: skip


def _from_environment(names: tuple[str, ...]) -> str | None:
    """The first of a platform's environment variables that is set (DASHSCOPE_WORKSPACE, ...)."""
    return next((os.environ[n] for n in names if os.environ.get(n)), None)


def _options_from_environment(provider: Provider) -> dict[str, str]:
    """The provider settings its platform's own variables set (PAI_WORKSPACE_ID); they win over the file's,
    as the workspace variables do."""
    found = {name: _from_environment(names) for name, names in provider.options_environment.items()}
    return {name: value for name, value in found.items() if value}


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
