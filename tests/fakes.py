"""In-memory stand-ins for the domain's ports, for fast Given/When/Then tests."""

from __future__ import annotations

import copy
from decimal import Decimal

from amazon_channel.adapters.rate_budget import InMemoryRateBudget
from amazon_channel.domain.clock import normalize
from amazon_channel.domain.errors import AmazonThrottled, CommerceRejected, CustomerAlreadyExists, VersionConflict
from amazon_channel.domain.models import (
    AmazonOrder,
    AmazonOrderItem,
    AmazonStatus,
    CancellationFeedResult,
    ChannelOrder,
    ChannelStatus,
    CommerceCustomer,
    CommerceOrderDraft,
    CommerceOrderRef,
    CommerceShipment,
    HistoryEntry,
    PackageConfirmation,
    StoreConfig,
    StoreSettings,
)
from amazon_channel.domain.order_reads import plan_of
from amazon_channel.domain.orders import ChannelPorts

SELLER = "A1SIMSELLER0001"
MARKETPLACE = "ATVPDKIKX0DER"


class InMemoryOrders:
    def __init__(self):
        self.items: dict[str, ChannelOrder] = {}
        self.log: dict[str, list[HistoryEntry]] = {}
        self.marks: dict[tuple[str, str], int] = {}  # (seller, order id) -> the import attempt that failed
        self.to_confirm_marks: dict[tuple[str, str], int] = {}  # (seller, order id) -> shipments when marked

    def get(self, amazon_order_id):
        o = self.items.get(amazon_order_id)
        return copy.deepcopy(o) if o else None

    def put_new(self, order, history):
        if order.amazon_order_id in self.items:
            return False
        self.items[order.amazon_order_id] = copy.deepcopy(order)
        self.log.setdefault(order.amazon_order_id, []).extend(history)
        return True

    def save(self, order, history):
        current = self.items.get(order.amazon_order_id)
        if current is None or current.version != order.version - 1:
            raise VersionConflict("conflict")
        self.items[order.amazon_order_id] = copy.deepcopy(order)
        self.log.setdefault(order.amazon_order_id, []).extend(history)
        if order.channel_status == ChannelStatus.ERROR and order.commerce is None:  # the blocked mark, as in DynamoDB
            self.marks[(order.seller_id, order.amazon_order_id)] = order.import_attempt
        if order.to_confirm:  # the to-confirm mark, as in DynamoDB
            self.to_confirm_marks[(order.seller_id, order.amazon_order_id)] = len(order.shipments)

    def to_confirm(self, seller_id):
        return [(oid, n) for (seller, oid), n in sorted(self.to_confirm_marks.items()) if seller == seller_id]

    def forget_to_confirm(self, seller_id, amazon_order_id, shipments):
        if self.to_confirm_marks.get((seller_id, amazon_order_id)) == shipments:
            del self.to_confirm_marks[(seller_id, amazon_order_id)]

    def blocked(self, seller_id):
        return [(oid, attempt) for (seller, oid), attempt in sorted(self.marks.items()) if seller == seller_id]

    def forget_blocked(self, seller_id, amazon_order_id, attempt):
        if self.marks.get((seller_id, amazon_order_id)) == attempt:
            del self.marks[(seller_id, amazon_order_id)]

    def append_history(self, amazon_order_id, entries):
        self.log.setdefault(amazon_order_id, []).extend(entries)

    def history(self, amazon_order_id):
        return list(self.log.get(amazon_order_id, []))


class Stores:
    def __init__(self, **settings):
        self.store = StoreConfig(seller_id=SELLER, marketplace_ids=[MARKETPLACE], settings=StoreSettings(**settings))

    def find(self, seller_id, marketplace_id):
        if seller_id == self.store.seller_id and marketplace_id in self.store.marketplace_ids:
            return self.store
        return None

    def connected(self):
        return [self.store]


