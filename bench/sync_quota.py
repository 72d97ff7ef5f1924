#!/usr/bin/env python
"""Figure 1: sync quota use at scale.

    .venv/bin/python bench/sync_quota.py [--orders 5000] [--concurrency 100] [--seed 1] [--json]

A backlog of N paid (Unshipped) merchant-fulfilled orders waits on the simulated Amazon, which
enforces the documented usage plans (getOrder 0.5/s burst 30, searchOrders 0.0056/s burst 20,
100 orders a page) with its token buckets on a SIMULATED clock. Two cases:

- `lost`: every notification was lost; only the order sync (every 5 minutes) finds the orders.
  Quota-bound maximum: searchOrders pages, 20 x 100 at once, then 0.0056/s x 100 = 2,016/h.
- `queued`: the notifications wait in the queue (e.g. the channel was down); the notification
  intake reads each paid order's details (getOrder on a booked token) or leaves them to the sync's
  pages (`domain/order_reads.py`), and starts the workflow once they are kept, while the sync pages
  through the oldest orders. Quota-bound maximum: getOrder 0.5/s + searchOrders 0.0056/s x 100 =
  3,816/h (+ bursts).

What runs: the real domain code (intake, order reads and their plan, order sync with its lease,
cursor, watermark and continuations, the MFN steps FetchOrderDetails, ResolveCustomer,
CreateCommerceOrder, RecordOrderError, blocked-order retries) and the real SP-API client (urllib3
over 127.0.0.1, LWA, 429 retries, the shared token bucket rate budget, booked tokens) against
SimulatedAmazon. NOT the embedded stack: 5,000 orders through moto's Step Functions would take
hours of wall time. Stand-ins: the order store, sync state, Commerce and the event bus are in memory
(tests/fakes.py); the notifications queue is a model of SQS with per-message DelaySeconds (a
deferred notification is sent again with a delay, as `SqsDeferrals` does; handling takes no
simulated time, so one poller stands for the intake's concurrency); the sync runs every
SCHEDULE_SECONDS and when a run cut short by the searchOrders quota sends its continuation (a
delayed message); Step Functions is a discrete-event model of the state machine's
retry of AmazonThrottled (ImportOrder's, read from statemachines/mfn_order.asl.json) with `--concurrency` Lambda
invocations at once; Lambda time is taken as zero, so the figure is bound by Amazon's quotas, as in
production.

The simulated clock: every actor (the notifications queue's poller, Lambda invocations, the
scheduled sync) is a thread, and only one runs at a time; `sleep` (the client's rate budget waits
and 429 back-offs, Step Functions retry intervals, queue delays, the schedule) advances the clock to
the next event. The simulator's buckets, the client's rate budget and the sync's lease and windows
all read that clock. No function waits for the rate budget (`--max-budget-wait 0`, as deployed):
`lambda_seconds_waiting` is the time Lambda functions would sleep (budget waits and 429 back-offs).

Figures per case (`--json`): `case`, `orders`, `imported`, `simulated_seconds` (until the last
import), `percent_of_bound`, `getOrder_calls`, `details_from_searchOrders`, `searched_orders` (orders
on searchOrders pages until the last import), `amazon_order_reads_per_imported` ((getOrder calls +
searched orders) / imported), `lambda_seconds_waiting` (per intake, sync, workflow),
`throttling_errors_surfaced` (429s that reached a handler as a failure, orders put in Error, failed
sync runs), `intake` (deliveries and deferrals by reason), and more.

Reports imported orders per simulated hour against the quota-bound maximum, and the number of
429 responses that reached a handler as a failure (target 0).
"""

from __future__ import annotations

import argparse
import faulthandler
import heapq
import itertools
import json
import logging
import math
import random
import signal
import sys
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "local"), str(ROOT / "layers" / "channel"), str(ROOT / "tests")]

