"""The Orders view on the orders table: Query on a global secondary index, never a Scan.

The order's state item (see `dynamodb_orders`) carries the row's columns as top-level attributes
(`order_view_attributes`, written with every state write) and two index keys:

| filter | access pattern |
|---|---|
| none, dates, buyer, totals | Query `OrdersView`: `view_pk = STORE#<SellerId>` [AND `view_sk` BETWEEN dates], newest first |
| `status` (Pending too) | Query `OrdersByStatus`: `status_pk = STORE#<SellerId>#<status>` [AND `status_sk` BETWEEN dates] |
| `amazon_order_id` | GetItem `pk = ORDER#<id>`, `sk = STATE` |

Both sort keys are `<purchase date>#<AmazonOrderId>`, so a purchase date range is a key condition.
The buyer name (`contains(buyer_name_lc, ...)`) and the grand-total range are filter expressions
on that Query. DynamoDB applies `Limit` before filters, so one request reads at most
`MAX_READS_PER_PAGE` index pages; a page can then hold fewer rows than asked, with a cursor to go on.

The cursor is opaque to callers: base64url of the next `ExclusiveStartKey` (DynamoDB's
`LastEvaluatedKey`, or the key of the last row returned), the index, and a digest of the filters,
so it only continues the query that produced it, in the same store.
"""  # noqa: E501 - a Markdown table: one row per filter

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from decimal import Decimal
from typing import Any

from ..domain.errors import InvalidQuery
from ..domain.models import ChannelOrder, ChannelStatus
from ..domain.orders_view import OrderPage, OrderQuery, OrderRow, fold, summarize, upper_bound

VIEW_INDEX = "OrdersView"
STATUS_INDEX = "OrdersByStatus"
MAX_READS_PER_PAGE = 8  # index pages read for one API page when filters skip items
FILTERED_READ_SIZE = 250  # items evaluated per index page when a filter expression applies
ROW_ATTRIBUTES = (
    "amazon_order_id",
    "fulfillment",
    "marketplace_id",
    "channel_status",
    "purchase_date",
    "buyer_name",
    "grand_total",
    "currency",
    "commerce_increment_id",
    "notes",
)
_INDEXES = {VIEW_INDEX: ("view_pk", "view_sk"), STATUS_INDEX: ("status_pk", "status_sk")}


def sort_key(order: ChannelOrder) -> str:
    """`<purchase date>#<AmazonOrderId>`: both indexes sort a store's orders by purchase date."""
    return f"{order.purchase_date or order.created_at}#{order.amazon_order_id}"


def order_view_attributes(order: ChannelOrder) -> dict[str, Any]:
    """The Orders view's attributes of an order's state item (DynamoDB-typed), from `summarize`.

    `view_pk`/`view_sk` (visible orders only) are written by the order store itself.
    """
    row = summarize(order)
    attrs: dict[str, Any] = {
        "amazon_order_id": {"S": row.amazon_order_id},
        "fulfillment": {"S": row.fulfillment},
        "marketplace_id": {"S": row.marketplace_id},
        "notes": {"S": row.notes},
        "status_pk": {"S": f"STORE#{order.seller_id}#{row.status.value}"},
        "status_sk": {"S": sort_key(order)},
    }
    if row.purchase_date:
        attrs["purchase_date"] = {"S": row.purchase_date}
    if row.buyer_name:
        attrs["buyer_name"] = {"S": row.buyer_name}
        attrs["buyer_name_lc"] = {"S": fold(row.buyer_name)}
    if row.grand_total is not None:
        attrs["grand_total"] = {"N": str(row.grand_total)}
        attrs["currency"] = {"S": row.currency or "USD"}
    if row.commerce_order_number:
        attrs["commerce_increment_id"] = {"S": row.commerce_order_number}
    return attrs