class Marketplace:
    def __init__(self):
        self.orders: dict[str, AmazonOrder] = {}
        self.get_calls = 0
        self.confirmations: list[PackageConfirmation] = []
        self.search_calls: list[tuple[str, str | None]] = []  # (lastUpdatedAfter, paginationToken) per call
        self.search_quota: int | None = None
        self.cancellations: list = []  # the cancellation feeds sent
        self.feeds: dict[str, str] = {}
        self.feed_answer = "accepted"  # what Amazon makes of the next feeds: pending, accepted or refused
        self.now = 0.0  # the clock of getOrder's budget (`OrderReads`), in seconds
        self.read_budget = InMemoryRateBudget(clock=lambda: self.now)

    # OrderReads: getOrder's documented usage plan (0.5/s, burst 30) as a token bucket on `now`
    def book_read(self, seller_id, within):
        return self.read_budget.book(f"{seller_id}#getOrder", 0.5, 30, within)

    def read_booked(self, seller_id, amazon_order_id):
        return self.get_order(seller_id, amazon_order_id)

    def add(
        self,
        amazon_order_id,
        fulfillment="MFN",
        buyer_name="Ana Souza",
        buyer_email="ana@example.com",
        items=(("MUG-01", 2, "12.50", "2.00"),),
        shipping=("4.99", "0.00"),
    ):
        self.orders[amazon_order_id] = AmazonOrder(
            amazon_order_id=amazon_order_id,
            marketplace_id=MARKETPLACE,
            fulfillment=fulfillment,
            status=AmazonStatus.UNSHIPPED,
            purchase_date="2026-11-26T10:00:00.000000Z",
            last_updated="2026-11-26T10:00:00.000000Z",
            buyer_name=buyer_name,
            buyer_email=buyer_email,
            items=[
                AmazonOrderItem(
                    order_item_id=str(100 + n),
                    sku=sku,
                    qty=qty,
                    unit_price=Decimal(price),
                    line_tax=Decimal(tax),
                    shipping_price=Decimal(shipping[0]) if n == 0 else Decimal(0),
                    shipping_tax=Decimal(shipping[1]) if n == 0 else Decimal(0),
                )
                for n, (sku, qty, price, tax) in enumerate(items)
            ],
        )

    def get_order(self, seller_id, amazon_order_id):
        self.get_calls += 1
        return self.orders[amazon_order_id]

    def search_orders(self, seller_id, *, last_updated_after, marketplace_ids, pagination_token=None, max_results=100):
        """Pages of the orders updated at or after the time, oldest change first; the token is an offset.
        `search_quota` (None = unlimited) is the number of calls left before AmazonThrottled."""
        if self.search_quota is not None:
            if self.search_quota <= 0:
                err = AmazonThrottled("searchOrders: the shared rate budget needs 178.6s more")
                err.retry_after = 178.6
                raise err
            self.search_quota -= 1
        self.search_calls.append((last_updated_after, pagination_token))
        found = sorted(
            (
                o
                for o in self.orders.values()
                if o.last_updated >= last_updated_after and o.marketplace_id in marketplace_ids
            ),
            key=lambda o: (o.last_updated, o.amazon_order_id),
        )
        start = int(pagination_token or 0)
        page = found[start : start + max_results]
        more = start + max_results < len(found)
        return [o.model_copy(deep=True) for o in page], (str(start + max_results) if more else None)

    def confirm_shipment(self, seller_id, confirmation):
        self.confirmations.append(confirmation)
        return f"req-{len(self.confirmations)}"

    def request_cancellation(self, seller_id, cancellation):
        self.cancellations.append(cancellation)
        feed_id = f"feed-{len(self.cancellations)}"
        self.feeds[feed_id] = self.feed_answer
        return feed_id

    def cancellation_result(self, seller_id, feed_id):
        answer = self.feeds[feed_id]
        if answer == "pending":
            return CancellationFeedResult(feed_id=feed_id, status="IN_PROGRESS")
        return CancellationFeedResult(
            feed_id=feed_id,
            status="DONE",
            accepted=answer == "accepted",
            message="" if answer == "accepted" else "The order is Shipped",
        )


