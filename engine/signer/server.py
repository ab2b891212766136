"""The signer's API: loopback HTTP, one request at a time, bearer token.

POST /v1/sign {approval, transaction, broadcast?} → 200 {raw_transaction, tx_hash, wallet,
replayed, replacement, route} or 403 {refused, detail}; with `broadcast: true` the signer also
sends it (`delivery.py`: relay, public node by policy; `route` says which) and a send no route
took is 502 {refused: NOT_DELIVERED, detail, refused_by, tx_hash} (signed, on record; a retry
tries again). POST /v1/sign-call {wallet, transaction, broadcast?}: the same replies for a
transaction no approval covers, signed only when a `[[calls]]` rule or the cancel rule does
(`calls.py`). GET /healthz → {status, wallets, halted}. Order per request: HALTED, the
approval's cover (`checks.check`), the wallet's rate, the nonce claimed (committed), the
signature (committed with "to be sent"), the delivery. A single-threaded server: claims and
rate counts never race.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

from coincurve import PrivateKey
from eth_utils.crypto import keccak
from pydantic import ValidationError

from ..api.killswitch import bearer_token, token_matches
from ..chain.uniswap_deploy import UniswapAddresses
from ..journal.crashpoints import crash_point
from .call_log import CallLog
from .calls import CallRequest, call_wallets, check_call, compile_calls
from .checks import Refusal, SignRequest, check
from .delivery import NotDelivered, Route, deliver, deliver_open, no_route
from .eip1559 import sign_eip1559
from .halt import HaltSource
from .nonces import Claim, NonceBook
from .policy import SignerPolicy

MAX_BODY = 16_384


@dataclass
class SignedTransaction:
    raw_transaction: str
    tx_hash: str
    wallet: str
    replayed: bool
    """The very same request was signed before (a retry after a lost reply): the same bytes."""
    replacement: bool
    """The approval's transaction signed again with other fees (same wallet nonce)."""
    route: Route | None = None
    """Who took it when the signer sent it (`broadcast`): "relay" or "public"; else None."""


class Signer:
    """The decision and the signature, without HTTP (the server and the benchmark call this)."""

    def __init__(self, policy: SignerPolicy, venue: UniswapAddresses, keys: dict[str, bytes],
                 halt: HaltSource, clock: Callable[[], float] = time.time) -> None:  # fmt: skip
        allowed = call_wallets(policy)
        missing = sorted(w for w in allowed if w not in keys)
        if missing:
            raise ValueError(f"no keystore for the allowed wallet(s) {missing}: give --keystore")
        self.policy, self.venue, self.halt, self.clock = policy, venue, halt, clock
        self._keys = {w.lower(): PrivateKey(k) for w, k in keys.items()
                      if w.lower() in allowed}  # fmt: skip
        self.calls = compile_calls(policy, venue)
        self.nonces = NonceBook(policy.nonce_db)
        self.call_log = CallLog(policy.nonce_db)

    @property
    def wallets(self) -> list[str]:
        return sorted(self._keys)

    def sign(
        self, request: SignRequest, broadcast: bool = False
    ) -> SignedTransaction | Refusal | NotDelivered:
        refused = self._closed(broadcast)
        if refused is not None:
            return refused
        now = self.clock()
        m = request.approval.message
        wallet, approver = m.wallet.lower(), self.policy.approver.lower()
        fingerprint = "0x" + keccak(text=request.model_dump_json()).hex()
        # An exact repeat of a request signed before (a client resuming after a crash, maybe
        # after the approval expired) passed every check then: it gets the same bytes (RFC 6979),
        # nothing new is signed, and its delivery goes on from its record.
        retry = wallet in self._keys and self.nonces.signed_before(approver, m.nonce, fingerprint)
        if not retry:
            refused = check(self.policy, self.venue, request, int(now))
            if refused is not None:
                return refused
            if self._rate_limited(wallet, now):
                return self._rate_refusal(m.wallet)
        core = request.model_dump_json(exclude={"transaction": {"max_fee_per_gas",
                                                                "max_priority_fee_per_gas"}})  # fmt: skip
        claim = self.nonces.claim(approver, m.nonce, fingerprint, "0x" + keccak(text=core).hex(),
                                  wallet, now)  # fmt: skip
        if claim is Claim.USED:
            return Refusal("REPLAYED", f"approval nonce {m.nonce} already signed another "
                           "transaction (a replacement may change the fees only): ask the risk "
                           "service for a new approval")  # fmt: skip
        crash_point("signer.after_claim")
        raw, tx_hash = sign_eip1559(request.transaction, self._keys[wallet])
        to_deliver = ("0x" + raw.hex(), wallet, now) if broadcast else None
        self.nonces.signed(approver, m.nonce, tx_hash, to_deliver)
        signed = SignedTransaction("0x" + raw.hex(), tx_hash, m.wallet,
                                   replayed=claim is Claim.SAME_REQUEST,
                                   replacement=claim is Claim.REPLACEMENT)  # fmt: skip
        outcome = self.deliver(signed) if broadcast else signed
        crash_point("signer.before_reply")
        return outcome

    def _closed(self, broadcast: bool) -> Refusal | None:
        """What refuses any request before its contents are read: HALTED, no route to send by."""
        halted = self.halt.reason()
        if halted is not None:
            return Refusal("HALTED", f"trading is HALTED: {halted}")
        unroutable = no_route(self.policy) if broadcast else None
        return None if unroutable is None else Refusal("NO_ROUTE", unroutable)

    def _rate_limited(self, wallet: str, now: float) -> bool:
        """Approvals' and calls' signatures together within the window."""
        since = now - self.policy.rate_limit_seconds
        used = self.nonces.recent(wallet, since) + self.call_log.recent(wallet, since)
        return used >= self.policy.rate_limit_count

    def _rate_refusal(self, wallet: str) -> Refusal:
        return Refusal("RATE_LIMITED", f"wallet {wallet} had {self.policy.rate_limit_count} "
                       f"signatures in the last {self.policy.rate_limit_seconds:g} s")  # fmt: skip

    def sign_call(
        self, request: CallRequest, broadcast: bool = False
    ) -> SignedTransaction | Refusal | NotDelivered:
        """A transaction no approval covers: a `[[calls]]` rule of the policy, or the cancel."""
        refused = self._closed(broadcast)
        if refused is not None:
            return refused
        tx, wallet = request.transaction, request.wallet.lower()
        refused = check_call(self.policy, self.calls, wallet, tx)
        if refused is not None:
            return refused
        now = self.clock()
        if self._rate_limited(wallet, now):
            return self._rate_refusal(request.wallet)
        raw, tx_hash = sign_eip1559(tx, self._keys[wallet])
        kind = "cancel" if tx.to.lower() == wallet else "call"
        self.call_log.record(tx_hash, wallet, tx.to.lower(), kind, request.model_dump_json(), now)
        signed = SignedTransaction("0x" + raw.hex(), tx_hash, request.wallet, replayed=False,
                                   replacement=False)  # fmt: skip
        return self.deliver(signed) if broadcast else signed

    def deliver(self, signed: SignedTransaction) -> SignedTransaction | NotDelivered:
        """Send `signed` by the policy's routes (the only place the signer sends), unless its
        record says a route took it already; `signed` with the route that took it."""
        routed = deliver(self.policy, self.nonces, signed.raw_transaction, signed.tx_hash,
                         signed.wallet.lower())  # fmt: skip
        return routed if isinstance(routed, NotDelivered) else replace(signed, route=routed)

    def deliver_open(self) -> list[str]:
        """At start: send what a crash left signed but not sent; one line per transaction.
        Not while HALTED (then a retry of the request, or the next start, sends it)."""
        halted = self.halt.reason()
        if halted is not None:
            return [f"{d.tx_hash}: NOT sent, trading is HALTED: {halted}"
                    for d in self.nonces.undelivered()]  # fmt: skip
        return [f"{d.tx_hash}: " + (f"sent via {o}" if isinstance(o, str) else
                                    f"NOT sent: {o.route}: {o.detail}")
                for d, o in deliver_open(self.policy, self.nonces)]  # fmt: skip

    def close(self) -> None:
        self.nonces.close()
        self.call_log.close()
        self.halt.close()


