#!/usr/bin/env python
"""Many stores: do 20 stores' backlogs finish as fast as one store's alone?

    .venv/bin/python bench/many_stores.py [--stores 20] [--orders 1000] [--sync parallel|in-turn]
                                          [--cases alone,many,big-backlog,broken] [--json]

Amazon's usage plans are per selling partner and application: every store has its own getOrder
and searchOrders buckets (the simulated Amazon keys them by seller, the channel's rate budget by
`<seller>#<operation>`). What stores share is the channel: one notifications queue read by at most
`QueueMaximumConcurrency` intake invocations, one order sync function on a schedule, the
account's Lambda concurrency for the workflow steps. This benchmark measures whether sharing
those slows a store down.

The model is `bench/sync_quota.py`'s (the real domain code, the real SP-API client against the
simulated Amazon, on a simulated clock), used through a small interface: `SimClock` (sleep, spawn,
run, call_at), `Executions(clock, ports, concurrency, rng, on_done)` (the state machine's
FetchOrderDetails -> ResolveCustomer -> CreateCommerceOrder with its Retry, as `WorkflowStarter`,
with `.worker`, `.idle`, `.stats`, `.step(oid, retries)`) and the constants `T0`,
`SCHEDULE_SECONDS`, `SYNC_TIMEOUT_SECONDS`. Unlike sync_quota, which takes Lambda time as zero
(a 1,000-order backlog then takes 0 s: searchOrders' burst of 20 pages holds it), every call
here takes a service time on the simulated clock (`SERVICE_SECONDS`, typical AWS, SP-API and
Commerce latencies), so what stores share shows up as waiting.

The backlog (the `queued` case of sync_quota): each store's orders were placed and paid during
the hour before the channel came back; their notifications wait in the one queue, interleaved as
they were sent, and the order sync reads the same orders page by page. The intake is the
handler's: each notification recorded once (with Powertools idempotency's two writes as service
time), then its order's details read on a booked getOrder token or left to the sync's pages
(`domain/order_reads.py`), a deferred notification sent again with its delay; functions never
wait for the rate budget (`max_budget_wait=0`, as deployed). Cases:
- `alone`: one store, `--orders` orders: the reference time.
- `many`: `--stores` stores of `--orders` each. Target: all done within 10% of `alone`.
- `big-backlog`: as `many`, but the first store has 10x the orders: the others' times.
- `broken`: as `many`, but one store's LWA refresh token is revoked (LWA answers invalid_grant)
  and another's orders are refused by Commerce (401): the others' times. The broken stores'
  orders end in `Error` with the reason (and are retried by every sync).

`--sync in-turn` runs the order sync as it ran before this benchmark (one invocation visits the
stores one after another within its 240 s); `parallel` (the default, the channel's now) syncs
the stores side by side in the invocation (`sync_stores(fan_out=...)`), each with the whole run.
"""

from __future__ import annotations

import argparse
import functools
import heapq
import itertools
import json
import logging
import random
import statistics
import sys
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

# sync_quota puts layers/channel, local and tests on the path
from sync_quota import SCHEDULE_SECONDS, SYNC_TIMEOUT_SECONDS, T0, Executions, SimClock, handle_notification

# isort: split

from amazon_channel.adapters.rate_budget import InMemoryRateBudget
from amazon_channel.adapters.sp_api import SellingPartnerClient, clear_token_cache
from amazon_channel.domain import mfn_workflow as mfn
from amazon_channel.domain.clock import iso
from amazon_channel.domain.errors import CommerceRejected, PermanentError
from amazon_channel.domain.intake import IntakePorts
from amazon_channel.domain.models import ChannelStatus, StoreConfig
from amazon_channel.domain.order_reads import ReadPorts, ReadSettings
from amazon_channel.domain.order_sync import SyncPorts, SyncSettings, sync_stores
from amazon_channel.domain.orders import ChannelPorts
from amazon_channel_local.simulators.amazon import SimulatedAmazon
from fakes import Commerce, Events, InMemoryOrders, SyncState

