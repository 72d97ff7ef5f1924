"""Who reads a paid merchant-fulfilled order's details from Amazon, and when: one read per order,
never a Lambda function waiting for a quota.

Two reads bring an order's details: the order sync's `searchOrders` pages (100 orders each, with
every detail, 0.0056 pages/s) and `getOrder` (one order, 0.5/s), each with its own quota. In a
backlog (the sync has a window in progress) they split the orders still unread: the sync reads from
its frontier upwards, page by page, and cannot skip an order it meets; so getOrder takes only the
orders the sync will not reach before the backlog is read, the newest ones. With the unread changes
spread evenly between the sync's frontier F and the newest unread change B, both quotas finish
together when getOrder takes the changes after F + (B - F) x sync/(sync + getOrder) (both rates in
orders per second). Outside a backlog the notification's order is read at once while the getOrder
quota has a token.

Nothing waits inside the function: `read_order_details` answers `Deferred` (how long, why), and the
caller puts the notification back on its queue for that long (`NotificationDeferrals`). A getOrder
token that frees up later is booked first (`OrderReads.book_read`), so each deferred notification
comes back once, when its token is due, rather than competing again and again. The first time the
quota is found empty (no token within `book_at_once_seconds`) the notification is deferred without
booking (`settle_seconds`), so that every queued notification is noted (the newest unread change)
and the sync has shown its frontier before the orders are split.
"""

from __future__ import annotations

import contextlib
import random
from dataclasses import dataclass
from datetime import datetime

from .clock import normalize
from .errors import AmazonRejected, AmazonThrottled, AmazonUnavailable, RateBudgetContended
from .intake import IntakePorts, awaits_workflow, start_workflow
from .models import ChannelOrder
from .orders import details_current, keep_fetched_order
from .ports import OrderReads, ReadPlans
from .sync_state import SyncState


@dataclass(frozen=True)
class ReadPlan:
    sync_behind: bool = False  # the order sync has a window in progress: a backlog
    sync_frontier: str | None = None  # the newest change the sync handled in that window (or its start)
    newest_unread: str | None = None  # the newest change of an order that waited for its details
    sync_progress_at: str | None = None  # when the sync last saved a page (its progress)


def plan_of(state: SyncState | None, newest_unread: str | None) -> ReadPlan:
    """The read plan: the sync's progress through a window in progress, and the newest unread change."""
    if state is None or state.cursor is None:
        return ReadPlan(newest_unread=newest_unread)
    cursor = state.cursor
    return ReadPlan(True, cursor.newest_seen or cursor.after, newest_unread, state.last_run_at)


@dataclass(frozen=True)
class ReadSettings:
    search_orders_per_second: float = 0.0056 * 100  # searchOrders pages x orders per page
    get_orders_per_second: float = 0.5
    sync_interval_seconds: float = 300.0  # an order left to the sync is looked at again after a run
    settle_seconds: float = 30.0
    book_at_once_seconds: float = 2.0  # a token this close is booked even before the backlog is planned
    booking_horizon_seconds: float = 3600.0  # the furthest a getOrder token is booked ahead
    # A booked token is read on at once up to this long after it is due (SQS delays and the poller
    # are late by seconds). Later (a batch item failure back after the visibility timeout, a redrive
    # from the dead-letter queue), a token is first taken if one is free now: a free token means the
    # bucket refilled since the booking, which no longer holds it; none free means a backlog, whose
    # bucket still counts the booking.
    booked_grace_seconds: float = 60.0
    # The shared budget was written by too many at once: book again after 1 to 5 s (spread, so that
    # the contenders do not meet again in the same second).
    contended_retry_seconds: tuple[float, float] = (1.0, 5.0)

    @property
    def sync_stalled_seconds(self) -> float:
        """A sync that saved no page for this long is stalled (its credentials refused, its function
        failing): what it was left is read with getOrder again, rather than deferred to it forever.
        Three sync intervals: a backlog's sync saves a page about every 180 s (the searchOrders
        quota) through its continuations, and at least every run otherwise."""
        return 3 * self.sync_interval_seconds


@dataclass(frozen=True)
class Deferred:
    """Put the notification back on its queue for `seconds`, with what the next delivery needs."""

    seconds: float
    reason: str
    slot_at: float | None = None  # a booked getOrder token, due then (epoch seconds)
    settled: bool = True


@dataclass(frozen=True)
class ReadDone:
    result: str  # not-needed | kept | fetched
    workflow_started: bool = False


@dataclass
class ReadPorts:
    intake: IntakePorts
    reads: OrderReads
    plans: ReadPlans


