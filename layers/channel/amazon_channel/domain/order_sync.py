"""Order sync (reconciliation): Amazon's polling backup for late, duplicated or lost notifications,
and the retry of blocked orders.

Per connected store, under a lease (two syncs of a store never run at once):
0. every order with a Commerce shipment not yet on Amazon is finished (`finish_shipments`): its
   waiting workflow is woken, or, when none waits, its packages are confirmed directly;
1. every order left in `Error` (a product missing, disabled or out of stock, ...) is retried with a
   new workflow execution, or for an FBA order a new FbaOrderShipped (`retry_order`), so a fixed
   catalog needs no operator;
2. `searchOrders` is read from the stored watermark minus a safety margin, page by page; every
   order goes through the same intake as a notification (`record_order_change`, source `sync`),
   with the full order kept, so the workflow needs no `getOrder`. Orders placed before the store
   was connected are never imported.

A run cut short (the shared searchOrders quota, the function's time, a transient failure) leaves
its window and page token in the store's sync state; the next run resumes there. The watermark
moves only when a whole window was handled, to the newest change handled in it.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from . import channel_events
from .channel_events import FbaOrderShipped
from .clock import iso, normalize, now_iso
from .errors import (
    AmazonRejected,
    AmazonThrottled,
    ChannelError,
    ConfirmationInProgress,
    InvalidNotification,
    PermanentError,
    TransientError,
    VersionConflict,
)
from .intake import IntakePorts, record_order_change, workflow_input
from .models import (
    AmazonOrder,
    AmazonStatus,
    ChannelOrder,
    ChannelStatus,
    HistoryEntry,
    OrderChange,
    OrderLine,
    StoreConfig,
)
from .orders import ChannelPorts, entry, load, mutate
from .ports import (
    BlockedOrders,
    EventPublisher,
    NotificationParking,
    OrderSearch,
    OrderStore,
    ShipmentsToConfirm,
    StoreDirectory,
    SyncStateStore,
    WorkflowStarter,
)
from .sync_state import SyncCursor, SyncState

# Amazon statuses in which a blocked merchant-fulfilled order can still be imported.
RETRYABLE = (AmazonStatus.UNSHIPPED, AmazonStatus.PARTIALLY_SHIPPED)


@dataclass
class SyncPorts:
    orders: OrderStore
    blocked: BlockedOrders
    stores: StoreDirectory
    search: OrderSearch
    workflows: WorkflowStarter
    events: EventPublisher
    state: SyncStateStore
    parking: NotificationParking | None = None
    to_confirm: ShipmentsToConfirm | None = None  # the sweep's marks, with `channel` to confirm directly
    channel: ChannelPorts | None = None

    def intake(self) -> IntakePorts:
        return IntakePorts(orders=self.orders, stores=self.stores, workflows=self.workflows, events=self.events)


@dataclass(frozen=True)
class SyncSettings:
    overlap_seconds: float = 600.0  # the safety margin: each window starts this long before the watermark
    initial_lookback_seconds: float = 30 * 86400.0  # a store never synced, connected at an unknown time
    lease_seconds: float = 330.0  # longer than the function may run
    page_size: int = 100
    page_time_seconds: float = 30.0  # do not start a page with less time than this left
    token_max_age_seconds: float = 23 * 3600.0  # Amazon's page tokens expire after 24 hours


@dataclass
class RetryOutcome:
    amazon_order_id: str
    result: str  # retried | restarted | not-blocked | not-retryable | unknown | failed
    attempt: int = 0
    channel_status: str | None = None
    notes: str = ""

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class StoreSyncReport:
    seller_id: str
    result: str = "complete"  # complete | resumable | busy | failed | skipped
    reason: str = ""
    pages: int = 0
    orders: Counter[str] = field(default_factory=Counter[str])  # intake results: recorded, advanced, duplicate, ...
    retries: list[RetryOutcome] = field(default_factory=list)
    finished: list[tuple[str, str]] = field(default_factory=list)  # (AmazonOrderId, sweep outcome)
    parked: list[tuple[str, str]] = field(default_factory=list)  # (AmazonOrderId, reason)
    watermark: str | None = None
    resume_from: str | None = None  # the window being read, when the run was cut short
    resume_after: float | None = None  # seconds until the searchOrders quota has a page again (cut short by it)

    def as_dict(self) -> dict[str, Any]:
        return {
            "seller_id": self.seller_id,
            "result": self.result,
            "reason": self.reason,
            "pages": self.pages,
            "orders": dict(self.orders),
            "retried": [r.as_dict() for r in self.retries],
            "shipments_finished": [list(f) for f in self.finished],
            "parked": [list(p) for p in self.parked],
            "watermark": self.watermark,
            "resume_from": self.resume_from,
            "resume_after": self.resume_after,
        }


# ---------------------------------------------------------------------------------- the sync
FanOut = Callable[[list[Callable[[], StoreSyncReport]]], list[StoreSyncReport]]


def in_turn(tasks: list[Callable[[], StoreSyncReport]]) -> list[StoreSyncReport]:
    """Run the stores' syncs one after another (tests, a single store)."""
    return [task() for task in tasks]


