"""JSON-RPC over a primary and backup endpoints of one chain, failing over on errors and timeouts.

A call goes to the active endpoint (the primary at first); when it fails to answer — connection
refused, an HTTP error, no answer within `timeout_s` — the next endpoint is tried and becomes
active. After `retry_primary_s` on a backup, the next call tries the primary first again. An
answer that *is* an answer (a revert, "nonce too low") is not a node failure and is raised as
is: `is_node_failure` tells the two apart.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from web3 import AsyncHTTPProvider, AsyncWeb3
from web3.exceptions import ContractLogicError, TransactionNotFound, Web3RPCError

T = TypeVar("T")


class AllEndpointsDown(ConnectionError):
    """No endpoint answered; the message lists each one's failure."""


def is_node_failure(exc: BaseException) -> bool:
    """True when the endpoint failed to answer (try another), False for a real answer."""
    return not isinstance(exc, ContractLogicError | TransactionNotFound | Web3RPCError)


@dataclass(frozen=True, slots=True)
class Failover:
    at_ns: int
    from_url: str
    to_url: str
    cause: str


@dataclass
class FailoverRpc:
    urls: Sequence[str]
    timeout_s: float = 2.0
    retry_primary_s: float = 5.0
    failovers: list[Failover] = field(default_factory=list)
    """Every switch of endpoint, in order (health reporting, tests)."""
    last_url: str = ""
    """The endpoint that answered the last successful call."""
    _active: int = 0
    _since: float = 0.0
    _clients: list[AsyncWeb3[Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.urls:
            raise ValueError("FailoverRpc needs at least one endpoint URL")
        # No retries inside web3 (its default backs off and retries a refused connection):
        # failing over to the next endpoint is the retry.
        self._clients = [
            AsyncWeb3(AsyncHTTPProvider(url, request_kwargs={"timeout": self.timeout_s},
                                        exception_retry_configuration=None))
            for url in self.urls
        ]  # fmt: skip

    @property
    def active_url(self) -> str:
        return self.urls[self._active]

    async def run(self, call: Callable[[AsyncWeb3[Any]], Awaitable[T]]) -> T:
        """`call` on the active endpoint, failing over to the others in turn."""
        if self._active and time.monotonic() - self._since > self.retry_primary_s:
            self._active = 0
        failures: list[str] = []
        n = len(self._clients)
        for step in range(n):
            index = (self._active + step) % n
            try:
                result = await asyncio.wait_for(call(self._clients[index]), self.timeout_s)
            except Exception as exc:
                if not is_node_failure(exc):
                    self.last_url = self.urls[index]
                    raise
                why = str(exc) or f"no answer within {self.timeout_s}s"
                failures.append(f"{self.urls[index]}: {type(exc).__name__}: {why}")
                continue
            if index != self._active:
                self._switch(index, failures[-1] if failures else "")
            self.last_url = self.urls[index]
            return result
        raise AllEndpointsDown("no RPC endpoint answered: " + "; ".join(failures))

    def _switch(self, index: int, cause: str) -> None:
        self.failovers.append(Failover(time.time_ns(), self.active_url, self.urls[index], cause))
        self._active, self._since = index, time.monotonic()

    async def close(self) -> None:
        for client in self._clients:
            await client.provider.disconnect()
