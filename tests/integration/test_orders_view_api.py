"""The Orders view: a merchant lists, filters, pages through and opens the channel's orders.

One embedded stack plays scenarios/orders-view.json (Ana's order shipped by the merchant, an FBA
order Amazon shipped, Ben's and Eva's orders waiting to ship, Chloe's order still Pending, Dmitri's
order blocked on a SKU missing from the catalog). Every story asks the real OrdersViewFunction
through API Gateway's HTTP API event (payload 2.0), as the deployed API does, and the stack's
DynamoDB is watched: the Orders view never scans.
"""

from __future__ import annotations

import io
import re
from datetime import date, timedelta
from pathlib import Path

import botocore.client
import pytest

from amazon_channel_local.http_api import HttpApiAdapter
from amazon_channel_local.player import DEFAULT_SELLER, Player
from amazon_channel_local.scenario import load
from stack_stories import orders

ROOT = Path(__file__).resolve().parents[2]
ANA, FBA, BEN, CHLOE, DMITRI, EVA = (f"11{4 if n == 202 else 3}-0000000-0000{n}" for n in range(201, 207))
DYNAMODB_CALLS: list[str] = []


# -- the stage ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def player():
    log = io.StringIO()
    with Player(load(ROOT / "scenarios" / "orders-view.json"), log_stream=log, time_scale=0.01) as p:
        p.play()
        p.log = log
        yield p


@pytest.fixture(scope="module")
def api(player):
    return HttpApiAdapter(player.stack, "OrdersViewFunction")


@pytest.fixture(autouse=True)
def watch_dynamodb(monkeypatch):
    """Every DynamoDB operation any client makes during the story (the handler's included)."""
    DYNAMODB_CALLS.clear()
    original = botocore.client.BaseClient._make_api_call

    def spy(self, operation, params):
        if self.meta.service_model.service_name == "dynamodb":
            DYNAMODB_CALLS.append(operation)
        return original(self, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", spy)
    yield
    assert "Scan" not in DYNAMODB_CALLS


def listing(api, **filters) -> dict:
    status, body = api.get_json("/orders", {"seller_id": DEFAULT_SELLER, **filters})
    assert status == 200, body
    return body


def ids(page: dict) -> list[str]:
    return [row["amazon_order_id"] for row in page["orders"]]


def stored(player, amazon_order_id):
    return orders(player).get(amazon_order_id)


# -- the list -------------------------------------------------------------------------------------
def test_the_orders_tab_lists_every_order_but_the_pending_one_newest_first(player, api):
    # When the merchant opens the Orders view
    page = listing(api)
    # Then it took one index Query, no Scan
    assert DYNAMODB_CALLS == ["Query"]
    # And every order shows but Chloe's, still Pending, newest purchase first, on one page
    assert ids(page) == [EVA, DMITRI, BEN, FBA, ANA]
    assert page["next_cursor"] is None
    dates = [row["purchase_date"] for row in page["orders"]]
    assert dates == sorted(dates, reverse=True)
    # And each row has the seed's columns: Ana's order at Amazon's prices, with its Commerce number
    ana = page["orders"][-1]
    assert {k: ana[k] for k in ("status", "buyer_name", "grand_total", "currency", "fulfillment")} == {
        "status": "Shipped",
        "buyer_name": "Ana Souza",
        "grand_total": "31.99",
        "currency": "USD",
        "fulfillment": "MFN",
    }
    assert ana["commerce_order_number"] == stored(player, ANA).commerce.increment_id
    # And the Order Notes column is the latest action, or the import error naming the SKU
    for row in page["orders"]:
        assert row["notes"] == stored(player, row["amazon_order_id"]).notes
    blocked = next(r for r in page["orders"] if r["amazon_order_id"] == DMITRI)
    assert (blocked["status"], blocked["commerce_order_number"], blocked["grand_total"]) == ("Error", None, "48.60")
    assert "LAMP-09" in blocked["notes"]


def test_pending_orders_show_only_when_asked_for_by_status(api):
    # When the merchant asks for Pending orders
    page = listing(api, status="Pending")
    # Then Chloe's order shows, without buyer or total: Amazon's details are fetched once paid
    assert ids(page) == [CHLOE]
    assert (page["orders"][0]["buyer_name"], page["orders"][0]["grand_total"]) == (None, None)
    # And looking it up by number without that status does not reveal it
    assert ids(listing(api, amazon_order_id=CHLOE)) == []
    assert ids(listing(api, amazon_order_id=CHLOE, status="Pending")) == [CHLOE]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"status": "Unshipped"}, [EVA, BEN]),
        ({"status": "Error"}, [DMITRI]),
        ({"buyer_name": "souza"}, [ANA]),  # part of the name, any case; Chloe Souza-Lima is Pending
        ({"buyer_name": "LIMA"}, [EVA]),
        ({"buyer_name": "lima", "status": "Pending"}, []),  # no buyer name before Amazon's details are fetched
        ({"total_min": "30", "total_max": "50"}, [DMITRI, ANA]),
        ({"total_min": "54"}, [EVA]),
        ({"total_max": "20"}, [FBA]),
        ({"amazon_order_id": BEN}, [BEN]),
        ({"amazon_order_id": BEN, "status": "Shipped"}, []),
        ({"status": "Shipped", "total_min": "20"}, [ANA]),
        ({"status": "Canceled"}, []),
    ],
    ids=lambda v: "&".join(f"{k}={x}" for k, x in v.items()) if isinstance(v, dict) else None,
)
def test_each_filter_narrows_the_list(api, filters, expected):
    # When the merchant filters the list
    # Then only the matching orders show, newest first
    assert ids(listing(api, **filters)) == expected