def sync_stores(
    ports: SyncPorts,
    settings: SyncSettings,
    owner: str,
    *,
    time_left: Callable[[], float],
    seller_id: str | None = None,
    clock: Callable[[], str] = now_iso,
    fan_out: FanOut = in_turn,
) -> list[StoreSyncReport]:
    """Sync every connected store (or only `seller_id`'s), each under its own lease.

    `fan_out` runs the stores' syncs: side by side on AWS, so that a store's backlog or broken
    credentials never take another store's share of the run (Amazon's quotas are per seller)."""
    stores = [s for s in ports.stores.connected() if not seller_id or s.seller_id == seller_id]
    tasks = [_store_task(store, ports, settings, owner=owner, time_left=time_left, clock=clock) for store in stores]
    return fan_out(tasks)


def _store_task(
    store: StoreConfig,
    ports: SyncPorts,
    settings: SyncSettings,
    *,
    owner: str,
    time_left: Callable[[], float],
    clock: Callable[[], str],
) -> Callable[[], StoreSyncReport]:
    def task() -> StoreSyncReport:
        if time_left() < settings.page_time_seconds:
            return StoreSyncReport(store.seller_id, result="skipped", reason="no time left in this run")
        try:
            return sync_store(store, ports, settings, owner, time_left=time_left, clock=clock)
        except Exception as e:  # noqa: BLE001 - one store's failure must not stop the others' sync
            return StoreSyncReport(store.seller_id, result="failed", reason=_reason(e))

    return task


def sync_store(
    store: StoreConfig,
    ports: SyncPorts,
    settings: SyncSettings,
    owner: str,
    *,
    time_left: Callable[[], float],
    clock: Callable[[], str] = now_iso,
) -> StoreSyncReport:
    """One store's sync run: retry its blocked orders, then read its changed orders."""
    report = StoreSyncReport(store.seller_id)
    now = clock()
    if not ports.state.acquire_lease(store.seller_id, owner, now, _shift(now, settings.lease_seconds)):
        report.result, report.reason = "busy", "another sync of this store is running"
        return report
    try:
        report.finished = finish_shipments(store.seller_id, ports)
        report.retries = retry_blocked_orders(store.seller_id, ports)
        _read_changes(store, ports, settings, report, time_left=time_left, clock=clock)
    finally:
        ports.state.release_lease(store.seller_id, owner)
    return report


