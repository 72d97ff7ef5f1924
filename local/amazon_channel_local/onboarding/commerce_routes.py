"""Does Commerce answer every route the channel reads, for the channel's integration? GETs only.

Each route is asked once through the channel's own `CommerceRestClient` (its OAuth 1.0a signing).
A route answers when Commerce serves it (2xx), or says 404 for a product that does not exist
(Magento checks the integration's ACL before it looks the product up, so a 404 means allowed).
401: the credentials are refused; 403: the integration lacks the route's ACL resource.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

PROBE_EMAIL = "amazon-channel-connect-check@example.invalid"
PROBE_ORDER = "000-0000000-0000000"
PROBE_SKU = "amazon-channel-connect-check"  # when the catalog is empty: a 404 still proves access


@dataclass
class RouteCheck:
    route: str
    acl: str
    ok: bool
    status: int | None
    detail: str = ""
    fix: str = ""


def routes(sku: str, website_id: int) -> list[tuple[str, str, list]]:
    """(path, ACL resource, query) of each route the channel reads, with the channel's own queries."""
    from amazon_channel.adapters.commerce_rest import _search_query

    s = quote(sku, safe="")
    return [
        (
            "/V1/customers/search",
            "Magento_Customer::customer",
            _search_query([[("email", PROBE_EMAIL, "eq")], [("website_id", website_id, "eq")]], page_size=1),
        ),
        ("/V1/orders", "Magento_Sales::actions_view", _search_query([[("ext_order_id", PROBE_ORDER, "eq")]])),
        ("/V1/shipments", "Magento_Sales::shipment", _search_query([[("order_id", 0, "eq")]], page_size=1)),
        (f"/V1/products/{s}", "Magento_Catalog::products", []),
        (f"/V1/stockItems/{s}", "Magento_CatalogInventory::cataloginventory", []),
        (f"/V1/inventory/get-product-salable-quantity/{s}/1", "Magento_InventoryApi::stock", []),
    ]


def check_routes(client, *, sku: str | None = None, website_id: int = 1) -> list[RouteCheck]:
    """Ask each route once; the per-product routes for `sku` (a product the store sells), or for a
    SKU no store has (a 404 proves access as well)."""
    per_product = ("/V1/products/", "/V1/stockItems/", "/V1/inventory/")
    return [
        _check(client, path, acl, query, per_product=path.startswith(per_product))
        for path, acl, query in routes(sku or PROBE_SKU, website_id)
    ]


def _check(client, path: str, acl: str, query: list, *, per_product: bool) -> RouteCheck:
    from amazon_channel.domain.errors import CommerceRejected

    label = f"GET {path.split('?', maxsplit=1)[0]}"
    try:
        client._once("GET", path, query=query or None)  # one signed exchange, no retries: a probe
        return RouteCheck(label, acl, True, 200)
    except CommerceRejected as e:
        status = getattr(e, "status", None)
        message = getattr(e, "commerce_message", "") or str(e)
        if status == 404 and per_product:
            return RouteCheck(label, acl, True, 404, "answered (no such product)")
        if status == 401:
            return RouteCheck(
                label,
                acl,
                False,
                401,
                f"401 {message}",
                "Commerce refuses the integration's credentials: copy the four values under System > "
                "Extensions > Integrations > (the integration) > Integration Details, then run "
                "`amazon-channel connect` again",
            )
        if status == 403:
            return RouteCheck(
                label,
                acl,
                False,
                403,
                f"403 {message}",
                f"give the integration the resource {acl} (System > Extensions > Integrations > API), "
                "then re-authorize it",
            )
        if status is None:  # the client refused before sending: the secret lacks a key
            return RouteCheck(
                label,
                acl,
                False,
                None,
                str(e),
                "put the integration's four credentials in the Commerce secret: `amazon-channel connect`",
            )
        return RouteCheck(
            label,
            acl,
            False,
            status,
            f"{status} {message}",
            "check CommerceBaseUrl and that the route exists on this Commerce version",
        )
    except Exception as e:  # noqa: BLE001 - unreachable, 5xx: one line
        reason = getattr(e, "reason", None) or (str(e).splitlines() or [type(e).__name__])[0]
        return RouteCheck(
            label,
            acl,
            False,
            None,
            str(reason),
            "Commerce cannot be reached at the stack's CommerceBaseUrl: check the URL and that the store is up",
        )