MARKETPLACE = "ATVPDKIKX0DER"
QUEUE_CONCURRENCY = 5  # template.yaml QueueMaximumConcurrency default
BATCH_SIZE = 10  # the notifications event source's BatchSize
LAMBDA_CONCURRENCY = 1000  # the account's default concurrent executions, shared by every store
BIG_BACKLOG_FACTOR = 10

# Simulated service time of each call (seconds). Typical figures, not promises: DynamoDB single-item
# reads/writes in single-digit ms (transactions ~2x), Step Functions StartExecution and EventBridge
# PutEvents some tens of ms, an SP-API Orders call a few hundred ms (a 100-order searchOrders page
# more), a Commerce REST call 0.2-0.8 s (an order save with its invoice the longest).
SERVICE_SECONDS: dict[str, dict[str, float]] = {
    "orders": {"*": 0.008, "save": 0.02, "put_new": 0.02},
    "workflows": {"*": 0.05},
    "events": {"*": 0.03},
    "search": {"search_orders": 1.5, "*": 0.3},
    "marketplace": {"get_order": 0.3, "*": 0.3},
    "commerce": {"create_order": 0.8, "*": 0.2},
    "sqs": {"*": 0.02},  # ReceiveMessage, SendMessage (a deferral)
    "idempotency": {"*": 0.016},  # Powertools idempotency: the in-progress put and the completed update
    "reads": {"book_read": 0.008, "*": 0.3},  # booking a getOrder token is one DynamoDB update
    "plans": {"*": 0.008},  # the read plan: the sync state item
}


# ---------------------------------------------------------------------------------- stand-ins
class Timed:
    """A port whose every method call first takes its service time on the simulated clock."""

    def __init__(self, inner, clock: SimClock, seconds: dict[str, float]):
        self._inner, self._clock, self._seconds = inner, clock, seconds

    def __getattr__(self, name):
        attr = getattr(self._inner, name)
        if not callable(attr):
            return attr
        delay = self._seconds.get(name, self._seconds["*"])

        def call(*args, **kwargs):
            self._clock.sleep(delay)
            return attr(*args, **kwargs)

        return call


class StoreDirectory:
    """The stores table: one `StoreConfig` per seller account."""

    def __init__(self, stores: list[StoreConfig]):
        self.by_seller = {s.seller_id: s for s in stores}

    def find(self, seller_id, marketplace_id):
        store = self.by_seller.get(seller_id)
        return store if store and marketplace_id in store.marketplace_ids else None

    def connected(self):
        return list(self.by_seller.values())


class RefusingCommerce(Commerce):
    """Commerce that refuses every order of some store views (the integration lacks access)."""

    def __init__(self, refused_store_ids: set[int]):
        super().__init__()
        self.refused = refused_store_ids

    def create_order(self, draft):
        if draft.store_id in self.refused:
            raise CommerceRejected("Commerce refused the channel's authentication (401): The consumer isn't authorized")
        return super().create_order(draft)


class Workflows(Executions):
    """sync_quota's executions, with the state machine's Catch: a permanent failure -> RecordOrderError."""

    def __init__(self, *args, on_failed, **kwargs):
        super().__init__(*args, **kwargs)
        self.on_failed = on_failed

    def step(self, oid: str, retries: int) -> None:
        try:
            super().step(oid, retries)
        except PermanentError as e:
            mfn.record_order_error(oid, type(e).__name__, json.dumps({"errorMessage": str(e)}), self.ports)
            self.stats["orders failed (Catch -> RecordOrderError)"] += 1
            self.on_failed(oid)


