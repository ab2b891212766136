"""EIP-712 approvals without a server: the typed data, the digest, and what verification refuses."""

from __future__ import annotations

from decimal import Decimal

from eth_account import Account
from eth_account.messages import encode_typed_data

from zkrisk.engine.api.config import SigningConfig
from zkrisk.engine.api.schemas import SignedApproval
from zkrisk.engine.api.signer import (
    ORDER_APPROVAL_TYPE,
    ApprovalSigner,
    approval_message,
    typed_data,
    verify_approval,
)
from zkrisk.engine.risk.models import OrderIntent

KEY = "0x" + "5e" * 32
CONFIG = SigningConfig(chain_id=8453, verifying_contract="0x" + "c0" * 20)


def signed_market_order() -> tuple[ApprovalSigner, SignedApproval]:
    intent = OrderIntent(client_order_id="m-1", symbol="WETH", side="SELL",
                         quantity=Decimal("2.5"), order_type="MARKET", max_slippage_bps=30,
                         counterparty="uniswap-v3")  # fmt: skip
    signer = ApprovalSigner(KEY, CONFIG)
    message = approval_message(intent, account="0x" + "12" * 20, policy_id="p/1",
                               snapshot_id=7, nonce=99, expiry=2_000_000_000)  # fmt: skip
    return signer, signer.sign(message)


def test_the_solidity_type_string_lists_every_field_in_order() -> None:
    assert ORDER_APPROVAL_TYPE == (
        "OrderApproval(address account,string clientOrderId,string symbol,uint8 side,"
        "uint256 quantity,uint256 limitPrice,uint16 maxSlippageBps,string counterparty,"
        "string policyId,uint64 snapshotId,uint256 nonce,uint64 expiry,address wallet,"
        "address target,uint256 value,bytes32 callDataHash)"
    )


def test_market_order_approval_carries_slippage_and_no_limit_price() -> None:
    _, approval = signed_market_order()
    message = approval.message
    assert (message.side, message.limit_price, message.max_slippage_bps) == (1, 0, 30)
    assert message.quantity == 250_000_000


def test_digest_is_the_eip712_hash_that_any_wallet_library_computes() -> None:
    signer, approval = signed_market_order()
    full = typed_data(approval.domain, approval.message)
    signed = Account.sign_typed_data(KEY, full_message=full)
    assert approval.digest == "0x" + bytes(signed.message_hash).hex()
    assert Account.recover_message(encode_typed_data(full_message=full),
                                   signature=signed.signature) == signer.address  # fmt: skip


def test_verification_refuses_another_domain_an_expired_approval_and_bad_bytes() -> None:
    signer, approval = signed_market_order()
    a = approval
    assert verify_approval(a, signer.address, domain=signer.domain, now=2_000_000_000)
    other = signer.domain.model_copy(update={"verifying_contract": "0x" + "c1" * 20})
    assert not verify_approval(a, signer.address, domain=other)
    assert not verify_approval(a, signer.address, now=2_000_000_001)
    garbled = a.model_copy(update={"signature": "0x" + "00" * 65})
    assert not verify_approval(garbled, signer.address)
    assert not verify_approval(a, "0x" + "12" * 20)


def test_signatures_use_low_s_and_v_27_or_28_as_ecrecover_contracts_require() -> None:
    secp256k1_n = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
    for nonce in range(20):
        signer, approval = signed_market_order()
        message = approval.message.model_copy(update={"nonce": nonce})
        raw = bytes.fromhex(signer.sign(message).signature[2:])
        assert len(raw) == 65 and raw[64] in (27, 28)
        assert int.from_bytes(raw[32:64], "big") <= secp256k1_n // 2
