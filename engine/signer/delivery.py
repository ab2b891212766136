"""The signer sends what it signed (`broadcast`): through the policy's relay, falling back to the
public node only when the policy says so, each step on record in the nonce book first.

Order: the signature and "to be sent" are one commit (`NonceBook.signed`), then each route is
committed as `sending` before it is tried and `sent` / `failed` after. A SIGKILL anywhere in
between leaves a `signed` or `sending` row that the restart (`deliver_open`) sends; a route
that already took it (the crash came after the send) is found on the public node by hash and
only recorded; not while HALTED (`Signer.deliver_open`), and not once older than the swap
deadline window. A retry of a request whose delivery is `sent` gets the recorded route and
nothing is sent again. Known gap: a transaction a relay holds unmined when the signer dies
after sending it is sent to that relay once more after the restart (the same bytes and hash:
it can still mine only once; relays drop the duplicate).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

from ..journal.crashpoints import crash_point
from .nonces import Delivery, NonceBook
from .policy import SignerPolicy
from .relay import RouteError, known_to_node, latest_block, relay_params, rpc, send_public

Route = Literal["relay", "public"]
PUBLIC_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class NotDelivered:
    """No allowed route took the signed transaction (its signature stays on record)."""

    tx_hash: str
    route: str
    """What refused, named: `relay <url>` or `public node <url>`."""
    detail: str


def no_route(policy: SignerPolicy) -> str | None:
    """Why `broadcast` cannot be served by this policy (None: it can)."""
    if policy.relay is None and policy.public_rpc_url is None:
        return ("broadcast needs a route: set [relay] url or public_rpc_url in signer.toml, or "
                "sign with broadcast false and send it yourself")  # fmt: skip
    return None


def send(policy: SignerPolicy, raw: str, tx_hash: str, book: NonceBook) -> Route | NotDelivered:
    """Hand `raw` to the relay, then (fallback "public" or no relay) the public node."""
    relay, public = policy.relay, policy.public_rpc_url
    refused = ""
    if relay is not None:
        name = f"relay {relay.url} ({relay.method})"
        try:
            block = None if public is None else latest_block(public, relay.timeout_s)
        except RouteError:
            block = None  # maxBlockNumber is optional; eth_sendBundle's params refuse below
        try:
            params = relay_params(relay.method, raw, block, relay.max_blocks_ahead)
            book.sending(tx_hash, "relay")
            rpc(relay.url, relay.method, params, relay.timeout_s)
            return "relay"
        except RouteError as exc:
            if relay.fallback == "none" or public is None:
                return NotDelivered(tx_hash, name, f"{exc} (fallback is \"none\": not sent to "
                                    "the public node)")  # fmt: skip
            refused = f" after {name}: {exc}"
    assert public is not None, "no_route() is checked before signing"
    try:
        book.sending(tx_hash, "public")
        send_public(public, raw, PUBLIC_TIMEOUT_S)
        return "public"
    except RouteError as exc:
        return NotDelivered(tx_hash, f"public node {public}", f"{exc}{refused}")


def deliver(
    policy: SignerPolicy, book: NonceBook, raw: str, tx_hash: str, wallet: str
) -> Route | NotDelivered:
    """Send the signed `raw` unless its record says it was sent; record the outcome."""
    record = book.to_deliver(tx_hash, raw, wallet, time.time())
    if record.state == "sent" and record.route is not None:
        return "relay" if record.route == "relay" else "public"
    if record.state != "signed" and _already_sent(policy, record):
        return _recorded(book, record)
    crash_point("signer.after_sign_before_send")
    outcome = send(policy, raw, tx_hash, book)
    crash_point("signer.after_send_before_record")
    if isinstance(outcome, NotDelivered):
        book.failed(tx_hash, f"{outcome.route}: {outcome.detail}")
    else:
        book.sent(tx_hash, outcome, time.time())
    return outcome


def deliver_open(
    policy: SignerPolicy, book: NonceBook
) -> list[tuple[Delivery, Route | NotDelivered]]:
    """After a restart: send every delivery a crash interrupted (each once; see the module),
    but none signed more than `max_deadline_seconds` ago: a swap's router deadline has passed
    by then (it would only revert, paying gas); those are recorded failed."""
    out: list[tuple[Delivery, Route | NotDelivered]] = []
    for d in book.undelivered():
        age = time.time() - d.signed_at
        if age > policy.max_deadline_seconds:
            stale = NotDelivered(d.tx_hash, "the signer at start", f"signed {age:.0f} s ago, "
                                 f"more than max_deadline_seconds ({policy.max_deadline_seconds})"
                                 " before: not sent")  # fmt: skip
            book.failed(d.tx_hash, stale.detail)
            out.append((d, stale))
        else:
            out.append((d, deliver(policy, book, d.raw, d.tx_hash, d.wallet)))
    return out


def _already_sent(policy: SignerPolicy, record: Delivery) -> bool:
    """A route was being tried (or failed) before: does the public node know the hash?"""
    if policy.public_rpc_url is None:
        return False
    try:
        return known_to_node(policy.public_rpc_url, record.tx_hash, PUBLIC_TIMEOUT_S)
    except RouteError:
        return False


def _recorded(book: NonceBook, record: Delivery) -> Route:
    route: Route = "relay" if record.route == "relay" else "public"
    book.sent(record.tx_hash, route, time.time())
    return route