from amazon_channel.adapters.rate_budget import InMemoryRateBudget  # noqa: E402
from amazon_channel.adapters.sp_api import OPERATIONS, SellingPartnerClient, clear_token_cache  # noqa: E402
from amazon_channel.contracts import parse_notification  # noqa: E402
from amazon_channel.domain import mfn_workflow as mfn  # noqa: E402
from amazon_channel.domain.clock import iso  # noqa: E402
from amazon_channel.domain.errors import AmazonThrottled  # noqa: E402
from amazon_channel.domain.intake import IntakePorts, record_order_change  # noqa: E402
from amazon_channel.domain.models import ChannelStatus  # noqa: E402
from amazon_channel.domain.order_reads import Deferred, ReadPorts, ReadSettings, read_order_details  # noqa: E402
from amazon_channel.domain.order_sync import SyncPorts, SyncSettings, continue_later, sync_stores  # noqa: E402
from amazon_channel.domain.orders import ChannelPorts  # noqa: E402
from amazon_channel_local.simulators.amazon import SimulatedAmazon  # noqa: E402
from fakes import Commerce, Events, InMemoryOrders, Stores, SyncState  # noqa: E402

T0 = datetime(2026, 11, 26, 8, 0, tzinfo=UTC).timestamp()
SCHEDULE_SECONDS = 300.0  # OrderSyncIntervalMinutes default
SYNC_TIMEOUT_SECONDS = 240.0  # OrderSyncFunction Timeout
MAX_WAIT_SECONDS = 20.0  # runtime: SP_API_MAX_WAIT_SECONDS default (a retry's back-off)
MAX_BUDGET_WAIT_SECONDS = 0.0  # runtime: SP_API_MAX_BUDGET_WAIT_SECONDS default: defer, never wait
MAX_DELAY_SECONDS = 900  # SQS: the longest DelaySeconds of a message
PAGE = 100


# ---------------------------------------------------------------------------------- the clock
class SimClock:
    """Virtual time shared by cooperative threads: one runs at a time; `sleep` passes the baton."""

    def __init__(self, start: float):
        self.now = start
        self.stopped = False
        self._heap: list = []
        self._seq = itertools.count()
        self._done = threading.Event()
        self.switches = 0

    def time(self) -> float:
        return self.now

    def datetime(self) -> datetime:
        return datetime.fromtimestamp(self.now, UTC)

    def iso(self) -> str:
        return iso(self.datetime())

    def sleep(self, seconds: float) -> None:
        ev = threading.Event()
        heapq.heappush(self._heap, (self.now + max(0.0, seconds), next(self._seq), ev))
        self._pass()
        ev.wait()

    def park(self, ev: threading.Event) -> None:
        """Wait, without a timer, until `wake(ev)`."""
        self._pass()
        ev.wait()
        ev.clear()

    def wake(self, ev: threading.Event, at: float | None = None) -> None:
        heapq.heappush(self._heap, (self.now if at is None else at, next(self._seq), ev))

    def call_at(self, at: float, fn) -> None:
        heapq.heappush(self._heap, (at, next(self._seq), fn))

    def spawn(self, fn) -> None:
        ev = threading.Event()

        def body():
            ev.wait()
            try:
                fn()
            finally:
                self._pass()

        threading.Thread(target=body, daemon=True).start()
        self.wake(ev)

    def run(self) -> None:
        self._pass()
        self._done.wait()

    def _pass(self) -> None:
        while self._heap:
            at, _, what = heapq.heappop(self._heap)
            self.now = max(self.now, at)
            if isinstance(what, threading.Event):
                self.switches += 1
                what.set()
                return
            what()  # a timer callback: runs here, never blocks
        self._done.set()


