"""`amazon-channel orders list|show`: the Orders view from the command line, as a table or JSON.

Every query goes through the Orders view API (the real handler, API Gateway HTTP API payload 2.0),
reached by one of:

- `--scenario FILE`: play the scenario on the embedded stack, then ask its OrdersViewFunction
  (`stack.invoke` with the event API Gateway would send; see `http_api.HttpApiAdapter`);
- `--endpoint URL`: a running API: a deployed stack's `OrdersApiUrl` (requests are signed with
  SigV4 from the usual AWS credentials), or a long-running local stack's endpoint.

Both are an `OrdersViewClient` (one method, `get(path, params) -> JSON`), so another way to reach
the API is one more small class. Exit codes: 0 done; 2 bad command line, scenario or filter (the
API's 400 message is shown) or no such order (404); 3 the scenario uses a verb not built yet;
1 else (an unreachable endpoint, a 403 or 5xx from the API).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol
from urllib.parse import quote, urlencode, urlsplit

EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 2
FUNCTION = "OrdersViewFunction"
STATUS_STYLE = {
    "Shipped": "green",
    "Unshipped": "yellow",
    "PartiallyShipped": "cyan",
    "Pending": "dim",
    "Canceled": "magenta",
    "Error": "bold red",
}


class ApiError(Exception):
    def __init__(self, status: int, body: Any):
        message = body.get("message") if isinstance(body, dict) else None
        super().__init__(message or f"HTTP {status}")
        self.status = status
        self.body = body


class OrdersViewClient(Protocol):
    def get(self, path: str, params: dict[str, str] | None = None) -> Any:
        """GET `path` of the Orders view API; the JSON body of a 2xx, else raises `ApiError`."""


class InvokeClient:
    """The API on an embedded LocalStack: API Gateway's event straight into the real handler."""

    def __init__(self, stack: Any):
        from .http_api import HttpApiAdapter

        self.adapter = HttpApiAdapter(stack, FUNCTION)

    def get(self, path: str, params: dict[str, str] | None = None) -> Any:
        status, body = self.adapter.get_json(path, params)
        if not 200 <= status < 300:
            raise ApiError(status, body)
        return body


class EndpointClient:
    """The API over HTTP. Signed with SigV4 (service execute-api) when AWS credentials are found."""

    def __init__(self, base_url: str, region: str | None = None, timeout: float = 30):
        self.base_url = base_url.rstrip("/")
        host = urlsplit(self.base_url).hostname or ""
        parts = host.split(".")
        from_host = parts[2] if len(parts) > 3 and parts[1] == "execute-api" else None
        self.region = (
            region or from_host or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
        )
        self.timeout = timeout

    def _headers(self, url: str) -> dict[str, str]:
        import botocore.session
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest

        headers = {"accept": "application/json"}
        credentials = botocore.session.get_session().get_credentials()
        if credentials is None:
            return headers
        request = AWSRequest(method="GET", url=url, headers=headers)
        SigV4Auth(credentials.get_frozen_credentials(), "execute-api", self.region).add_auth(request)
        return dict(request.headers.items())

    def get(self, path: str, params: dict[str, str] | None = None) -> Any:
        import urllib.error
        import urllib.request

        url = self.base_url + path + ("?" + urlencode(params) if params else "")
        request = urllib.request.Request(url, headers=self._headers(url), method="GET")  # noqa: S310 - the user's URL
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 - the user's URL
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as e:
            raw = e.read()
            try:
                body = json.loads(raw)
            except ValueError:
                body = {"message": raw.decode(errors="replace")[:200] or e.reason}
            raise ApiError(e.code, body) from None


