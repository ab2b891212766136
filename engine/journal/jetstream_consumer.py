"""A stage's durable JetStream consumer over a JetStream journal: at-least-once, acked by hand.

The journal's own cursor (`append(..., cursor=...)`) is what makes a journal-to-journal stage
exactly-once (outputs and cursor in one atomic batch). A projection that lives outside the
journal (a read model in its own database, a prover pool) uses this instead: a durable pull
consumer named after the stage, filtered to its topics, with explicit acks. The rule is "ack
after the projection commits": a consumer killed before its ack gets the message again after
`ack_wait` (nothing lost), and a projection that stores the positions it applied in its own
transaction skips what it already has (nothing applied twice; a redelivery may arrive after
newer records, so "the last position applied" is not enough unless max_ack_pending is 1). The server keeps the consumer's
acknowledgements in its store, so a restarted process resumes after its last ack.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from .base import JournalError
from .events import Recorded
from .jetstream import DEFAULT_PREFIX, _Loop
from .jetstream_wire import Subjects, parse_event


class JetStreamConsumer:
    """Durable consumer `durable` of the journal `prefix` on `url` (see the module docstring)."""

    def __init__(
        self,
        url: str,
        durable: str,
        *,
        prefix: str = DEFAULT_PREFIX,
        streams: Collection[str] | None = None,
        ack_wait: float = 30.0,
        timeout: float = 5.0,
    ) -> None:
        self.url, self.durable, self.timeout = url, durable, timeout
        subjects = Subjects(prefix)
        filters = [subjects.events] if not streams else sorted(map(subjects.of_topic, streams))
        self._loop = _Loop()
        self._pending: dict[int, Any] = {}
        try:
            self._loop.run(self._connect(subjects.stream, filters, ack_wait), timeout * 4)
        except BaseException as exc:
            self._loop.stop()
            if isinstance(exc, JournalError):
                raise
            raise JournalError(
                f"{url}: consumer {durable!r}: {type(exc).__name__}: {exc}"
            ) from None

    async def _connect(self, stream: str, filters: list[str], ack_wait: float) -> None:
        import nats
        from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

        try:
            self._nc = await nats.connect(self.url, connect_timeout=self.timeout,
                                          max_reconnect_attempts=3)  # fmt: skip
        except Exception as exc:
            raise JournalError(f"{self.url}: cannot connect to the NATS server ({exc})") from None
        js = self._nc.jetstream(timeout=self.timeout)
        config = ConsumerConfig(durable_name=self.durable, ack_policy=AckPolicy.EXPLICIT,
                                deliver_policy=DeliverPolicy.ALL, ack_wait=ack_wait,
                                filter_subjects=filters, max_ack_pending=10_000)  # fmt: skip
        self._sub = await js.pull_subscribe("", durable=self.durable, stream=stream,
                                            config=config)  # fmt: skip

    def fetch(self, limit: int = 100, wait: float = 1.0) -> list[Recorded]:
        """Up to `limit` records not yet acked (redeliveries included), in stream order; []
        when none arrive within `wait` seconds."""
        return self._loop.run(self._fetch(limit, wait), wait + self.timeout * 4)

    async def _fetch(self, limit: int, wait: float) -> list[Recorded]:
        from nats.errors import TimeoutError as NatsTimeout

        try:
            msgs = await self._sub.fetch(limit, timeout=wait)
        except NatsTimeout:
            return []
        out = []
        for msg in msgs:
            record = parse_event(msg.data)
            self._pending[record.position] = msg
            out.append(record)
        return out

    def ack(self, records: Collection[Recorded]) -> None:
        """Acknowledge records (call after the projection committed them)."""
        msgs = [self._pending.pop(r.position) for r in records if r.position in self._pending]
        self._loop.run(self._ack(msgs), self.timeout * 4)

    @staticmethod
    async def _ack(msgs: list[Any]) -> None:
        for msg in msgs:
            await msg.ack_sync()

    def close(self) -> None:
        try:
            self._loop.run(self._nc.close(), self.timeout * 4)
        finally:
            self._loop.stop()