# ---------------------------------------------------------------------------------- Step Functions
@dataclass(frozen=True)
class Retrier:
    interval: float
    backoff: float
    max_attempts: int
    max_delay: float | None
    full_jitter: bool

    @classmethod
    def for_throttling(cls) -> Retrier:
        asl = json.loads((ROOT / "statemachines" / "mfn_order.asl.json").read_text())
        # FetchOrderDetails runs in the Express import child; the parent's ImportOrder retries its AmazonThrottled
        for r in asl["States"]["ImportOrder"]["Retry"]:
            if "AmazonThrottled" in r["ErrorEquals"] or "States.ALL" in r["ErrorEquals"]:
                return cls(
                    r.get("IntervalSeconds", 1),
                    r.get("BackoffRate", 2.0),
                    r.get("MaxAttempts", 3),
                    r.get("MaxDelaySeconds"),
                    r.get("JitterStrategy") == "FULL",
                )
        return cls(0, 1, 0, None, False)

    def delay(self, retry: int, rng: random.Random) -> float:
        d = self.interval * self.backoff ** (retry - 1)
        if self.max_delay is not None:
            d = min(d, self.max_delay)
        return rng.uniform(0, d) if self.full_jitter else d


class Executions:
    """`WorkflowStarter` + a model of the state machine's FetchOrderDetails -> ... -> CreateCommerceOrder."""

    def __init__(self, clock: SimClock, ports: ChannelPorts, concurrency: int, rng: random.Random, on_done):
        self.clock, self.ports, self.rng, self.on_done = clock, ports, rng, on_done
        self.retrier = Retrier.for_throttling()
        self.names: set[str] = set()
        self.ready: deque = deque()
        self.idle: list[threading.Event] = []
        self.concurrency = concurrency
        self.stats = Counter()

    # WorkflowStarter
    def start(self, amazon_order_id, payload, attempt=0) -> bool:
        name = f"{amazon_order_id}#{attempt}"
        if name in self.names:
            return False
        self.names.add(name)
        self.stats["executions"] += 1
        self.submit((amazon_order_id, 0), self.clock.now)
        return True

    def wake(self, task_token, output) -> bool:
        return False

    def submit(self, item, at: float) -> None:
        if at > self.clock.now:
            self.clock.call_at(at, lambda: self.submit(item, at))
            return
        self.ready.append(item)
        if self.idle:
            self.clock.wake(self.idle.pop())

    def worker(self) -> None:
        ev = threading.Event()
        while not self.clock.stopped:
            if not self.ready:
                self.idle.append(ev)
                self.clock.park(ev)
                continue
            oid, retries = self.ready.popleft()
            self.step(oid, retries)

    def step(self, oid: str, retries: int) -> None:
        try:
            mfn.fetch_order_details(oid, self.ports)  # the Lambda: getOrder unless the details are kept
        except AmazonThrottled as e:
            if getattr(e, "status", None) == 429:
                self.stats["429 reached a handler"] += 1
            else:
                self.stats["rate budget waits given up (task retried)"] += 1
            if retries + 1 > self.retrier.max_attempts:
                mfn.record_order_error(oid, "AmazonThrottled", json.dumps({"errorMessage": str(e)}), self.ports)
                self.stats["orders put in Error"] += 1
                return
            self.submit((oid, retries + 1), self.clock.now + self.retrier.delay(retries + 1, self.rng))
            return
        customer = mfn.resolve_order_customer(oid, self.ports)
        mfn.create_commerce_order(oid, customer["customer_id"], self.ports)
        self.on_done(oid)


