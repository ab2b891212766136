"""Hypothesis over approval/transaction pairs: nothing the checks pass is outside its approval.

Each example mutates a covered pair (the transaction, the calldata's fields, the approval's
fields, the approval re-signed or not); whenever `check` passes, an independent decoding (web3's
`decode_function_input` against the router artefact's ABI) must find exactly the approved order.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from web3 import Web3

from zkrisk.engine.chain.uniswap_deploy import artefact
from zkrisk.engine.signer.checks import SignRequest, check
from zkrisk.engine.signer.policy import SignerPolicy

from .support import (
    DOMAIN,
    FAKE_VENUE,
    NOW,
    SERVICE_KEY,
    TRADER,
    approve,
    request,
    swap_data,
    transaction,
)

V = FAKE_VENUE
POLICY = SignerPolicy(approver=Web3().eth.account.from_key(SERVICE_KEY).address,
                      approval_domain=DOMAIN, wallets=(TRADER,),
                      uniswap_addresses="uniswap.json", halt_file="HALTED")  # fmt: skip
ROUTER = Web3().eth.contract(abi=artefact("UniswapV2Router02").abi)
OTHER = "0x" + "77" * 20

tx_edits = st.fixed_dictionaries({}, optional={
    "to": st.sampled_from([OTHER, V.router.upper().replace("0X", "0x")]),
    "chainId": st.sampled_from([1, 31337]), "value": st.integers(0, 2),
    "gas": st.integers(21_000, 600_000), "maxFeePerGas": st.integers(0, 10**12)})  # fmt: skip
data_edits = st.fixed_dictionaries({}, optional={
    "side": st.sampled_from(["SELL", "BUY"]), "exact": st.integers(0, 10**18),
    "bound": st.integers(0, 10**6), "to": st.sampled_from([TRADER, OTHER]),
    "deadline": st.integers(NOW - 10, NOW + 1_000)})  # fmt: skip
approval_edits = st.fixed_dictionaries({}, optional={
    "side": st.sampled_from(["SELL", "BUY"]), "quantity": st.sampled_from(["0.5", "0.25", "1"]),
    "limit_price": st.sampled_from(["1", "2", "0.5"]), "expiry": st.integers(NOW - 5, NOW + 5),
    "key": st.sampled_from([SERVICE_KEY, "0x" + "6f" * 32]),
    "wallet": st.sampled_from([TRADER, OTHER]), "target": st.sampled_from([V.router, OTHER])})  # fmt: skip


def covers(a: dict[str, Any], tx: dict[str, Any]) -> bool:
    """The approved order, read independently of `checks`, is exactly what `tx` does."""
    m = a["message"]
    fn, args = ROUTER.decode_function_input(tx["data"])
    side = "SELL" if fn.fn_name == "swapExactTokensForTokens" else "BUY"
    weth, usdc = V.tokens["WETH"].address.lower(), V.tokens["USDC"].address.lower()
    path = [p.lower() for p in args["path"]]
    exact = args.get("amountIn", args.get("amountOut"))
    bound = args.get("amountOutMin", args.get("amountInMax"))
    limit_usdc = int(m["quantity"]) * int(m["limitPrice"]) * 10**6 / 10**16
    return (tx["to"].lower() == V.router.lower() and tx["chainId"] == 31337 and tx["value"] == 0
            and m["wallet"].lower() == TRADER.lower() and m["counterparty"] == "uniswap"
            and side == ("SELL" if m["side"] == 1 else "BUY")
            and path == ([weth, usdc] if side == "SELL" else [usdc, weth])
            and args["to"].lower() == TRADER.lower()
            and exact * 10**8 == int(m["quantity"]) * 10**18
            and (bound >= limit_usdc if side == "SELL" else bound <= limit_usdc)
            and NOW < args["deadline"] <= NOW + POLICY.max_deadline_seconds
            and tx["gas"] <= POLICY.max_gas and int(m["expiry"]) >= NOW)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(tx_edits, data_edits, approval_edits, st.booleans())
def test_no_transaction_the_checks_pass_falls_outside_its_approval(
    tx_edit: dict[str, Any], data_edit: dict[str, Any], approval_edit: dict[str, Any],
    approve_the_edited_calldata: bool,
) -> None:  # fmt: skip
    data = swap_data(V, **({"deadline": NOW + 300} | data_edit))  # judged at NOW (see below)
    approved = data if approve_the_edited_calldata else swap_data(V, deadline=NOW + 300)
    body = request(approve(V, approved, **approval_edit), transaction(V, data, **tx_edit))
    if check(POLICY, V, SignRequest.model_validate(body), NOW) is None:
        assert covers(body["approval"], body["transaction"]), body


def test_the_unedited_pair_passes() -> None:
    data = swap_data(V, deadline=NOW + 300)  # judged at NOW, however late the test runs
    body = request(approve(V, data), transaction(V, data))
    assert check(POLICY, V, SignRequest.model_validate(body), NOW) is None
