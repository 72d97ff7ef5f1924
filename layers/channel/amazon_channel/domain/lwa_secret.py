"""How long the LWA client secret has left.

Amazon: "You must rotate your LWA credentials (client secrets) for all applications every 180
days ... If you do not update your LWA credentials by the deadline, your application returns an
error when it calls the SP-API." (SP-API docs, "Rotate your Application's LWA Credentials").
The date of the last rotation is recorded on the secret (`ROTATED_AT_TAG`) by
`amazon-channel rotate-lwa-secret`; an unknown date counts as expired, so the alarm asks for it.
"""

from __future__ import annotations

from datetime import datetime

LIFETIME_DAYS = 180
ROTATED_AT_TAG = "LwaClientSecretRotatedAt"


def days_left(rotated_at: str | None, now: datetime) -> int:
    """Whole days until the client secret rotated at `rotated_at` expires (0 when unknown or past)."""
    if not rotated_at:
        return 0
    try:
        rotated = datetime.fromisoformat(rotated_at.replace("Z", "+00:00"))
    except ValueError:
        return 0
    return max(0, LIFETIME_DAYS - (now - rotated).days)