class Commerce:
    def __init__(self):
        self.customers: list[CommerceCustomer] = []
        self.orders: dict[int, dict] = {}
        self.shipments: dict[int, CommerceShipment] = {}

    def find_customer(self, email, website_id):
        return next((c for c in self.customers if c.email == email), None)

    def create_customer(self, customer):
        if self.find_customer(customer.email, customer.website_id):
            raise CustomerAlreadyExists(customer.email)
        created = customer.model_copy(update={"id": len(self.customers) + 1})
        self.customers.append(created)
        return created

    def find_order_by_amazon_id(self, amazon_order_id):
        for oid, o in self.orders.items():
            if o["draft"].amazon_order_id == amazon_order_id:
                return self._ref(oid)
        return None

    def create_order(self, draft: CommerceOrderDraft):
        existing = self.find_order_by_amazon_id(draft.amazon_order_id)
        if existing:
            return existing
        oid = len(self.orders) + 1
        self.orders[oid] = {"draft": draft, "status": "processing", "increment": draft.increment_id or f"{oid:09d}"}
        return self._ref(oid)

    def ship_order(self, order_id, shipment):
        sid = len(self.shipments) + 1
        self.shipments[sid] = shipment.model_copy(update={"id": sid})
        self.orders[order_id]["status"] = "complete"
        return sid

    def get_order(self, order_id):
        return self._ref(order_id)

    def get_shipment(self, shipment_id):
        return self.shipments[shipment_id]

    def shipment_ids(self, order_id):
        return sorted(sid for sid, s in self.shipments.items() if s.order_id == order_id)

    def add_comment(self, order_id, comment, status=None):
        self.orders[order_id].setdefault("comments", []).append(comment)

    def add_comment_once(self, order_id, comment):
        if comment not in self.orders[order_id].get("comments", []):
            self.add_comment(order_id, comment)

    def cancel_order(self, order_id, comment):
        o = self.orders[order_id]
        if o.get("state") not in ("canceled", "closed"):
            if o.get("shipped"):
                raise CommerceRejected(f"Commerce order {o['increment']} has shipped items: it was not withdrawn")
            o["state"] = o["status"] = "closed"  # invoiced: an offline credit memo of everything
            o["withdrawn"] = sum(ln.qty for ln in o["draft"].lines)
            o["cancel_calls"] = o.get("cancel_calls", 0) + 1
        self.add_comment_once(order_id, comment)
        return self._ref(order_id)

    def release_held_units(self, order_id, reason):
        self.orders[order_id].setdefault("releases", []).append(reason)

    def merchant_withdraws(self, order_id, reason, qty=None, shipped=0):
        """The merchant cancels (credit memo) in the Commerce admin, with the reason as a comment."""
        o = self.orders[order_id]
        ordered = sum(ln.qty for ln in o["draft"].lines)
        if reason:
            self.add_comment(order_id, reason)
        o["shipped"] = shipped
        o["withdrawn"] = ordered - shipped if qty is None else qty
        o["state"] = o["status"] = "closed" if not shipped and o["withdrawn"] == ordered else "complete"

    def _ref(self, oid):
        o = self.orders[oid]
        d: CommerceOrderDraft = o["draft"]
        mine = [c for c in o.get("comments", []) if not c.startswith(("Amazon channel:", "Imported from"))]
        return CommerceOrderRef(
            order_id=oid,
            increment_id=o["increment"],
            status=o["status"],
            amazon_order_id=d.amazon_order_id,
            customer_id=d.customer_id,
            customer_is_guest=d.customer_is_guest,
            customer_email=d.customer_email,
            state=o.get("state", "processing"),
            qty_ordered=sum(ln.qty for ln in d.lines),
            qty_shipped=o.get("shipped", 0),
            qty_withdrawn=o.get("withdrawn", 0),
            merchant_comment=mine[-1] if mine else None,
        )


class Events:
    def __init__(self):
        self.published: list[tuple[str, dict]] = []

    def publish(self, detail_type, detail):
        self.published.append((detail_type, detail))


class Workflows:
    def __init__(self):
        self.started: set[str] = set()
        self.woken: list[str] = []
        self.used_tokens: set[str] = set()

    def start(self, amazon_order_id, payload, attempt=0):
        name = amazon_order_id if not attempt else f"{amazon_order_id}-retry{attempt}"
        if name in self.started:
            return False
        self.started.add(name)
        return True

    def wake(self, task_token, output):
        if task_token in self.used_tokens:
            return False
        self.used_tokens.add(task_token)
        self.woken.append(task_token)
        return True


