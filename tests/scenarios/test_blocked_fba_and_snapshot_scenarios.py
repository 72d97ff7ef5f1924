"""Blocked FBA orders retried by the sync (issue 11, case 10) and snapshots at any step (case 12),
played as merchants' scenarios on the embedded stack."""

import json
from pathlib import Path

from amazon_channel_local.cli import EXIT_OK, main
from amazon_channel_local.player import Player
from amazon_channel_local.scenario import load

HERE = Path(__file__).resolve().parent
_played: dict[str, tuple[dict, Player]] = {}
DISABLED = 'Could not be imported: CommerceRejected: Product "LAMP-02" cannot be ordered: disabled.'
MISSING = 'Could not be imported: CommerceRejected: Product "RUG-03" cannot be ordered: not found.'


def play(name: str) -> tuple[dict, Player]:
    """Play a scenario once per session: its result and the player (its polls and stack)."""
    if name not in _played:
        with open("/dev/null", "w") as log, Player(load(HERE / name), log_stream=log) as player:
            _played[name] = (player.play(), player)
    return _played[name]


def by_id(snapshot: dict) -> dict[str, dict]:
    return {o["amazon_order_id"]: o for o in snapshot["orders"]}


def test_an_fba_order_commerce_refuses_shows_error_and_the_sku_as_the_same_order_placed_mfn_does():
    result, _ = play("fba-blocked-order-retried.json")
    # Given an FBA order of a disabled product, the same order placed MFN, and an FBA order of a
    # product not in the catalog; When Amazon has shipped the FBA orders and the channel tried them
    blocked = by_id(result["snapshots"]["blocked"])
    fba, mfn, missing = blocked["114-0000000-0000061"], blocked["113-0000000-0000062"], blocked["114-0000000-0000063"]
    # Then each shows Error with the SKU and the cause, in the Orders view, with no Commerce order
    assert [(o["channel_status"], o["notes"]) for o in (fba, mfn, missing)] == [
        ("Error", DISABLED),
        ("Error", DISABLED),
        ("Error", MISSING),
    ]
    assert all(o["visible_in_orders_tab"] and o["commerce_order"] is None for o in (fba, mfn, missing))
    assert fba["amazon_status"] == "Shipped"
    # And a redelivery of every notification changes nothing: only the sync retries
    assert by_id(result["snapshots"]["notifications redelivered"]) == blocked


def test_every_poll_retries_blocked_fba_orders_once_each_until_the_catalog_is_fixed():
    result, player = play("fba-blocked-order-retried.json")
    first, second, third = (p["stores"][0]["retried"] for p in player.polls)
    # When a poll runs before the catalog is fixed, each order is tried again, and stays blocked
    assert sorted((r["amazon_order_id"], r["result"], r["attempt"]) for r in first) == [
        ("113-0000000-0000062", "retried", 1),
        ("114-0000000-0000061", "retried", 1),
        ("114-0000000-0000063", "retried", 1),
    ]
    still = by_id(result["snapshots"]["retried, catalog not fixed"])
    assert [o["channel_status"] for o in still.values()] == ["Error"] * 3
    assert still["114-0000000-0000061"]["notes"] == DISABLED
    # Then once the lamp is enabled, its FBA order is imported complete, and its MFN order too
    enabled = by_id(result["snapshots"]["lamp enabled"])
    assert (
        enabled["114-0000000-0000061"]["channel_status"],
        enabled["114-0000000-0000061"]["commerce_order"]["status"],
    ) == ("Shipped", "complete")
    assert enabled["113-0000000-0000062"]["commerce_order"]["status"] == "processing"
    assert enabled["114-0000000-0000063"]["channel_status"] == "Error"
    # And the last once its product exists: one Commerce order each, no operator action
    final = by_id(result)
    assert final["114-0000000-0000063"]["commerce_order"]["status"] == "complete"
    assert final["114-0000000-0000063"]["commerce_order"]["grand_total"] == "80.00"
    assert result["commerce_order_count"] == 3
    assert [r["amazon_order_id"] for r in third] == ["114-0000000-0000063"]
    assert len(second) == 3


def test_a_snapshot_lists_the_orders_known_at_its_step():
    result, _ = play("snapshot-at-any-step.json")
    snaps = result["snapshots"]
    # Given a snapshot before any order: no orders, no Commerce orders
    assert snaps["before any order"] == {"orders": [], "commerce_customers": [], "commerce_order_count": 0}
    # When one order is placed, then imported: it alone is listed, as it stood then
    [placed] = snaps["one order placed"]["orders"]
    assert (placed["amazon_order_id"], placed["amazon_status"], placed["commerce_order"]) == (
        "113-0000000-0000071",
        "Pending",
        None,
    )
    [imported] = snaps["one order imported"]["orders"]
    assert imported["channel_status"] == "Unshipped" and snaps["one order imported"]["commerce_order_count"] == 1
    # Then after the second order, both, in the order placed
    assert [o["amazon_order_id"] for o in snaps["both"]["orders"]] == ["113-0000000-0000071", "114-0000000-0000072"]
    assert snaps["both"]["orders"] == result["orders"]


def test_simulate_plays_a_snapshot_before_a_later_order_and_exits_0(tmp_path):
    out = tmp_path / "result.json"
    assert main(["simulate", str(HERE / "snapshot-at-any-step.json"), "--out", str(out)]) == EXIT_OK
    assert json.loads(out.read_text())["snapshots"]["before any order"]["orders"] == []
