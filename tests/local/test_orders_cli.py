"""`amazon-channel orders list|show --scenario FILE`: the Orders view of a played scenario, as a table or JSON.

Each story plays scenarios/orders-view.json on the embedded stack (a store's orders in every
state), then asks the real OrdersViewFunction, as the merchant would from a terminal.
"""

import json
from pathlib import Path

from amazon_channel_local.cli import EXIT_OK, main

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = str(ROOT / "scenarios" / "orders-view.json")


def test_orders_list_prints_the_orders_tab_of_the_scenario_as_a_table(capsys, tmp_path):
    # When the merchant lists the orders of the played scenario
    code = main(["orders", "list", "--scenario", SCENARIO, "--log", str(tmp_path / "handlers.log")])
    out = capsys.readouterr().out
    # Then a table shows the seed's columns and every order but the Pending one
    assert code == EXIT_OK
    for column in ("Purchased", "Amazon order", "Status", "Buyer", "Grand total", "Commerce order", "Notes"):
        assert column in out
    for shown in ("113-0000000-0000201", "114-0000000-0000202", "113-0000000-0000203", "113-0000000-0000205"):
        assert shown in out
    assert "113-0000000-0000204" not in out
    assert "Ana Souza" in out and "31.99 USD" in out


def test_orders_show_json_is_the_api_s_order_detail(capsys, tmp_path):
    # When the merchant asks for one order as JSON
    code = main(
        [
            "orders",
            "show",
            "113-0000000-0000201",
            "--scenario",
            SCENARIO,
            "--json",
            "--log",
            str(tmp_path / "handlers.log"),
        ]
    )
    detail = json.loads(capsys.readouterr().out)
    # Then it is the API's detail: the row, items, ship-to, the tracked package, the history
    assert code == EXIT_OK
    assert detail["order"]["amazon_order_id"] == "113-0000000-0000201" and detail["order"]["grand_total"] == "31.99"
    assert detail["items"][0]["sku"] == "MUG-01" and detail["ship_to"]["city"] == "Seattle"
    assert detail["packages"][0]["tracking_number"] == "1Z999AA10123456784"
    assert detail["history"] and detail["history"][0]["kind"] == "status"
