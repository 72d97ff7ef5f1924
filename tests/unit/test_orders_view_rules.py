"""The Orders view's rules, in the domain: what a filter means, what a row shows, what an order's page holds."""

import json
from decimal import Decimal
from pathlib import Path

import pytest
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import APIGatewayProxyEventV2Model

from amazon_channel.domain.errors import InvalidQuery, OrderNotFound
from amazon_channel.domain.models import ChannelStatus, CommerceRef, HistoryEntry
from amazon_channel.domain.orders_view import OrderQuery, parse_query, show_order, summarize
from amazon_channel_local.http_api import http_api_routes
from amazon_channel_local.sample_orders import history_of, sample_order
from fakes import SELLER, InMemoryOrders

ROOT = Path(__file__).resolve().parents[2]


def an_order(n=1, **changes):
    import random
    from datetime import UTC, datetime

    order = sample_order(n, random.Random(n), datetime(2026, 11, 26, 10, tzinfo=UTC))
    return order.model_copy(update=changes)


# -- filters --------------------------------------------------------------------------------------
def test_a_store_s_list_hides_pending_orders_by_default_25_rows_a_page():
    # Given a store's list with no filter
    query = parse_query({"seller_id": SELLER})
    assert (query.status, query.limit, query.cursor) == (None, 25, None)
    row = summarize(an_order())
    # Then a Pending order is not on it, any other status is
    assert query.matches(row.model_copy(update={"status": ChannelStatus.SHIPPED}))
    assert not query.matches(row.model_copy(update={"status": ChannelStatus.PENDING}))
    # And asking for Pending shows Pending orders only
    pending = parse_query({"seller_id": SELLER, "status": "Pending"})
    assert pending.matches(row.model_copy(update={"status": ChannelStatus.PENDING}))
    assert not pending.matches(row.model_copy(update={"status": ChannelStatus.SHIPPED}))


def test_dates_are_days_or_moments_in_any_zone_compared_as_utc_text():
    # Given a moment with its zone, it becomes the canonical UTC text stored purchase dates use
    q = parse_query({"seller_id": SELLER, "purchased_from": "2026-11-26T10:00:00+02:00", "purchased_to": "2026-11-26"})
    assert q.purchased_from == "2026-11-26T08:00:00.000000Z"
    # And a day as the upper bound includes the whole day
    row = summarize(an_order()).model_copy(update={"purchase_date": "2026-11-26T23:59:59.999999Z"})
    assert q.matches(row)
    assert not q.matches(row.model_copy(update={"purchase_date": "2026-11-27T00:00:00.000000Z"}))
    assert not q.matches(row.model_copy(update={"purchase_date": "2026-11-26T07:59:59.000000Z"}))


def test_buyer_name_matches_any_part_ignoring_case_and_totals_are_inclusive():
    q = parse_query({"seller_id": SELLER, "buyer_name": "  SOUZA ", "total_min": "31.99", "total_max": "31.99"})
    row = summarize(an_order()).model_copy(update={"buyer_name": "Ana Souza", "grand_total": Decimal("31.99")})
    assert q.matches(row)
    assert not q.matches(row.model_copy(update={"buyer_name": "Ana Lima"}))
    # And an order whose total is not known yet is left out of a total range
    assert not q.matches(row.model_copy(update={"grand_total": None}))


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({}, "seller_id"),
        ({"seller_id": "a1lowercase"}, "seller_id"),
        ({"seller_id": SELLER, "status": "shipped"}, "status"),
        ({"seller_id": SELLER, "status": "Shipped,Error"}, "status"),
        ({"seller_id": SELLER, "purchased_from": "2026-11-26T10:00:00"}, "purchased_from"),  # no zone
        ({"seller_id": SELLER, "purchased_to": "2026-13-01"}, "purchased_to"),
        ({"seller_id": SELLER, "purchased_from": "2026-11-26\n"}, "purchased_from"),
        ({"seller_id": SELLER, "amazon_order_id": "113-0000000-000001"}, "amazon_order_id"),
        ({"seller_id": SELLER, "buyer_name": "x" * 101}, "buyer_name"),
        ({"seller_id": SELLER, "total_max": "1e3"}, "total_max"),
        ({"seller_id": SELLER, "total_min": "10.001"}, "total_min"),
        ({"seller_id": SELLER, "limit": "1_0"}, "limit"),
        ({"seller_id": SELLER, "limit": " 5"}, "limit"),
        ({"seller_id": SELLER, "cursor": ""}, "cursor"),
        ({"seller_id": SELLER, "page": "2"}, "page"),
    ],
)
def test_a_bad_filter_is_refused_with_the_parameter_named(params, parameter):
    with pytest.raises(InvalidQuery) as refused:
        parse_query(params)
    assert refused.value.parameter == parameter