# ---------------------------------------------------------------------------------- the notifications queue
class NotificationQueue:
    """The notifications queue and OrderNotificationIntake (Powertools BatchProcessor, idempotent
    per NotificationId), as the handler runs them: record the change once, then read the order's
    details or defer the notification (`SqsDeferrals`: sent again with DelaySeconds, the delivery
    deleted). Handling takes no simulated time, so one actor stands for the function's concurrency."""

    def __init__(self, clock: SimClock, intake: IntakePorts, reads: ReadPorts, settings: ReadSettings):
        self.clock, self.intake, self.reads, self.settings = clock, intake, reads, settings
        self._heap: list = []
        self._seq = itertools.count()
        self._idle: threading.Event | None = None
        self.recorded: set[str] = set()
        self.stats = Counter()

    def send(self, body: str, delay: float = 0.0, attributes: dict | None = None) -> None:
        heapq.heappush(self._heap, (self.clock.now + delay, next(self._seq), body, attributes or {}))
        if self._idle is not None:
            self.clock.wake(self._idle)
            self._idle = None

    def send_all(self, bodies: list[str]) -> None:
        for body in bodies:
            self.send(body)

    def poller(self) -> None:
        """Only the poller sends while it runs (deferrals), so it may sleep until the first message is due."""
        ev = threading.Event()
        while not self.clock.stopped:
            if not self._heap:
                self._idle = ev
                self.clock.park(ev)
            elif self._heap[0][0] > self.clock.now:
                self.clock.sleep(self._heap[0][0] - self.clock.now)
            else:
                _, _, body, attributes = heapq.heappop(self._heap)
                self.deliver(body, attributes)

    def deliver(self, body: str, attributes: dict) -> None:
        deferred = handle_notification(
            body,
            attributes,
            recorded=self.recorded,
            intake=self.intake,
            reads=self.reads,
            now=self.clock.time,
            settings=self.settings,
            stats=self.stats,
        )
        if deferred is not None:
            self.send(body, *deferred)


def handle_notification(
    body: str,
    attributes: dict,
    *,
    recorded: set[str],
    intake: IntakePorts,
    reads: ReadPorts,
    now,
    settings: ReadSettings,
    stats: Counter,
    before_record=lambda: None,
) -> tuple[int, dict] | None:
    """One delivery as OrderNotificationIntake handles it: the change recorded once per
    NotificationId (`before_record` first: e.g. idempotency's service time), then the order's
    details read or the notification deferred. Returns (DelaySeconds, attributes) of the
    notification sent again, or None."""
    stats["deliveries"] += 1
    notification = parse_notification(body)
    if notification.NotificationMetadata.NotificationId not in recorded:
        before_record()
        record_order_change(notification.to_order_change(), intake)
        recorded.add(notification.NotificationMetadata.NotificationId)
    slot = attributes.get("read-slot-at")
    read = read_order_details(
        notification.Payload.OrderChangeNotification.AmazonOrderId,
        reads,
        now(),
        settings,
        slot_at=float(slot) if slot else None,
        settled=bool(attributes.get("read-settled")),
    )
    if not isinstance(read, Deferred):
        return None
    stats[f"deferred: {read.reason.split(':')[0]}"] += 1
    again = {"read-settled": "1"} if read.settled else {}
    if read.slot_at is not None:
        again["read-slot-at"] = str(read.slot_at)
    return min(MAX_DELAY_SECONDS, math.ceil(read.seconds)), again


class SearchedOrders:
    """The sync's `OrderSearch`, counting the orders each page brought and when."""

    def __init__(self, search, clock: SimClock):
        self.search, self.clock = search, clock
        self.pages: list[tuple[float, int]] = []  # (simulated time, orders on the page)

    def search_orders(self, seller_id: str, **kwargs):
        page, token = self.search.search_orders(seller_id, **kwargs)
        self.pages.append((self.clock.now, len(page)))
        return page, token


def place_backlog(amazon: SimulatedAmazon, clock: SimClock, n_orders: int, seed: int, lose_notifications: bool) -> None:
    """The backlog: N orders placed and paid during the hour before the channel comes back."""
    amazon.set_lose_notifications(True)
    ids = []
    for i in range(n_orders):
        clock.now = T0 - 3600 + i * (3000 / n_orders)
        order = {
            "id": f"113-{i:07d}-{seed:07d}",
            "buyer": {"name": f"Buyer {i}"},
            "items": [{"sku": "MUG-01", "qty": 1, "price": "12.50"}],
        }
        ids.append(amazon.place_order(order))
    amazon.set_lose_notifications(lose_notifications)
    for oid in ids:
        clock.now += 0.01
        amazon.verify_payment(oid)


