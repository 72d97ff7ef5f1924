"""The channel's clock: time as ISO-8601 UTC text (which sorts in time order), and waits.

On Lambda the clock is the wall clock. Everything in the channel that reads the time or waits
(order dates, leases, the rate budget, back-offs, a token's expiry) asks this module, so that the
embedded stack can hand every function one simulated clock (`use`), on which a scenario's quota
waits take no wall time.
"""

import time as _time
from datetime import UTC, datetime
from typing import Protocol


class TimeSource(Protocol):
    def time(self) -> float: ...  # epoch seconds
    def monotonic(self) -> float: ...
    def sleep(self, seconds: float) -> None: ...


class WallClock:
    """The machine's clock."""

    time = staticmethod(_time.time)
    monotonic = staticmethod(_time.monotonic)
    sleep = staticmethod(_time.sleep)


_source: TimeSource = WallClock()


def use(source: TimeSource) -> TimeSource:
    """Make `source` this process's clock; returns the one it replaces."""
    global _source
    previous, _source = _source, source
    return previous


def source() -> TimeSource:
    return _source


def time() -> float:
    """Epoch seconds."""
    return _source.time()


def monotonic() -> float:
    return _source.monotonic()


def sleep(seconds: float) -> None:
    _source.sleep(seconds)


def now() -> datetime:
    """The current time (one place, so that a story can move it)."""
    return datetime.fromtimestamp(_source.time(), UTC)


def now_iso() -> str:
    return iso(datetime.fromtimestamp(_source.time(), UTC))


def iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def normalize(ts: str) -> str:
    """Amazon's timestamps in one canonical form, so that text comparison is time comparison."""
    return iso(datetime.fromisoformat(ts.replace("Z", "+00:00")))
