"""Stories of the channel's SP-API client canceling orders for the seller (Feeds API) on the simulated
Amazon, which checks every call against the official Feeds model."""

from __future__ import annotations

import pytest
import urllib3

from amazon_channel.adapters.cancellation_feed import feed_file, read_report
from amazon_channel.adapters.rate_budget import InMemoryRateBudget
from amazon_channel.adapters.sp_api import SellingPartnerClient
from amazon_channel.domain.models import OrderCancellation


class RecordingHttp(urllib3.PoolManager):
    """A PoolManager that remembers where each request went and with which headers."""

    def __init__(self):
        super().__init__()
        self.sent: list[tuple[str, str, dict]] = []

    def request(self, method, url, *args, **kwargs):
        self.sent.append((method, url, dict(kwargs.get("headers") or {})))
        return super().request(method, url, *args, **kwargs)


pytestmark = pytest.mark.usefixtures("fresh_token_cache")


@pytest.fixture
def http():
    return RecordingHttp()


@pytest.fixture
def client(amazon, http):
    return SellingPartnerClient(
        amazon.base_url,
        amazon.lwa_token_url,
        lambda: amazon.credentials,
        sleep=lambda s: None,
        http=http,
        rate_budget=InMemoryRateBudget(),
    )


def a_paid_order(amazon, order_id="111-0000001-0000001"):
    amazon.place_order(
        {
            "id": order_id,
            "items": [{"sku": "MUG-1", "qty": 2, "price": "12.50"}, {"sku": "TEA-9", "qty": 1, "price": "5.00"}],
        }
    )
    amazon.verify_payment(order_id)
    return OrderCancellation(
        amazon_order_id=order_id,
        marketplace_id="ATVPDKIKX0DER",
        order_item_ids=[i["orderItemId"] for i in amazon.order_view(order_id)["orderItems"]],
        reason_code="NoInventory",
    )


def test_the_seller_cancels_an_order_with_one_feed_and_reads_amazons_answer(amazon, client):
    cancellation = a_paid_order(amazon)
    # When the channel sends the cancellation
    feed_id = client.request_cancellation(amazon.seller_id, cancellation)
    # Then Amazon has the file as documented, and once processed the answer is: accepted
    [feed] = amazon.feeds.feeds()
    assert feed["feedId"] == feed_id and feed["feedType"] == "POST_FLAT_FILE_ORDER_ACKNOWLEDGEMENT_DATA"
    assert feed["content"].encode() == feed_file(cancellation)
    result = client.cancellation_result(amazon.seller_id, feed_id)
    assert (result.status, result.accepted) == ("DONE", True)
    assert amazon.order_status(cancellation.amazon_order_id) == "Canceled"


def test_a_cancellation_amazon_refuses_comes_back_with_amazons_message(amazon, client):
    cancellation = a_paid_order(amazon)
    amazon.cancel(cancellation.amazon_order_id)  # the buyer canceled first
    result = client.cancellation_result(amazon.seller_id, client.request_cancellation(amazon.seller_id, cancellation))
    assert result.accepted is False
    assert result.message == "The order is Canceled; only Unshipped orders can be canceled with this feed."


def test_a_feed_amazon_has_not_processed_yet_is_reported_as_such(amazon, client):
    cancellation = a_paid_order(amazon)
    amazon.feeds.hold(True)
    result = client.cancellation_result(amazon.seller_id, client.request_cancellation(amazon.seller_id, cancellation))
    assert (result.status, result.accepted) == ("IN_QUEUE", None)


def test_the_sp_api_token_never_travels_to_a_presigned_document_url(amazon, client, http):
    cancellation = a_paid_order(amazon)
    client.cancellation_result(amazon.seller_id, client.request_cancellation(amazon.seller_id, cancellation))
    documents = [(m, h) for m, url, h in http.sent if "/feed-documents/" in url]
    assert [m for m, _ in documents] == ["PUT", "GET"]  # the file up, the processing report down
    assert all("x-amz-access-token" not in {k.lower() for k in h} for _, h in documents)
    assert documents[0][1]["content-type"] == "text/tab-separated-values; charset=UTF-8"


def test_a_processing_report_is_read_for_its_counts_and_errors():
    report = read_report(
        "Feed Processing Summary:\n\tNumber of records processed\t\t2\n"
        "\tNumber of records successful\t\t1\n\n"
        "original-record-number\torder-id\tamazon-order-item-code\terror-code\terror-type\terror-message\n"
        "2\t111-0000001-0000001\t61\t90001\tError\tThe order is Shipped.\n"
    )
    assert (report.processed, report.successful, report.errors, report.clean) == (
        2,
        1,
        ["The order is Shipped."],
        False,
    )


def test_a_buyers_cancellation_request_is_read_with_the_order(amazon, client):
    cancellation = a_paid_order(amazon)
    amazon.request_buyer_cancellation(cancellation.amazon_order_id, reason="Ordered by mistake")
    order = client.get_order(amazon.seller_id, cancellation.amazon_order_id)
    assert [i.buyer_requested_cancel for i in order.items] == [True, True]
