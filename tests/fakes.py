"""In-memory stand-ins for the domain's ports, for fast Given/When/Then tests."""

from __future__ import annotations

import copy
from decimal import Decimal

from amazon_channel.domain.errors import CustomerAlreadyExists, VersionConflict
from amazon_channel.domain.models import (
    AmazonOrder,
    AmazonOrderItem,
    AmazonStatus,
    ChannelOrder,
    CommerceCustomer,
    CommerceOrderDraft,
    CommerceOrderRef,
    CommerceShipment,
    HistoryEntry,
    PackageConfirmation,
    StoreConfig,
    StoreSettings,
)
from amazon_channel.domain.orders import ChannelPorts

SELLER = "A1SIMSELLER0001"
MARKETPLACE = "ATVPDKIKX0DER"


class InMemoryOrders:
    def __init__(self):
        self.items: dict[str, ChannelOrder] = {}
        self.log: dict[str, list[HistoryEntry]] = {}

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


class Marketplace:
    def __init__(self):
        self.orders: dict[str, AmazonOrder] = {}
        self.get_calls = 0
        self.confirmations: list[PackageConfirmation] = []

    def add(self, amazon_order_id, fulfillment="MFN", buyer_name="Ana Souza", buyer_email="ana@example.com",
            items=(("MUG-01", 2, "12.50", "2.00"),), shipping=("4.99", "0.00")):
        self.orders[amazon_order_id] = AmazonOrder(
            amazon_order_id=amazon_order_id, marketplace_id=MARKETPLACE, fulfillment=fulfillment,
            status=AmazonStatus.UNSHIPPED, purchase_date="2026-11-26T10:00:00.000000Z",
            last_updated="2026-11-26T10:00:00.000000Z", buyer_name=buyer_name, buyer_email=buyer_email,
            items=[
                AmazonOrderItem(order_item_id=str(100 + n), sku=sku, qty=qty, unit_price=Decimal(price),
                                line_tax=Decimal(tax),
                                shipping_price=Decimal(shipping[0]) if n == 0 else Decimal(0),
                                shipping_tax=Decimal(shipping[1]) if n == 0 else Decimal(0))
                for n, (sku, qty, price, tax) in enumerate(items)
            ],
        )

    def get_order(self, seller_id, amazon_order_id):
        self.get_calls += 1
        return self.orders[amazon_order_id]

    def confirm_shipment(self, seller_id, confirmation):
        self.confirmations.append(confirmation)
        return f"req-{len(self.confirmations)}"


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

    def add_comment(self, order_id, comment, status=None):
        pass

    def _ref(self, oid):
        o = self.orders[oid]
        d: CommerceOrderDraft = o["draft"]
        return CommerceOrderRef(order_id=oid, increment_id=o["increment"], status=o["status"],
                                amazon_order_id=d.amazon_order_id, customer_id=d.customer_id,
                                customer_is_guest=d.customer_is_guest, customer_email=d.customer_email)


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

    def start(self, amazon_order_id, payload):
        if amazon_order_id in self.started:
            return False
        self.started.add(amazon_order_id)
        return True

    def wake(self, task_token, output):
        if task_token in self.used_tokens:
            return False
        self.used_tokens.add(task_token)
        self.woken.append(task_token)
        return True


def channel_ports(**settings) -> ChannelPorts:
    return ChannelPorts(orders=InMemoryOrders(), stores=Stores(**settings), marketplace=Marketplace(),
                        commerce=Commerce(), events=Events(), workflows=Workflows())
