"""Rotating the LWA client secret on the embedded stack: `amazon-channel rotate-lwa-secret` puts the
new secret only once LWA accepts it, records the date, and the daily maintenance reports the days
left (`LwaClientSecretDaysLeft`, alarmed below 14).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
from datetime import timedelta

import pytest

from amazon_channel.domain import clock
from amazon_channel_local import secrets_commands
from amazon_channel_local.debugging.handle import from_local_stack
from amazon_channel_local.player import Player
from amazon_channel_local.scenario import parse


@pytest.fixture(scope="module")
def player():
    with Player(
        parse({"name": "LWA secret rotation", "steps": []}, "test_lwa_secret_rotation.py"),
        log_stream=io.StringIO(),
        time_scale=0.01,
    ) as p:
        yield p


def rotate(player: Player, tmp_path, client_secret: str) -> tuple[int, str]:
    """The merchant runs `amazon-channel rotate-lwa-secret --client-secret-file F` against the stack."""
    secret_file = tmp_path / "lwa-client-secret.txt"
    secret_file.write_text(client_secret + "\n")
    parser = argparse.ArgumentParser()
    secrets_commands.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(
        [
            secrets_commands.COMMAND,
            "--client-secret-file",
            str(secret_file),
            "--lwa-token-url",
            player.amazon.lwa_token_url,
        ]
    )
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = secrets_commands.run(args, handle=from_local_stack(player.stack))
    return code, out.getvalue()


def stored(player: Player) -> dict:
    sm = player.stack.client("secretsmanager")
    return json.loads(sm.get_secret_value(SecretId=player.stack.resources["SpApiCredentialsSecret"])["SecretString"])


def days_left(player: Player, monkeypatch, days_later: int = 0) -> int:
    then = clock.now() + timedelta(days=days_later)
    with player.stack.runtime.container("DailyMaintenanceFunction"):  # the function's own clock module
        from amazon_channel.domain import clock as its_clock
    monkeypatch.setattr(its_clock, "now", lambda: then)
    return player.stack.invoke("DailyMaintenanceFunction", {"trigger": "schedule"})["lwa_client_secret_days_left"]


def test_a_secret_never_rotated_through_the_channel_raises_the_alarm(player, monkeypatch):
    # Given a stack whose secret was stored without a rotation date
    # When the daily maintenance runs, Then it reports no days left, which the alarm (below 14) calls out
    assert days_left(player, monkeypatch) == 0


def test_a_refused_secret_changes_nothing(player, tmp_path):
    before = stored(player)
    # Given Amazon generated a new client secret, When the merchant gives a mistyped one
    player.amazon.client_secret = "amzn1.oa2-cs.v1." + "b" * 64
    code, out = rotate(player, tmp_path, "amzn1.oa2-cs.v1." + "c" * 64)
    # Then LWA's refusal is reported in one line and the stored credentials are the same
    assert code == 2 and "LWA refused the new client secret" in out and "nothing was changed" in out
    assert stored(player) == before


def test_the_merchant_rotates_the_secret_and_the_channel_keeps_working(player, tmp_path, monkeypatch):
    before = stored(player)
    # Given Amazon generated a new client secret (the old one stops working)
    new = "amzn1.oa2-cs.v1." + "d" * 64
    player.amazon.client_secret = new
    # When the merchant runs rotate-lwa-secret with it
    code, out = rotate(player, tmp_path, new)
    # Then the stack's secret holds it, with the client id and every seller's refresh token kept
    assert code == 0, out
    assert "accepted by LWA" in out
    assert stored(player) == {**before, "client_secret": new}
    # And the daily maintenance counts 180 days from today, and 10 (alarm) 170 days later
    assert days_left(player, monkeypatch) == 180
    assert days_left(player, monkeypatch, days_later=170) == 10
    # And the functions, once their five-minute secret cache renews, call Amazon with the new secret
    from amazon_channel import runtime  # imported late: the handlers' logger binds the stack's log stream
    from amazon_channel.adapters import sp_api

    runtime._secret.cache_clear()
    sp_api.clear_token_cache()
    [store] = player.poll()["stores"]
    assert store["result"] == "complete", store