def test_a_purchase_date_range_is_inclusive_and_served_by_the_index_key(api):
    everything = listing(api)["orders"]
    by_id = {row["amazon_order_id"]: row["purchase_date"] for row in everything}
    # When the merchant asks for orders purchased from Ben's order's moment to Dmitri's
    page = listing(api, purchased_from=by_id[BEN], purchased_to=by_id[DMITRI])
    # Then both ends are included
    assert ids(page) == [DMITRI, BEN]
    # And whole days include every order of those days, and the day after holds none
    first_day, last_day = by_id[ANA][:10], by_id[EVA][:10]
    assert set(ids(listing(api, purchased_from=first_day, purchased_to=last_day))) == set(by_id)
    day_after = (date.fromisoformat(last_day) + timedelta(days=1)).isoformat()
    assert ids(listing(api, purchased_from=day_after)) == []
    # And each was one Query with the range as its key condition
    assert set(DYNAMODB_CALLS) == {"Query"}


def test_the_merchant_pages_through_with_the_cursor_and_sees_every_order_once(api):
    # When the merchant reads two rows a page
    seen, cursor, pages = [], None, 0
    while True:
        page = listing(api, limit="2", **({"cursor": cursor} if cursor else {}))
        pages += 1
        assert len(page["orders"]) <= 2
        seen += ids(page)
        cursor = page["next_cursor"]
        if cursor is None:
            break
    # Then the pages hold the same orders as one big page, in the same order, none twice
    assert seen == ids(listing(api)) and pages == 3
    # And a filtered list pages the same way
    first = listing(api, status="Unshipped", limit="1")
    second = listing(api, status="Unshipped", limit="1", cursor=first["next_cursor"])
    assert ids(first) + ids(second) == [EVA, BEN] and second["next_cursor"] is None


