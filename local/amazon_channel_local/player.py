"""Plays a scenario on the embedded local stack and reports the result (format v1).

The stack is built from template.yaml; the real handlers and state machine run on moto; the
simulated Amazon and Commerce listen on 127.0.0.1. Nothing else is reached.
"""

from __future__ import annotations

import json
import os
from contextlib import ExitStack
from decimal import Decimal
from pathlib import Path
from typing import Any

from .scenario import Scenario, ScenarioError, Step

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SELLER = "A1SIMSELLER0001"
DEFAULT_MARKETPLACE = "ATVPDKIKX0DER"
NOT_YET: dict[str, str] = {}  # verbs parsed but not built yet (refused with exit 3, never skipped)


def simulator_environment(amazon, commerce) -> dict[str, str]:
    """What every function's environment needs to reach the simulators instead of Amazon and Commerce."""
    return {
        "SP_API_ENDPOINT": amazon.base_url,
        "LWA_TOKEN_URL": amazon.lwa_token_url,
        "COMMERCE_BASE_URL": commerce.base_url,
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_DISABLED": "true",
    }


class NotSupportedYet(ScenarioError):
    """A valid verb whose behaviour is not built yet. Never ignored silently."""


class Player:
    """One embedded stack with its simulators, driven step by step."""

    def __init__(self, scenario: Scenario, log_stream=None, time_scale: float = 1.0, clock: Any = None):
        from .stack_clock import SimulatedClock

        self.scenario = scenario
        self.log_stream = log_stream
        self.time_scale = time_scale  # LocalStack's: scales Step Functions Retry intervals and Wait states
        #: one clock for the stack, its handlers and the simulated Amazon: simulated unless given,
        #: so that quota waits, back-offs and delays take no wall time (stack_clock.py)
        self.clock = clock or SimulatedClock()
        self.snapshots: dict[str, Any] = {}
        self.polls: list[dict] = []  # each `poll` step's sync report
        self.connected_at = self.clock.datetime().strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        self._exit = ExitStack()

    # -- life cycle -------------------------------------------------------------------------
    def __enter__(self) -> Player:
        from .simulators.amazon import SimulatedAmazon
        from .simulators.commerce import SimulatedCommerce
        from .stack import LocalStack

        self.amazon = SimulatedAmazon(
            notify=self._deliver_notification, seller_id=DEFAULT_SELLER, clock=self.clock.datetime
        )
        self.commerce = SimulatedCommerce(on_event=self._deliver_commerce_event)
        self.amazon.start()
        self._exit.callback(self.amazon.stop)
        self.commerce.start()
        self._exit.callback(self.commerce.stop)
        self.stack = LocalStack(
            root=ROOT,
            environment_overrides=simulator_environment(self.amazon, self.commerce),
            log_stream=self.log_stream,
            time_scale=self.time_scale,
            clock=self.clock,
        )
        self.stack.start()
        self._exit.callback(self.stack.stop)
        self._configure()
        return self

    def __exit__(self, *exc) -> None:
        self._exit.close()

    @classmethod
    def attached(cls, scenario: Scenario, stack, amazon, commerce, log_stream=None) -> Player:
        """A player on a stack and simulators that already run (`amazon-channel local up`)."""
        player = cls(scenario, log_stream=log_stream, clock=stack.clock)
        player.stack, player.amazon, player.commerce = stack, amazon, commerce
        return player

    def _configure(self) -> None:
        sm = self.stack.client("secretsmanager")
        sm.put_secret_value(
            SecretId=self.stack.resources["SpApiCredentialsSecret"], SecretString=json.dumps(self.amazon.credentials)
        )
        sm.put_secret_value(
            SecretId=self.stack.resources["CommerceTokenSecret"], SecretString=json.dumps(self.commerce.credentials)
        )
        marketplaces = sorted(
            {DEFAULT_MARKETPLACE} | {o.get("marketplace", DEFAULT_MARKETPLACE) for o in self.scenario.orders}
        )
        store = {
            "seller_id": DEFAULT_SELLER,
            "marketplace_ids": marketplaces,
            "settings": self.scenario.settings,
            # The store is connected as the scenario starts: an order with an earlier purchase_date
            # was placed before it and is never imported.
            "connected_at": self.connected_at,
        }
        self.stack.client("dynamodb").put_item(
            TableName=self.stack.resources["StoresTable"],
            Item={"id": {"S": DEFAULT_SELLER}, "value": {"S": json.dumps(store)}},
        )
        for p in self.scenario.catalog:
            self.commerce.set_product(
                p["sku"], name=p.get("name"), price=p.get("price"), qty=p.get("qty"), enabled=p.get("enabled", True)
            )
        for c in self.scenario.customers:
            self.commerce.add_customer(c["email"], c["firstname"], c["lastname"])

    # -- what the simulators send -----------------------------------------------------------
    def _deliver_notification(self, body: str) -> None:
        self.stack.client("sqs").send_message(QueueUrl=self.stack.queue_url("NotificationsQueue"), MessageBody=body)

    def _deliver_commerce_event(self, entry: dict) -> None:
        bus = self.stack.resources.get("CommerceEventBus") or self.stack.resources["ChannelEventBus"]
        result = self.stack.client("events").put_events(Entries=[{**entry, "EventBusName": bus}])
        if result.get("FailedEntryCount"):
            raise RuntimeError(f"EventBridge refused the Commerce event: {result}")

    # -- steps ------------------------------------------------------------------------------
    def play(self) -> dict:
        for step in self.scenario.steps:
            self.run(step)
        self.stack.settle()
        return self.result()

    def run(self, step: Step) -> None:
        a = step.args
        try:
            match step.do:
                case "amazon.place_order":
                    self.amazon.place_order(a["order"])
                case "amazon.verify_payment":
                    self.amazon.verify_payment(a["order_id"])
                case "amazon.ship":
                    self.amazon.ship(a["order_id"])
                case "amazon.cancel":
                    self.amazon.cancel(a["order_id"])
                case "amazon.redeliver_notifications":
                    self.amazon.redeliver_notifications()
                case "amazon.lose_notifications":
                    self.amazon.set_lose_notifications(a["enabled"])
                case "commerce.ship":
                    self.stack.settle()
                    self.commerce.merchant_ship(
                        ext_order_id=a["order_id"],
                        carrier=a["carrier"],
                        tracking_number=a["tracking_number"],
                        items=a.get("items"),
                    )
                case "commerce.cancel":
                    self.stack.settle()  # like commerce.ship: the merchant cancels an order Commerce has
                    if self.commerce.order_by_ext_id(a["order_id"]) is None:
                        raise ScenarioError(
                            f"{self.scenario.path}: {step.where()}: Commerce has no order for Amazon order "
                            f"{a['order_id']} (Pending or unimported orders are canceled in Seller Central)"
                        )
                    self.commerce.merchant_cancel(ext_order_id=a["order_id"], reason=a["reason"])
                case "catalog.set":
                    self.commerce.set_product(
                        a["sku"], name=a.get("name"), price=a.get("price"), qty=a.get("qty"), enabled=a.get("enabled")
                    )
                case "poll":
                    self.poll()
                case "settle":
                    self.stack.settle()
                case "snapshot":
                    self.snapshots[a["label"]] = self.result(with_snapshots=False)
                case verb if verb in NOT_YET:
                    raise NotSupportedYet(f"{self.scenario.path}: {step.where()}: {NOT_YET[verb]}")
        except ValueError as e:
            if isinstance(e, ScenarioError):
                raise
            raise ScenarioError(f"{self.scenario.path}: {step.where()}: {e}") from None

    def poll(self) -> dict:
        """The scheduled order sync runs now, through its function (its report is kept in `polls`)."""
        from .sync_ops import poll

        report = poll(self.stack)
        self.polls.append(report)
        return report

    def retry(self, amazon_order_id: str) -> dict:
        """`amazon-channel retry`: import a blocked order again at once."""
        from .sync_ops import retry

        return retry(self.stack, amazon_order_id)

    # -- the result -------------------------------------------------------------------------
    def result(self, with_snapshots: bool = True) -> dict:
        """The result as it stands now. It lists the scenario's orders placed so far, so a
        `snapshot` taken before a later `amazon.place_order` lists the orders known at its step."""
        from amazon_channel.adapters.dynamodb_orders import DynamoDbOrderStore

        orders_table = self.stack.resources["OrdersTable"]
        store = DynamoDbOrderStore(orders_table, self.stack.client("dynamodb"))
        visible = self._visible_order_ids(orders_table)
        orders = []
        for placed in self.scenario.orders:
            oid = placed["id"]
            if not self.amazon.has_order(oid):
                continue  # placed by a later step
            channel = store.get(oid)
            commerce = self.commerce.order_by_ext_id(oid)
            orders.append(
                {
                    "amazon_order_id": oid,
                    "fulfillment": placed.get("fulfillment", "MFN"),
                    "amazon_status": self.amazon.order_status(oid),
                    "channel_status": channel.channel_status.value if channel else None,
                    "visible_in_orders_tab": oid in visible,
                    "notes": channel.notes if channel else "",
                    "commerce_order": _commerce_order(commerce),
                    "amazon_shipment_confirmations": [
                        {"carrier": c["carrier"], "tracking_number": c["tracking_number"], "items": c["items"]}
                        for c in self.amazon.shipment_confirmations(oid)
                    ],
                }
            )
        result = {
            "orders": orders,
            "commerce_customers": self.commerce.customers(),
            "commerce_order_count": self.commerce.order_count,
        }
        if with_snapshots:
            result["snapshots"] = self.snapshots
        return result

    def _visible_order_ids(self, table: str) -> set[str]:
        """The Orders view lists what its index holds: Pending orders are not in it."""
        ids: set[str] = set()
        kwargs = {
            "TableName": table,
            "IndexName": "OrdersView",
            "KeyConditionExpression": "view_pk = :s",
            "ExpressionAttributeValues": {":s": {"S": f"STORE#{DEFAULT_SELLER}"}},
        }
        ddb = self.stack.client("dynamodb")
        while True:
            page = ddb.query(**kwargs)
            ids |= {i["view_sk"]["S"].rsplit("#", 1)[1] for i in page.get("Items", [])}
            if "LastEvaluatedKey" not in page:
                return ids
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _commerce_order(order: dict | None) -> dict | None:
    if order is None:
        return None
    return {
        "increment_id": order["increment_id"],
        "status": order["status"],
        "customer_email": order["customer_email"],
        "customer_is_guest": bool(order["customer_is_guest"]),
        "grand_total": f"{Decimal(str(order['grand_total'])):.2f}",
        "items": [
            {"sku": i["sku"], "qty": int(i["qty"]), "price": f"{Decimal(str(i['price'])):.2f}"} for i in order["items"]
        ],
        "shipments": order["shipments"],
        "emails_sent_to_customer": order["emails_sent_to_customer"],
    }


def play_file(path: str, log_stream=None) -> dict:
    """Load, validate and play a scenario file; returns the result."""
    from .scenario import load

    scenario = load(path)
    for step in scenario.steps:
        if step.do in NOT_YET:
            raise NotSupportedYet(f"{scenario.path}: {step.where()}: {NOT_YET[step.do]}")
    with Player(scenario, log_stream=log_stream) as player:
        return player.play()


__all__ = ["NotSupportedYet", "Player", "os", "play_file"]