class DynamoDbOrderQueries:
    """`OrderQueries` on the orders table, through a low-level boto3 client."""

    def __init__(self, table_name: str, client: Any) -> None:
        self.table = table_name
        self.client = client

    def list_orders(self, query: OrderQuery) -> OrderPage:
        if query.amazon_order_id is not None:
            return self._one(query)
        index = STATUS_INDEX if query.status is not None else VIEW_INDEX
        partition = f"STORE#{query.seller_id}" + (f"#{query.status.value}" if query.status is not None else "")
        request = self._query_request(query, index, partition)
        digest = _digest(query)
        if query.cursor is not None:
            request["ExclusiveStartKey"] = _decode_cursor(query.cursor, index, partition, digest)
        return self._read_page(request, query, index, digest)

    def _query_request(self, query: OrderQuery, index: str, partition: str) -> dict[str, Any]:
        """The Query on the index: store (and status) and dates in the key condition, buyer and totals filtered."""
        pk_name, sk_name = _INDEXES[index]
        names = {"#pk": pk_name}
        values: dict[str, Any] = {":pk": {"S": partition}}
        condition = "#pk = :pk" + _date_condition(query, sk_name, names, values)
        filters = _filters(query, names, values)
        projected = ("pk", "sk", pk_name, sk_name, *ROW_ATTRIBUTES)
        names.update({f"#a{i}": a for i, a in enumerate(projected)})
        request = {
            "TableName": self.table,
            "IndexName": index,
            "KeyConditionExpression": condition,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
            "ProjectionExpression": ", ".join(f"#a{i}" for i in range(len(projected))),
            "ScanIndexForward": False,  # newest purchase first
            # one more than a page tells whether another page follows
            "Limit": FILTERED_READ_SIZE if filters else query.limit + 1,
        }
        if filters:
            request["FilterExpression"] = " AND ".join(filters)
        return request

    def _read_page(self, request: dict[str, Any], query: OrderQuery, index: str, digest: str) -> OrderPage:
        """Read until the page is full (with one more match behind it) or the index ends."""
        key_names = ("pk", "sk", *_INDEXES[index])
        rows: list[OrderRow] = []
        last_row_key: dict[str, Any] = {}
        for _ in range(MAX_READS_PER_PAGE):
            page = self.client.query(**request)
            for item in page.get("Items", []):
                row = _row(item)
                if not query.matches(row):  # the index and filters already hold only matches: a cheap guard
                    continue
                if len(rows) == query.limit:  # one more match: the next page starts after the last row
                    return OrderPage(orders=rows, next_cursor=_encode_cursor(last_row_key, index, digest))
                rows.append(row)
                last_row_key = {k: item[k] for k in key_names}
            last_evaluated = page.get("LastEvaluatedKey")
            if last_evaluated is None:
                return OrderPage(orders=rows)
            request["ExclusiveStartKey"] = last_evaluated
        # enough read for one request: the caller goes on from DynamoDB's LastEvaluatedKey
        return OrderPage(orders=rows, next_cursor=_encode_cursor(request["ExclusiveStartKey"], index, digest))

    def _one(self, query: OrderQuery) -> OrderPage:
        """GetItem by Amazon order number, then the other filters on that one order."""
        if query.cursor is not None:
            raise InvalidQuery("cursor", "is not a cursor of this query")
        item = self.client.get_item(
            TableName=self.table,
            Key={"pk": {"S": f"ORDER#{query.amazon_order_id}"}, "sk": {"S": "STATE"}},
        ).get("Item")
        if not item:
            return OrderPage(orders=[])
        order = ChannelOrder.model_validate_json(item["doc"]["S"])
        row = summarize(order)
        if order.seller_id != query.seller_id or not query.matches(row):
            return OrderPage(orders=[])
        return OrderPage(orders=[row])

    def count(self, seller_id: str, status: ChannelStatus) -> int:
        """How many of the store's orders have this status (an index Query counting keys only)."""
        request = {
            "TableName": self.table,
            "IndexName": STATUS_INDEX,
            "KeyConditionExpression": "status_pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": f"STORE#{seller_id}#{status.value}"}},
            "Select": "COUNT",
        }
        total = 0
        while True:
            page = self.client.query(**request)
            total += int(page.get("Count", 0))
            if "LastEvaluatedKey" not in page:
                return total
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def amazon_details(self, amazon_order_ids: list[str]) -> dict[str, ChannelOrder]:
        """The orders of a page in full (one BatchGetItem): their Amazon status and buyer's email."""
        keys = [{"pk": {"S": f"ORDER#{i}"}, "sk": {"S": "STATE"}} for i in dict.fromkeys(amazon_order_ids)]
        found: dict[str, ChannelOrder] = {}
        while keys:
            answer = self.client.batch_get_item(RequestItems={self.table: {"Keys": keys[:100]}})
            for item in answer.get("Responses", {}).get(self.table, []):
                order = ChannelOrder.model_validate_json(item["doc"]["S"])
                found[order.amazon_order_id] = order
            keys = keys[100:] + answer.get("UnprocessedKeys", {}).get(self.table, {}).get("Keys", [])
        return found


