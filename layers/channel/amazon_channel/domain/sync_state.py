"""What the order sync remembers per connected store between runs: its watermark and, when a run
was cut short (the searchOrders quota, the function's time), where to resume.

Stored with a version, written only by the holder of the store's sync lease.
"""

from __future__ import annotations

from .models import Model


class SyncCursor(Model):
    """A searchOrders window being read, page by page."""

    after: str  # lastUpdatedAfter of the window (Amazon wants the same value with every page token)
    page_token: str | None = None  # the next page to read; None = the window's first page
    newest_seen: str | None = None  # the newest lastUpdatedTime among the orders handled so far
    started_at: str  # when the window's first page was asked for (Amazon's tokens last 24 hours)
    pages: int = 0


class SyncState(Model):
    """The order sync of one store (seller account)."""

    seller_id: str
    watermark: str | None = None  # every order updated up to here was handled (None: never synced)
    cursor: SyncCursor | None = None  # a window cut short, resumed by the next run
    last_run_at: str | None = None
    last_result: str | None = None
    version: int = 0