class DelayQueue:
    """The notifications queue: messages with DelaySeconds, received in batches by several pollers
    (the event source's concurrency). A poller with nothing due sleeps until the first message is
    due, or waits to be woken by a send."""

    def __init__(self, clock: SimClock):
        self.clock = clock
        self._heap: list = []
        self._seq = itertools.count()
        self._idle: list[threading.Event] = []

    def __len__(self) -> int:
        return len(self._heap)

    def send(self, body: str, delay: float = 0.0, attributes: dict | None = None) -> None:
        heapq.heappush(self._heap, (self.clock.now + delay, next(self._seq), body, attributes or {}))
        while self._idle:
            self.clock.wake(self._idle.pop())

    def receive(self, most: int) -> list[tuple[str, dict]]:
        """Up to `most` due messages; when none is due, waits (simulated) until one is, or is sent."""
        ev = threading.Event()
        while not self.clock.stopped:
            if not self._heap:
                self._idle.append(ev)
                self.clock.park(ev)
            elif self._heap[0][0] > self.clock.now:
                self.clock.sleep(self._heap[0][0] - self.clock.now)
            else:
                batch: list[tuple[str, dict]] = []
                while self._heap and self._heap[0][0] <= self.clock.now and len(batch) < most:
                    _, _, body, attributes = heapq.heappop(self._heap)
                    batch.append((body, attributes))
                return batch
        return []

    def wake_all(self) -> None:
        while self._idle:
            self.clock.wake(self._idle.pop())


# ---------------------------------------------------------------------------------- one run
def seller(i: int) -> str:
    return f"A{i:02d}SIMSELLER{i:04d}"


def place_backlog(amazon: SimulatedAmazon, clock: SimClock, sizes: list[int]) -> dict[str, str]:
    """Each store's orders, placed and paid in the hour before T0, interleaved: order id -> seller."""
    owner: dict[str, str] = {}
    sequence = [s for s, n in enumerate(sizes) for _ in range(n)]
    random.Random(7).shuffle(sequence)
    counters: Counter[int] = Counter()
    for k, s in enumerate(sequence):
        clock.now = T0 - 3600 + k * (3000 / len(sequence))
        counters[s] += 1
        oid = amazon.place_order(
            {
                "id": f"1{s:02d}-{counters[s]:07d}-0000001",
                "seller_id": seller(s),
                "buyer": {"name": f"Buyer {k}"},
                "items": [{"sku": "MUG-01", "qty": 1, "price": "12.50"}],
            }
        )
        owner[oid] = seller(s)
    for oid in owner:
        clock.now += 0.01
        amazon.verify_payment(oid)
    clock.now = T0
    return owner


@dataclass(frozen=True)
class Plan:
    case: str
    sizes: list[int]  # orders per store
    sync: str = "parallel"
    revoked: frozenset[int] = frozenset()  # stores whose refresh token LWA refuses
    refused: frozenset[int] = frozenset()  # stores whose orders Commerce refuses
    intake: int = QUEUE_CONCURRENCY


def run_case(plan: Plan) -> dict:
    random.seed(1)
    clear_token_cache()
    clock = SimClock(T0 - 3600)
    notifications: list[str] = []
    amazon = SimulatedAmazon(notify=notifications.append, clock=clock.datetime).start()
    try:
        for s in range(len(plan.sizes)):
            amazon.add_seller(seller(s))
        owner = place_backlog(amazon, clock, plan.sizes)
        return Backlog(plan, clock, amazon, notifications, owner).play()
    finally:
        amazon.stop()


