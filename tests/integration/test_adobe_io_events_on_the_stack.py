"""Commerce events as Adobe I/O Events delivers them, on the embedded stack: the template's rules
(matched by EventBridge's own pattern semantics, as moto implements them) route each event by its
event code whatever the merchant's provider label, and the real handlers act on the payload
wherever `detail` carries it."""

from __future__ import annotations

import io
import itertools
import json

import pytest

from amazon_channel_local.player import Player
from amazon_channel_local.scenario import Step, parse
from stack_stories import end_waiting_workflows, orders

SCENARIO = {
    "name": "adobe-io-events",
    "catalog": [{"sku": "MUG-01", "name": "Blue mug", "price": "12.50", "qty": 1000}],
    "steps": [],
}
SHIPPED = "com.adobe.commerce.observer.sales_order_shipment_save_after"
CANCELED = "com.adobe.commerce.observer.order_cancel_after"
CREDITED = "com.adobe.commerce.observer.sales_order_creditmemo_save_after"
ADOBE = "aws.partner/developer.adobe.com/8dc56ec7-dae2-43cf-bacf-5ab8fabcabcb"
ADOBE_TEST = "aws.partner/developer.adobe.com.test/8dc56ec7-dae2-43cf-bacf-5ab8fabcabcb"
INTAKES = ("CommerceShipmentIntakeFunction", "CommerceCancellationIntakeFunction")
QUEUES = {"CommerceShipmentsQueue": "shipments", "CommerceCancellationsQueue": "cancellations"}
_numbers = itertools.count(1)


@pytest.fixture(scope="module")
def player():
    with Player(
        parse(SCENARIO, "test_adobe_io_events_on_the_stack.py"), log_stream=io.StringIO(), time_scale=0.01
    ) as p:
        yield p


@pytest.fixture(autouse=True)
def _each_story(player):
    yield
    player.stack.release()
    end_waiting_workflows(player)


def put(player: Player, *entries: dict) -> None:
    bus = player.stack.resources.get("CommerceEventBus") or player.stack.resources["ChannelEventBus"]
    for i in range(0, len(entries), 10):  # PutEvents takes ten entries at most
        result = player.stack.client("events").put_events(
            Entries=[{**e, "EventBusName": bus} for e in entries[i : i + 10]]
        )
        assert result["FailedEntryCount"] == 0, result


def drain(player: Player, queue: str) -> list[dict]:
    sqs, url, out = player.stack.client("sqs"), player.stack.queue_url(queue), []
    while msgs := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]).get(
        "Messages"
    ):
        for m in msgs:
            out.append(
                {
                    "body": json.loads(m["Body"]),
                    **{k: v["StringValue"] for k, v in (m.get("MessageAttributes") or {}).items()},
                }
            )
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return out


def adobe_event(
    code: str, payload: dict, *, label="My Adobe Commerce Events", source=ADOBE, where="data.value"
) -> dict:
    """A PutEvents entry shaped as Adobe I/O Events delivers a Commerce event."""
    cloud = {
        "specversion": "1.0",
        "id": f"ce-{next(_numbers)}",
        "type": code,
        "source": "urn:uuid:p-1",
        "time": "2026-11-26T11:00:00.000Z",
        "datacontenttype": "application/json",
    }
    detail = {
        "data.value": {**cloud, "data": {"value": payload}},
        "data": {**cloud, "data": payload},
        "detail": payload,
    }[where]
    return {"Source": source, "DetailType": f"{label}:{code}", "Detail": json.dumps(detail)}


def routed(player: Player, *entries: dict) -> list[str]:
    """Where the stack's rules send each entry: 'shipments', 'cancellations' or nowhere."""
    player.stack.hold(*INTAKES)
    try:
        put(player, *entries)
        where = {
            m["body"]["detail-type"] + m["body"]["source"]: name
            for queue, name in QUEUES.items()
            for m in drain(player, queue)
        }
    finally:
        player.stack.release(*INTAKES)
    return [where.get(e["DetailType"] + e["Source"], "nowhere") for e in entries]


def an_imported_order(player: Player) -> str:
    """A buyer's paid order, in Commerce, its workflow waiting for the merchant to ship."""
    oid = f"115-{next(_numbers):07d}-3000003"
    player.run(
        parse(
            {
                "steps": [
                    {
                        "do": "amazon.place_order",
                        "order": {"id": oid, "items": [{"sku": "MUG-01", "qty": 2, "price": "12.50"}]},
                    }
                ]
            },
            "story",
        ).steps[0]
    )
    player.run(Step(0, "amazon.verify_payment", {"order_id": oid}))
    player.stack.settle()
    return oid


def held_back(player: Player, act) -> list[dict]:
    """Run `act` with Commerce's own events held back; return them (the story delivers them itself)."""
    kept: list[dict] = []
    forward, player.commerce.on_event = player.commerce.on_event, kept.append
    try:
        act()
    finally:
        player.commerce.on_event = forward
    return kept


