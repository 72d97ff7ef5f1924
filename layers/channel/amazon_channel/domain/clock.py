"""Wall-clock time as ISO-8601 UTC text, which sorts in time order."""

from datetime import UTC, datetime


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def normalize(ts: str) -> str:
    """Amazon's timestamps in one canonical form, so that text comparison is time comparison."""
    return iso(datetime.fromisoformat(ts.replace("Z", "+00:00")))


def now() -> datetime:
    """The current time (one place, so that a story can move it)."""
    return datetime.now(UTC)
