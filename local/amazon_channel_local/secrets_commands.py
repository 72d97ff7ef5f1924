"""`amazon-channel rotate-lwa-secret`: put a new LWA client secret in the stack, once LWA accepts it.

Amazon expires an SP-API application's LWA client secret 180 days after it was generated
("Rotate your Application's LWA Credentials", SP-API docs); the new one is generated in Solution
Provider Portal (or with the Application Management API's rotateApplicationClientSecret). This
command:
1. reads the stack's SP-API secret (client id, client secret, refresh tokens by SellerId);
2. checks the new client secret with a token exchange at LWA (grant_type=refresh_token, with a
   connected seller's refresh token): if LWA refuses it, nothing is changed;
3. puts a new version of the secret with the new client secret (everything else kept);
4. records the rotation date as the secret's tag `LwaClientSecretRotatedAt`, which the daily
   maintenance turns into the metric `LwaClientSecretDaysLeft` (alarm below 14 days).
Running functions pick the new version up within five minutes (their secret cache).
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from .debugging.errors import EXIT_OK, CommandError, InvalidInput, explain_aws_error
from .debugging.handle import StackHandle, from_arguments

COMMAND = "rotate-lwa-secret"
LWA_TOKEN_URL = "https://api.amazon.com/auth/o2/token"  # noqa: S105 - a URL; one LWA endpoint for every SP-API region


def register(sub: Any) -> None:
    p = sub.add_parser(
        COMMAND,
        help="put a new LWA client secret in the stack, checked with LWA first",
        description=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="exit codes: 0 rotated; 1 unexpected failure; 2 LWA refused the secret, or the stack "
        "has no credentials or seller to check it with (nothing changed); 5 stack unreachable",
    )
    p.add_argument(
        "--client-secret-file",
        required=True,
        metavar="FILE",
        help="a file holding the new client secret (amzn1.oa2-cs.v1...); - reads standard input",
    )
    p.add_argument("--client-id", help="the LWA client id, if it changed too (default: the one in the secret)")
    p.add_argument("--lwa-token-url", default=LWA_TOKEN_URL, help=f"LWA token endpoint (default: {LWA_TOKEN_URL})")
    g = p.add_argument_group("stack")
    g.add_argument("--stack", metavar="NAME", help="deployed stack name")
    g.add_argument("--endpoint", metavar="URL", help="local stack endpoint (amazon-channel local up)")
    g.add_argument("--region", help="AWS region")
    g.add_argument("--profile", help="AWS profile for --stack")


def run(args: argparse.Namespace, handle: StackHandle | None = None) -> int:
    try:
        if handle is None:
            handle = from_arguments(args.stack, args.endpoint, args.region, args.profile)
        secret = _read_file(args.client_secret_file)
        result = rotate_lwa_secret(handle, secret, client_id=args.client_id, lwa_token_url=args.lwa_token_url)
    except Exception as e:
        if getattr(args, "debug", False):
            raise
        error = e if isinstance(e, CommandError) else explain_aws_error(e, "rotate-lwa-secret")
        print(f"amazon-channel {COMMAND}: {error or f'{type(e).__name__}: {e}'}", file=sys.stderr)
        return getattr(error, "exit_code", 1)
    print(
        f"LWA client secret rotated in {handle.label}: accepted by LWA (seller {result['checked_with_seller']}), "
        f"secret version {result['version_id']}, rotated {result['rotated_at']}; "
        f"Amazon expires it about {result['expires_about']}"
    )
    return EXIT_OK


def rotate_lwa_secret(
    handle: StackHandle,
    client_secret: str,
    *,
    client_id: str | None = None,
    lwa_token_url: str = LWA_TOKEN_URL,
    now: datetime | None = None,
) -> dict:
    from amazon_channel.domain.lwa_secret import LIFETIME_DAYS

    sm, secret_id = handle.client("secretsmanager"), handle.need("SpApiCredentialsSecret")
    try:
        current = json.loads(sm.get_secret_value(SecretId=secret_id)["SecretString"])
    except sm.exceptions.ResourceNotFoundException:
        raise InvalidInput("the SP-API secret holds no credentials yet: run amazon-channel connect first") from None
    client_id = client_id or current.get("client_id")
    if not client_id:
        raise InvalidInput("the SP-API secret has no client_id: give --client-id")
    tokens = current.get("refresh_tokens") or {}
    if not tokens:
        raise InvalidInput(
            "no seller is connected, so LWA cannot check the new secret: run amazon-channel connect first"
        )
    seller = sorted(tokens)[0]
    _check_with_lwa(lwa_token_url, client_id, client_secret, tokens[seller])
    put = sm.put_secret_value(
        SecretId=secret_id, SecretString=json.dumps({**current, "client_id": client_id, "client_secret": client_secret})
    )
    rotated_at = record_rotation(handle, now)
    expires = datetime.fromisoformat(rotated_at.replace("Z", "+00:00")) + timedelta(days=LIFETIME_DAYS)
    return {
        "checked_with_seller": seller,
        "version_id": put.get("VersionId"),
        "rotated_at": rotated_at,
        "expires_about": expires.date().isoformat(),
    }


def record_rotation(handle: StackHandle, now: datetime | None = None) -> str:
    """Record on the SP-API secret that its LWA client secret was generated `now` (`connect` may call it)."""
    from amazon_channel.domain.lwa_secret import ROTATED_AT_TAG

    at = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    handle.client("secretsmanager").tag_resource(
        SecretId=handle.need("SpApiCredentialsSecret"), Tags=[{"Key": ROTATED_AT_TAG, "Value": at}]
    )
    return at


def _check_with_lwa(url: str, client_id: str, client_secret: str, refresh_token: str) -> None:
    import urllib3

    form = urlencode(
        {
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": client_id,
            "client_secret": client_secret,
        }
    )
    try:
        r = urllib3.PoolManager().request(
            "POST",
            url,
            body=form.encode(),
            timeout=30,
            retries=False,
            headers={"content-type": "application/x-www-form-urlencoded;charset=UTF-8"},
        )
    except urllib3.exceptions.HTTPError as e:
        raise CommandError(f"LWA at {url} could not be reached ({type(e).__name__}); nothing was changed") from None
    if r.status != 200:
        try:
            err = json.loads(r.data)
        except ValueError:
            err = {}
        raise InvalidInput(
            f"LWA refused the new client secret ({r.status} {err.get('error', 'error')}: "
            f"{err.get('error_description', '')}); nothing was changed"
        )


def _read_file(path: str) -> str:
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise InvalidInput(f"cannot read {path}: {e.strerror}") from None
    secret = text.strip()
    if not secret or len(secret.split()) != 1:
        raise InvalidInput(f"{path} must hold the client secret alone, on one line")
    return secret
