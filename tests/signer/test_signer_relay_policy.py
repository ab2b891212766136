"""The relay's policy fields, the delivery record in the nonce file (old files still open), and
no delivery at start while HALTED: in-process, with the local relay server (no chain needed)."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from zkrisk.engine.signer.halt import HaltSource
from zkrisk.engine.signer.nonces import Claim, NonceBook
from zkrisk.engine.signer.policy import SignerPolicy, load_signer_policy
from zkrisk.engine.signer.server import Signer

from .relay_server import relay_server, unreachable_url
from .support import DOMAIN, FAKE_VENUE, TRADER, TRADER_KEY, write_setup

OLD_SCHEMA = """
CREATE TABLE used_nonces (approver TEXT NOT NULL, nonce TEXT NOT NULL, request TEXT NOT NULL,
    core TEXT NOT NULL, wallet TEXT NOT NULL, used_at REAL NOT NULL, tx_hash TEXT,
    PRIMARY KEY (approver, nonce));
CREATE INDEX used_by_wallet ON used_nonces (wallet, used_at);
"""
"""The nonce file as the signer wrote it before deliveries were recorded."""


def policy(**fields: Any) -> SignerPolicy:
    base: dict[str, Any] = {"approver": "0x" + "11" * 20, "wallets": [TRADER],
                            "uniswap_addresses": "u.json", "halt_file": "HALTED",
                            "approval_domain": DOMAIN.model_dump()}  # fmt: skip
    return SignerPolicy.model_validate(base | fields)


def test_a_policy_without_a_relay_keeps_todays_behaviour() -> None:
    assert policy().relay is None and policy().public_rpc_url is None


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"relay": {"url": "http://r", "fallback": "public"}}, "need public_rpc_url"),
        ({"relay": {"url": "http://r", "method": "eth_sendBundle"}}, "need public_rpc_url"),
        ({"relay": {"url": "r.example"}}, "give an http:// or https:// URL"),
        ({"public_rpc_url": "localhost:8545"}, "give an http:// or https:// URL"),
        ({"relay": {"url": "http://r", "method": "eth_sendTransaction"}}, "eth_sendBundle"),
        ({"relay": {"url": "http://r", "fallback": "maybe"}}, "'public' or 'none'"),
        ({"relay": {"url": "http://r", "retries": 3}}, "Extra inputs are not permitted"),
    ],
)
def test_a_relay_policy_that_cannot_work_is_refused_saying_what_to_fix(
    fields: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        policy(**fields)


def test_a_nonce_file_from_before_deliveries_opens_and_records_them(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as old:
        old.executescript(OLD_SCHEMA)
        old.execute("INSERT INTO used_nonces VALUES ('0xa', '1', 'r', 'c', '0xw', 1.0, '0xh')")
    old.close()
    book = NonceBook(path)
    try:
        assert book.claim("0xa", 1, "r", "c", "0xw", 2.0) is Claim.SAME_REQUEST
        assert book.claim("0xa", 2, "r2", "c2", "0xw", 2.0) is Claim.NEW
        book.signed("0xa", 2, "0xh2", ("0x02ff", "0xw", 2.0))
        (open_delivery,) = book.undelivered()
        assert (open_delivery.tx_hash, open_delivery.raw, open_delivery.state) == (
            "0xh2", "0x02ff", "signed"
        )  # fmt: skip
    finally:
        book.close()


def test_no_delivery_is_sent_at_start_while_halted_and_it_is_sent_once_after(
    tmp_path: Path,
) -> None:
    with relay_server(unreachable_url(), mode="hold") as relay:
        config, _, _ = write_setup(tmp_path, FAKE_VENUE)
        config.write_text(config.read_text() + f'[relay]\nurl = "{relay.url}"\n')
        loaded, venue = load_signer_policy(config)
        book = NonceBook(loaded.nonce_db)
        book.claim("0xa", 1, "r", "c", TRADER.lower(), time.time())
        book.signed("0xa", 1, "0x" + "ab" * 32, ("0x02beef", TRADER.lower(), time.time()))
        book.close()
        (tmp_path / "HALTED").touch()
        keys = {TRADER.lower(): bytes.fromhex(TRADER_KEY[2:])}
        signer = Signer(loaded, venue, keys, HaltSource(loaded.halt_file, None))
        try:
            (line,) = signer.deliver_open()
            assert "NOT sent, trading is HALTED" in line and relay.calls == []
            (tmp_path / "HALTED").unlink()
            assert signer.deliver_open() == ["0x" + "ab" * 32 + ": sent via relay"]
            assert signer.deliver_open() == []
        finally:
            signer.close()
        assert relay.received("0x02beef") == 1


def test_a_delivery_older_than_the_deadline_window_is_not_sent_at_start(tmp_path: Path) -> None:
    with relay_server(unreachable_url(), mode="hold") as relay:
        config, _, _ = write_setup(tmp_path, FAKE_VENUE, max_deadline_seconds=600)
        config.write_text(config.read_text() + f'[relay]\nurl = "{relay.url}"\n')
        loaded, venue = load_signer_policy(config)
        book = NonceBook(loaded.nonce_db)
        now = time.time()
        for nonce, raw, signed_at in ((1, "0x02aa", now - 601), (2, "0x02bb", now - 10)):
            book.claim("0xa", nonce, f"r{nonce}", f"c{nonce}", TRADER.lower(), signed_at)
            book.signed("0xa", nonce, raw + "00" * 31, (raw, TRADER.lower(), signed_at))
        book.close()
        keys = {TRADER.lower(): bytes.fromhex(TRADER_KEY[2:])}
        signer = Signer(loaded, venue, keys, HaltSource(loaded.halt_file, None))
        try:
            stale, fresh = signer.deliver_open()
            assert "more than max_deadline_seconds (600) before: not sent" in stale
            assert fresh.endswith("sent via relay")
            assert signer.deliver_open() == []
        finally:
            signer.close()
        assert (relay.received("0x02aa"), relay.received("0x02bb")) == (0, 1)
