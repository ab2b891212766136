"""A venue run's start: an exchange that refuses the run's credentials stops it at once (no
retry changes a token), one that is merely down is waited for. Real feed, simex and runner
processes, the real journal."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from zkrisk.engine.journal.events import Alert, AlertSeverity, OrderAccepted, OrderSubmitted

from ..api.server_fixtures import free_port
from .runner_support import records, records_so_far, start_feed, start_runner, wait_until
from .runner_support import write_config as write_run_config
from .test_runner_venue import CROSSER, start_simex, stop

TOKENS = ("--token", "desk=desk-secret-token", "--token", "other=other-secret-token")


def _venue(port: int, token_env: str | None = None) -> str:
    token = f', token_env = "{token_env}"' if token_env else ""
    return (f'\n[venue]\nkind = "simex"\n'
            f'simex = {{ url = "ws://127.0.0.1:{port}", account = "desk"{token} }}\n')  # fmt: skip


@pytest.mark.parametrize(
    ("token", "refusal", "fix"),
    [
        (None, "HTTP 401", "token_env names the environment variable"),
        ("other-secret-token", "HTTP 403", "set [venue.simex] account to the token's account"),
    ],
    ids=["no-token", "another-accounts-token"],
)
def test_a_run_the_exchange_refuses_stops_at_once_saying_the_fix_and_journals_an_alert(
    tmp_path: Path, token: str | None, refusal: str, fix: str
) -> None:
    feed_port, simex_port = free_port(), free_port()
    feed = start_feed(feed_port, "--rate", "100")
    simex = start_simex(simex_port, *TOKENS)
    extra = _venue(simex_port, "DESK_TOKEN" if token else None)
    config = write_run_config(tmp_path, feed_port, strategies=CROSSER, extra=extra)
    env = {"DESK_TOKEN": token} if token else None
    started = time.monotonic()
    run = start_runner(config, "--duration", "60", env=env)
    try:
        _, err = run.communicate(timeout=30)  # a retry loop would still run: TimeoutExpired
        took = time.monotonic() - started
        text = err.decode()
        assert run.returncode == 2, text
        assert refusal in text and fix in text and "the run stopped" in text, text
        assert took < 20, f"the refusal took {took:.1f} s"
        alerts = [r.event for r in records(tmp_path / "journal.db")
                  if isinstance(r.event, Alert) and r.event.name == "VenueUnusable"]  # fmt: skip
        assert len(alerts) == 1 and alerts[0].severity is AlertSeverity.CRITICAL
        assert refusal in alerts[0].message and alerts[0].component == "order-send"
    finally:
        stop(run, simex, feed)


def test_a_run_started_while_the_exchange_is_down_connects_when_it_comes_up_and_sends_its_orders(
    tmp_path: Path,
) -> None:
    feed_port, simex_port = free_port(), free_port()
    feed = start_feed(feed_port, "--rate", "200")
    config = write_run_config(tmp_path, feed_port, strategies=CROSSER, extra=_venue(simex_port))
    journal = tmp_path / "journal.db"
    run = start_runner(config, "--duration", "60")
    simex: subprocess.Popen[bytes] | None = None
    try:
        # orders are journaled while nothing listens on the exchange's port
        wait_until(lambda: any(isinstance(r.event, OrderSubmitted)
                               for r in records_so_far(journal)), what="an order")  # fmt: skip
        time.sleep(3)  # several connect attempts fail meanwhile
        assert run.poll() is None, run.communicate()[1].decode()
        early = {r.event.order.client_order_id for r in records(journal)
                 if isinstance(r.event, OrderSubmitted)}  # fmt: skip
        simex = start_simex(simex_port)

        def early_orders_acked() -> bool:
            acked = {r.event.client_order_id for r in records_so_far(journal)
                     if isinstance(r.event, OrderAccepted)}  # fmt: skip
            return early <= acked

        wait_until(early_orders_acked, timeout=30, what="the orders of the down time acked")
        stop(run)
        assert run.returncode == 0
        assert not [r for r in records(journal) if isinstance(r.event, Alert)
                    and r.event.name == "VenueUnusable"]  # fmt: skip
    finally:
        stop(run, *([simex] if simex else []), feed)


def test_a_run_whose_token_the_exchange_stops_taking_mid_run_stops_saying_the_fix(
    tmp_path: Path,
) -> None:
    feed_port, simex_port = free_port(), free_port()
    feed = start_feed(feed_port, "--rate", "200")
    simex = start_simex(simex_port)
    config = write_run_config(tmp_path, feed_port, strategies=CROSSER, extra=_venue(simex_port))
    journal = tmp_path / "journal.db"
    run = start_runner(config, "--duration", "60")
    try:
        wait_until(lambda: any(isinstance(r.event, OrderAccepted)
                               for r in records_so_far(journal)), what="an ack")  # fmt: skip
        stop(simex)  # the exchange restarts, now wanting a token the run does not have
        simex = start_simex(simex_port, *TOKENS)
        _, err = run.communicate(timeout=30)
        assert run.returncode == 2 and "HTTP 401" in err.decode(), err.decode()
        alerts = [r.event for r in records(journal)
                  if isinstance(r.event, Alert) and r.event.name == "VenueUnusable"]  # fmt: skip
        assert len(alerts) == 1 and "token_env" in alerts[0].message
    finally:
        stop(run, simex, feed)
