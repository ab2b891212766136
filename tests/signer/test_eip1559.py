"""The signer's direct EIP-1559 signing gives eth-account's bytes exactly."""

from __future__ import annotations

from coincurve import PrivateKey
from eth_account import Account
from hypothesis import given, settings
from hypothesis import strategies as st

from zkrisk.engine.signer.checks import UnsignedTransaction
from zkrisk.engine.signer.eip1559 import sign_eip1559

from .support import TRADER_KEY

KEY, ACCOUNT = PrivateKey(bytes.fromhex(TRADER_KEY[2:])), Account.from_key(TRADER_KEY)
u256 = st.integers(0, 2**256 - 1)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 2**64 - 1), st.integers(0, 2**64 - 1), u256, u256, st.integers(21_000, 2**63),
       st.binary(min_size=20, max_size=20), u256, st.binary(max_size=300))  # fmt: skip
def test_direct_signing_gives_the_bytes_and_hash_eth_account_gives(
    chain_id: int, nonce: int, fee: int, tip: int, gas: int, to: bytes, value: int, data: bytes
) -> None:
    tx = UnsignedTransaction(chainId=chain_id, nonce=nonce, to="0x" + to.hex(), value=value,
                             data="0x" + data.hex(), gas=gas, maxFeePerGas=fee,
                             maxPriorityFeePerGas=tip)  # fmt: skip
    raw, tx_hash = sign_eip1559(tx, KEY)
    expected = ACCOUNT.sign_transaction(tx.for_signing())
    assert raw == bytes(expected.raw_transaction)
    assert tx_hash == "0x" + bytes(expected.hash).hex()