def channel_ports(**settings) -> ChannelPorts:
    return ChannelPorts(
        orders=InMemoryOrders(),
        stores=Stores(**settings),
        marketplace=Marketplace(),
        commerce=Commerce(),
        events=Events(),
        workflows=Workflows(),
    )


def an_unshipped_order_read(amazon_order_id: str, changed_at: str = "2026-11-26T10:00:02.000000Z") -> ChannelPorts:
    """A merchant-fulfilled order Amazon says is Unshipped (two MUG-01), its details read by the
    workflow, and no Commerce order yet."""
    from amazon_channel.domain import mfn_workflow
    from amazon_channel.domain.intake import IntakePorts, record_order_change
    from amazon_channel.domain.models import OrderChange, OrderLine

    ports = channel_ports()
    record_order_change(
        OrderChange(
            amazon_order_id=amazon_order_id,
            seller_id=SELLER,
            marketplace_id=MARKETPLACE,
            status=AmazonStatus.UNSHIPPED,
            fulfillment="MFN",
            changed_at=changed_at,
            lines=[OrderLine(order_item_id="100", sku="MUG-01", qty=2)],
        ),
        IntakePorts(orders=ports.orders, stores=ports.stores, workflows=ports.workflows, events=ports.events),
    )
    marketplace = ports.marketplace
    assert isinstance(marketplace, Marketplace)
    marketplace.add(amazon_order_id)
    mfn_workflow.fetch_order_details(amazon_order_id, ports)
    return ports


class SyncState:
    """The order sync's lease and state, in memory (`SyncStateStore`)."""

    def __init__(self):
        self.leases: dict[str, tuple[str, str]] = {}  # seller -> (owner, until)
        self.states: dict = {}
        self.unread: dict[str, str] = {}  # seller -> the newest unread change
        self.continuations: dict[str, str] = {}  # seller -> when its pending continuation is due

    def acquire_lease(self, seller_id, owner, now, until):
        held = self.leases.get(seller_id)
        if held and held[0] != owner and held[1] >= now:
            return False
        self.leases[seller_id] = (owner, until)
        return True

    def release_lease(self, seller_id, owner):
        if self.leases.get(seller_id, ("",))[0] == owner:
            del self.leases[seller_id]

    def load(self, seller_id):
        state = self.states.get(seller_id)
        return state.model_copy(deep=True) if state else None

    def save(self, state):
        current = self.states.get(state.seller_id)
        if (current.version if current else 0) != state.version - 1:
            raise VersionConflict("sync state changed")
        self.states[state.seller_id] = state.model_copy(deep=True)

    def claim_continuation(self, seller_id, now, due):
        if self.continuations.get(seller_id, "") > now:
            return False
        self.continuations[seller_id] = due
        return True

    # ReadPlans
    def note_unread(self, seller_id, changed_at):
        at = normalize(changed_at)
        if at > self.unread.get(seller_id, ""):
            self.unread[seller_id] = at

    def read_plan(self, seller_id):
        return plan_of(self.states.get(seller_id), self.unread.get(seller_id))


def mug_order(order_id="111-0000001-0000001", fulfillment="MFN", **extra):
    """A paid order for the simulated Amazon: 2 mugs at 12.50 (tax 2.00), a tea at 5.00, shipping 4.99 + 0.40."""
    return {
        "id": order_id,
        "fulfillment": fulfillment,
        "buyer": {"name": "Ann Lee", "email": "ann@marketplace.amazon.com"},
        "ship_to": {
            "name": "Ann Lee",
            "line1": "1 Main St",
            "city": "Austin",
            "region": "TX",
            "postcode": "78701",
            "country": "US",
        },
        "items": [
            {"sku": "MUG-1", "qty": 2, "price": "12.50", "tax": "2.00"},
            {"sku": "TEA-9", "qty": 1, "price": "5.00"},
        ],
        "shipping": {"price": "4.99", "tax": "0.40"},
        **extra,
    }