def _read_changes(
    store: StoreConfig,
    ports: SyncPorts,
    settings: SyncSettings,
    report: StoreSyncReport,
    *,
    time_left: Callable[[], float],
    clock: Callable[[], str],
) -> None:
    """Read the store's changed orders page by page, saving the cursor after each, while time is left."""
    state = ports.state.load(store.seller_id) or SyncState(seller_id=store.seller_id)
    now = clock()
    cursor = _starting_cursor(state, store, settings, now)
    restarted = False
    while True:
        if time_left() < settings.page_time_seconds:
            _stop(report, "resumable", "the run's time is up", cursor)
            break
        try:
            page, next_token = _search_page(store, ports, settings, cursor)
        except AmazonThrottled as e:
            _stop(report, "resumable", f"searchOrders quota used up for now ({e})", cursor)
            report.resume_after = getattr(e, "retry_after", None)
            break
        except AmazonRejected:
            if cursor.page_token and not restarted:
                # A page token Amazon no longer accepts (expired): read the window again from its start.
                cursor, restarted = SyncCursor(after=cursor.after, started_at=clock()), True
                continue
            raise
        report.pages += 1
        try:
            _take_page(page, store, ports, report, cursor=cursor, now=now)
        except TransientError as e:
            # Nothing of this page is remembered as done: the next run reads it again (intake is idempotent).
            _stop(report, "resumable", f"an order could not be handled now: {_reason(e)}", cursor)
            break
        try:
            _save_progress(state, cursor, next_token, ports, clock())
        except VersionConflict:
            _stop(report, "busy", "another sync took over this store (its lease had expired)", cursor)
            break
        if next_token is None:
            report.result = "complete"
            break
    report.watermark = state.watermark


def _starting_cursor(state: SyncState, store: StoreConfig, settings: SyncSettings, now: str) -> SyncCursor:
    """Where this run reads from: the saved cursor, unless its page token is too old; else a new window."""
    cursor = state.cursor
    if cursor is not None and cursor.page_token and _age(cursor.started_at, now) > settings.token_max_age_seconds:
        return SyncCursor(after=cursor.after, started_at=now)  # the page token has expired: read the window again
    return cursor or SyncCursor(after=window_start(state, store, now, settings), started_at=now)


def _search_page(
    store: StoreConfig, ports: SyncPorts, settings: SyncSettings, cursor: SyncCursor
) -> tuple[list[AmazonOrder], str | None]:
    """The cursor's next page of the store's changed orders (searchOrders), and the token of the page after."""
    return ports.search.search_orders(
        store.seller_id,
        last_updated_after=cursor.after,
        marketplace_ids=store.marketplace_ids,
        pagination_token=cursor.page_token,
        max_results=settings.page_size,
    )


def _take_page(
    page: list[AmazonOrder],
    store: StoreConfig,
    ports: SyncPorts,
    report: StoreSyncReport,
    *,
    cursor: SyncCursor,
    now: str,
) -> None:
    """Each order of the page through the intake, counted; the newest change seen goes on the cursor."""
    for amazon_order in page:
        outcome, why = take_order(amazon_order, store, ports)
        report.orders[outcome] += 1
        if outcome == "parked":
            report.parked.append((amazon_order.amazon_order_id, why))
        # Never past this run's start: an order dated ahead (a 2099 lastUpdatedTime) would
        # otherwise move the watermark there, and no later change would ever be read.
        changed = min(_date_time(amazon_order.last_updated) or normalize(now), normalize(now))
        cursor.newest_seen = max(cursor.newest_seen or changed, changed)


def _save_progress(state: SyncState, cursor: SyncCursor, next_token: str | None, ports: SyncPorts, at: str) -> None:
    """Save the cursor after a page, or, after the window's last page, move the watermark to the newest change."""
    cursor.page_token, cursor.pages = next_token, cursor.pages + 1
    state.last_run_at = at
    if next_token is None:
        if cursor.newest_seen and (state.watermark is None or cursor.newest_seen > state.watermark):
            state.watermark = cursor.newest_seen
        state.cursor, state.last_result = None, "complete"
    else:
        state.cursor, state.last_result = cursor, "resumable"
    state.version += 1
    ports.state.save(state)  # VersionConflict: another run took the store over


def window_start(state: SyncState, store: StoreConfig, now: str, settings: SyncSettings) -> str:
    """lastUpdatedAfter of a new window: the watermark minus the safety margin, never before the
    store was connected; a store never synced starts at its connection (at most the lookback ago)."""
    connected = normalize(store.connected_at)
    if state.watermark:
        return max(_shift(state.watermark, -settings.overlap_seconds), connected)
    return max(connected, _shift(now, -settings.initial_lookback_seconds))


