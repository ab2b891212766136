"""Local nonces for one signing account, so concurrent orders never wait for each other's receipts.

`assign` hands out consecutive nonces under a lock held across sign-and-broadcast (the caller's
`send`), so nonces reach the node in order and a failed broadcast leaves no gap: on a failure the
counter is re-read from the node's pending count before the lock is released.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


class NonceManager:
    def __init__(self, read_pending: Callable[[], Awaitable[int]]) -> None:
        self._read_pending = read_pending
        self._next: int | None = None
        self._lock = asyncio.Lock()

    async def assign(self, send: Callable[[int], Awaitable[T]]) -> T:
        """`send(nonce)` with the next nonce; the nonce is consumed only if `send` returns."""
        async with self._lock:
            if self._next is None:
                self._next = await self._read_pending()
            nonce = self._next
            try:
                result = await send(nonce)
            except BaseException:
                self._next = None  # re-sync from the node on the next assign
                raise
            self._next = nonce + 1
            return result

    async def resync(self) -> int:
        """Forget the local counter and read the node's pending transaction count."""
        async with self._lock:
            self._next = await self._read_pending()
            return self._next
