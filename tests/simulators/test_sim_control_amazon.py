"""The simulated Amazon's control routes, as a person drives them with curl (docs/local-control-api.md)."""

import json

from amazon_channel_local.sim_control import ControlledAmazon


def control(amazon, method, path, body=None):
    response = amazon.handle(method, f"/_sim{path}", {}, json.dumps(body).encode() if body is not None else b"")
    return response.status, response.body if isinstance(response.body, dict) else json.loads(response.body or "{}")


def test_amazon_ships_a_paid_fba_order_from_its_stock_whatever_body_comes_with_the_request():
    amazon = ControlledAmazon()
    # Given a paid order Amazon fulfils
    order = {
        "id": "113-0000000-0000009",
        "fulfillment": "AFN",
        "items": [{"sku": "MUG-01", "qty": 1, "price": "12.50"}],
    }
    assert control(amazon, "POST", "/orders", order)[0] == 201
    assert control(amazon, "POST", f"/orders/{order['id']}/verify_payment")[0] == 200
    # When a person ships it with a carrier and tracking number in the body (as the docs once said)
    status, answer = control(amazon, "POST", f"/orders/{order['id']}/ship", {"carrier": "UPS", "tracking_number": "1Z"})
    # Then Amazon ships it, and records no package (its model gives none for an FBA order)
    assert status == 200, answer
    assert amazon.order_status(order["id"]) == "Shipped"
