"""The stage the debugging stories play on: a merchant's store with three orders on the embedded
stack, and a way to run `amazon-channel` commands against it.

- 113-0000000-0000001: merchant-fulfilled, a guest; placed, paid, shipped in Commerce, confirmed.
- 114-0000000-0000002: fulfilled by Amazon; placed, paid, shipped by Amazon, imported complete.
- 113-0000000-0000003: merchant-fulfilled, for a lamp the merchant disabled in Commerce: Error.
"""

from __future__ import annotations

import io
import json
from contextlib import contextmanager

from amazon_channel_local.debugging import commands
from amazon_channel_local.debugging.handle import StackHandle, from_local_stack
from amazon_channel_local.player import Player
from amazon_channel_local.scenario import parse

MFN, FBA, BLOCKED = "113-0000000-0000001", "114-0000000-0000002", "113-0000000-0000003"
BUYER_EMAIL, BUYER_NAME, POSTCODE = "ana.souza@example.com", "Ana Souza", "98101"

STORE = {
    "name": "debugging stories",
    "settings": {"customer_creation": "create", "order_number_source": "commerce", "import_fba_orders": True},
    "catalog": [
        {"sku": "MUG-01", "name": "Blue mug", "price": "14.00", "qty": 100},
        {"sku": "TEA-02", "name": "Green tea", "price": "6.00", "qty": 50},
        {"sku": "LAMP-OFF", "name": "Retired lamp", "price": "30.00", "qty": 10, "enabled": False},
    ],
}
STEPS = [
    {
        "do": "amazon.place_order",
        "order": {
            "id": MFN,
            "buyer": {"name": BUYER_NAME, "email": BUYER_EMAIL},
            "ship_to": {
                "name": BUYER_NAME,
                "line1": "1 Main St",
                "city": "Seattle",
                "region": "WA",
                "postcode": POSTCODE,
                "country": "US",
            },
            "items": [{"sku": "MUG-01", "qty": 2, "price": "12.50", "tax": "2.00"}],
        },
    },
    {
        "do": "amazon.place_order",
        "order": {"id": FBA, "fulfillment": "AFN", "items": [{"sku": "TEA-02", "qty": 3, "price": "5.50"}]},
    },
    {
        "do": "amazon.place_order",
        "order": {
            "id": BLOCKED,
            "buyer": {"name": "Bo Lindqvist", "email": "bo@example.com"},
            "items": [{"sku": "LAMP-OFF", "qty": 1, "price": "29.00"}],
        },
    },
    {"do": "settle"},
    {"do": "amazon.verify_payment", "order_id": MFN},
    {"do": "amazon.verify_payment", "order_id": FBA},
    {"do": "amazon.verify_payment", "order_id": BLOCKED},
    {"do": "settle"},
    {"do": "amazon.ship", "order_id": FBA},
    {"do": "commerce.ship", "order_id": MFN, "carrier": "UPS", "tracking_number": "1Z999AA10123456784"},
    {"do": "settle"},
]


@contextmanager
def merchants_store(steps: list[dict] | None = None, catalog: list[dict] | None = None):
    """The store, its orders played: yields (player, handle, log stream)."""
    log = io.StringIO()
    scenario = parse(
        {**STORE, "catalog": catalog or STORE["catalog"], "steps": STEPS if steps is None else steps},
        "debugging stories",
    )
    with Player(scenario, log_stream=log, time_scale=0.01) as player:
        player.play()
        yield player, from_local_stack(player.stack), log


def amazon_channel(capsys, *argv: str, handle: StackHandle | None = None) -> tuple[int, str, str]:
    """Run `amazon-channel ARGV...` on the stage; returns (exit code, stdout, stderr)."""
    capsys.readouterr()
    code = commands.main(list(argv), handle=handle, time_scale=0.01)
    out, err = capsys.readouterr()
    return code, out, err


def amazon_channel_json(capsys, *argv: str, handle: StackHandle | None = None) -> tuple[int, dict]:
    code, out, err = amazon_channel(capsys, *argv, "--json", handle=handle)
    assert out.strip(), err
    return code, json.loads(out)


def one_line(err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, f"expected one line, got: {err!r}"
    assert "Traceback" not in err
    return lines[0]