def _filters(query: OrderQuery, names: dict[str, str], values: dict[str, Any]) -> list[str]:
    """The filter expressions of the columns that are not keys (buyer, totals, Commerce number)."""
    filters = []
    if query.buyer_name is not None:
        filters.append("contains(#buyer, :buyer)")
        names["#buyer"] = "buyer_name_lc"
        values[":buyer"] = {"S": query.buyer_name}
    if query.total_min is not None:
        filters.append("#total >= :min")
        values[":min"] = {"N": str(query.total_min)}
    if query.total_max is not None:
        filters.append("#total <= :max")
        values[":max"] = {"N": str(query.total_max)}
    if query.total_min is not None or query.total_max is not None:
        names["#total"] = "grand_total"
    if query.commerce_order_number is not None:
        filters.append("#commerce = :commerce")
        names["#commerce"] = "commerce_increment_id"
        values[":commerce"] = {"S": query.commerce_order_number}
    return filters


def _date_condition(query: OrderQuery, sk_name: str, names: dict[str, str], values: dict[str, Any]) -> str:
    """The purchase dates as a condition on the index's sort key ('' when the query has none)."""
    if query.purchased_from is None and query.purchased_to is None:
        return ""
    names["#sk"] = sk_name
    if query.purchased_from is not None:
        values[":from"] = {"S": query.purchased_from}
    if query.purchased_to is not None:
        values[":to"] = {"S": upper_bound(query.purchased_to)}
    if query.purchased_from is not None and query.purchased_to is not None:
        return " AND #sk BETWEEN :from AND :to"
    return " AND #sk >= :from" if query.purchased_from is not None else " AND #sk <= :to"


def _row(item: dict[str, Any]) -> OrderRow:
    def s(name: str) -> str | None:
        return item[name]["S"] if name in item else None

    return OrderRow(
        purchase_date=s("purchase_date"),
        amazon_order_id=s("amazon_order_id") or item["pk"]["S"].removeprefix("ORDER#"),
        status=ChannelStatus(item["channel_status"]["S"]),
        fulfillment=s("fulfillment") or "MFN",
        marketplace_id=s("marketplace_id") or "",
        buyer_name=s("buyer_name"),
        grand_total=Decimal(item["grand_total"]["N"]) if "grand_total" in item else None,
        currency=s("currency"),
        commerce_order_number=s("commerce_increment_id"),
        notes=s("notes") or "",
    )


def _digest(query: OrderQuery) -> str:
    return hashlib.sha256(json.dumps(query.filters, sort_keys=True).encode()).hexdigest()[:16]


def _encode_cursor(key: dict[str, Any], index: str, digest: str) -> str:
    body = {"v": 1, "i": index, "f": digest, "k": {name: value["S"] for name, value in key.items()}}
    return base64.urlsafe_b64encode(json.dumps(body, separators=(",", ":")).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str, index: str, partition: str, digest: str) -> dict[str, Any]:
    try:
        body = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        key = body["k"]
        expected = {"pk", "sk", *_INDEXES[index]}
        ok = (
            body.get("v") == 1
            and body.get("i") == index
            and set(key) == expected
            and all(isinstance(v, str) and v for v in key.values())
            and key[_INDEXES[index][0]] == partition
        )
    except (ValueError, TypeError, KeyError, AttributeError, binascii.Error, UnicodeDecodeError):
        ok = False
    if not ok:
        raise InvalidQuery("cursor", "is not a cursor this API returned")
    if body.get("f") != digest:
        raise InvalidQuery("cursor", "belongs to a query with other filters; start again without a cursor")
    return {name: {"S": value} for name, value in key.items()}