def split_broadcast(body: bytes) -> tuple[dict[str, Any], bool]:
    """A request body's JSON object without its `broadcast` flag (kept out of the request's
    fingerprint: a retry that adds it is the same request), and the flag."""
    try:
        fields = json.loads(body)
    except ValueError:
        raise ValueError("the body is not JSON") from None
    if not isinstance(fields, dict):
        raise ValueError("the body must be a JSON object")
    broadcast = fields.pop("broadcast", False)
    if not isinstance(broadcast, bool):
        raise ValueError(f"broadcast: true or false, not {broadcast!r}")
    return fields, broadcast


def reply_for(outcome: SignedTransaction | Refusal | NotDelivered) -> tuple[int, dict[str, Any]]:
    """(HTTP status, JSON body): 200 signed (and sent), 403 refused, 502 signed, not sent."""
    if isinstance(outcome, Refusal):
        return 403, {"refused": outcome.code, "detail": outcome.detail}
    if isinstance(outcome, NotDelivered):
        return 502, {"refused": "NOT_DELIVERED", "detail": f"{outcome.route}: {outcome.detail}",
                     "refused_by": outcome.route, "tx_hash": outcome.tx_hash}  # fmt: skip
    return 200, outcome.__dict__


def _handler(signer: Signer, token: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        timeout = 5.0  # one request at a time: a client that stalls mid-request is dropped

        def log_message(self, format: str, *args: Any) -> None:
            pass  # no per-request log lines (a refusal's reason goes back to the caller)

        def _reply(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _authorized(self) -> bool:
            if token_matches(bearer_token(self.headers.get("authorization")), token):
                return True
            self._reply(401, {"detail": "missing or wrong token: send "
                              "'Authorization: Bearer <token>'"})  # fmt: skip
            return False

        def do_GET(self) -> None:
            if not self._authorized():
                return
            if self.path != "/healthz":
                return self._reply(404, {"detail": f"no route {self.path}"})
            self._reply(200, {"status": "ok", "wallets": signer.wallets,
                              "halted": signer.halt.reason()})  # fmt: skip

        def do_POST(self) -> None:
            if not self._authorized():
                return
            if self.path not in ("/v1/sign", "/v1/sign-call"):
                return self._reply(404, {"detail": f"no route {self.path}"})
            try:
                length = int(self.headers.get("content-length") or 0)
            except ValueError:
                length = 0
            if not 0 < length <= MAX_BODY:
                return self._reply(413, {"detail": f"a body of 1 to {MAX_BODY} bytes is needed"})
            try:
                fields, broadcast = split_broadcast(self.rfile.read(length))
                if self.path == "/v1/sign-call":
                    call = CallRequest.model_validate(fields)
                    return self._reply(*reply_for(signer.sign_call(call, broadcast)))
                request = SignRequest.model_validate(fields)
            except ValidationError as exc:
                errors = [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
                return self._reply(422, {"detail": errors})
            except ValueError as exc:
                return self._reply(422, {"detail": [str(exc)]})
            self._reply(*reply_for(signer.sign(request, broadcast)))

    return Handler


def build_server(signer: Signer, token: str) -> HTTPServer:
    return HTTPServer((signer.policy.host, signer.policy.port), _handler(signer, token))
