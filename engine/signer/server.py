"""The signer's API: loopback HTTP, one request at a time, bearer token.

POST /v1/sign {approval, transaction} → 200 {raw_transaction, tx_hash, wallet, replayed} or
403 {refused, detail}; GET /healthz → {status, wallets, halted}. Order per request: HALTED,
the approval's cover (`checks.check`), the wallet's rate, the nonce claimed (committed), then
the signature. A single-threaded server: claims and rate counts never race.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

from coincurve import PrivateKey
from eth_utils.crypto import keccak
from pydantic import ValidationError

from ..api.killswitch import bearer_token, token_matches
from ..chain.uniswap_deploy import UniswapAddresses
from ..journal.crashpoints import crash_point
from .checks import Refusal, SignRequest, check
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


class Signer:
    """The decision and the signature, without HTTP (the server and the benchmark call this)."""

    def __init__(self, policy: SignerPolicy, venue: UniswapAddresses, keys: dict[str, bytes],
                 halt: HaltSource, clock: Callable[[], float] = time.time) -> None:  # fmt: skip
        missing = [w for w in policy.wallets if w not in keys]
        if missing:
            raise ValueError(f"no keystore for the allowed wallet(s) {missing}: give --keystore")
        self.policy, self.venue, self.halt, self.clock = policy, venue, halt, clock
        self._keys = {w.lower(): PrivateKey(k) for w, k in keys.items()
                      if w.lower() in policy.wallets}  # fmt: skip
        self.nonces = NonceBook(policy.nonce_db)

    @property
    def wallets(self) -> list[str]:
        return sorted(self._keys)

    def sign(self, request: SignRequest) -> SignedTransaction | Refusal:
        halted = self.halt.reason()
        if halted is not None:
            return Refusal("HALTED", f"trading is HALTED: {halted}")
        now = self.clock()
        refused = check(self.policy, self.venue, request, int(now))
        if refused is not None:
            return refused
        m = request.approval.message
        wallet = m.wallet.lower()
        since = now - self.policy.rate_limit_seconds
        if self.nonces.recent(wallet, since) >= self.policy.rate_limit_count:
            return Refusal("RATE_LIMITED", f"wallet {m.wallet} had {self.policy.rate_limit_count}"
                           f" signatures in the last {self.policy.rate_limit_seconds:g} s")  # fmt: skip
        approver = self.policy.approver.lower()
        fingerprint = "0x" + keccak(text=request.model_dump_json()).hex()
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
        self.nonces.signed(approver, m.nonce, tx_hash)
        crash_point("signer.before_reply")
        return SignedTransaction("0x" + raw.hex(), tx_hash, m.wallet,
                                 replayed=claim is Claim.SAME_REQUEST,
                                 replacement=claim is Claim.REPLACEMENT)  # fmt: skip

    def close(self) -> None:
        self.nonces.close()
        self.halt.close()


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
            if self.path != "/v1/sign":
                return self._reply(404, {"detail": f"no route {self.path}"})
            try:
                length = int(self.headers.get("content-length") or 0)
            except ValueError:
                length = 0
            if not 0 < length <= MAX_BODY:
                return self._reply(413, {"detail": f"a body of 1 to {MAX_BODY} bytes is needed"})
            try:
                request = SignRequest.model_validate_json(self.rfile.read(length))
            except ValidationError as exc:
                errors = [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
                return self._reply(422, {"detail": errors})
            outcome = signer.sign(request)
            if isinstance(outcome, Refusal):
                return self._reply(403, {"refused": outcome.code, "detail": outcome.detail})
            self._reply(200, outcome.__dict__)

    return Handler


def build_server(signer: Signer, token: str) -> HTTPServer:
    return HTTPServer((signer.policy.host, signer.policy.port), _handler(signer, token))
