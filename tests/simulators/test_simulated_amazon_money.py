"""The simulated Amazon charges buyers in every proceeds category of the Orders v2026-01-01 model,
and the channel reads back exactly what the buyer paid."""

from __future__ import annotations

from decimal import Decimal

import pytest

from amazon_channel.adapters.sp_api import SellingPartnerClient
from amazon_channel_local.sp_api_models import validate_definition

pytestmark = pytest.mark.usefixtures("fresh_token_cache")


@pytest.fixture
def client(amazon):
    return SellingPartnerClient(amazon.base_url, amazon.lwa_token_url, lambda: amazon.credentials, sleep=lambda s: None)


def a_promoted_gift_wrapped_order(detailed: bool = True) -> dict:
    """Simulator options beyond the scenario format: promotions, gift wrap, COD fee, other charges, a tip."""
    return {
        "id": "113-0000000-0000777",
        "buyer": {"name": "Ana Souza", "email": "ana@example.com"},
        "items": [
            {
                "sku": "MUG-01",
                "qty": 2,
                "price": "12.50",
                "tax": "2.00",
                "discount": "5.00",
                "discount_tax": "-0.40",
                "gift_wrap": "3.99",
                "gift_wrap_tax": "0.32",
            },
            {"sku": "TEA-02", "qty": 1, "price": "5.00", "cod_fee": "2.00", "cod_fee_tax": "0.16", "other": "1.00"},
        ],
        "shipping": {"price": "4.99", "tax": "0.40", "discount": "4.99"},
        "delivery_tip": "3.00",
        "detailed_breakdowns": detailed,
    }


# 25.00 + 5.00 items, 2.00 - 0.40 + 0.32 + 0.40 + 0.16 tax, 4.99 shipping, 3.99 gift wrap, 2.00 COD,
# 1.00 other, 3.00 tip, less 5.00 and 4.99 of promotions
PAID = Decimal("37.47")


@pytest.mark.parametrize("detailed", [True, False], ids=["with detailedBreakdowns", "without"])
def test_every_proceeds_type_reaches_the_channel(amazon, client, detailed):
    # Given a buyer's order with a promotion, gift wrap, cash on delivery, another charge and a tip
    oid = amazon.place_order(a_promoted_gift_wrapped_order(detailed))
    # When Amazon answers getOrder
    raw = amazon.handle(
        "GET", f"/orders/2026-01-01/orders/{oid}?includedData=PROCEEDS", {"x-amz-access-token": _token(amazon)}, b""
    ).body["order"]
    validate_definition("orders_2026-01-01.json", "Order", raw)
    types = {b["type"] for it in raw["orderItems"] for b in it["proceeds"]["breakdowns"]}
    # Then every item category of the model is there, the tip on the order, and the total adds up
    assert types == {"ITEM", "SHIPPING", "GIFT_WRAP", "COD_FEE", "OTHER", "TAX", "DISCOUNT"}
    assert {b["type"] for b in raw["proceeds"]["breakdowns"]} == types | {"DELIVERY_TIP"}
    assert Decimal(raw["proceeds"]["grandTotal"]["amount"]) == PAID
    assert any("detailedBreakdowns" in b for it in raw["orderItems"] for b in it["proceeds"]["breakdowns"]) is detailed
    # And the channel reads the same total, in its categories
    order = client.get_order(amazon.seller_id, oid)
    assert order.total == order.order_total == PAID
    mug, tea = order.items
    assert (mug.discount + mug.shipping_discount, mug.gift_wrap_price, tea.cod_fee, tea.other_charges) == (
        Decimal("9.99"),
        Decimal("3.99"),
        Decimal("2.00"),
        Decimal("1.00"),
    )
    assert order.delivery_tip == Decimal("3.00")
    if detailed:  # without the detail, the promotion and the tax are the item's
        assert (mug.shipping_discount, mug.gift_wrap_tax, mug.line_tax) == (
            Decimal("4.99"),
            Decimal("0.32"),
            Decimal("1.60"),
        )


def _token(amazon) -> str:
    from urllib.parse import urlencode

    creds = amazon.credentials
    body = urlencode(
        {
            "grant_type": "refresh_token",
            "client_id": creds["client_id"],
            "client_secret": creds["client_secret"],
            "refresh_token": creds["refresh_tokens"][amazon.seller_id],
        }
    ).encode()
    return amazon.handle("POST", "/auth/o2/token", {}, body).body["access_token"]