class Backlog:
    """The channel draining every store's backlog: intake invocations, the sync, the workflows."""

    def __init__(self, plan: Plan, clock: SimClock, amazon: SimulatedAmazon, notifications: list, owner: dict):
        self.plan, self.clock, self.amazon, self.owner = plan, clock, amazon, owner
        self.queue = DelayQueue(clock)
        for body in notifications:
            self.queue.send(body)
        self.recorded: set[str] = set()
        self.intake_stats: Counter[str] = Counter()
        self.budget = InMemoryRateBudget(clock=clock.time)  # keyed <seller>#<operation>, as DynamoDB's
        self.waited: defaultdict[str, float] = defaultdict(float)
        self.raw_orders = InMemoryOrders()
        self.healthy = {oid for oid, sel in owner.items() if int(sel[1:3]) not in plan.revoked | plan.refused}
        self.done: dict[str, float] = {}
        self.failed: dict[str, float] = {}
        self.sync_runs: list[dict] = []
        self._wire()

    def _wire(self) -> None:
        connected = iso(datetime.fromtimestamp(T0 - 86400, UTC))
        stores = StoreDirectory(
            [
                StoreConfig(
                    seller_id=seller(s), marketplace_ids=[MARKETPLACE], commerce_store_id=s + 1, connected_at=connected
                )
                for s in range(len(self.plan.sizes))
            ]
        )
        orders, events = self._timed("orders", self.raw_orders), self._timed("events", Events())
        commerce = RefusingCommerce({s + 1 for s in self.plan.refused})
        ports = ChannelPorts(
            orders=orders,
            stores=stores,
            marketplace=self._timed("marketplace", self._client("workflow")),
            commerce=self._timed("commerce", commerce),
            events=events,
            workflows=None,  # type: ignore[arg-type]  # set below, once the executions exist
        )
        self.executions = Workflows(
            self.clock, ports, LAMBDA_CONCURRENCY, random.Random(1), self._on_done, on_failed=self._on_failed
        )
        ports.workflows = started = self._timed("workflows", self.executions)
        self.sync = SyncPorts(
            orders=orders,
            blocked=orders,
            stores=stores,
            search=self._timed("search", self._client("sync")),
            workflows=started,
            events=events,
            state=SyncState(),
        )
        self.intake_ports = IntakePorts(
            orders=orders, stores=stores, workflows=started, events=events, details_first=True
        )
        self.read_ports = ReadPorts(
            intake=IntakePorts(orders=orders, stores=stores, workflows=started, events=events),
            reads=self._timed("reads", self._client("intake")),
            plans=self._timed("plans", self.sync.state),
        )

    def _timed(self, name: str, port):
        return Timed(port, self.clock, SERVICE_SECONDS[name])

    def _credentials(self) -> dict:
        creds = self.amazon.credentials
        for s in self.plan.revoked:  # the seller removed the app's authorisation: LWA answers invalid_grant
            creds["refresh_tokens"][seller(s)] = "Atzr|revoked"
        return creds

    def _client(self, who: str) -> SellingPartnerClient:
        def sleep(seconds: float) -> None:
            self.waited[who] += seconds
            self.clock.sleep(seconds)

        return SellingPartnerClient(
            self.amazon.base_url,
            self.amazon.lwa_token_url,
            self._credentials,
            rate_budget=self.budget,
            sleep=sleep,
            max_wait=20.0,
            max_budget_wait=0.0,  # as deployed: defer, never wait for the rate budget
        )

    # ------------------------------------------------------------------ the end
    def _finish_check(self) -> None:
        broken = set(self.owner) - self.healthy
        if self.healthy <= self.done.keys() and broken <= self.failed.keys() | self.done.keys():
            self.clock.stopped = True
            while self.executions.idle:
                self.clock.wake(self.executions.idle.pop())
            self.queue.wake_all()

    def _on_done(self, oid: str) -> None:
        self.done.setdefault(oid, self.clock.now)
        self._finish_check()

    def _on_failed(self, oid: str) -> None:
        self.failed.setdefault(oid, self.clock.now)
        self._finish_check()

    # ------------------------------------------------------------------ the actors
    def intake(self) -> None:
        """One of the queue's concurrent intake invocations: batches of 10, each notification as the
        handler takes it (recorded once, then its details read or the notification deferred)."""
        while not self.clock.stopped:
            batch = self.queue.receive(BATCH_SIZE)
            if batch:
                self.clock.sleep(SERVICE_SECONDS["sqs"]["*"])
            for body, attributes in batch:
                self.deliver(body, attributes)

    def deliver(self, body: str, attributes: dict) -> None:
        deferred = handle_notification(
            body,
            attributes,
            recorded=self.recorded,
            intake=self.intake_ports,
            reads=self.read_ports,
            now=self.clock.time,
            settings=ReadSettings(sync_interval_seconds=SCHEDULE_SECONDS),
            stats=self.intake_stats,
            before_record=lambda: self.clock.sleep(SERVICE_SECONDS["idempotency"]["*"]),
        )
        if deferred is not None:
            self.clock.sleep(SERVICE_SECONDS["sqs"]["*"])
            self.queue.send(body, *deferred)

    def scheduled_sync(self, seller_id: str | None) -> None:
        n = 0
        while not self.clock.stopped and self.clock.now < T0 + 12 * 3600:
            n += 1
            begun = self.clock.now

            def time_left(begun: float = begun) -> float:
                return begun + SYNC_TIMEOUT_SECONDS - self.clock.now

            reports = sync_stores(
                self.sync,
                SyncSettings(lease_seconds=SYNC_TIMEOUT_SECONDS + 30),
                f"run-{n}",
                time_left=time_left,
                seller_id=seller_id,
                clock=self.clock.iso,
            )
            self.sync_runs += [{"at": begun - T0, "seller": r.seller_id, "result": r.result} for r in reports]
            self.clock.sleep(begun + SCHEDULE_SECONDS - self.clock.now)
        self.clock.stopped = True

    def play(self) -> dict:
        wall = time.perf_counter()
        for _ in range(self.plan.intake):
            self.clock.spawn(self.intake)
        if self.plan.sync == "parallel":  # the stores side by side in one invocation: one actor per store
            for s in range(len(self.plan.sizes)):
                self.clock.spawn(functools.partial(self.scheduled_sync, seller(s)))
        else:
            self.clock.spawn(functools.partial(self.scheduled_sync, None))
        for _ in range(LAMBDA_CONCURRENCY):
            self.clock.spawn(self.executions.worker)
        self.clock.run()
        return self.figures() | {"wall_seconds": round(time.perf_counter() - wall, 1)}

    def figures(self) -> dict:
        per_store: dict[str, list[float]] = {}
        for oid in self.healthy:
            per_store.setdefault(self.owner[oid], []).append(self.done.get(oid, float("inf")) - T0)
        finish = {s: max(ts) for s, ts in per_store.items()}
        errors = Counter(
            self.owner[o.amazon_order_id]
            for o in self.raw_orders.items.values()
            if o.channel_status == ChannelStatus.ERROR
        )
        counts = self.amazon.call_counts
        return {
            "case": self.plan.case,
            "sync": self.plan.sync,
            "intake_concurrency": self.plan.intake,
            "stores": len(self.plan.sizes),
            "orders": sum(self.plan.sizes),
            "orders_per_store": self.plan.sizes,
            "imported": len(self.done),
            "healthy_orders": len(self.healthy),
            "simulated_seconds": max(finish.values()) if finish else None,
            "store_finish_seconds": {s: round(t, 1) for s, t in sorted(finish.items())},
            "median_store_finish_seconds": statistics.median(finish.values()) if finish else None,
            "others_finish_seconds": max((t for s, t in finish.items() if s != seller(0)), default=None),
            "p99_order_seconds": _quantile([t for ts in per_store.values() for t in ts], 0.99),
            "broken_store_orders_in_error": dict(errors),
            "getOrder_calls": counts["getOrder"],
            "searchOrders_calls": counts["searchOrders"],
            "throttled_429_sent": sum(dict(counts["throttled"]).values()),
            "stats": dict(self.executions.stats),
            "lambda_seconds_waiting": {k: round(v) for k, v in self.waited.items()},
            "sync_runs": len({(r["at"], r["seller"]) for r in self.sync_runs}),
            "sync_results": dict(Counter(r["result"] for r in self.sync_runs)),
            "intake": dict(self.intake_stats),
        }


