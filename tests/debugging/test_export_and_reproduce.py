"""`amazon-channel export ORDER_ID > order.jsonl`, then `amazon-channel simulate --replay order.jsonl`:
an order taken from a stack and reproduced on a fresh local one, histories compared."""

from __future__ import annotations

import json

import pytest
from debugging_stage import (
    BLOCKED,
    BUYER_EMAIL,
    BUYER_NAME,
    FBA,
    MFN,
    POSTCODE,
    amazon_channel,
    merchants_store,
    one_line,
)


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    """Each order of the merchant's store exported from the stack (personal data redacted), and the
    MFN order once more with personal data; the stack is gone afterwards, as production is."""
    folder = tmp_path_factory.mktemp("exports")
    files, _stderr = {}, {}
    with merchants_store() as (_player, handle, _log):
        from amazon_channel_local.debugging import commands

        for oid in (MFN, FBA, BLOCKED):
            files[oid] = folder / f"{oid}.jsonl"
            assert commands.main(["export", oid, "--out", str(files[oid])], handle=handle) == 0
        files["pii"] = folder / "with-pii.jsonl"
        assert commands.main(["export", MFN, "--include-pii", "--out", str(files["pii"])], handle=handle) == 0
    return files


def records(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def of_type(path, kind: str) -> list[dict]:
    return [r for r in records(path) if r["type"] == kind]


def test_an_export_holds_the_orders_inbound_events_with_times_the_bus_events_and_its_history(exports):
    # Given a merchant-fulfilled order that was placed, paid, shipped in Commerce and confirmed
    path = exports[MFN]
    header, *rest = records(path)
    # Then the export names the order, its source and that personal data is redacted
    assert (header["type"], header["amazon_order_id"], header["pii"]) == ("export", MFN, "redacted")
    assert [r["type"] for r in rest[:3]] == ["store", "order", "execution"]
    assert of_type(path, "store")[0]["settings"]["customer_creation"] == "create"
    assert of_type(path, "execution")[0]["status"] == "SUCCEEDED"
    # And every ORDER_CHANGE Amazon sent, as received, when it was received
    inbound = of_type(path, "inbound")
    notifications = [r for r in inbound if r["source"] == "amazon"]
    assert [
        r["event"]["body"]["Payload"]["OrderChangeNotification"]["Summary"]["OrderStatus"] for r in notifications
    ] == ["Pending", "Unshipped", "Shipped"]
    assert all(r["at"] and r["event"]["id"] for r in notifications)
    # And the Commerce shipment event (its ids), and the channel's bus events about the order
    commerce = [r for r in inbound if r["source"] == "commerce"]
    assert len(commerce) == 1 and commerce[0]["event"]["body"]["detail"]["data"]["value"]["order_id"] == "1"
    assert sorted(r["event"]["detail-type"] for r in of_type(path, "bus_event")) == [
        "CommerceOrderCreated",
        "My Adobe Commerce Events:com.adobe.commerce.observer.sales_order_shipment_save_after",
        "OrderShipped",
        "ShipmentConfirmedToAmazon",
    ]
    # And the order's whole history, oldest first
    history = of_type(path, "history")
    assert history[0]["kind"] == "status" and history[-1]["kind"] in ("status", "step")
    assert [h["at"] for h in history] == sorted(h["at"] for h in history)


def test_personal_data_is_replaced_by_stable_stand_ins_unless_asked_for(exports):
    redacted, full = exports[MFN].read_text(), exports["pii"].read_text()
    for secret in (BUYER_EMAIL, BUYER_NAME, "1 Main St", POSTCODE):
        assert secret not in redacted
        assert secret in full
    details = of_type(exports[MFN], "order")[0]["state"]["details"]
    assert details["buyer_email"].endswith("@example.invalid") and details["buyer_name"].startswith("Buyer ")
    assert details["ship_to"]["country"] == "US" and details["ship_to"]["line1"] is None
    commerce = of_type(exports[MFN], "order")[0]["state"]["commerce"]
    assert commerce["customer_email"] == details["buyer_email"]  # the same buyer, the same stand-in


@pytest.mark.parametrize("oid", [MFN, FBA, BLOCKED], ids=["mfn-shipped", "fba-imported", "mfn-blocked"])
def test_an_exported_order_reproduces_locally_with_the_same_history(exports, tmp_path, capsys, oid):
    # Given an order exported from the stack (the stack itself is gone)
    # When the operator plays the export on a fresh embedded stack
    out = tmp_path / "comparison.json"
    code, stdout, _err = amazon_channel(capsys, "simulate", "--replay", str(exports[oid]), "--out", str(out))
    comparison = json.loads(out.read_text())
    # Then the local order's history matches the exported one, kind by kind and status by status
    assert code == 0, stdout
    assert comparison["matches"] and comparison["channel_status"]["exported"] == comparison["channel_status"]["local"]
    assert all(row["op"] in ("equal", "moved") for row in comparison["history"])
    assert (
        len(comparison["history"])
        == len(of_type(exports[oid], "history")) + sum(row["op"] == "moved" for row in comparison["history"]) // 2
    )
    # And the same events about the order were put on the bus
    assert comparison["bus_events"]["match"]
    assert "histories match" in stdout


def test_the_blocked_order_reproduces_its_error_locally(exports, tmp_path, capsys):
    # Given the export of an order Commerce refused (its product disabled)
    out = tmp_path / "comparison.json"
    amazon_channel(capsys, "simulate", "--replay", str(exports[BLOCKED]), "--out", str(out))
    comparison = json.loads(out.read_text())
    # Then locally too it ends in Error, for the same reason: the bug is reproduced
    assert comparison["channel_status"] == {"exported": "Error", "local": "Error"}
    errors = [row["local"] for row in comparison["history"] if row["local"] and row["local"].startswith("error:")]
    assert errors and 'Product "LAMP-OFF" cannot be ordered: disabled' in errors[0]


def test_a_history_that_differs_is_shown_and_exits_4(exports, tmp_path, capsys):
    # Given an export whose history says something the channel does not do (an edited line)
    lines = exports[MFN].read_text().splitlines()
    edited = []
    for line in lines:
        record = json.loads(line)
        if record["type"] == "history" and record["message"] == "Guest checkout":
            record["message"] = "Customer account created twice"
        if record["type"] == "history" and record["message"] == "Customer account resolved":
            record["message"] = "Customer account created twice"
        edited.append(json.dumps(record))
    path = tmp_path / "edited.jsonl"
    path.write_text("\n".join(edited) + "\n")
    # When it is replayed locally
    out = tmp_path / "comparison.json"
    code, stdout, _err = amazon_channel(capsys, "simulate", "--replay", str(path), "--out", str(out))
    # Then the difference is shown and the exit code says so
    comparison = json.loads(out.read_text())
    assert code == 4 and not comparison["matches"] and "histories differ" in stdout
    assert {
        "op": "replace",
        "exported": "commerce: Customer account created twice",
        "local": "commerce: Customer account resolved",
    } in comparison["history"]


@pytest.mark.parametrize(
    "content, message",
    [
        ("not json\n", "line 1: not JSON"),
        ('{"type": "history"}\n', "not an order export"),
        ('{"no": "type"}\n', "line 1: not an export record"),
    ],
)
def test_a_file_that_is_not_an_export_is_one_line_and_exit_2(tmp_path, capsys, content, message):
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    code, _out, err = amazon_channel(capsys, "simulate", "--replay", str(path))
    assert code == 2 and message in one_line(err) and str(path) in err