def take_order(amazon_order: AmazonOrder, store: StoreConfig, ports: SyncPorts) -> tuple[str, str]:
    """One searched order through the notifications' intake: (the intake's result, or
    `before-connection`, `other-marketplace`, `parked`; the reason when parked).
    Raises `TransientError` when it is worth trying again later."""
    try:
        for name, value in (
            ("createdTime", amazon_order.purchase_date),
            ("lastUpdatedTime", amazon_order.last_updated),
        ):
            if _date_time(value) is None:
                raise InvalidNotification(f"invalid field {name}: not a date-time: {value!r}", name)
        if normalize(amazon_order.purchase_date) < normalize(store.connected_at):
            return "before-connection", ""
        if amazon_order.marketplace_id not in store.marketplace_ids:
            return "other-marketplace", ""
        return record_order_change(change_from_order(amazon_order, store.seller_id), ports.intake()).result, ""
    except PermanentError as e:
        if ports.parking is None:
            raise
        # Parked with its reason, never dropped; no PII in the parked body.
        body = json.dumps(
            {
                "source": "order-sync",
                "amazon_order_id": amazon_order.amazon_order_id,
                "seller_id": store.seller_id,
                "marketplace_id": amazon_order.marketplace_id,
                "status": amazon_order.status.value,
                "last_updated": amazon_order.last_updated,
            }
        )
        ports.parking.park(body, reason=_reason(e), source="order-sync")
        return "parked", _reason(e)


def _date_time(value: str) -> str | None:
    """`value` in the canonical form, or None when it is not a date-time with its zone."""
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        return None
    return normalize(value) if parsed.tzinfo is not None else None


def change_from_order(amazon_order: AmazonOrder, seller_id: str) -> OrderChange:
    """The `OrderChange` a searched order stands for: Amazon's lastUpdatedTime is when it changed."""
    return OrderChange(
        amazon_order_id=amazon_order.amazon_order_id,
        seller_id=seller_id,
        marketplace_id=amazon_order.marketplace_id,
        status=amazon_order.status,
        fulfillment=amazon_order.fulfillment,
        changed_at=normalize(amazon_order.last_updated),
        purchase_date=normalize(amazon_order.purchase_date),
        lines=[
            OrderLine(
                order_item_id=i.order_item_id,
                sku=i.sku,
                qty=i.qty,
                qty_shipped=i.qty_shipped,
                buyer_requested_cancel=i.buyer_requested_cancel,
            )
            for i in amazon_order.items
        ],
        source="sync",
        details=amazon_order,
    )


def continue_later(reports: list[StoreSyncReport], state: SyncStateStore, now: str) -> list[tuple[str, float]]:
    """The stores to sync again once their searchOrders quota has a page: each run the quota cut
    short, with the seconds until then. One continuation per store is pending at a time (claimed in
    its sync state), so runs of the schedule and continuations never multiply."""
    due = []
    for report in reports:
        if report.result != "resumable" or report.resume_after is None:
            continue
        if state.claim_continuation(report.seller_id, now, _shift(now, report.resume_after)):
            due.append((report.seller_id, report.resume_after))
    return due


