"""Bad notifications are refused with a reason; buyer names become Commerce names."""

import copy
import json

import pytest

from amazon_channel.contracts import parse_notification
from amazon_channel.domain.customers import buyer_for, split_name
from amazon_channel.domain.errors import InvalidNotification

GOOD = {
    "NotificationVersion": "1.0",
    "NotificationType": "ORDER_CHANGE",
    "PayloadVersion": "1.0",
    "EventTime": "2026-11-26T10:00:00.000Z",
    "Payload": {
        "OrderChangeNotification": {
            "NotificationLevel": "OrderLevel",
            "SellerId": "A1SIMSELLER0001",
            "AmazonOrderId": "113-0000000-0000001",
            "OrderChangeType": "OrderStatusChange",
            "OrderChangeTrigger": {
                "TimeOfOrderChange": "2026-11-26T10:00:00.000Z",
                "ChangeReason": "Order Status Change",
            },
            "Summary": {
                "MarketplaceId": "ATVPDKIKX0DER",
                "OrderStatus": "Unshipped",
                "PurchaseDate": "2026-11-26T09:00:00Z",
                "DestinationPostalCode": "98101",
                "FulfillmentType": "MFN",
                "OrderType": "StandardOrder",
                "OrderItems": [{"OrderItemId": "1", "SellerSKU": "MUG-01", "SupplySourceId": None, "Quantity": 2}],
            },
        }
    },
    "NotificationMetadata": {
        "ApplicationId": "a",
        "SubscriptionId": "s",
        "PublishTime": "2026-11-26T10:00:00Z",
        "NotificationId": "n-1",
    },
}


def variant(path, value):
    body = copy.deepcopy(GOOD)
    node = body
    for key in path[:-1]:
        node = node[key]
    if value is ...:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return json.dumps(body)


def test_a_good_notification_becomes_an_order_change_with_amazons_timestamp():
    change = parse_notification(json.dumps(GOOD)).to_order_change()
    assert change.status == "Unshipped" and change.changed_at == "2026-11-26T10:00:00.000000Z"
    assert change.notification_id == "n-1"


@pytest.mark.parametrize(
    "body, reason",
    [
        ("{not json", "malformed JSON"),
        (variant(["NotificationType"], "ANY_OFFER_CHANGED"), "unsupported notification NotificationType"),
        (variant(["PayloadVersion"], "2.0"), "unsupported notification PayloadVersion"),
        (
            variant(["Payload", "OrderChangeNotification", "Summary", "OrderStatus"], "Teleported"),
            "unknown order status",
        ),
        (variant(["Payload", "OrderChangeNotification", "AmazonOrderId"], ...), "missing field"),
        (json.dumps({**GOOD, "padding": "x" * 300_000}), "oversized payload"),
    ],
)
def test_bad_notifications_are_refused_with_a_clear_reason(body, reason):
    with pytest.raises(InvalidNotification, match=reason):
        parse_notification(body)


@pytest.mark.parametrize(
    "name, expected",
    [
        ("Ana Souza", ("Ana", "Souza")),
        ("José da Silva Pereira", ("José", "da Silva Pereira")),
        ("  Zoë   Brontë ", ("Zoë", "Brontë")),
        ("Madonna", ("Madonna", "Madonna")),
        (None, ("Amazon", "Customer")),
        ("", ("Amazon", "Customer")),
    ],
)
def test_buyer_names_split_into_commerce_first_and_last_names(name, expected):
    assert split_name(name) == expected


def test_a_buyer_without_email_gets_a_placeholder_that_commerce_accepts():
    buyer = buyer_for("114-0000000-0000002", None, None)
    assert buyer.placeholder_email and buyer.email.endswith(".invalid")