# -- the command line -----------------------------------------------------------------------------
def add_orders_parser(sub: Any) -> None:
    """`orders list` and `orders show` under the `amazon-channel` command."""
    common = argparse.ArgumentParser(add_help=False)
    where = common.add_mutually_exclusive_group(required=True)
    where.add_argument("--scenario", metavar="FILE", help="play this scenario on the embedded stack, then query it")
    where.add_argument("--endpoint", metavar="URL", help="query a running Orders view API (OrdersApiUrl)")
    common.add_argument("--json", action="store_true", help="print the API's JSON instead of a table")
    common.add_argument("--log", help="write the handlers' logs here (default: a temporary file)")

    orders = sub.add_parser("orders", help="the Orders view: list the channel's orders, show one")
    verbs = orders.add_subparsers(dest="orders_command", required=True)
    ls = verbs.add_parser("list", parents=[common], help="one page of the store's orders (newest first), with filters")
    ls.add_argument("--seller", default=None, help="the store's SellerId (default: the simulated store's)")
    ls.add_argument(
        "--status", help="Unshipped, PartiallyShipped, Shipped, Canceled, Error, or Pending (hidden otherwise)"
    )
    ls.add_argument(
        "--from", dest="purchased_from", metavar="DATE", help="purchased on or after (2026-11-26 or a moment)"
    )
    ls.add_argument(
        "--to", dest="purchased_to", metavar="DATE", help="purchased on or before (the whole day, or a moment)"
    )
    ls.add_argument("--order", dest="amazon_order_id", metavar="ID", help="only this Amazon order number")
    ls.add_argument("--buyer", dest="buyer_name", metavar="TEXT", help="buyer name containing TEXT (any case)")
    ls.add_argument("--min-total", dest="total_min", metavar="AMOUNT", help="grand total at least AMOUNT")
    ls.add_argument("--max-total", dest="total_max", metavar="AMOUNT", help="grand total at most AMOUNT")
    ls.add_argument("--limit", help="rows per page (1-100, default 25)")
    ls.add_argument("--cursor", help="the next page: the cursor the previous page printed")
    ls.add_argument("--all", action="store_true", help="follow the cursors: every matching order")
    show = verbs.add_parser("show", parents=[common], help="one order: items, ship-to, packages and tracking, history")
    show.add_argument("amazon_order_id", metavar="ID", help="Amazon order number")


def run_orders(args: argparse.Namespace, log) -> int:
    from rich.console import Console

    out, err = Console(width=max(Console().width, 140)), Console(stderr=True)
    try:
        with _client(args, log, err) as (client, seller):
            if args.orders_command == "list":
                page = list_page(client, _filters(args, seller), follow=args.all)
                if args.json:
                    print(json.dumps(page, indent=2, ensure_ascii=False))
                else:
                    _print_page(out, page, seller)
            else:
                detail = client.get(f"/orders/{quote(args.amazon_order_id, safe='')}")
                if args.json:
                    print(json.dumps(detail, indent=2, ensure_ascii=False))
                else:
                    _print_detail(out, detail)
    except ApiError as e:
        print(f"amazon-channel: {e}", file=sys.stderr)
        return EXIT_INVALID if e.status in (400, 404) else EXIT_FAILED
    return EXIT_OK


def _filters(args: argparse.Namespace, seller: str) -> dict[str, str]:
    from amazon_channel.domain.orders_view import PARAMETERS  # the API's own list of query parameters

    names = [p for p in PARAMETERS if p != "seller_id"]
    return {"seller_id": args.seller or seller, **{n: getattr(args, n) for n in names if getattr(args, n) is not None}}


def list_page(client: OrdersViewClient, params: dict[str, str], follow: bool = False) -> dict:
    """One page of rows, or with `follow` every page, as one page without a cursor."""
    page = client.get("/orders", params)
    rows = list(page["orders"])
    while follow and page.get("next_cursor"):
        page = client.get("/orders", {**params, "cursor": page["next_cursor"]})
        rows += page["orders"]
    return {"orders": rows, "next_cursor": None if follow else page.get("next_cursor")}


@contextmanager
def _client(args: argparse.Namespace, log, err) -> Iterator[tuple[OrdersViewClient, str]]:
    from .player import DEFAULT_SELLER

    if args.endpoint:
        yield EndpointClient(args.endpoint), DEFAULT_SELLER
        return
    from .player import NOT_YET, NotSupportedYet, Player
    from .scenario import load

    scenario = load(args.scenario)
    for step in scenario.steps:
        if step.do in NOT_YET:
            raise NotSupportedYet(f"{scenario.path}: {step.where()}: {NOT_YET[step.do]}")
    with Player(scenario, log_stream=log) as player:
        with err.status("playing the scenario on the embedded stack..."):
            player.play()
        yield InvokeClient(player.stack), DEFAULT_SELLER


# -- tables ---------------------------------------------------------------------------------------
def _status(status: str | None) -> str:
    return f"[{STATUS_STYLE.get(status or '', 'white')}]{status}[/]" if status else "-"


