"""The debugging commands' manners: --help everywhere, one-line errors, meaningful exit codes; and
the records they read being written: Commerce request ids, notifications kept as received."""

from __future__ import annotations

import json

import pytest
import urllib3
from debugging_stage import one_line
from moto.server import ThreadedMotoServer

from amazon_channel.adapters.commerce_rest import CommerceRestClient
from amazon_channel.domain.models import AmazonStatus, OrderChange
from amazon_channel.domain.notifications import MAX_KEPT_BODY_BYTES, notification_received
from amazon_channel_local.cli import main as cli
from amazon_channel_local.simulators.commerce import SimulatedCommerce

COMMANDS = ["replay", "export", "redrive", "trace"]


@pytest.fixture(autouse=True)
def _no_default_stack(monkeypatch):
    for name in ("AMAZON_CHANNEL_STACK", "AMAZON_CHANNEL_ENDPOINT", "AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize("command", [*COMMANDS, "simulate"])
def test_every_command_has_help(capsys, command):
    with pytest.raises(SystemExit) as exit_:
        cli([command, "--help"])
    out = capsys.readouterr().out
    assert exit_.value.code == 0 and out.startswith(f"usage: amazon-channel {command}")
    if command != "simulate":
        assert "exit codes: 0 done; 1 unexpected failure; 2 invalid" in out and "--endpoint URL" in out


@pytest.mark.parametrize(
    "argv",
    [["trace", "113-0000000-0000001"], ["export", "113-0000000-0000001"], ["redrive"], ["replay", "--from", "1h"]],
)
def test_without_a_stack_the_command_says_how_to_name_one_and_exits_2(capsys, argv):
    assert cli(argv) == 2
    assert one_line(capsys.readouterr().err) == (
        f"amazon-channel {argv[0]}: which stack? give --stack NAME (deployed) or --endpoint URL "
        "(amazon-channel local up), or set AMAZON_CHANNEL_STACK / AMAZON_CHANNEL_ENDPOINT"
    )


def test_an_endpoint_that_does_not_answer_is_one_line_and_exit_5(capsys):
    assert cli(["trace", "113-0000000-0000001", "--endpoint", "http://127.0.0.1:9"]) == 5
    assert one_line(capsys.readouterr().err).startswith(
        "amazon-channel trace: endpoint http://127.0.0.1:9: cannot connect"
    )


def test_an_endpoint_without_the_stack_is_one_line_and_exit_5(capsys):
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        code = cli(["redrive", "--endpoint", f"http://{host}:{port}"])
        code_named = cli(["redrive", "--endpoint", f"http://{host}:{port}", "--stack", "prod-channel"])
    finally:
        server.stop()
    err = capsys.readouterr().err.splitlines()
    assert (code, code_named) == (5, 5)
    assert (
        err[0] == f"amazon-channel redrive: endpoint http://{host}:{port} has no stack: "
        "is `amazon-channel local up` running there?"
    )
    assert err[1] == f"amazon-channel redrive: stack prod-channel at http://{host}:{port}: no such stack"


def test_a_deployed_stack_that_cannot_be_reached_is_one_line_and_exit_5(capsys, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # keep the test off the network
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    assert cli(["trace", "113-0000000-0000001", "--stack", "prod-channel", "--region", "eu-west-1"]) == 5
    assert one_line(capsys.readouterr().err).startswith(
        "amazon-channel trace: stack prod-channel (eu-west-1): cannot connect"
    )


def test_debug_shows_the_traceback_instead(capsys):
    with pytest.raises(Exception, match="which stack"):
        cli(["--debug", "trace", "113-0000000-0000001"])
    with pytest.raises(Exception, match="which stack"):
        cli(["trace", "113-0000000-0000001", "--debug"])


@pytest.mark.parametrize(
    "argv, message",
    [
        (["simulate"], "simulate needs a scenario file, or --replay ORDER.jsonl"),
        (["simulate", "s.json", "--replay", "o.jsonl"], "give a scenario file or --replay ORDER.jsonl, not both"),
        (["simulate", "--replay", "/nonexistent/order.jsonl"], "/nonexistent/order.jsonl: no such file"),
    ],
)
def test_simulate_replay_argument_errors_are_one_line_and_exit_2(capsys, argv, message):
    assert cli(argv) == 2
    assert one_line(capsys.readouterr().err) == f"amazon-channel simulate: {message}"


# -- what the commands read is written -------------------------------------------------------------
class _Recording(urllib3.PoolManager):
    def __init__(self):
        super().__init__(retries=False)
        self.request_ids: list[str] = []

    def request(self, method, url, *args, headers=None, **kwargs):
        self.request_ids.append((headers or {}).get("X-Request-Id"))
        return super().request(method, url, *args, headers=headers, **kwargs)


def test_commerce_calls_carry_a_request_id_that_the_answers_name():
    with SimulatedCommerce() as commerce:
        commerce.set_product("MUG-01", price="12.00", qty=5)
        http = _Recording()
        client = CommerceRestClient(commerce.base_url, credentials=lambda: commerce.credentials, http=http)
        # When the channel reads Commerce
        missing = client.find_order_by_amazon_id("113-0000000-0000001")
        customer = client.find_customer("nobody@example.com", 1)
    # Then every call sent an X-Request-Id, and the client knows the last one (for the history)
    assert missing is None and customer is None
    assert len(http.request_ids) == 2 and all(http.request_ids) and len(set(http.request_ids)) == 2
    assert client.last_request_id == http.request_ids[-1]


def _change() -> OrderChange:
    return OrderChange(
        amazon_order_id="113-0000000-0000001",
        seller_id="S",
        marketplace_id="M",
        status=AmazonStatus.UNSHIPPED,
        fulfillment="MFN",
        changed_at="2026-11-26T10:00:00.000000Z",
        notification_id="n-1",
    )


def test_a_notification_is_kept_as_received_unless_it_is_too_large_to_keep():
    body = json.dumps({"NotificationType": "ORDER_CHANGE", "Payload": {"x": 1}})
    kept = notification_received(_change(), body, "2026-11-26T10:00:01.000000Z")
    assert (kept.source, kept.type, kept.id, kept.summary, kept.body) == (
        "amazon",
        "ORDER_CHANGE",
        "n-1",
        "Unshipped",
        json.loads(body),
    )
    huge = json.dumps({"pad": "x" * MAX_KEPT_BODY_BYTES})
    too_large = notification_received(_change(), huge, "2026-11-26T10:00:01.000000Z")
    assert too_large.body is None and too_large.body_omitted_bytes == len(huge.encode())
