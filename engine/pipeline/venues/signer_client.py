"""The Uniswap venue's way to a signature without a key: the risk service approves each order's
transaction, the signer process (`zkrisk signer serve`) signs what the approval covers.

`RemoteSigner` holds no key, only the wallet's address and two loopback clients: the risk
service (`POST /v1/orders/check {order, account?, transaction}`: an APPROVE carries an EIP-712
OrderApproval covering exactly that wallet, target, value and calldata) and the signer
(`POST /v1/sign {approval, transaction, broadcast}`: it signs and sends; the 0-value self-transfer that takes an
order's nonce goes to `POST /v1/sign-call {wallet, transaction, broadcast}`, the signer's built-in
cancel rule; the router allowances to `[[calls]]` rules). A refusal (the service's REJECT, the
signer's 403) is final for that request and says why; no answer is `SignerUnavailable`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any, Final

import httpx

from ...journal.events import OrderSpec
from ...risk.models import Side

SIGNER_BROADCASTS: Final = True
"""Ask the signer to send what it signs (`broadcast: true`: its relay, or the public node, by its
policy); False: the venue broadcasts the signed bytes itself."""
PRICE_QUANTUM: Final = Decimal("1e-8")
"""An approval's limit price is at the book's price precision."""


class SignerRefused(Exception):
    """The risk service or the signer refused the request, with its reason (final for it)."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code, self.detail = code, detail


class SignerUnavailable(Exception):
    """The risk service or the signer did not answer (the request's outcome is unknown)."""


@dataclass(frozen=True, slots=True)
class Signed:
    raw: bytes
    tx_hash: str
    sent: bool
    """The signer broadcast it (route "relay" / "public"): the venue does not."""


def approved_limit(order: OrderSpec, worst: Decimal) -> Decimal:
    """The limit price the approval carries for an order whose swap bound is `worst`: at the
    price precision, rounded towards the order (a sell's minimum up, a buy's maximum down), so
    the swap built at this limit is never looser than `worst`."""
    rounding = ROUND_CEILING if order.side is Side.SELL else ROUND_FLOOR
    return worst.quantize(PRICE_QUANTUM, rounding=rounding)


def unsigned_tx(chain_id: int, nonce: int, call: Mapping[str, Any], fees: tuple[int, int]) -> dict[str, Any]:  # fmt: skip
    """The signer's UnsignedTransaction body of `call` at `nonce` with `fees`."""
    return {"chainId": chain_id, "nonce": nonce, "to": call["to"], "value": call.get("value", 0),
            "data": call.get("data", "0x"), "gas": call["gas"], "maxFeePerGas": fees[0],
            "maxPriorityFeePerGas": fees[1]}  # fmt: skip


def _body(fields: dict[str, Any]) -> str:
    if SIGNER_BROADCASTS:  # absent means false (a signer without the field takes the body)
        fields["broadcast"] = True
    return json.dumps(fields, sort_keys=True)


class RemoteSigner:
    """Approvals from the risk service and signatures from the signer process, for `wallet`."""

    def __init__(self, wallet: str, *, signer_url: str, signer_token: str, risk_service_url: str,
                 risk_service_key: str, account: str | None = None,
                 timeout_s: float = 10.0) -> None:  # fmt: skip
        self.wallet = wallet
        self.account = account
        """The book the service checks against (None: the service holds one)."""
        self._signer = httpx.AsyncClient(base_url=signer_url.rstrip("/"), timeout=timeout_s,
                                         headers={"authorization": f"Bearer {signer_token}"})  # fmt: skip
        self._service = httpx.AsyncClient(base_url=risk_service_url.rstrip("/"),
                                          timeout=timeout_s,
                                          headers={"X-API-Key": risk_service_key})  # fmt: skip

    @property
    def address(self) -> str:
        return self.wallet

    async def approve(self, order: OrderSpec, limit: Decimal, call: Mapping[str, Any]) -> dict[str, Any]:  # fmt: skip
        """The service's signed approval of `order` as a LIMIT order at `limit`, covering the
        transaction `call` (to, value, data) from the wallet; SignerRefused with the service's
        reasons on anything but APPROVE."""
        intent = {"client_order_id": order.client_order_id, "strategy_id": order.strategy_id,
                  "symbol": order.symbol,
                  "side": order.side.value, "quantity": str(order.quantity),
                  "order_type": "LIMIT", "limit_price": str(limit), "counterparty": order.venue}  # fmt: skip
        tx = {"wallet": self.wallet, "to": call["to"], "value": str(call.get("value", 0)),
              "data": call["data"]}  # fmt: skip
        body: dict[str, Any] = {"order": intent, "transaction": tx}
        if self.account is not None:
            body["account"] = self.account
        answer = await self._post(self._service, "/v1/orders/check", body, "the risk service")
        verdict = answer.get("verdict") or {}
        approval = answer.get("approval")
        if verdict.get("kind") != "APPROVE" or not isinstance(approval, dict):
            reasons = "; ".join(f"{r.get('code')}: {r.get('message')}"
                                for r in verdict.get("reasons", [])) or str(answer)  # fmt: skip
            raise SignerRefused("RISK_SERVICE_REJECTED", reasons)
        return approval

    async def sign(self, route: str, request: str) -> Signed:
        """The signer's answer to `request` (the JSON body, exactly as queued) at `route`."""
        body = json.loads(request)
        answer = await self._post(self._signer, route, body, "the signer")
        raw = bytes.fromhex(str(answer["raw_transaction"]).removeprefix("0x"))
        return Signed(raw, str(answer["tx_hash"]), sent=answer.get("route") is not None)

    @staticmethod
    def sign_request(approval: Mapping[str, Any], tx: Mapping[str, Any]) -> str:
        """The /v1/sign body, as queued and sent (JSON text: a resumed request is byte-equal)."""
        return _body({"approval": approval, "transaction": tx})

    def call_request(self, tx: Mapping[str, Any]) -> str:
        """The /v1/sign-call body."""
        return _body({"wallet": self.wallet, "transaction": tx})

    async def _post(self, client: httpx.AsyncClient, path: str, body: Any, who: str) -> dict[str, Any]:  # fmt: skip
        try:
            response = await client.post(path, json=body)
        except httpx.HTTPError as exc:
            raise SignerUnavailable(f"{who} at {client.base_url} did not answer "
                                    f"({type(exc).__name__}: {exc})") from None  # fmt: skip
        try:
            answer: dict[str, Any] = response.json()
        except ValueError:
            answer = {"detail": response.text[:200]}
        if response.status_code == 403 and "refused" in answer:
            raise SignerRefused(str(answer["refused"]), str(answer.get("detail", "")))
        if response.status_code in (401, 404, 413, 422) or (
            response.status_code >= 400 and path.endswith("/check") and "verdict" not in answer
        ):
            raise SignerRefused(f"HTTP_{response.status_code}", f"{who} answered "
                                f"{response.status_code}: {answer.get('detail', answer)}")  # fmt: skip
        if response.status_code >= 500:
            raise SignerUnavailable(f"{who} answered {response.status_code}: {answer}")
        return answer

    async def close(self) -> None:
        await self._signer.aclose()
        await self._service.aclose()
