"""Commerce events as Adobe I/O Events delivers them to EventBridge: whichever provider label the
merchant chose, wherever `detail` carries the payload, ids as numbers or strings. What can never
be handled is refused with a reason that says what to fix."""

import pytest

from amazon_channel.contracts import CommerceOrderCanceled, CommerceShipmentSaved
from amazon_channel.domain.commerce_events import InvalidCommerceEvent
from amazon_channel.domain.notifications import commerce_event_received

SHIPPED = "com.adobe.commerce.observer.sales_order_shipment_save_after"
CANCELED = "com.adobe.commerce.observer.order_cancel_after"
CREDITED = "com.adobe.commerce.observer.sales_order_creditmemo_save_after"


def delivered(
    code,
    payload,
    *,
    where="data.value",
    label="My Adobe Commerce Events",
    source="aws.partner/developer.adobe.com/8dc56ec7-dae2-43cf-bacf-5ab8fabcabcb",
):
    """An EventBridge event as Adobe I/O Events delivers it, the payload at `where` in `detail`."""
    cloud_event = {
        "specversion": "1.0",
        "id": "e-1",
        "type": code,
        "source": "urn:uuid:p-1",
        "time": "2026-11-26T11:00:00.000Z",
        "datacontenttype": "application/json",
    }
    detail = {
        "data.value": {**cloud_event, "data": {"value": payload, "_metadata": {"commerceEdition": "Adobe Commerce"}}},
        "data": {**cloud_event, "data": payload},
        "detail": payload,
        "event.data.value": {"event": {**cloud_event, "data": {"value": payload}}},
    }[where]
    return {
        "version": "0",
        "id": "eb-1",
        "detail-type": f"{label}:{code}",
        "source": source,
        "account": "123456789012",
        "time": "2026-11-26T11:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": detail,
    }


@pytest.mark.parametrize("where", ["data.value", "data", "detail", "event.data.value"])
@pytest.mark.parametrize("ids", [("7", "3"), (7, 3)], ids=["strings", "numbers"])
def test_a_shipment_event_names_the_shipment_and_its_order_wherever_the_payload_sits(where, ids):
    # Given the merchant's shipment 7 of Commerce order 3, delivered with the payload at `where`
    event = delivered(SHIPPED, {"entity_id": ids[0], "order_id": ids[1], "increment_id": "000000007"}, where=where)
    # When the shipment intake reads it
    saved = CommerceShipmentSaved.parse(event)
    # Then it names shipment 7 of order 3, as numbers
    assert (saved.shipment_id, saved.commerce_order_id) == (7, 3)


@pytest.mark.parametrize("label", ["My Adobe Commerce Events", "Boutique Lisboa", "Store: EU (prod)"])
@pytest.mark.parametrize(
    "source",
    [
        "aws.partner/developer.adobe.com/8dc56ec7-dae2-43cf-bacf-5ab8fabcabcb",
        "aws.partner/developer.adobe.com.test/8dc56ec7-dae2-43cf-bacf-5ab8fabcabcb",
    ],
)
def test_any_provider_label_and_a_test_registration_are_read_by_event_code(label, source):
    # Given a credit memo event from a provider the merchant named `label`
    event = delivered(CREDITED, {"entity_id": "12", "order_id": "3"}, label=label, source=source)
    # Then the cancellation intake reads the event code and the credit memo's order
    canceled = CommerceOrderCanceled.parse(event)
    assert (canceled.code, canceled.commerce_order_id) == (CREDITED, 3)


def test_an_order_cancel_names_the_order_itself():
    canceled = CommerceOrderCanceled.parse(delivered(CANCELED, {"entity_id": 3, "state": "canceled"}, where="data"))
    assert canceled.commerce_order_id == 3


@pytest.mark.parametrize(
    "event, reason",
    [
        (delivered(SHIPPED, {"increment_id": "000000007"}), "no Commerce payload with entity_id"),
        (delivered(SHIPPED, {"entity_id": "7"}), "sales_order_shipment_save_after without order_id: select order_id"),
        (delivered(SHIPPED, {"entity_id": "7", "order_id": "three"}), "order_id 'three' is not an id"),
        (delivered(SHIPPED, {"entity_id": True, "order_id": 3}), "entity_id True is not an id"),
        (delivered(SHIPPED, {"entity_id": "-7", "order_id": 3}), "entity_id '-7' is not an id"),
        (
            delivered(CANCELED, {"entity_id": "7", "order_id": "3"}),
            "event code 'com.adobe.commerce.observer.order_cancel_after'",
        ),
        (
            {**delivered(SHIPPED, {"entity_id": 7, "order_id": 3}), "detail-type": SHIPPED},
            "is not '<provider label>:<event code>'",
        ),
        (
            delivered(SHIPPED, {"entity_id": 7, "order_id": 3}, source="aws.partner/adobe.io/org/registration"),
            "is not Adobe I/O Events",
        ),
        ({**delivered(SHIPPED, {"entity_id": 7, "order_id": 3}), "detail": "7"}, "detail is str"),
        ({"detail-type": f"Label:{SHIPPED}"}, "not an EventBridge event"),
    ],
    ids=[
        "no payload",
        "no order id",
        "a word for an id",
        "a boolean for an id",
        "a negative id",
        "another event code",
        "no provider label",
        "another source",
        "detail not an object",
        "not an event",
    ],
)
def test_a_shipment_event_that_can_never_be_handled_is_refused_with_its_reason(event, reason):
    with pytest.raises(InvalidCommerceEvent) as refused:
        CommerceShipmentSaved.parse(event).shipment_id  # noqa: B018 - ids are read when used
        CommerceShipmentSaved.parse(event).commerce_order_id  # noqa: B018
    assert reason in str(refused.value)


def test_a_credit_memo_without_its_order_id_says_which_field_to_select():
    with pytest.raises(InvalidCommerceEvent, match="select order_id in the event registration"):
        CommerceOrderCanceled.parse(delivered(CREDITED, {"entity_id": "12"})).commerce_order_id  # noqa: B018


@pytest.mark.parametrize("where", ["data.value", "data", "detail"])
def test_the_kept_shipment_event_reads_the_same_wherever_the_payload_was(where):
    event = delivered(SHIPPED, {"entity_id": "7", "order_id": "3", "customer_email": "ana@example.com"}, where=where)
    kept = commerce_event_received(event, "2026-11-26T11:00:01Z")
    assert kept.type == SHIPPED and kept.summary == "shipment 7 of Commerce order 3"
    assert kept.body["detail"]["data"]["value"] == {"entity_id": "7", "order_id": "3"}  # ids only, no buyer data