def read_order_details(
    amazon_order_id: str,
    ports: ReadPorts,
    now: float,
    settings: ReadSettings = ReadSettings(),
    *,
    slot_at: float | None = None,
    settled: bool = False,
) -> ReadDone | Deferred:
    """Read the order's details (getOrder) or leave them to the sync, then start its workflow.
    `slot_at` and `settled` come back with a deferred notification. Safe to repeat."""
    order = ports.intake.orders.get(amazon_order_id)
    if order is None or not awaits_workflow(order):
        return ReadDone("not-needed")
    if details_current(order.details):
        return ReadDone("kept", start_workflow(order, ports.intake))
    if slot_at is not None:
        if slot_at > now + 0.5:
            return Deferred(slot_at - now, "a getOrder token is booked", slot_at=slot_at)
        if now - slot_at > settings.booked_grace_seconds:
            _take_a_free_token(order.seller_id, ports)
        return _read(order, ports)
    if not settled:
        ports.plans.note_unread(order.seller_id, order.amazon_status_at)
    if leaves_to_sync(order.amazon_status_at, ports.plans.read_plan(order.seller_id), settings, now=now):
        return Deferred(settings.sync_interval_seconds, "left to the order sync's searchOrders pages")
    return _book(order, ports, now=now, settings=settings, settled=settled)


def _book(
    order: ChannelOrder, ports: ReadPorts, *, now: float, settings: ReadSettings, settled: bool
) -> ReadDone | Deferred:
    """Read now on a free getOrder token, or book one due soon; else, once the backlog is planned,
    book the next one."""
    within = settings.booking_horizon_seconds if settled else settings.book_at_once_seconds
    try:
        wait = ports.reads.book_read(order.seller_id, within)
    except RateBudgetContended as e:
        seconds = random.uniform(*settings.contended_retry_seconds)  # noqa: S311 - spreading retries, not security
        return Deferred(seconds, f"getOrder budget contended: {e}"[:200], settled=settled)
    if wait <= 0.0:
        return _read(order, ports)
    if wait <= within:
        return Deferred(wait, "a getOrder token is booked", slot_at=now + wait)
    if not settled:
        return Deferred(settings.settle_seconds, "getOrder quota in use: the backlog is planned first")
    return Deferred(within, "getOrder quota booked beyond the horizon")


def leaves_to_sync(changed_at: str, plan: ReadPlan, settings: ReadSettings, *, now: float) -> bool:
    """The sync will read this change's order before the backlog is read: leave it to the sync,
    unless the sync has stalled (no page saved for `sync_stalled_seconds`)."""
    if not (plan.sync_behind and plan.sync_frontier and plan.newest_unread):
        return False
    stalled_since = _epoch(plan.sync_progress_at) if plan.sync_progress_at else None
    if stalled_since is not None and now - stalled_since > settings.sync_stalled_seconds:
        return False
    frontier, newest, changed = _epoch(plan.sync_frontier), _epoch(plan.newest_unread), _epoch(changed_at)
    share = settings.search_orders_per_second / (settings.search_orders_per_second + settings.get_orders_per_second)
    return frontier < changed <= frontier + (newest - frontier) * share


def _read(order: ChannelOrder, ports: ReadPorts) -> ReadDone | Deferred:
    try:
        details = ports.reads.read_booked(order.seller_id, order.amazon_order_id)
    except AmazonThrottled as e:  # Amazon's own bucket disagreed (a 429): the token is gone, book again
        return Deferred(float(getattr(e, "retry_after", 0) or 2.0), f"getOrder throttled: {e}"[:200])
    except (AmazonRejected, AmazonUnavailable) as e:
        # A read that fails otherwise (a revoked refresh token, Amazon down) is the workflow's to
        # handle: its FetchOrderDetails retries what is transient and records the rest as Error
        # with the reason, where the merchant sees it. Never left unread in the queue.
        # The order as it is now: it may have changed (canceled) during the read.
        latest = ports.intake.orders.get(order.amazon_order_id)
        return ReadDone(f"left to the workflow: {type(e).__name__}", latest is not None and _start(latest, ports))
    order = keep_fetched_order(ports.intake.orders, order.amazon_order_id, details, known=order)
    return ReadDone("fetched", _start(order, ports))


def _take_a_free_token(seller_id: str, ports: ReadPorts) -> None:
    """Take a getOrder token if one is free now, so that a late read on an old booking is counted."""
    with contextlib.suppress(RateBudgetContended):
        ports.reads.book_read(seller_id, 0.0)


def _start(order: ChannelOrder, ports: ReadPorts) -> bool:
    """Start the workflow of `order` (as just read or saved), unless it no longer awaits one."""
    return awaits_workflow(order) and start_workflow(order, ports.intake)


def _epoch(ts: str) -> float:
    return datetime.fromisoformat(normalize(ts).replace("Z", "+00:00")).timestamp()