# ---------------------------------------------------------------------------------- the shipment sweep
def finish_shipments(seller_id: str, ports: SyncPorts) -> list[tuple[str, str]]:
    """Finish every order of the store whose Commerce shipments are not all on Amazon.

    A shipment recorded whose wake-up was lost (SendTaskSuccess throttled or failed, the intake
    gone) would otherwise wait forever. The stored task token is woken; when no workflow waits
    (none stored, or the token is used or expired), the packages are confirmed here, under the
    order's confirm lease, as the workflow would. Outcomes: woken, confirmed, busy (another
    confirmer holds the lease), done (nothing left: the mark is dropped), failed (next sync).
    """
    if ports.to_confirm is None or ports.channel is None:
        return []
    from .mfn_workflow import confirm_shipments  # the sync's other paths need none of the workflow

    outcomes: list[tuple[str, str]] = []
    for amazon_order_id, marked in ports.to_confirm.to_confirm(seller_id):
        try:
            order = ports.orders.get(amazon_order_id)
            if (
                order is None
                or not order.to_confirm
                or order.channel_status == ChannelStatus.CANCELED
                or order.amazon_status == AmazonStatus.CANCELED
            ):
                ports.to_confirm.forget_to_confirm(
                    seller_id, amazon_order_id, len(order.shipments) if order else marked
                )
                outcomes.append((amazon_order_id, "done"))
                continue
            if order.task_token and ports.workflows.wake(
                order.task_token, {"reason": "order sync: shipments to confirm"}
            ):
                ports.orders.append_history(
                    amazon_order_id,
                    [entry("step", "Workflow resumed by the order sync: shipments waited to be confirmed")],
                )
                outcomes.append((amazon_order_id, "woken"))
                continue
            confirm_shipments(amazon_order_id, ports.channel)
            after = load(ports.orders, amazon_order_id)
            if not after.to_confirm:
                ports.to_confirm.forget_to_confirm(seller_id, amazon_order_id, len(after.shipments))
            outcomes.append((amazon_order_id, "confirmed"))
        except ConfirmationInProgress:
            outcomes.append((amazon_order_id, "busy"))
        except Exception as e:  # noqa: BLE001 - e.g. SendTaskSuccess throttled: the next sync tries again
            outcomes.append((amazon_order_id, f"failed: {_reason(e)}"))
    return outcomes


# ---------------------------------------------------------------------------------- blocked orders
def retry_blocked_orders(seller_id: str, ports: SyncPorts) -> list[RetryOutcome]:
    """Retry every order of the store marked blocked (in `Error`, not in Commerce); drop the marks
    of orders that moved on."""
    outcomes = []
    for amazon_order_id, attempt in ports.blocked.blocked(seller_id):
        try:
            outcomes.append(retry_order(amazon_order_id, ports, mark=(seller_id, attempt), blocked_only=True))
        except ChannelError as e:  # e.g. the order kept changing: the next sync tries again
            outcomes.append(RetryOutcome(amazon_order_id, "failed", attempt, notes=_reason(e)))
    return outcomes


def retry_order(
    amazon_order_id: str, ports: SyncPorts, mark: tuple[str, int] | None = None, blocked_only: bool = False
) -> RetryOutcome:
    """Import a blocked (`Error`) order again, now: a merchant-fulfilled order by a new workflow
    execution, an FBA order by announcing it again (`FbaOrderShipped`) to the FBA import.

    The sync retries only orders that could not be imported (`blocked_only`: no Commerce order
    yet); an operator may retry any order in `Error` still Unshipped or partly shipped on Amazon
    (e.g. one whose shipment confirmation Amazon refused).

    Exactly once per attempt: the attempt number is stored on the order first (a conditional
    write, so two retries at once make one attempt), and the execution is named after it
    (`mfn-<id>-retry<n>`), so starting it again is a no-op. A start that was lost (a crash after
    the write) is made by the next retry, the order still being marked blocked. An FBA order leaves
    `Error` with the new attempt, so the import runs once for it: a second delivery finds the order
    imported, or blocked again and waiting for the next attempt.
    """
    order = ports.orders.get(amazon_order_id)
    if order is None:
        if mark is not None:
            ports.blocked.forget_blocked(mark[0], amazon_order_id, mark[1])
        return RetryOutcome(amazon_order_id, "unknown", notes="the channel has no such order")
    failed_attempt = order.import_attempt if mark is None else mark[1]
    order, bumped = _new_attempt(amazon_order_id, ports, blocked_only)
    if order.channel_status == ChannelStatus.ERROR:
        return _not_retryable(order, mark, ports)
    result = "retried" if bumped else "not-blocked"
    if _start_import(order, ports) and not bumped:
        result = "restarted"  # an earlier retry's start had been lost
    ports.blocked.forget_blocked(order.seller_id, amazon_order_id, failed_attempt)
    return RetryOutcome(amazon_order_id, result, order.import_attempt, order.channel_status.value, order.notes)


