"""Times on the command line and in reports: ISO-8601 UTC, or relative to now (`-2h`, `now`)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from .errors import InvalidInput

_RELATIVE = re.compile(r"^-?(\d+(?:\.\d+)?)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_time(text: str, *, now: datetime | None = None, option: str = "time") -> datetime:
    """`2026-11-26T10:00:00Z`, `2026-11-26` (midnight UTC), `now`, or a time ago: `30m`, `2h`, `7d`
    (also `-2h`, written `--from=-2h` on a command line)."""
    now = now or datetime.now(UTC)
    value = text.strip()
    if value == "now":
        return now
    m = _RELATIVE.match(value)
    if m:
        return now - timedelta(**{_UNITS[m.group(2)]: float(m.group(1))})
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(
            f"{option} {text!r}: give an ISO-8601 time (2026-11-26T10:00:00Z), now, or a time ago (30m, 2h, 7d)"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def iso(value: datetime | str | float | None) -> str | None:
    """UTC with milliseconds and `Z`: one format, so that times sort as text."""
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)):
        value = datetime.fromtimestamp(value, UTC)
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def seconds_between(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    a = datetime.fromisoformat(start.replace("Z", "+00:00"))
    b = datetime.fromisoformat(end.replace("Z", "+00:00"))
    return (b - a).total_seconds()


def human_duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"
