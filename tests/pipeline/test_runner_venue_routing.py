"""Routing after a restart: a venue the journal says is down stays out of routing in the runner
that starts on that journal. The runner builds order send before it restores its projections
from their snapshot (a new Orders object), so routing must read the pipeline's Orders as they
are now, not the empty one it was built beside (a restart would otherwise route orders to a
venue known to be down, until its next failures).
In-process runner on a real SQLite journal; no exchange is contacted (nothing is sent)."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path

from zkrisk.engine.journal.events import Draft, VenueHealth
from zkrisk.engine.journal.sqlite import SQLiteJournal
from zkrisk.engine.pipeline.run_config import load_run_config
from zkrisk.engine.pipeline.runner import Runner

from ..api.server_fixtures import free_port
from .runner_support import write_config

T0 = 1_767_225_600_000_000_000
VENUE = "simex"


def test_a_venue_down_in_the_journal_is_out_of_routing_once_the_runner_restores(
    tmp_path: Path,
) -> None:
    simex = f'{{ url = "ws://127.0.0.1:{free_port()}", account = "desk" }}'
    venue = f'\n[venue]\nkind = "simex"\nsimex = {simex}\n'
    loaded = load_run_config(write_config(tmp_path, free_port(), extra=venue))
    down = VenueHealth(venue=VENUE, up=False, reason="3 consecutive failed calls")
    with closing(SQLiteJournal(loaded.journal_path)) as journal:
        journal.append([Draft("venue", f"venue:{VENUE}:down:1", down, T0, T0)])
        first = Runner(journal, loaded)
        first.pipeline.drain()
        first.pipeline.save_snapshot()  # the restarted runner restores from it
        runner = Runner(journal, loaded)
        assert runner.order_send is not None
        assert runner.pipeline.restore() > 0
        runner.pipeline.drain()  # what run_until does first
        assert not runner.pipeline.orders.venue_is_up(VENUE)  # the journal's state, restored
        routing = runner.order_send.routing
        assert not routing.routable(VENUE) and routing.route([VENUE]) is None
