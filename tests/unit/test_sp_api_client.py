"""Stories of the channel's SP-API client talking to the simulated Amazon."""

from __future__ import annotations

import logging
from decimal import Decimal

import pytest

from amazon_channel.adapters.rate_budget import InMemoryRateBudget
from amazon_channel.adapters.sp_api import SellingPartnerClient
from amazon_channel.domain.errors import AmazonRejected, AmazonThrottled, AmazonUnavailable
from amazon_channel.domain.models import AmazonStatus, PackageConfirmation
from amazon_channel_local.simulators.amazon import SimulatedAmazon
from fakes import mug_order

US = "ATVPDKIKX0DER"


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


pytestmark = pytest.mark.usefixtures("fresh_token_cache")


@pytest.fixture
def sleeps():
    return Sleeps()


@pytest.fixture
def client(amazon, sleeps):
    return SellingPartnerClient(amazon.base_url, amazon.lwa_token_url, lambda: amazon.credentials, sleep=sleeps)


def paid_order(amazon, order_id="111-0000001-0000001", fulfillment="MFN"):
    oid = amazon.place_order(mug_order(order_id, fulfillment))
    amazon.verify_payment(oid)
    return oid


def test_the_channel_reads_a_paid_order_with_amazons_prices(amazon, client):
    # Given a buyer paid for 2 mugs at 12.50 (tax 2.00) and a tea at 5.00, shipping 4.99 + 0.40 tax
    oid = paid_order(amazon)
    # When the channel fetches the order
    order = client.get_order(amazon.seller_id, oid)
    # Then it has the buyer, the address, and Amazon's prices, taxes and shipping per item
    assert (order.amazon_order_id, order.marketplace_id, order.fulfillment) == (oid, US, "MFN")
    assert order.status == AmazonStatus.UNSHIPPED
    assert (order.buyer_name, order.buyer_email) == ("Ann Lee", "ann@marketplace.amazon.com")
    assert (order.ship_to.line1, order.ship_to.region, order.ship_to.postcode) == ("1 Main St", "TX", "78701")
    mug, tea = order.items
    assert (mug.sku, mug.qty, mug.unit_price, mug.line_tax) == ("MUG-1", 2, Decimal("12.50"), Decimal("2.00"))
    assert (mug.shipping_price, mug.shipping_tax) == (Decimal("4.99"), Decimal("0.40"))
    assert (tea.shipping_price, tea.line_tax) == (Decimal("0.00"), Decimal("0.00"))
    assert order.request_id and order.packages == []


def test_the_channel_reads_an_fba_order_amazon_shipped_without_packages(amazon, client):
    # Given Amazon shipped an FBA order from its stock
    oid = paid_order(amazon, fulfillment="AFN")
    amazon.ship(oid)
    # When the channel fetches it
    order = client.get_order(amazon.seller_id, oid)
    # Then it is a shipped AFN order, every unit fulfilled, with no package, tracking, phone or email
    assert (order.fulfillment, order.status, order.buyer_email) == ("AFN", AmazonStatus.SHIPPED, None)
    assert order.packages == [] and order.ship_to.phone is None
    assert [i.qty_shipped for i in order.items] == [2, 1]


def test_order_sync_pages_through_the_search(amazon, client):
    # Given five orders placed today
    ids = [amazon.place_order(mug_order(f"111-0000001-000000{n}")) for n in range(1, 6)]
    # When order sync searches two at a time
    found, token, pages = [], None, 0
    while True:
        orders, token = client.search_orders(
            amazon.seller_id,
            last_updated_after="2020-01-01T00:00:00Z",
            marketplace_ids=[US],
            pagination_token=token,
            max_results=2,
        )
        found += [o.amazon_order_id for o in orders]
        pages += 1
        if token is None:
            break
    # Then it sees every order once, over three pages, with one token exchange
    assert (found, pages) == (ids, 3)
    assert all(o.status == AmazonStatus.PENDING for o in orders)
    assert amazon.call_counts["lwa_token"] == 1


def test_the_merchant_shipment_is_confirmed_to_amazon(amazon, client):
    # Given a paid order and a Commerce shipment of both mugs
    oid = paid_order(amazon)
    mug = client.get_order(amazon.seller_id, oid).items[0]
    # When the channel confirms the package
    request_id = client.confirm_shipment(
        amazon.seller_id,
        PackageConfirmation(
            amazon_order_id=oid,
            marketplace_id=US,
            package_reference_id="7",
            carrier_code="UPS",
            tracking_number="1Z999AA10123456784",
            ship_date="2026-11-26T10:00:00Z",
            items=[(mug.order_item_id, 2)],
        ),
    )
    # Then Amazon recorded it (the simulator checked the body against the model) and the order is partly shipped
    assert request_id
    assert amazon.shipment_confirmations(oid) == [
        {
            "carrier": "UPS",
            "tracking_number": "1Z999AA10123456784",
            "items": [{"sku": "MUG-1", "qty": 2}],
            "package_reference_id": "7",
            "ship_date": "2026-11-26T10:00:00Z",
        }
    ]
    assert amazon.order_status(oid) == "PartiallyShipped"
    # And confirming it again is rejected with Amazon's reason
    with pytest.raises(AmazonRejected) as e:
        client.confirm_shipment(
            amazon.seller_id,
            PackageConfirmation(
                amazon_order_id=oid,
                marketplace_id=US,
                package_reference_id="7",
                carrier_code="UPS",
                tracking_number="1Z999AA10123456784",
                ship_date="2026-11-26T10:00:00Z",
                items=[(mug.order_item_id, 2)],
            ),
        )
    assert e.value.code == "InvalidInput" and "already confirmed" in e.value.amazon_message
    assert amazon.duplicate_confirmations == 1


