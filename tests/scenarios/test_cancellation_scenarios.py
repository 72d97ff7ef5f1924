"""Cancellation scenarios played end to end on the embedded stack (shipped under tests/scenarios/)."""

from pathlib import Path

from amazon_channel_local.player import Player
from amazon_channel_local.scenario import load

HERE = Path(__file__).resolve().parent
_results: dict[str, tuple[dict, list, list]] = {}


def play(name: str) -> tuple[dict, list, list]:
    """Play a scenario once per session: the result, the workflow executions, Amazon's feeds."""
    if name not in _results:
        with open("/dev/null", "w") as log, Player(load(HERE / name), log_stream=log) as player:
            result = player.play()
            _results[name] = (result, player.stack.executions(), player.amazon.feeds.feeds())
    return _results[name]


def test_amazon_cancels_an_unshipped_order_and_its_commerce_order_is_withdrawn():
    result, executions, feeds = play("amazon-cancels-unshipped-order.json")
    # Given an imported order, with its Commerce order
    before = result["snapshots"]["imported"]["orders"][0]
    assert (before["channel_status"], before["commerce_order"]["status"]) == ("Unshipped", "processing")
    # When the buyer cancels it on Amazon, then it is Canceled, and its invoiced Commerce order is closed
    order = result["orders"][0]
    assert (order["amazon_status"], order["channel_status"], order["commerce_order"]["status"]) == (
        "Canceled",
        "Canceled",
        "closed",
    )
    assert order["notes"].startswith("Canceled on Amazon; Commerce order 000000001 closed")
    # And the workflow ended cleanly; the seller sent Amazon nothing
    assert [e["status"] for e in executions] == ["SUCCEEDED"] and feeds == []


def test_the_merchant_cancels_an_unshipped_order_from_commerce():
    result, executions, feeds = play("merchant-cancels-unshipped-order.json")
    order = result["orders"][0]
    assert (order["amazon_status"], order["channel_status"], order["commerce_order"]["status"]) == (
        "Canceled",
        "Canceled",
        "closed",
    )
    assert order["notes"] == (
        "Canceled from Commerce (Out of stock: the mug supplier let us down); Amazon canceled the order"
    )
    [feed] = feeds
    assert feed["feedType"] == "POST_FLAT_FILE_ORDER_ACKNOWLEDGEMENT_DATA" and "\tNoInventory" in feed["content"]
    assert [e["status"] for e in executions] == ["SUCCEEDED"]
    assert order["amazon_shipment_confirmations"] == [] and order["commerce_order"]["emails_sent_to_customer"] == 0


def test_the_merchant_cannot_cancel_a_partially_shipped_order_from_commerce():
    result, executions, feeds = play("merchant-cancels-partially-shipped-order.json")
    before = result["snapshots"]["partly shipped"]["orders"][0]
    assert (before["amazon_status"], before["channel_status"]) == ("PartiallyShipped", "PartiallyShipped")
    order = result["orders"][0]
    assert (order["amazon_status"], order["channel_status"]) == ("PartiallyShipped", "PartiallyShipped")
    assert order["notes"] == (
        "Not canceled on Amazon: the order is partially shipped; partially shipped orders "
        "are canceled in Seller Central"
    )
    assert feeds == []
    # Commerce did what the merchant asked (the unshipped tea refunded: Magento completes the order);
    # Amazon still expects the tea, so the workflow still waits for Amazon's word
    assert order["commerce_order"]["status"] == "complete"
    assert [e["status"] for e in executions] == ["RUNNING"]