# -- the rules ----------------------------------------------------------------------------------------
def test_the_rules_route_adobe_deliveries_by_event_code_whatever_the_provider_label(player):
    # Given Commerce events as Adobe delivers them: live and test registrations, any provider label
    entries = [
        adobe_event(code, {"entity_id": "1", "order_id": "1"}, label=label, source=source)
        for code in (SHIPPED, CANCELED, CREDITED)
        for label in ("My Adobe Commerce Events", "Boutique Lisboa", "Store: EU (prod)")
        for source in (ADOBE, ADOBE_TEST)
    ]
    # When they are put on the Commerce bus
    # Then each reaches the intake of its event code
    expected = {SHIPPED: "shipments", CANCELED: "cancellations", CREDITED: "cancellations"}
    assert routed(player, *entries) == [expected[e["DetailType"].rsplit(":", 1)[1]] for e in entries]


def test_the_rules_leave_other_events_alone(player):
    # Given events that are not the channel's: other codes, the old guesses at the envelope, other senders
    entries = [
        adobe_event("com.adobe.commerce.observer.sales_order_save_after", {"entity_id": "1"}),
        adobe_event(SHIPPED + "_v2", {"entity_id": "1", "order_id": "1"}),
        {**adobe_event(SHIPPED, {"entity_id": "1", "order_id": "1"}), "DetailType": "Boutique" + SHIPPED},
        adobe_event(SHIPPED, {"entity_id": "1", "order_id": "1"}, source="aws.partner/adobe.io/org/registration"),
        adobe_event(SHIPPED, {"entity_id": "1", "order_id": "1"}, source="aws.partner/example.com/123"),
    ]
    # When they are put on the Commerce bus, Then no rule sends them to the intakes
    assert routed(player, *entries) == ["nowhere"] * len(entries)


# -- the handlers, end to end -------------------------------------------------------------------------
@pytest.mark.parametrize("where", ["data", "detail"])
def test_a_shipment_delivered_with_its_payload_elsewhere_in_detail_is_confirmed_to_amazon(player, where):
    oid = an_imported_order(player)  # Given an order waiting for the merchant
    # When the merchant ships it in Commerce and Adobe delivers the event from a test registration,
    # another provider label, the payload at `where` and its ids as numbers
    [sent] = held_back(
        player,
        lambda: player.commerce.merchant_ship(ext_order_id=oid, carrier="UPS", tracking_number="1Z999AA10123456784"),
    )
    ids = {k: int(v) for k, v in json.loads(sent["Detail"])["data"]["value"].items() if k in ("entity_id", "order_id")}
    put(player, adobe_event(SHIPPED, ids, label="Boutique Lisboa", source=ADOBE_TEST, where=where))
    player.stack.settle()
    # Then the channel re-read the shipment through Commerce and confirmed it to Amazon
    order = orders(player).get(oid)
    assert [(s.commerce_shipment_id, s.tracking_number) for s in order.shipments] == [
        (ids["entity_id"], "1Z999AA10123456784")
    ]
    assert order.channel_status == "Shipped"
    assert drain(player, "CommerceShipmentsDeadLetterQueue") == []


def test_a_credit_memo_delivered_with_its_payload_in_data_cancels_the_order_on_amazon(player):
    oid = an_imported_order(player)  # Given an imported (invoiced) order
    # When the merchant cancels it in Commerce (a credit memo) and Adobe delivers the event with the
    # payload in `data` and numeric ids
    [sent] = held_back(player, lambda: player.commerce.merchant_cancel(ext_order_id=oid, reason="Out of stock"))
    value = json.loads(sent["Detail"])["data"]["value"]
    put(
        player,
        adobe_event(
            CREDITED,
            {"entity_id": int(value["entity_id"]), "order_id": int(value["order_id"])},
            label="Store: EU (prod)",
            where="data",
        ),
    )
    player.stack.settle()
    # Then Amazon canceled the order
    order = orders(player).get(oid)
    assert (order.amazon_status, order.channel_status) == ("Canceled", "Canceled")
    assert drain(player, "CommerceCancellationsDeadLetterQueue") == []


def test_commerce_events_that_can_never_be_handled_are_parked_with_what_to_fix(player):
    # Given a shipment event without the order id and a credit memo without its order id (fields
    # the merchant did not select in the event registration), and a shipment event with no payload
    put(
        player,
        adobe_event(SHIPPED, {"entity_id": "41"}),
        adobe_event(CREDITED, {"entity_id": "42"}, where="detail"),
        adobe_event(SHIPPED, {"increment_id": "000000043"}),
    )
    player.stack.settle()
    # Then each is parked, not dropped, with a reason that says what to fix
    shipments = sorted(m["reason"] for m in drain(player, "CommerceShipmentsDeadLetterQueue"))
    cancellations = [m["reason"] for m in drain(player, "CommerceCancellationsDeadLetterQueue")]
    assert shipments == [
        "InvalidCommerceEvent: com.adobe.commerce.observer.sales_order_shipment_save_after without order_id: "
        "select order_id in the event registration",
        "InvalidCommerceEvent: no Commerce payload with entity_id in detail.data.value, detail.data or detail",
    ]
    assert cancellations == [
        "InvalidCommerceEvent: com.adobe.commerce.observer.sales_order_creditmemo_save_after without order_id: "
        "select order_id in the event registration"
    ]