def test_one_token_exchange_serves_many_calls_and_clients(amazon, client):
    oid = paid_order(amazon)
    other = SellingPartnerClient(amazon.base_url, amazon.lwa_token_url, lambda: amazon.credentials)
    for _ in range(5):
        client.get_order(amazon.seller_id, oid)
        other.get_order(amazon.seller_id, oid)
    assert amazon.call_counts["lwa_token"] == 1
    assert amazon.call_counts["getOrder"] == 10


def test_an_expired_token_is_exchanged_again_once(amazon, client):
    oid = paid_order(amazon)
    client.get_order(amazon.seller_id, oid)
    # Given Amazon no longer accepts the cached access token
    amazon.expire_access_tokens()
    # When the channel reads the order again, it gets a new token and succeeds
    assert client.get_order(amazon.seller_id, oid).amazon_order_id == oid
    assert amazon.call_counts["lwa_token"] == 2


def test_throttled_calls_wait_at_least_what_the_rate_header_says(amazon, client, sleeps):
    # Given Amazon throttles the next two getOrder calls (rate 0.5/s)
    oid = paid_order(amazon)
    amazon.fail_next("getOrder", 429, count=2)
    # When the channel reads the order
    order = client.get_order(amazon.seller_id, oid)
    # Then it waited twice, at least 1/0.5 = 2 s each time, and got the order
    assert order.amazon_order_id == oid
    assert len(sleeps) == 2 and all(s >= 2.0 for s in sleeps)
    assert amazon.call_counts["throttled"]["getOrder"] == 2


def test_throttling_that_does_not_end_raises_amazon_throttled(amazon, client, sleeps):
    oid = paid_order(amazon)
    amazon.fail_next("getOrder", 429, count=5)
    with pytest.raises(AmazonThrottled):
        client.get_order(amazon.seller_id, oid)
    assert amazon.call_counts["getOrder"] == 5 and len(sleeps) == 4


def test_a_passing_outage_is_retried_and_a_lasting_one_raises_unavailable(amazon, client, sleeps):
    oid = paid_order(amazon)
    amazon.fail_next("getOrder", 500)
    assert client.get_order(amazon.seller_id, oid).amazon_order_id == oid
    amazon.fail_next("getOrder", 503, count=5)
    with pytest.raises(AmazonUnavailable) as e:
        client.get_order(amazon.seller_id, oid)
    assert e.value.status == 503
    # exponential backoff: each wait's ceiling doubles
    waits = sleeps[1:]
    assert len(waits) == 4 and waits[-1] > waits[0]


def test_an_unreachable_amazon_raises_unavailable(sleeps):
    sim = SimulatedAmazon().start()
    creds, url, token_url = sim.credentials, sim.base_url, sim.lwa_token_url
    sim.stop()
    client = SellingPartnerClient(url, token_url, lambda: creds, sleep=sleeps, max_attempts=2)
    with pytest.raises(AmazonUnavailable):
        client.get_order(sim.seller_id, "111-0000001-0000001")


def test_amazons_refusals_are_permanent(amazon, client, sleeps):
    with pytest.raises(AmazonRejected) as e:
        client.get_order(amazon.seller_id, "999-9999999-9999999")
    assert (e.value.status, e.value.code) == (404, "NotFound") and sleeps == []
    wrong = SellingPartnerClient(
        amazon.base_url,
        amazon.lwa_token_url,
        lambda: {**amazon.credentials, "client_id": "amzn1.application-oa2-client.guess"},
        sleep=sleeps,
    )
    with pytest.raises(AmazonRejected, match="invalid_grant"):
        wrong.get_order(amazon.seller_id, "999-9999999-9999999")


def test_the_shared_rate_budget_paces_calls(amazon, sleeps):
    # Given a budget of 2 getOrder calls left, refilled at 0.5/s, on a clock the fake sleep advances
    now = [0.0]
    budget = InMemoryRateBudget(clock=lambda: now[0])
    for _ in range(28):
        budget.acquire(f"{amazon.seller_id}#getOrder", 0.5, 30)

    def sleep(s):
        sleeps.append(s)
        now[0] += s

    client = SellingPartnerClient(
        amazon.base_url, amazon.lwa_token_url, lambda: amazon.credentials, rate_budget=budget, sleep=sleep
    )
    oid = paid_order(amazon)
    # When the channel reads the order three times
    for _ in range(3):
        client.get_order(amazon.seller_id, oid)
    # Then the third call waited for a token, 2 s
    assert sleeps == [pytest.approx(2.0)]


def test_buyer_details_never_reach_the_logs(amazon, client, caplog):
    oid = paid_order(amazon)
    with caplog.at_level(logging.DEBUG):
        client.get_order(amazon.seller_id, oid)
        client.search_orders(amazon.seller_id, last_updated_after="2020-01-01T00:00:00Z", marketplace_ids=[US])
    assert "getOrder" in caplog.text
    for pii in ("Ann Lee", "ann@marketplace.amazon.com", "1 Main St"):
        assert pii not in caplog.text


def test_each_call_is_traced_by_operation_name(amazon, sleeps):
    # Given a client whose calls open tracing subsegments
    from contextlib import nullcontext

    names = []
    client = SellingPartnerClient(
        amazon.base_url,
        amazon.lwa_token_url,
        lambda: amazon.credentials,
        sleep=sleeps,
        traced=lambda name: names.append(name) or nullcontext(),
    )
    # When it reads a paid order
    client.get_order(amazon.seller_id, paid_order(amazon))
    # Then the SP-API call is one subsegment named by its operation (no URL, no buyer data)
    assert names == ["sp-api getOrder"]