# ---------------------------------------------------------------------------------- one run
def run_case(
    case: str,
    n_orders: int,
    concurrency: int,
    seed: int,
    *,
    max_wait: float = MAX_WAIT_SECONDS,
    max_budget_wait: float = MAX_BUDGET_WAIT_SECONDS,
) -> dict:
    random.seed(seed)  # the SP-API client's back-off jitter
    rng = random.Random(seed)
    clear_token_cache()
    clock = SimClock(T0 - 3600)
    notifications: list[str] = []
    amazon = SimulatedAmazon(notify=notifications.append, clock=clock.datetime).start()
    try:
        place_backlog(amazon, clock, n_orders, seed, lose_notifications=case == "lost")
        clock.now = T0

        budget = InMemoryRateBudget(clock=clock.time)  # one budget: DynamoDB's, shared by every function

        waited = Counter()

        def client(who: str):
            def sleep(seconds: float) -> None:  # what a Lambda spends waiting for the budget or a retry
                waited[who] += seconds
                clock.sleep(seconds)

            return SellingPartnerClient(
                amazon.base_url,
                amazon.lwa_token_url,
                lambda: amazon.credentials,
                rate_budget=budget,
                sleep=sleep,
                max_wait=max_wait,
                max_budget_wait=max_budget_wait,
            )

        stores = Stores()
        stores.store.connected_at = iso(datetime.fromtimestamp(T0 - 86400, UTC))
        orders, commerce, events = InMemoryOrders(), Commerce(), Events()
        imported: dict[str, float] = {}

        def done(oid):
            imported[oid] = clock.now
            if len(imported) == n_orders:
                stop()

        def stop():
            clock.stopped = True
            while executions.idle:  # each idle worker is woken once, to end
                clock.wake(executions.idle.pop())

        ports = ChannelPorts(
            orders=orders,
            stores=stores,
            marketplace=client("workflow"),
            commerce=commerce,
            events=events,
            workflows=None,
        )  # type: ignore[arg-type]
        executions = Executions(clock, ports, concurrency, rng, done)
        ports.workflows = executions
        sync_state = SyncState()
        searched = SearchedOrders(client("sync"), clock)
        sync = SyncPorts(
            orders=orders,
            blocked=orders,
            stores=stores,
            search=searched,
            workflows=executions,
            events=events,
            state=sync_state,
        )
        sync_runs: list[dict] = []
        queue = NotificationQueue(
            clock,
            IntakePorts(orders=orders, stores=stores, workflows=executions, events=events, details_first=True),
            ReadPorts(
                intake=IntakePorts(orders=orders, stores=stores, workflows=executions, events=events),
                reads=client("intake"),
                plans=sync_state,
            ),
            ReadSettings(sync_interval_seconds=SCHEDULE_SECONDS),
        )
        queue.send_all(notifications)  # the backlog of queued notifications

        def scheduled_sync():
            """OrderSyncFunction: every SCHEDULE_SECONDS, and when a run cut short by the searchOrders
            quota sends its continuation (a delayed message), then."""
            n, tick, continuation = 0, clock.now, None
            while not clock.stopped and clock.now < T0 + 12 * 3600:
                n += 1
                started, deadline = clock.now, clock.now + SYNC_TIMEOUT_SECONDS
                reports = sync_stores(
                    sync,
                    SyncSettings(lease_seconds=SYNC_TIMEOUT_SECONDS + 30),
                    f"run-{n}",
                    time_left=lambda deadline=deadline: deadline - clock.now,
                    clock=clock.iso,
                )
                sync_runs.append(_run_summary(reports[0], started))
                for _, seconds in continue_later(reports, sync_state, clock.iso()):
                    continuation = clock.now + math.ceil(min(seconds, MAX_DELAY_SECONDS))
                while tick <= clock.now:
                    tick += SCHEDULE_SECONDS
                wake = tick if continuation is None else min(tick, continuation)
                if wake == continuation:
                    continuation = None
                clock.sleep(wake - clock.now)
            stop()

        wall = time.perf_counter()
        clock.spawn(queue.poller)
        clock.spawn(scheduled_sync)
        for _ in range(concurrency):
            clock.spawn(executions.worker)
        clock.run()
        wall = time.perf_counter() - wall

        counts = amazon.call_counts
        duration = (max(imported.values()) - T0) if len(imported) == n_orders else None
        errors, via_search = _outcomes(orders, imported)
        return {
            "case": case,
            "orders": n_orders,
            "imported": len(imported),
            "commerce_orders": len(commerce.orders),
            "simulated_seconds": duration,
            **_reads(
                case,
                n_orders=n_orders,
                imported=imported,
                get_calls=counts["getOrder"],
                searched=searched,
                stats=executions.stats,
                sync_runs=sync_runs,
            ),
            "intake": dict(queue.stats),
            "wall_seconds": round(wall, 1),
            "switches": clock.switches,
            "getOrder_calls": counts["getOrder"],
            "searchOrders_calls": counts["searchOrders"],
            "throttled_429_sent": dict(counts["throttled"]),
            "details_from_searchOrders": via_search,
            "executions": executions.stats["executions"],
            "stats": dict(executions.stats),
            "orders_left_in_error": errors,
            "sync_runs": sync_runs,
            "lambda_seconds_waiting": {k: round(waited[k]) for k in ("intake", "sync", "workflow")},
            "imports_by_quarter_hour": _by_quarter_hour(imported.values()),
        }
    finally:
        amazon.stop()


