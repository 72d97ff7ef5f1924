"""`amazon-channel orders ... --endpoint URL`: the same commands against a running Orders view API.

Given scenarios/orders-view.json played on the embedded stack and its OrdersViewFunction served on
127.0.0.1 behind the HTTP API adapter (which, like IAM auth, refuses unsigned requests), the CLI
signs its requests with SigV4 and reads pages, follows cursors, and turns API errors into exit codes.
"""

import io
import json
from pathlib import Path

import pytest

from amazon_channel_local.cli import EXIT_INVALID, EXIT_OK, main
from amazon_channel_local.http_api import HttpApiAdapter, serve
from amazon_channel_local.orders_commands import EndpointClient
from amazon_channel_local.player import Player
from amazon_channel_local.scenario import load

ROOT = Path(__file__).resolve().parents[2]
VISIBLE = [
    "113-0000000-0000206",
    "113-0000000-0000205",
    "113-0000000-0000203",
    "114-0000000-0000202",
    "113-0000000-0000201",
]


@pytest.fixture(scope="module")
def endpoint():
    with Player(load(ROOT / "scenarios" / "orders-view.json"), log_stream=io.StringIO(), time_scale=0.01) as player:
        player.play()
        with serve(HttpApiAdapter(player.stack, "OrdersViewFunction", require_auth=True)) as url:
            yield url


def run(capsys, *argv):
    code = main(["orders", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_list_json_reads_one_page_and_all_follows_the_cursors(endpoint, capsys):
    # When the merchant reads two orders
    code, out, _ = run(capsys, "list", "--endpoint", endpoint, "--limit", "2", "--json")
    page = json.loads(out)
    # Then one page comes back, with the cursor to the next
    assert code == EXIT_OK and [r["amazon_order_id"] for r in page["orders"]] == VISIBLE[:2] and page["next_cursor"]
    # And with --all every order comes back, two a page, as one list
    code, out, _ = run(capsys, "list", "--endpoint", endpoint, "--limit", "2", "--all", "--json")
    assert code == EXIT_OK and [r["amazon_order_id"] for r in json.loads(out)["orders"]] == VISIBLE


def test_list_filters_are_the_api_s(endpoint, capsys):
    code, out, _ = run(capsys, "list", "--endpoint", endpoint, "--buyer", "souza", "--min-total", "30", "--json")
    assert code == EXIT_OK and [r["amazon_order_id"] for r in json.loads(out)["orders"]] == ["113-0000000-0000201"]
    code, out, _ = run(capsys, "list", "--endpoint", endpoint, "--status", "Pending")
    assert code == EXIT_OK and "113-0000000-0000204" in out


def test_a_bad_filter_exits_2_with_the_api_s_message(endpoint, capsys):
    code, _, err = run(capsys, "list", "--endpoint", endpoint, "--status", "Lost")
    assert code == EXIT_INVALID and err.strip().startswith("amazon-channel: status: must be one of")


def test_show_prints_the_order_and_an_unknown_order_exits_2(endpoint, capsys):
    code, out, _ = run(capsys, "show", "113-0000000-0000201", "--endpoint", endpoint)
    assert code == EXIT_OK
    for section in ("Items", "Packages and tracking", "History", "1Z999AA10123456784", "Seattle"):
        assert section in out
    code, _, err = run(capsys, "show", "113-9999999-9999999", "--endpoint", endpoint)
    assert code == EXIT_INVALID and "no order 113-9999999-9999999" in err


def test_requests_to_a_deployed_api_are_signed_for_execute_api_in_its_region():
    client = EndpointClient("https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com")
    headers = client._headers("https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/orders?seller_id=A1")
    assert client.region == "eu-west-1"
    assert headers["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=")
    assert "/eu-west-1/execute-api/aws4_request" in headers["Authorization"]
