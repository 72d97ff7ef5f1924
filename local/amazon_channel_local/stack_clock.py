"""The embedded stack's clock: one object that every part of a local run reads the time from.

`WallClock` is the machine's clock (`amazon-channel local up`, the HTTP stack, anything that
talks to the outside world in real time). `SimulatedClock` is the clock of a played scenario:
it flows with the wall clock and, when every actor waits, jumps ahead to the next event, so that
quota waits, back-offs, Retry intervals, Wait states and SQS visibility timeouts and delays cost
no wall time, while every quota still holds on the clock they are measured by.

Who reads it (see `LocalStack(clock=...)`): the handlers (`amazon_channel.domain.clock`, so the
rate budget, SP-API and Commerce back-offs, leases, order dates, the LWA token cache), the Lambda
context's remaining time, the simulated Amazon (order dates, its usage-plan buckets, its tokens),
moto's SQS (visibility timeouts, delays) and moto's Step Functions (Retry intervals, Wait states).

Two ways to wait:
- `sleep(seconds)`: a handler waits inside its invocation. Invocations in the embedded stack run
  one at a time (`LambdaRuntime.lock`), so while one sleeps no other actor can make progress
  that it would not make after: the clock jumps at once.
- `park(seconds)`: a workflow thread waits (a Retry interval, a Wait state) while others may run.
  It is woken when the clock reaches its time: `LocalStack.settle` jumps the clock to the earliest
  due time once every actor waits (nothing to deliver, nothing running, every busy execution
  parked). The clock also flows with the wall clock, so a park ends in real time at the latest.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime


class WallClock:
    """The machine's clock; waits are real."""

    simulated = False
    skipped = 0.0

    def time(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    def datetime(self) -> datetime:
        return datetime.now(UTC)

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)

    def park(self, seconds: float, interrupt: threading.Event | None = None) -> None:
        if seconds <= 0:
            return
        if interrupt is None:
            time.sleep(seconds)
        else:
            interrupt.wait(seconds)

    @property
    def parked(self) -> int:
        return 0

    def next_due(self) -> float | None:
        return None

    def advance_to(self, when: float) -> None:
        """The wall clock cannot be moved."""

    def stop(self) -> None:
        """Nothing waits on the wall clock."""


class SimulatedClock(WallClock):
    """Wall time plus the seconds skipped while every actor waited. Thread-safe."""

    simulated = True

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._offset = 0.0
        self._parked: list[float] = []  # due times (epoch seconds, this clock) of parked waiters
        self._stopped = False

    @property
    def skipped(self) -> float:  # type: ignore[override]
        """Seconds this clock is ahead of the wall clock."""
        return self._offset

    def time(self) -> float:
        return time.time() + self._offset

    def monotonic(self) -> float:
        return time.monotonic() + self._offset

    def datetime(self) -> datetime:
        return datetime.fromtimestamp(self.time(), UTC)

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self._advance(seconds)

    def park(self, seconds: float, interrupt: threading.Event | None = None) -> None:
        if seconds <= 0:
            return
        due = self.time() + seconds
        with self._cond:
            self._parked.append(due)
            try:
                while not self._stopped and not (interrupt is not None and interrupt.is_set()):
                    left = due - self.time()
                    if left <= 0:
                        return
                    # at most 0.1 s of real time: an interrupt (a stopped execution) is seen soon
                    self._cond.wait(min(left, 0.1))
            finally:
                self._parked.remove(due)

    @property
    def parked(self) -> int:
        with self._cond:
            return len(self._parked)

    def next_due(self) -> float | None:
        with self._cond:
            return min(self._parked, default=None)

    def advance_to(self, when: float) -> None:
        """Jump to `when` (never back)."""
        with self._cond:
            ahead = when - self.time()
            if ahead > 0:
                self._advance(ahead)

    def _advance(self, seconds: float) -> None:
        with self._cond:
            self._offset += seconds
            self._cond.notify_all()

    def stop(self) -> None:
        """Wake every parked waiter (the stack stops)."""
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
