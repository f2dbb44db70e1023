"""EAS service tokens: one per deployment, as PAI-EAS gives one per service.

A token is made on first need, kept sealed in the store's `meta` rows (`eas-token:<deployment id>`, sealed
like the platform's other secrets it must read back: the EAS SDK signs with it, so a hash would not do),
shown through DescribeService to those who may deploy in the service's workspace, and never logged.

A data-plane request proves it holds the token in one of the three ways EAS clients send it:
`Authorization: <token>` (curl, alipai's Predictor), `Bearer <token>` (the openai SDK on the OpenAI-style
paths) or `EAS <signature>` (eas_prediction's PredictClient: base64 HMAC-SHA1 under the token of
`POST\\n<md5 hex of the body>\\n<content type>\\n<date>\\n/api/predict/<service>`, with `Content-MD5`).

Replicas check platform credentials themselves (`deployments.guard`), so once the token checks out the
facade forwards the request with a short-lived platform token of the deployment's creator: the service
answers as its owner, as an EAS service does.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .....errors import InvalidApiKey, NotFound
from ....accounts import issue_token
from ....authz import principal_of
from ....schema import Account, Deployment, Meta

RELAY_TTL = 3600  # seconds a relay token lives; renewed once less than RELAY_MARGIN is left
RELAY_MARGIN = 300


def _meta_key(deployment_id: str) -> str:
    return f"eas-token:{deployment_id}"


def token_of(platform: Any, deployment_id: str) -> str:
    """The service token of a deployment, made (and sealed) the first time it is asked for."""
    key = _meta_key(deployment_id)
    with platform.store.read() as db:
        row = db.get(Meta, key)
        if row is not None:
            return platform.sealer.open(row.value, key)
    with platform.store.write() as db:
        row = db.get(Meta, key)
        if row is None:  # EAS tokens look like base64 of 30 random bytes
            row = Meta(key=key, value=platform.sealer.seal(base64.b64encode(secrets.token_bytes(30)).decode(), key))
            db.add(row)
        return platform.sealer.open(row.value, key)


def eas_signature(token: str, body: bytes, content_type: str, date: str, service: str) -> str:
    """What eas_prediction's PredictClient sends after `EAS ` (predict_client.py::generate_singaure)."""
    text = f"POST\n{hashlib.md5(body).hexdigest()}\n{content_type}\n{date}\n/api/predict/{service}".strip()
    return base64.b64encode(hmac.new(token.encode(), text.encode(), hashlib.sha1).digest()).decode()


@dataclass(frozen=True)
class Proof:
    """How a data-plane request says it holds a service's token."""

    authorization: str
    body: bytes
    content_type: str
    content_md5: str
    date: str

    def shows(self, token: str, service: str) -> bool:
        scheme, _, rest = self.authorization.partition(" ")
        if scheme == "EAS" and rest:
            if self.content_md5 != hashlib.md5(self.body).hexdigest():
                return False
            expected = eas_signature(token, self.body, self.content_type or "application/octet-stream", self.date, service)
            return hmac.compare_digest(rest.strip().encode(), expected.encode())
        given = rest if scheme.lower() == "bearer" else self.authorization
        return hmac.compare_digest(given.strip().encode(), token.encode())


def _refused() -> InvalidApiKey:
    return InvalidApiKey("Authorization failed: the service token is missing or wrong.", code="Token.Invalid",
                         hint="Send the service's token (DescribeService's AccessToken) as the Authorization header.")  # fmt: skip


def service_for(platform: Any, service: str, proof: Proof) -> Deployment:
    """The deployment called `service` whose token the request shows (names are unique per workspace, so
    the token tells apart same-named services of two workspaces)."""
    if not proof.authorization:
        raise _refused()
    with platform.store.read() as db:
        rows = db.scalars(select(Deployment).where(Deployment.name == service).order_by(Deployment.id)).all()
        db.expunge_all()
    if not rows:
        raise NotFound(f"There is no service '{service[:64]}' in this region.", code="Service.NotFound",
                       hint="Check the service name (ListServices lists them); EAS services are regional.")  # fmt: skip
    for row in rows:
        if proof.shows(token_of(platform, row.id), service):
            return row
    raise _refused()


class Relay:
    """Short-lived platform tokens of each deployment's creator, for the replicas' own check."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[str, tuple[str, float]] = {}

    def authorization(self, platform: Any, row: Deployment) -> str:
        with self._lock:
            held = self._tokens.get(row.id)
            if held is None or held[1] - time.monotonic() < RELAY_MARGIN:
                with platform.store.write() as db:
                    token = _issue(db, row.created_by)
                held = self._tokens[row.id] = (token, time.monotonic() + RELAY_TTL)
        return f"Bearer {held[0]}"


def _issue(db: Session, account_id: str) -> str:
    account = db.get(Account, account_id)
    if account is None:
        raise NotFound("The account that created this service no longer exists.", code="Service.OwnerGone",
                       hint="Deploy the service again from an existing account.")  # fmt: skip
    principal = principal_of(db, account.id, account.name, account.kind, "eas_service")
    return issue_token(db, principal, RELAY_TTL)[0]
