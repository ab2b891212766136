"""A feed outage fails ingest over to the secondary server and back, with FeedHealth events."""

from __future__ import annotations

import asyncio
from pathlib import Path

from zkrisk.engine.journal.events import FeedHealth, FeedStatus
from zkrisk.engine.journal.sqlite import SQLiteJournal
from zkrisk.engine.pipeline.feed_server import FeedServer
from zkrisk.engine.pipeline.ingest import Ingest

from .feed_support import market_data, run_until, ws_config


def test_an_outage_of_the_primary_fails_over_to_the_secondary_and_back(tmp_path: Path) -> None:
    journal = SQLiteJournal(tmp_path / "journal.sqlite")

    async def scenario() -> Ingest:
        async with FeedServer() as primary, FeedServer() as backup:
            config = ws_config(primary.url, backup.url, failback_after_ms=300,
                               source={"down_after_ms": 200})  # fmt: skip
            ingest = Ingest(journal, config)
            feeds = [asyncio.create_task(s.run(200)) for s in (primary, backup)]

            async def outage() -> None:
                await primary.subscribed()
                await backup.subscribed()
                await asyncio.sleep(0.3)
                await primary.outage(1.0, "close")

            def failed_back() -> bool:
                reasons = [c["reason"] for c in ingest_health()]
                return "FAILBACK from backup" in reasons

            def ingest_health() -> list[dict[str, str]]:
                return [{"source": d.event.source, "reason": d.event.reason}
                        for d in ingest.journal.iter_from(0, streams=["ingest"])
                        if isinstance(d.event, FeedHealth)]  # fmt: skip

            await run_until(ingest, failed_back, before=outage, timeout=15)
            for f in feeds:
                f.cancel()
            return ingest

    ingest = asyncio.run(scenario())
    health = [r.event for r in journal.iter_from(0, streams=["ingest"])
              if isinstance(r.event, FeedHealth)]  # fmt: skip
    story = [(h.source, h.status, h.reason.split(" ")[0], h.active_source) for h in health]
    down = story.index(("feed", FeedStatus.DOWN, "DISCONNECTED", "feed"))
    assert story[down + 1] == ("backup", FeedStatus.HEALTHY, "FAILOVER", "backup")
    back = story.index(("feed", FeedStatus.HEALTHY, "FAILBACK", "feed"))
    assert ("feed", FeedStatus.HEALTHY, "RECEIVING", "backup") in story[down:back]
    assert ingest.failover.active == "feed"
    during = market_data(journal, "backup")
    assert len(during) > 50  # the secondary's quotes were journaled while the primary was out
    primary = market_data(journal, "feed")
    assert primary[-1].position > during[-1].position  # and the primary's again after
    assert (
        ingest.metrics.registry.get_sample_value("zkrisk_feed_active_source", {"source": "feed"})
        == 1
    )