def test_a_cursor_only_continues_the_query_that_gave_it(api):
    cursor = listing(api, limit="1")["next_cursor"]
    # When the cursor comes back with other filters, or damaged
    for filters in (
        {"status": "Unshipped", "cursor": cursor},
        {"buyer_name": "lima", "cursor": cursor},
        {"cursor": cursor[:-4]},
        {"cursor": "not-a-cursor"},
    ):
        status, body = api.get_json("/orders", {"seller_id": DEFAULT_SELLER, **filters})
        # Then the API refuses it, naming the cursor
        assert (status, body["parameter"]) == (400, "cursor"), filters
    # And another store's orders cannot be reached with it
    status, body = api.get_json("/orders", {"seller_id": "A2OTHERSELLER", "cursor": cursor})
    assert (status, body["parameter"]) == (400, "cursor")


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({}, "seller_id"),
        ({"seller_id": "not a seller"}, "seller_id"),
        ({"status": "Lost"}, "status"),
        ({"purchased_from": "26/11/2026"}, "purchased_from"),
        ({"purchased_to": "2026-02-30"}, "purchased_to"),
        ({"purchased_from": "2026-11-27", "purchased_to": "2026-11-26"}, "purchased_from"),
        ({"amazon_order_id": "12345"}, "amazon_order_id"),
        ({"buyer_name": "   "}, "buyer_name"),
        ({"total_min": "-5"}, "total_min"),
        ({"total_min": "60", "total_max": "50"}, "total_min"),
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"sort": "total"}, "sort"),
    ],
)
def test_a_bad_filter_is_a_400_that_names_the_parameter(api, params, parameter):
    query = params if "seller_id" in params or not params else {"seller_id": DEFAULT_SELLER, **params}
    # When the merchant's request has a bad filter
    status, body = api.get_json("/orders", query)
    # Then the API answers 400 with a message naming it
    assert status == 400
    assert body["parameter"] == parameter and body["message"].startswith(f"{parameter}: ")


# -- one order ------------------------------------------------------------------------------------
def test_an_order_opens_with_items_ship_to_tracking_and_its_whole_history(player, api):
    # When the merchant opens Ana's order
    status, detail = api.get_json(f"/orders/{ANA}")
    assert status == 200
    # Then it shows the row, the items at Amazon's prices and the address it ships to
    assert detail["order"]["grand_total"] == "31.99" and detail["order"]["status"] == "Shipped"
    assert [(i["sku"], i["qty"], i["qty_shipped"], i["unit_price"], i["line_tax"]) for i in detail["items"]] == [
        ("MUG-01", 2, 2, "12.50", "2.00")
    ]
    assert detail["ship_to"]["city"] == "Seattle" and detail["ship_to"]["name"] == "Ana Souza"
    # And the package the merchant shipped, with its tracking, confirmed to Amazon
    (package,) = detail["packages"]
    assert (package["shipped_by"], package["carrier"], package["tracking_number"]) == (
        "merchant",
        "UPS",
        "1Z999AA10123456784",
    )
    assert package["items"][0]["sku"] == "MUG-01" and package["confirmed_to_amazon_at"]
    assert detail["commerce_order"]["increment_id"] == detail["order"]["commerce_order_number"]
    # And the whole history, oldest first, from Pending to Shipped
    history = detail["history"]
    assert [h["at"] for h in history] == sorted(h["at"] for h in history)
    assert "Pending" in history[0]["message"] and len(history) == len(stored_history(player, ANA))


def stored_history(player, amazon_order_id):
    return orders(player).history(amazon_order_id)


def test_a_blocked_order_opens_with_its_items_and_no_commerce_order(api):
    status, detail = api.get_json(f"/orders/{DMITRI}")
    assert status == 200
    assert detail["order"]["status"] == "Error" and detail["commerce_order"] is None
    assert [i["sku"] for i in detail["items"]] == ["LAMP-09"] and detail["packages"] == []
    assert any(h["kind"] == "error" for h in detail["history"])


def test_an_unknown_order_is_a_404_and_a_malformed_number_a_400(api):
    assert api.get_json("/orders/113-9999999-9999999") == (
        404,
        {"message": "the channel has no order 113-9999999-9999999"},
    )
    status, body = api.get_json("/orders/not-an-order")
    assert (status, body["parameter"]) == (400, "amazonOrderId")
    # And a path the API does not have is API Gateway's own 404
    assert api.get_json("/customers")[0] == 404


def test_the_handler_logs_which_filters_were_used_never_a_buyer_name(player, api):
    # When the merchant searches by a buyer's name
    listing(api, buyer_name="Okafor")
    # Then the Orders view's log lines do not hold the name, only that the filter was used
    lines = _function_log(player.log.getvalue(), "OrdersViewFunction")
    assert lines and not any(re.search("okafor", line, re.I) for line in lines)
    assert any('"buyer_name"' in line for line in lines)


def _function_log(text: str, function: str) -> list[str]:
    lines, inside = [], False
    for line in text.splitlines():
        if line.startswith("START ") and f"Function: {function}" in line:
            inside = True
        elif line.startswith("END "):
            inside = False
        elif inside:
            lines.append(line)
    return lines
