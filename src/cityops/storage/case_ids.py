"""Case ids drawn ahead from PostgreSQL's sequence, so that a new case is one statement.

A case's public number is made from its id, and the number goes into the audit entry and the
event written with the case. Knowing the id before the insert lets the case, its history,
its reporter, the audit entry and the event go to the server in one statement — one round trip,
atomic on its own — instead of an insert whose ``RETURNING`` the next statement waits for.

Ids are drawn in blocks, like a sequence's own ``CACHE``: ``nextval`` many times in one query.
A block lives one second at most; what is left of it then is dropped (a gap in the numbers, as a
rolled-back insert leaves one), so that the ids of several processes stay close to the order in
which their cases came in. The block doubles while this process uses up its blocks within their
lifetime and otherwise asks for as many as the last one gave out, so a quiet city (one case at a
time) leaves no gaps and a busy one few.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

from sqlalchemy import Engine, text

BLOCK_LIFETIME_SECONDS = 1.0
MAX_BLOCK = 64

_DRAW = text("SELECT nextval(pg_get_serial_sequence('cases', 'id')) FROM generate_series(1, :n)")


class CaseIdBlocks:
    """Hands out case ids from blocks drawn ahead; safe for many threads."""

    def __init__(
        self,
        draw: Callable[[int], list[int]],
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._draw = draw
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._ids: deque[int] = deque()
        self._drawn_at: float | None = None
        self._used = 0
        self._block = 1

    @classmethod
    def for_engine(cls, engine: Engine) -> CaseIdBlocks:
        """Blocks drawn with a connection of an autocommit engine, outside any transaction."""

        def draw(count: int) -> list[int]:
            with engine.connect() as connection:
                return [int(value) for value in connection.execute(_DRAW, {"n": count}).scalars()]

        return cls(draw)

    @property
    def block(self) -> int:
        """How many ids the next draw asks for."""
        return self._block

    def take(self) -> int:
        """Return an unused case id."""
        with self._lock:
            now = self._monotonic()
            fresh = self._drawn_at is not None and now - self._drawn_at < BLOCK_LIFETIME_SECONDS
            if self._ids and fresh:
                self._used += 1
                return self._ids.popleft()
            if fresh:  # used up within its lifetime: the next block may be bigger
                self._block = min(self._block * 2, MAX_BLOCK)
            elif self._drawn_at is not None:  # outlived: the rest is dropped; ask for what was used
                self._block = max(1, self._used)
            # Drawn under the lock: the threads waiting meanwhile take from this block.
            self._ids = deque(self._draw(self._block))
            self._drawn_at = now
            self._used = 1
            return self._ids.popleft()