def test_a_cursor_is_bound_to_the_filters_not_to_the_page_size():
    a = parse_query({"seller_id": SELLER, "status": "Shipped", "limit": "5"})
    b = parse_query({"seller_id": SELLER, "status": "Shipped", "limit": "50", "cursor": "x"})
    assert a.filters == b.filters
    assert a.filters != parse_query({"seller_id": SELLER, "status": "Error"}).filters


# -- rows -----------------------------------------------------------------------------------------
def test_a_row_shows_amazon_s_grand_total_buyer_commerce_number_and_latest_note():
    order = an_order(notes="Commerce order 000000007 created")
    order.commerce = CommerceRef(order_id=7, increment_id="000000007", status="processing")
    row = summarize(order)
    expected = sum(
        (i.unit_price * i.qty + i.line_tax + i.shipping_price + i.shipping_tax for i in order.details.items),
        Decimal("0"),
    )
    assert row.grand_total == expected and row.model_dump(mode="json")["grand_total"] == f"{expected:.2f}"
    assert (row.buyer_name, row.commerce_order_number, row.notes) == (
        order.details.buyer_name,
        "000000007",
        "Commerce order 000000007 created",
    )


def test_before_amazon_s_details_are_fetched_a_row_has_no_buyer_or_total():
    row = summarize(an_order(details=None))
    assert (row.buyer_name, row.grand_total, row.currency) == (None, None, None)


# -- one order ------------------------------------------------------------------------------------
def test_an_order_page_has_items_ship_to_packages_and_history_oldest_first():
    orders = InMemoryOrders()
    order = an_order(3)
    history = history_of(order)
    orders.put_new(order, list(reversed(history)))
    detail = show_order(orders, order.amazon_order_id)
    assert [i.sku for i in detail.items] == [i.sku for i in order.details.items]
    assert detail.ship_to == order.details.ship_to
    assert [h.at for h in detail.history] == sorted(h.at for h in history)
    assert len(detail.packages) == len(order.shipments) + (
        len(order.details.packages) if order.fulfillment == "AFN" else 0
    )


def test_an_unknown_order_is_not_found_and_a_malformed_number_is_refused():
    with pytest.raises(OrderNotFound):
        show_order(InMemoryOrders(), "113-0000000-0000001")
    with pytest.raises(InvalidQuery):
        show_order(InMemoryOrders(), "113-0000000-0000001; drop")


def test_history_entries_are_shown_as_recorded():
    orders = InMemoryOrders()
    order = an_order(4)
    entry = HistoryEntry(
        at="2026-11-26T10:00:00.000000Z", kind="error", message="Could not be imported", data={"sku": "X"}
    )
    orders.put_new(order, [entry])
    assert show_order(orders, order.amazon_order_id).history == [entry]


# -- the sample events ----------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["list-orders.json", "show-order.json"])
def test_the_sample_events_are_http_api_events_on_the_function_s_routes(name):
    event = json.loads((ROOT / "events" / "orders_view" / name).read_text())
    parsed = parse(event=event, model=APIGatewayProxyEventV2Model)
    routes = {r.key: r for r in http_api_routes(ROOT / "template.yaml", "OrdersViewFunction")}
    route = routes[parsed.routeKey]
    assert route.match(parsed.requestContext.http.method, parsed.rawPath) == (parsed.pathParameters or {})
    assert parsed.requestContext.authorizer.iam.userArn  # IAM auth: API Gateway names the caller
    if parsed.queryStringParameters:
        assert isinstance(parse_query(parsed.queryStringParameters), OrderQuery)
