"""State that must survive a real restart of the `zkrisk serve` process: rate-limit windows
and the approval recorded for each client order id."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from zkrisk.engine.api.state import Checkpointer, Issued, ServiceState

from .server_fixtures import AUTH_TOML, desk_folder, order, serve_process

FIVE_PER_120_S = {
    "max_orders_per_window = 20": "max_orders_per_window = 5",
    "rate_window_seconds = 1\n": "rate_window_seconds = 120\n",
}


@pytest.mark.timeout(90)
def test_a_restart_does_not_reset_the_rate_limit(tmp_path: Path) -> None:
    folder = desk_folder(tmp_path, FIVE_PER_120_S)
    with serve_process(folder, AUTH_TOML) as first:
        kinds = [first.check(order(client_order_id=f"r-{i}")).json()["verdict"]["kind"]
                 for i in range(5)]  # fmt: skip
    with serve_process(folder, AUTH_TOML) as second:
        after = [second.check(order(client_order_id=f"r-{i}")).json()["verdict"]
                 for i in range(5, 10)]  # fmt: skip
    assert kinds == ["APPROVE"] * 5
    assert [v["kind"] for v in after] == ["REJECT"] * 5
    assert all(v["reasons"][0]["code"] == "RATE_LIMIT" for v in after)


@pytest.mark.timeout(90)
def test_after_a_restart_later_than_the_ttl_a_repeated_id_returns_the_original_bytes(
    tmp_path: Path,
) -> None:
    # The example config freezes the clock: an approval never expires by the service's clock,
    # however much wall time passes, so the id must stay bound to its first approval.
    folder = desk_folder(tmp_path)
    ttl = "[signing]\napproval_ttl_seconds = 1\n"
    with serve_process(folder, AUTH_TOML + ttl) as first:
        original = first.check(order())
        assert original.json()["verdict"]["kind"] == "APPROVE"
    time.sleep(2.5)  # more than the TTL of wall time
    with serve_process(folder, AUTH_TOML + ttl) as second:
        again = second.check(order())
        changed = second.check(order(quantity="3"))
    assert again.status_code == 200 and again.content == original.content
    assert again.headers["idempotent-replayed"] == "true"
    assert changed.status_code == 409
    reason = changed.json()["verdict"]["reasons"][0]
    assert reason["code"] == "DUPLICATE_CLIENT_ORDER_ID" and "'o-1'" in reason["message"]


def test_wal_files_are_checkpointed_off_the_request_path(tmp_path: Path) -> None:
    # With SQLite's own checkpoints off, only the checkpointer thread copies the WAL back into
    # the database file: the file grows past its empty size only if the thread did its work.
    # (Polled with a generous deadline, not raced against the writer: CI machines are loaded.)
    state = ServiceState(tmp_path / "state.sqlite")
    state._db.execute("PRAGMA wal_autocheckpoint=0")  # only the checkpointer may checkpoint
    db_file = tmp_path / "state.sqlite"
    empty_size = db_file.stat().st_size
    checkpointer = Checkpointer([state.path], interval=0.02)
    try:
        for i in range(300):
            state.record("0xabc", f"id-{i}", Issued("f" * 64, i, "x" * 1500), at=i)
        deadline = time.monotonic() + 20
        while db_file.stat().st_size < empty_size + 300 * 1500 and time.monotonic() < deadline:
            time.sleep(0.05)
        checkpointed_size = db_file.stat().st_size
    finally:
        checkpointer.close()
        state.close()
    assert checkpointed_size >= empty_size + 300 * 1500