def _quantile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return round(values[min(len(values) - 1, int(q * len(values)))], 1)


# ---------------------------------------------------------------------------------- figures
def report(results: list[dict]) -> list[str]:
    alone = next((r for r in results if r["case"] == "alone"), None)
    ref = alone["simulated_seconds"] if alone else None
    lines = [
        "Many stores: backlogs on separate per-store quotas (simulated Amazon, simulated clock, "
        f"service times {json.dumps(SERVICE_SECONDS)})"
    ]
    for r in results:
        secs = r["simulated_seconds"]
        ratio = f", {secs / ref:.2f}x one store alone" if ref and secs is not None else ""
        lines.append(
            f"case {r['case']} (sync {r['sync']}, intake x{r['intake_concurrency']}): {r['stores']} stores, "
            f"{r['orders']:,} orders "
            f"({r['imported']:,} of {r['healthy_orders']:,} healthy orders imported), wall {r['wall_seconds']} s"
        )
        if secs is not None:
            lines.append(
                f"  last healthy store done after {secs:,.1f} simulated s{ratio}; median store "
                f"{r['median_store_finish_seconds']:,.1f} s; p99 order {r['p99_order_seconds']} s"
            )
        lines.append(
            f"  getOrder {r['getOrder_calls']:,}, searchOrders {r['searchOrders_calls']:,}, 429 sent "
            f"{r['throttled_429_sent']}; sync runs {r['sync_runs']} {r['sync_results']}; "
            f"Lambda s waiting on the rate budget {r['lambda_seconds_waiting']}"
        )
        if r["case"] in {"big-backlog", "broken"} and r["others_finish_seconds"] is not None:
            others = r["others_finish_seconds"]
            lines.append(
                f"  the healthy stores other than the first (the big or revoked one): last done after {others:,.1f} s"
                + (f", {others / ref:.2f}x one store alone" if ref else "")
            )
        if r["broken_store_orders_in_error"]:
            lines.append(f"  orders in Error per store (the broken ones): {r['broken_store_orders_in_error']}")
    if ref:
        many = next((r for r in results if r["case"] == "many"), None)
        if many and many["simulated_seconds"] is not None:
            ok = many["simulated_seconds"] <= 1.10 * ref
            lines.append(
                f"target: {many['stores']} backlogs within 10% of one alone: {many['simulated_seconds']:,.1f} s vs "
                f"{ref:,.1f} s -> {'MET' if ok else 'NOT MET'}"
            )
    return lines


