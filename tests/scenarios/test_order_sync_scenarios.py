"""Order sync, blocked orders and the store's connection time, played as merchants' scenarios
(`poll` runs the real order sync function on the embedded stack), and `amazon-channel retry`."""

import json
from pathlib import Path

from amazon_channel_local.cli import EXIT_INVALID, EXIT_OK, main
from amazon_channel_local.player import Player
from amazon_channel_local.scenario import load

HERE = Path(__file__).resolve().parent
_played: dict[str, tuple[dict, list, Player]] = {}


def play(name: str) -> tuple[dict, list[dict], list[dict]]:
    """Play a scenario once per session: its result, its executions, and each poll's sync report."""
    if name not in _played:
        with open("/dev/null", "w") as log, Player(load(HERE / name), log_stream=log) as player:
            result = player.play()
            _played[name] = (result, player.stack.executions(), player.polls)
    return _played[name]


def order(result, amazon_order_id):
    return next(o for o in result["orders"] if o["amazon_order_id"] == amazon_order_id)


def test_a_poll_recovers_every_order_whose_notifications_were_lost_once_each():
    result, executions, polls = play("sync-lost-notifications.json")
    lost = result["snapshots"]["notifications lost"]  # Given orders changed while notifications were lost
    assert [o["channel_status"] for o in lost["orders"]] == [None, None, None] and lost["commerce_order_count"] == 0
    after = result["snapshots"]["after the poll"]  # When the sync runs
    mfn, pending, fba = after["orders"]  # Then each is where Amazon has it
    assert (mfn["channel_status"], mfn["commerce_order"]["status"]) == ("Unshipped", "processing")
    assert (pending["channel_status"], pending["visible_in_orders_tab"], pending["commerce_order"]) == (
        "Pending",
        False,
        None,
    )
    assert (fba["channel_status"], fba["commerce_order"]["status"]) == ("Shipped", "complete")
    assert polls[0]["stores"][0]["orders"] == {"recorded": 3}
    # And later notifications, polls and redeliveries change nothing twice: one order each, one workflow each
    assert result["commerce_order_count"] == 3
    assert sorted(e["name"] for e in executions) == ["mfn-113-0000000-0000041", "mfn-113-0000000-0000042"]
    assert order(result, "113-0000000-0000041")["channel_status"] == "Shipped"
    assert order(result, "113-0000000-0000042")["commerce_order"]["status"] == "processing"
    # And the order the poll saw while Pending (Amazon gives no buyer email then) is read again once
    # paid: its Commerce order carries the buyer's email, not a placeholder
    assert order(result, "113-0000000-0000042")["commerce_order"]["customer_email"] == "bruno@example.com"


def test_blocked_orders_show_the_sku_and_cause_and_each_poll_retries_them_until_the_catalog_is_fixed():
    result, executions, polls = play("blocked-order-retried.json")
    notes = {o["amazon_order_id"]: o["notes"] for o in result["snapshots"]["blocked"]["orders"]}
    assert {o["channel_status"] for o in result["snapshots"]["blocked"]["orders"]} == {"Error"}
    assert notes == {  # Given orders blocked, each note naming the SKU and the cause
        "113-0000000-0000051": 'Could not be imported: CommerceRejected: Product "MUG-01" cannot be ordered: insufficient stock.',
        "113-0000000-0000052": 'Could not be imported: CommerceRejected: Product "LAMP-02" cannot be ordered: disabled.',
        "113-0000000-0000053": 'Could not be imported: CommerceRejected: Product "RUG-03" cannot be ordered: not found.',
    }
    # When a poll runs before the catalog is fixed, each is tried again, and stays blocked
    assert [r["result"] for r in polls[0]["stores"][0]["retried"]] == ["retried"] * 3
    assert {o["channel_status"] for o in result["snapshots"]["retried, catalog not fixed"]["orders"]} == {"Error"}
    fixed = result["snapshots"]["two products fixed"]["orders"]  # Then the fixed products' orders go through
    assert [o["channel_status"] for o in fixed] == ["Unshipped", "Unshipped", "Error"]
    final = result["orders"]  # and the last one once its product exists; no operator action
    assert [o["channel_status"] for o in final] == ["Shipped", "Unshipped", "Unshipped"]
    assert result["commerce_order_count"] == 3
    names = sorted(e["name"] for e in executions if "0000053" in e["name"])
    assert names == [
        "mfn-113-0000000-0000053",
        "mfn-113-0000000-0000053-retry1",
        "mfn-113-0000000-0000053-retry2",
        "mfn-113-0000000-0000053-retry3",
    ]


def test_an_order_placed_before_the_store_was_connected_is_never_imported():
    result, _, polls = play("placed-before-connection.json")
    before, after = result["orders"]
    assert (before["amazon_status"], before["channel_status"], before["commerce_order"]) == ("Unshipped", None, None)
    assert after["channel_status"] == "Unshipped" and after["commerce_order"]["status"] == "processing"
    assert polls[0]["stores"][0]["orders"] == {"before-connection": 1, "duplicate": 1}
    assert result["commerce_order_count"] == 1


def test_amazon_channel_retry_imports_a_blocked_order_at_once_after_its_scenario(tmp_path):
    scenario = tmp_path / "fixed.json"
    scenario.write_text(
        json.dumps(
            {
                "name": "blocked, then restocked",
                "catalog": [{"sku": "MUG-01", "name": "Blue mug", "price": "12.50", "qty": 0}],
                "steps": [
                    {
                        "do": "amazon.place_order",
                        "order": {
                            "id": "113-0000000-0000071",
                            "items": [{"sku": "MUG-01", "qty": 1, "price": "12.50"}],
                        },
                    },
                    {"do": "amazon.verify_payment", "order_id": "113-0000000-0000071"},
                    {"do": "settle"},
                    {"do": "catalog.set", "sku": "MUG-01", "qty": 5},
                ],
            }
        )
    )
    out = tmp_path / "out.json"
    # Given a scenario that leaves an order blocked though its product is back in stock
    assert main(["retry", "113-0000000-0000071", "--scenario", str(scenario), "--out", str(out)]) == EXIT_OK
    answer = json.loads(out.read_text())  # When the merchant retries it, then it is imported at once
    assert answer["retry"]["result"] == "retried" and answer["retry"]["attempt"] == 1
    assert answer["result"]["orders"][0]["channel_status"] == "Unshipped"
    assert answer["result"]["orders"][0]["commerce_order"]["status"] == "processing"


def test_amazon_channel_retry_refuses_an_order_its_scenario_never_placed(tmp_path, capsys):
    scenario = tmp_path / "empty.json"
    scenario.write_text(json.dumps({"steps": []}))
    assert main(["retry", "113-0000000-0000099", "--scenario", str(scenario)]) == EXIT_INVALID
    assert "unknown order id '113-0000000-0000099'" in capsys.readouterr().err