def _reads(case, *, n_orders, imported: dict, get_calls: int, searched, stats: Counter, sync_runs: list) -> dict:
    """The issue's figures: share of the quota bound, Amazon order reads per imported order (getOrder
    calls plus the orders on searchOrders pages until the last import), throttling errors surfaced."""
    finished = max(imported.values()) if imported else T0
    searched_orders = sum(n for at, n in searched.pages if at <= finished)
    duration = finished - T0 if len(imported) == n_orders else None
    return {
        "percent_of_bound": (
            round(100 * fastest_seconds(case, n_orders) / max(duration, 1e-9), 1) if duration is not None else None
        ),
        "searched_orders": searched_orders,
        "amazon_order_reads_per_imported": round((get_calls + searched_orders) / max(1, len(imported)), 3),
        "throttling_errors_surfaced": (
            stats["429 reached a handler"]
            + stats["orders put in Error"]
            + sum(1 for s in sync_runs if s["result"] == "failed")
        ),
    }


def _outcomes(orders, imported: dict) -> tuple[int, int]:
    """(orders left in Error, orders imported with the details of a searchOrders page and no getOrder)"""
    errors = sum(1 for o in orders.items.values() if o.channel_status == ChannelStatus.ERROR)
    via_search = sum(
        1
        for oid in imported
        if any("received with the order" in h.message for h in orders.history(oid))
        and not any("fetched (getOrder)" in h.message for h in orders.history(oid))
    )
    return errors, via_search


def _run_summary(report, started: float) -> dict:
    return {
        "at": started - T0,
        "result": report.result,
        "pages": report.pages,
        "orders": sum(report.orders.values()),
        "retried": len(report.retries),
    }