def _new_attempt(amazon_order_id: str, ports: SyncPorts, blocked_only: bool) -> tuple[ChannelOrder, bool]:
    """Take the order out of `Error` with a new attempt number, if it may be imported again:
    the order, and whether this call did it."""
    bumped = False

    def bump(o: ChannelOrder) -> list[HistoryEntry] | None:
        nonlocal bumped
        if o.channel_status != ChannelStatus.ERROR or not _importable_again(o):
            return None
        if blocked_only and o.commerce is not None:
            return None
        cause = o.notes.removeprefix("Could not be imported: ")
        o.import_attempt += 1
        o.channel_status = (
            ChannelStatus.SHIPPED
            if o.fulfillment == "AFN"
            else ChannelStatus.PARTIALLY_SHIPPED
            if o.amazon_status == AmazonStatus.PARTIALLY_SHIPPED
            else ChannelStatus.UNSHIPPED
        )
        o.workflow_started = False
        o.task_token = None
        o.notes = f"Import retried (attempt {o.import_attempt + 1}) after: {cause}"[:500]
        bumped = True
        return [entry("step", o.notes, attempt=o.import_attempt)]

    order = mutate(ports.orders, amazon_order_id, bump)
    return order, bumped


def _not_retryable(order: ChannelOrder, mark: tuple[str, int] | None, ports: SyncPorts) -> RetryOutcome:
    """An order left in `Error`: in Commerce already (an operator decides), or no longer importable."""
    amazon_order_id = order.amazon_order_id
    if order.commerce is not None:
        if mark is not None:  # not blocked: in Commerce already; an operator decides
            ports.blocked.forget_blocked(mark[0], amazon_order_id, mark[1])
        why = f"already in Commerce (order {order.commerce.increment_id}): retried only on request"
    else:
        why = f"Amazon status {order.amazon_status.value} ({order.fulfillment}): not importable again"
    return RetryOutcome(amazon_order_id, "not-retryable", order.import_attempt, order.channel_status.value, why)


def _start_import(order: ChannelOrder, ports: SyncPorts) -> bool:
    """Start the attempt's workflow (MFN) or announce the order to the FBA import, once; whether it was started now.

    For an FBA order `workflow_started` says that the retry's FbaOrderShipped was published; only
    a retry (attempt > 0) of an order still not in Commerce publishes it.
    """
    fba = order.fulfillment == "AFN"
    if (
        not _importable_again(order)
        or order.workflow_started
        or (fba and (order.import_attempt == 0 or order.commerce is not None))
    ):
        return False
    if fba:
        channel_events.publish(ports.events, FbaOrderShipped(**workflow_input(order)))
    else:
        ports.workflows.start(order.amazon_order_id, workflow_input(order), attempt=order.import_attempt)

    def started(o: ChannelOrder) -> list[HistoryEntry] | None:
        if o.workflow_started or o.import_attempt != order.import_attempt:
            return None
        o.workflow_started = True
        what = "FBA import announced" if fba else "Merchant-fulfilled workflow started"
        return [entry("step", f"{what} (attempt {o.import_attempt + 1})")]

    mutate(ports.orders, order.amazon_order_id, started)
    return True


def _importable_again(order: ChannelOrder) -> bool:
    """Amazon's status still lets the channel import the order: a merchant-fulfilled order not yet
    shipped in full, or an FBA order (imported once Amazon shipped it)."""
    if order.fulfillment == "AFN":
        return order.amazon_status == AmazonStatus.SHIPPED
    return order.amazon_status in RETRYABLE


# ---------------------------------------------------------------------------------- helpers
def _stop(report: StoreSyncReport, result: str, reason: str, cursor: SyncCursor) -> None:
    report.result, report.reason, report.resume_from = result, reason, cursor.after


def _reason(e: BaseException) -> str:
    text = str(e).splitlines()[0] if str(e) else ""
    return f"{type(e).__name__}: {text}"[:500]


def _parse(ts: str) -> datetime:
    return datetime.fromisoformat(normalize(ts).replace("Z", "+00:00"))


def _shift(ts: str, seconds: float) -> str:
    return iso(_parse(ts) + timedelta(seconds=seconds))


def _age(ts: str, now: str) -> float:
    return (_parse(now) - _parse(ts)).total_seconds()
