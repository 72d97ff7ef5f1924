"""`amazon-channel simulate`: results out, one-line errors naming the file and the step, exit codes."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from amazon_channel_local.cli import EXIT_INVALID, EXIT_NOT_YET, main

ROOT = Path(__file__).resolve().parents[2]
ORDER = {"id": "113-0000000-0000001", "items": [{"sku": "MUG-01", "qty": 1, "price": "12.50"}]}


def scenario(tmp_path, steps, **top):
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"name": "t", **top, "steps": steps}))
    return path


@pytest.mark.parametrize(
    "top, steps, message",
    [
        ({}, [{"do": "amazon.teleport"}], "step 1: unknown verb 'amazon.teleport'"),
        (
            {},
            [
                {"do": "amazon.place_order", "order": ORDER},
                {"do": "amazon.verify_payment", "order_id": "113-0000000-0000009"},
            ],
            "step 2 (amazon.verify_payment): unknown order id '113-0000000-0000009'",
        ),
        (
            {},
            [
                {"do": "amazon.place_order", "order": ORDER},
                {"do": "commerce.ship", "order_id": "113-0000000-0000001", "carrier": "UPS"},
            ],
            "step 2 (commerce.ship): missing field 'tracking_number'",
        ),
        ({}, [{"do": "settle", "when": "now"}], "step 1 (settle): unknown key 'when'"),
        ({"color": "blue"}, [], "top level: unknown key 'color'"),
        ({"settings": {"customer_creation": "maybe"}}, [], "settings: customer_creation must be one of"),
        (
            {},
            [{"do": "amazon.place_order", "order": {**ORDER, "items": [{"sku": "MUG-01", "qty": 1, "price": 12.5}]}}],
            "step 1 (amazon.place_order): order item 1 price must be a decimal string",
        ),
        ({}, [{"do": "amazon.lose_notifications"}], "step 1 (amazon.lose_notifications): missing field 'enabled'"),
        ({}, [{"do": "catalog.set", "sku": "X", "qty": -1}], "step 1 (catalog.set): qty must be a whole number"),
    ],
)
def test_an_invalid_scenario_exits_2_with_one_line_naming_the_file_and_the_step(tmp_path, capsys, top, steps, message):
    path = scenario(tmp_path, steps, **top)
    assert main(["simulate", str(path)]) == EXIT_INVALID
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and str(path) in err and message in err


def test_bad_json_exits_2(tmp_path, capsys):
    path = tmp_path / "bad.json"
    path.write_text('{"steps": [}')
    assert main(["simulate", str(path)]) == EXIT_INVALID
    assert "bad JSON at line 1" in capsys.readouterr().err


def test_every_verb_of_the_format_is_built():
    from amazon_channel_local import player

    assert player.NOT_YET == {}  # a verb not built yet would be refused with EXIT_NOT_YET (3), never skipped
    assert EXIT_NOT_YET == 3


def test_canceling_from_commerce_an_order_commerce_does_not_have_exits_2_naming_the_step(tmp_path, capsys):
    # Given a Pending order (never imported), when the scenario has the merchant cancel it in Commerce
    path = scenario(
        tmp_path,
        [
            {"do": "amazon.place_order", "order": ORDER},
            {"do": "commerce.cancel", "order_id": "113-0000000-0000001", "reason": "out of stock"},
        ],
    )
    # Then the scenario is refused in one line: Pending orders are canceled in Seller Central
    assert main(["simulate", str(path)]) == EXIT_INVALID
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "step 2 (commerce.cancel)" in err and "Seller Central" in err


def test_a_played_scenario_exits_0_and_writes_only_the_result(tmp_path):
    out = tmp_path / "result.json"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "amazon_channel_local.cli",
            "simulate",
            str(ROOT / "scenarios" / "mfn-guest-basic.json"),
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": f"{ROOT / 'local'}:{ROOT / 'layers' / 'channel'}"},
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout == ""  # handler logs go to the log file, never to standard output
    assert json.loads(out.read_text())["orders"][0]["channel_status"] == "Shipped"