def _by_quarter_hour(times) -> list[int]:
    buckets = Counter(int((t - T0) // 900) for t in times)
    return [buckets.get(i, 0) for i in range(max(buckets) + 1)] if buckets else []


# ---------------------------------------------------------------------------------- figures
def bound(case: str, seconds: float) -> tuple[float, float]:
    """(orders importable within `seconds`, steady orders per hour) under the documented usage plans."""
    _, _, s_rate, s_burst = OPERATIONS["searchOrders"]
    _, _, g_rate, g_burst = OPERATIONS["getOrder"]
    search = s_burst * PAGE + s_rate * PAGE * seconds
    get = (g_burst + g_rate * seconds) if case == "queued" else 0.0
    per_hour = (s_rate * PAGE + (g_rate if case == "queued" else 0.0)) * 3600
    return search + get, per_hour


def fastest_seconds(case: str, n_orders: int) -> float:
    """The least simulated time in which the quotas allow `n_orders` imports."""
    at_once, per_hour = bound(case, 0)
    return max(0.0, n_orders - at_once) / (per_hour / 3600)


def report(r: dict) -> list[str]:
    lines = [
        f"case {r['case']}: {r['orders']:,} changed orders, {r['imported']:,} imported "
        f"({r['commerce_orders']:,} Commerce orders), wall {r['wall_seconds']} s"
    ]
    if r["simulated_seconds"] is not None:
        secs = max(r["simulated_seconds"], 1e-9)
        fastest = fastest_seconds(r["case"], r["orders"])
        lines += [
            f"  all imported after {secs / 3600:.2f} simulated hours: {r['imported'] / (secs / 3600):,.0f} orders "
            "per simulated hour",
            f"  quota-bound maximum: all {r['orders']:,} in {fastest / 3600:.2f} h at best, "
            f"{r['orders'] / max(fastest, 1e-9) * 3600:,.0f} orders/h (bursts, then {bound(r['case'], 0)[1]:,.0f}/h) "
            f"-> {100 * fastest / secs:.0f}% of the quota-bound rate",
        ]
        q = r["imports_by_quarter_hour"]
        if len(q) > 2:
            mid = q[1:-1]
            lines.append(
                f"  steady state (quarter hours 2..{len(q) - 1}): {4 * sum(mid) / len(mid):,.0f}/h "
                f"vs {bound(r['case'], 0)[1]:,.0f}/h bound"
            )
    lines += [
        f"  SP-API calls: getOrder {r['getOrder_calls']:,}, searchOrders {r['searchOrders_calls']:,}; "
        f"details from searchOrders for {r['details_from_searchOrders']:,} orders",
        f"  429 responses sent by Amazon: {sum(r['throttled_429_sent'].values())}; "
        f"429s that reached a handler as a failure: {r['stats'].get('429 reached a handler', 0)} (target 0)",
        f"  workflow executions: {r['executions']:,}; FetchOrderDetails tasks retried on the rate budget: "
        f"{r['stats'].get('rate budget waits given up (task retried)', 0):,}; orders put in Error: "
        f"{r['stats'].get('orders put in Error', 0)}; left in Error: {r['orders_left_in_error']}",
        f"  Amazon order reads per imported order: {r.get('amazon_order_reads_per_imported')} (getOrder "
        f"{r['getOrder_calls']:,} + {r.get('searched_orders', 0):,} orders on searchOrders pages; target <= 1.05); "
        f"throttling errors surfaced: {r.get('throttling_errors_surfaced')}",
        f"  notification deliveries and deferrals: {r.get('intake', {})}",
        f"  Lambda time spent waiting for the rate budget (simulated s): {r.get('lambda_seconds_waiting', {})}",
        f"  sync runs: {len(r['sync_runs'])} ({Counter(s['result'] for s in r['sync_runs'])}), "
        f"imports per quarter hour: {r['imports_by_quarter_hour']}",
    ]
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=100, help="FetchOrderDetails invocations at once")
    parser.add_argument("--case", choices=["lost", "queued", "both"], default="both")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--max-wait",
        type=float,
        default=MAX_WAIT_SECONDS,
        help="the client's longest back-off before a retry in a Lambda (SP_API_MAX_WAIT_SECONDS)",
    )
    parser.add_argument(
        "--max-budget-wait",
        type=float,
        default=MAX_BUDGET_WAIT_SECONDS,
        help="the client's longest wait for the shared rate budget (SP_API_MAX_BUDGET_WAIT_SECONDS; 0: defer)",
    )
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--report", metavar="RESULTS.json", help="print the figures of an earlier --json run")
    args = parser.parse_args()
    if args.report:
        for r in json.loads(Path(args.report).read_text()):
            print("\n".join(report(r)))
        return 0
    logging.basicConfig(level=logging.WARNING)
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    results = [
        run_case(
            c, args.orders, args.concurrency, args.seed, max_wait=args.max_wait, max_budget_wait=args.max_budget_wait
        )
        for c in (["lost", "queued"] if args.case == "both" else [args.case])
    ]
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print("Figure 1: sync quota use at scale (simulated Amazon, documented usage plans, simulated clock)")
        for r in results:
            print("\n".join(report(r)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
