"""API keys for order checks: the config holds only their sha256, each naming a desk / client.

A client sends its key as `X-API-Key: <key>` or `Authorization: Bearer <key>`. The presented
key is hashed and compared with every configured hash in constant time (no early exit), so
neither the file nor response timing reveals a key. Keys are random tokens (≥ 128 bits), so a
plain sha256 is enough: there is nothing to brute-force that a slow hash would protect.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass

MIN_KEY_LENGTH = 24


def hash_key(key: str) -> str:
    """The hex sha256 a config stores for `key`."""
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Client:
    """Who an API key belongs to, and which books it may check orders against."""

    name: str
    accounts: frozenset[str]  # lower-case; empty: every book the service holds

    def may_use(self, account: str) -> bool:
        return not self.accounts or account.lower() in self.accounts


class KeyRing:
    """The configured keys; `match` answers which client, if any, presented key belongs to."""

    def __init__(self, entries: Sequence[tuple[str, Client]]) -> None:
        self._entries = [(bytes.fromhex(digest), client) for digest, client in entries]

    def match(self, presented: str | None) -> Client | None:
        if not presented:
            return None
        digest = hashlib.sha256(presented.encode()).digest()
        found = None
        for expected, client in self._entries:  # every entry, always: constant time
            if hmac.compare_digest(digest, expected):
                found = client
        return found


def presented_key(x_api_key: str | None, authorization: str | None) -> str | None:
    """The key from `X-API-Key`, else from `Authorization: Bearer`, else None."""
    if x_api_key:
        return x_api_key.strip() or None
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None