def plans(args: argparse.Namespace) -> list[Plan]:
    n, few, common = args.orders, args.isolation_stores, {"sync": args.sync, "intake": args.intake_concurrency}
    every = {
        "alone": Plan("alone", [n], **common),
        "many": Plan("many", [n] * args.stores, **common),
        "big-backlog": Plan("big-backlog", [n * BIG_BACKLOG_FACTOR] + [n] * (few - 1), **common),
        "broken": Plan("broken", [n] * few, revoked=frozenset({0}), refused=frozenset({1}), **common),
    }
    return [every[name] for name in args.cases.split(",")]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stores", type=int, default=20)
    parser.add_argument("--orders", type=int, default=1000, help="orders in each store's backlog")
    parser.add_argument("--sync", choices=["parallel", "in-turn"], default="parallel")
    parser.add_argument("--cases", default="alone,many,big-backlog,broken")
    parser.add_argument(
        "--intake-concurrency",
        type=int,
        default=QUEUE_CONCURRENCY,
        help="notification intake invocations at once (the notifications event source's MaximumConcurrency)",
    )
    parser.add_argument(
        "--isolation-stores", type=int, default=3, help="stores in the big-backlog and broken cases (wall time)"
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    results = []
    for plan in plans(args):  # progress on stderr: the 20-store case takes minutes of wall time
        print(f"case {plan.case}: {len(plan.sizes)} stores, {sum(plan.sizes):,} orders", file=sys.stderr, flush=True)
        results.append(run_case(plan))
        print(f"  done in {results[-1]['wall_seconds']} s of wall time", file=sys.stderr, flush=True)
    print(json.dumps(results, indent=2) if args.json else "\n".join(report(results)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
