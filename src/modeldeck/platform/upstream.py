"""Versions served by an upstream OpenAI-compatible server (vLLM, Ollama, llama.cpp, PAI-EAS ...).

A version whose `inference_spec` holds `{"upstream": {"base_url": ..., "model": ..., "api_key": ...}}` is
chatted with through the platform: same authorization, same /v1 surface, streaming passed through as it
arrives. The base URL follows the platform's URL rules (no private or metadata addresses unless the admin
allows the range), checked again at call time against what the name resolves to, and the request goes to the
very address that was checked. The upstream key is taken out of the spec when the version is registered and
kept server-side, sealed (platform/sealed.py): no listing shows it, and the database alone does not reveal it.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from ..errors import DeckError, InvalidParameter
from .safety import resolve_public, validate_uri
from .schema import Meta, ModelVersion
from .sealed import of_session

if TYPE_CHECKING:
    from .settings import Settings


@dataclass(frozen=True)
class Upstream:
    base_url: str
    model: str
    api_key: str | None

    def __repr__(self) -> str:
        return f"Upstream(base_url={self.base_url!r}, model={self.model!r}, api_key=***)"


def take_key(inference_spec: dict[str, Any], allowed_networks: tuple) -> tuple[dict[str, Any], str | None]:
    """Validate a spec's upstream and take its key out: (the spec as stored, the key to keep aside)."""
    upstream = inference_spec.get("upstream")
    if upstream is None:
        return inference_spec, None
    if not isinstance(upstream, dict) or set(upstream) - {"base_url", "model", "api_key"}:
        raise _bad("The upstream must be an object with base_url, model and optionally api_key.")
    base_url, model, key = upstream.get("base_url"), upstream.get("model"), upstream.get("api_key")
    if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
        raise _bad("The upstream base_url must be an http(s) URL, like https://host/v1.")
    validate_uri(base_url.rstrip("/"), allowed_networks=allowed_networks)
    if not isinstance(model, str) or not model or len(model) > 256:
        raise _bad("The upstream model must be the model name the upstream server knows.")
    if key is not None and (not isinstance(key, str) or not key or len(key) > 4096):
        raise _bad("The upstream api_key must be a non-empty string.")
    stored = {"base_url": base_url.rstrip("/"), "model": model, "api_key_set": key is not None}
    return {**inference_spec, "upstream": stored}, key


def _bad(message: str) -> InvalidParameter:
    return InvalidParameter(
        message,
        code="InvalidParameter.Upstream",
        hint='Use inference_spec={"upstream": {"base_url": "https://host/v1", "model": "name", "api_key": "..."}}.',
    )


def _key_name(row: ModelVersion) -> str:
    return f"upstream-key:{row.seq}"


def store_key(db: Session, row: ModelVersion, key: str | None) -> None:
    """Keep (or, with None, drop) the upstream key of a version, next to it in the store."""
    name = _key_name(row)
    existing = db.get(Meta, name)
    if key is None:
        if existing is not None:
            db.delete(existing)
        return
    sealed = of_session(db).seal(key, name)
    if existing is None:
        db.add(Meta(key=name, value=sealed))
    else:
        existing.value = sealed


def of_version(db: Session, row: ModelVersion) -> Upstream | None:
    spec = row.inference_spec.get("upstream") if isinstance(row.inference_spec, dict) else None
    if not isinstance(spec, dict):
        return None
    secret = db.get(Meta, _key_name(row))
    key = of_session(db).open(secret.value, secret.key) if secret else None
    return Upstream(spec["base_url"], spec["model"], key)


def names_a_host(upstream: Upstream) -> bool:
    """Whether the base URL names a host (resolving it may wait on DNS) rather than a literal address."""
    host = (urlsplit(upstream.base_url).hostname or "").strip("[]")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return True
    return False


@dataclass(frozen=True)
class Pinned:
    """A request to the upstream addressed to the IP that was checked, not to its name: resolving the
    name again at connect time would let DNS rebinding swap in an internal address after the check.
    The name still travels as the Host header and as TLS's SNI, so virtual hosts and certificates work."""

    url: str
    headers: dict[str, str]
    extensions: dict[str, Any]

    def __repr__(self) -> str:
        return f"Pinned(url={self.url!r}, headers=***)"


def pinned(target: Upstream, path: str, settings: Settings) -> Pinned:
    """Resolve the upstream's host once, refuse it if any address is internal, and address the request
    to the first address (blocking on DNS: call it off the event loop for a name)."""
    import httpx

    url = httpx.URL(f"{target.base_url}{path}")
    port = url.port or (443 if url.scheme == "https" else 80)
    address = resolve_public(url.host, port, allowed_networks=settings.allowed_networks,
                             resolver=settings.resolver)[0]  # fmt: skip
    headers = {"Host": url.netloc.decode("ascii")}
    if target.api_key:
        headers["Authorization"] = f"Bearer {target.api_key}"
    extensions = {"sni_hostname": url.host} if url.scheme == "https" else {}
    return Pinned(str(url.copy_with(host=address)), headers, extensions)


def failed(status: int, detail: str) -> DeckError:
    return DeckError(
        f"The upstream model server answered HTTP {status}: {detail[:300]}",
        code="Upstream.Error",
        status=502,
        hint="Check the upstream server and the version's inference_spec (base_url, model, api_key).",
    )


def complete(target: Upstream, body: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """A whole (non-streamed) completion from the upstream, for tasks."""
    import httpx

    pin = pinned(target, "/chat/completions", settings)
    try:
        with httpx.Client(timeout=httpx.Timeout(300.0, connect=10.0), follow_redirects=False) as client:
            response = client.send(client.build_request(
                "POST", pin.url, json={**body, "model": target.model}, headers=pin.headers, extensions=pin.extensions
            ))  # fmt: skip
    except httpx.HTTPError as exc:
        raise failed(0, f"unreachable ({type(exc).__name__})") from None
    if not response.is_success:
        raise failed(response.status_code, response.text)
    return response.json()
