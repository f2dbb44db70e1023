"""The bearer a facade hands a deployment's replicas for its caller.

Replicas check their caller themselves (`deployments.guard`), and they know bearers only: API keys and the
platform's tokens. A Pangu caller signs with AK/SK or presents an IAM token, which replicas do not verify;
so once the facade has authenticated it, it passes them a short-lived platform token of the caller's own
account, minted once per account and reused until shortly before it expires. It is held in this process's
memory only and never sent back to the caller.
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from typing import TYPE_CHECKING

from ....accounts import issue_token
from ....authz import Principal

if TYPE_CHECKING:
    from ....context import Services

TTL = 900  # seconds
RENEW = 120  # seconds before expiry: a relayed stream may last that long


class RelayTokens:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[str, tuple[str, float]] = {}

    def bearer(self, platform: Services, principal: Principal) -> str:
        with self._lock:
            hit = self._tokens.get(principal.account_id)
            if hit is not None and hit[1] - RENEW > time.monotonic():
                return hit[0]
        with platform.store.write() as db:  # the facade itself asks, for an account already authenticated
            token, _ = issue_token(db, replace(principal, credential="relay"), TTL)
        with self._lock:
            self._tokens[principal.account_id] = (token, time.monotonic() + TTL)
        return token