def _money(amount: str | None, currency: str | None) -> str:
    return "-" if amount is None else f"{amount} {currency or ''}".strip()


def _when(ts: str | None) -> str:
    return "-" if not ts else ts[:16].replace("T", " ")


def _print_page(console: Any, page: dict, seller: str) -> None:
    from rich.table import Table

    table = Table(title=f"Amazon orders ({len(page['orders'])})", title_justify="left")
    for name, kw in (
        ("Purchased (UTC)", {"no_wrap": True}),
        ("Amazon order", {"no_wrap": True}),
        ("Status", {}),
        ("Buyer", {}),
        ("Grand total", {"justify": "right", "no_wrap": True}),
        ("Commerce order", {"no_wrap": True}),
        ("Notes", {"overflow": "fold"}),
    ):
        table.add_column(name, **kw)
    for r in page["orders"]:
        table.add_row(
            _when(r["purchase_date"]),
            r["amazon_order_id"],
            _status(r["status"]),
            r["buyer_name"] or "-",
            _money(r["grand_total"], r["currency"]),
            r["commerce_order_number"] or "-",
            r["notes"] or "",
        )
    if page.get("next_cursor"):
        table.caption = f"more: add --cursor {page['next_cursor']} (or --all)"
    console.print(table)


def _print_detail(console: Any, d: dict) -> None:
    from rich.table import Table

    o = d["order"]
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold")
    head.add_column()
    commerce = d.get("commerce_order")
    for label, value in (
        (
            "Amazon order",
            f"{o['amazon_order_id']} ({o['fulfillment']}, {o['marketplace_id']}, seller {d['seller_id']})",
        ),
        ("Purchased", _when(o["purchase_date"])),
        ("Status", f"{_status(o['status'])} (Amazon: {d['amazon_status']})"),
        ("Buyer", o["buyer_name"] or "-"),
        ("Grand total", _money(o["grand_total"], o["currency"])),
        (
            "Commerce order",
            f"{commerce['increment_id']} ({commerce['status']}, "
            f"{'guest' if commerce['customer_is_guest'] else 'customer account'})"
            if commerce
            else "-",
        ),
        ("Notes", o["notes"] or "-"),
    ):
        head.add_row(label, value)
    ship = d.get("ship_to") or {}
    address = ", ".join(
        str(ship[k]) for k in ("name", "line1", "line2", "city", "region", "postcode", "country") if ship.get(k)
    )
    head.add_row("Ship to", address or "-")
    console.print(head)

    items = Table(title="Items", title_justify="left")
    for name in ("SKU", "Title", "Qty", "Shipped", "Unit price", "Tax", "Shipping", "Cancel requested"):
        items.add_column(
            name, justify="right" if name in ("Qty", "Shipped", "Unit price", "Tax", "Shipping") else "left"
        )
    for i in d["items"]:
        items.add_row(
            i["sku"],
            i.get("title") or "-",
            str(i["qty"]),
            str(i["qty_shipped"]),
            i.get("unit_price") or "-",
            i.get("line_tax") or "-",
            i.get("shipping_price") or "-",
            "yes" if i["buyer_requested_cancel"] else "",
        )
    console.print(items)

    packages = Table(title="Packages and tracking", title_justify="left")
    for name in ("Shipped by", "Carrier", "Tracking", "Items", "Confirmed to Amazon"):
        packages.add_column(name)
    for p in d["packages"]:
        packages.add_row(
            p["shipped_by"],
            p.get("carrier") or "-",
            p.get("tracking_number") or "-",
            ", ".join(f"{i.get('sku') or i['order_item_id']} x{i['qty']}" for i in p["items"]),
            _when(p.get("confirmed_to_amazon_at")) if p["shipped_by"] == "merchant" else "n/a",
        )
    if not d["packages"]:
        packages.caption = "no package yet"
    console.print(packages)

    history = Table(title="History", title_justify="left")
    for name, kw in (("At (UTC)", {"no_wrap": True}), ("Kind", {}), ("What happened", {"overflow": "fold"})):
        history.add_column(name, **kw)
    for h in d["history"]:
        history.add_row(h["at"][:19].replace("T", " "), h["kind"], h["message"])
    console.print(history)
