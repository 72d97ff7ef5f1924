"""The orders page on the embedded stack: sign-in as on AWS, with moto's Cognito.

- `JwtAuthorizer` checks a bearer token as API Gateway's JWT authorizer does (AWS docs, "Controlling
  access to HTTP APIs with JWT authorizers"): an RS256 signature by a key of the issuer's JWKS
  (matched by `kid`), `iss` equal to the configured issuer, `aud` (ID token) or `client_id` (access
  token) one of the audiences, and `exp`/`nbf`/`iat` against the clock. The JWKS is what moto
  serves at `<issuer>/.well-known/jwks.json`; the signature is checked with joserfc, never by hand.
  Claims reach the function as API Gateway passes them: text, a list as `[a b]`.
- `LocalHostedUi` stands in for Cognito's hosted UI (not served by moto): a sign-in form at
  `/oauth2/authorize` that calls Cognito `InitiateAuth` (USER_PASSWORD_AUTH) and returns to the
  page's callback with the ID token in the fragment, as the hosted UI's implicit grant does.
- `serve_orders_page(stack)` serves the page function's routes on 127.0.0.1, with the demo users:
  `demo-operator` (operators) and `demo-viewer` (viewers); their passwords are `DEMO_PASSWORD`.
"""

from __future__ import annotations

import contextlib
import html
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from .http_api import HttpApiAdapter, serve

PAGE_FUNCTION = "OrdersPageFunction"
DEMO_PASSWORD = "Orders-demo-2026"  # noqa: S105 - the local demo users' password, printed by `local up`
DEMO_USERS = {"demo-operator": "operators", "demo-viewer": "viewers"}
API_LOGICAL_ID = "OrdersApi"


class Unauthorized(Exception):
    pass


def moto_jwks() -> dict:
    """The key set moto's Cognito signs with and serves at every pool's `/.well-known/jwks.json`."""
    from moto.cognitoidp.responses import CognitoIdpJsonWebKeyResponse

    return json.loads(CognitoIdpJsonWebKeyResponse.json_web_key)


class JwtAuthorizer:
    def __init__(self, issuer: str, audiences: list[str], jwks: dict, clock=time.time):
        from joserfc.jwk import KeySet, KeySetSerialization

        self.issuer = issuer
        self.audiences = set(audiences)
        self.keys = KeySet.import_key_set(cast("KeySetSerialization", jwks))
        self.clock = clock

    def __call__(self, header: str) -> dict:
        from joserfc import jwt
        from joserfc.errors import JoseError

        token = header.strip()
        if token.lower().startswith("bearer "):
            token = token[7:].strip()
        if not token:
            raise Unauthorized("no token")
        try:
            claims = jwt.decode(token, self.keys, algorithms=["RS256"]).claims
        except (JoseError, ValueError) as e:
            raise Unauthorized(f"bad token: {e}") from None
        self._check(claims)
        return {k: _claim_text(v) for k, v in claims.items()}

    def _check(self, claims: dict) -> None:
        now = self.clock()
        if claims.get("iss") != self.issuer:
            raise Unauthorized("issuer")
        audience = claims.get("aud") if claims.get("token_use") != "access" else claims.get("client_id")
        audiences = set(audience) if isinstance(audience, list) else {audience}
        if not audiences & self.audiences:
            raise Unauthorized("audience")
        if not isinstance(claims.get("exp"), int | float) or claims["exp"] <= now:
            raise Unauthorized("expired")
        if isinstance(claims.get("nbf"), int | float) and claims["nbf"] > now:
            raise Unauthorized("not yet valid")
        if isinstance(claims.get("iat"), int | float) and claims["iat"] > now + 300:
            raise Unauthorized("issued in the future")


def _claim_text(value: Any) -> str:
    if isinstance(value, list):
        return "[" + " ".join(str(v) for v in value) + "]"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def _resolve(value: Any, stack: Any) -> str:
    """A template value of an authorizer (`!Ref`, `!Sub`) with the stack's physical ids."""
    if isinstance(value, dict) and "Ref" in value:
        return stack.resources[value["Ref"]]
    if isinstance(value, dict) and "Fn::Sub" in value:
        text = value["Fn::Sub"]
        names = {"AWS::Region": stack.region, "AWS::AccountId": "123456789012", "AWS::Partition": "aws"}
        for name, physical in {**stack.resources, **names}.items():
            text = text.replace("${" + name + "}", str(physical))
        return text
    return str(value)


def jwt_authorizers(stack: Any, api: str = API_LOGICAL_ID) -> dict[str, JwtAuthorizer]:
    """The HTTP API's JWT authorizers, as the template declares them, resolved on this stack."""
    from samtranslator.yaml_helper import yaml_parse

    resources = yaml_parse(Path(stack.template_path).read_text())["Resources"]
    declared = resources[api]["Properties"].get("Auth", {}).get("Authorizers", {})
    out = {}
    for name, spec in declared.items():
        config = spec.get("JwtConfiguration")
        if config:
            issuer = _resolve(config["issuer"], stack)
            out[name] = JwtAuthorizer(issuer, [_resolve(a, stack) for a in config["audience"]], moto_jwks())
    return out


def user_pool(stack: Any) -> tuple[str, str]:
    """The page's user pool and app client ids."""
    return stack.resources["PageUserPool"], stack.resources["PageUserPoolClient"]


def create_demo_users(stack: Any, password: str = DEMO_PASSWORD) -> None:
    cognito = stack.client("cognito-idp")
    pool, _client = user_pool(stack)
    for name, group in DEMO_USERS.items():
        with contextlib.suppress(cognito.exceptions.UsernameExistsException):
            cognito.admin_create_user(UserPoolId=pool, Username=name, MessageAction="SUPPRESS")
        cognito.admin_set_user_password(UserPoolId=pool, Username=name, Password=password, Permanent=True)
        cognito.admin_add_user_to_group(UserPoolId=pool, Username=name, GroupName=group)


def sign_in(stack: Any, username: str, password: str = DEMO_PASSWORD) -> str:
    """The user's ID token, from Cognito InitiateAuth."""
    _pool, client = user_pool(stack)
    answer = stack.client("cognito-idp").initiate_auth(
        ClientId=client, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={"USERNAME": username, "PASSWORD": password}
    )
    return answer["AuthenticationResult"]["IdToken"]


SIGN_IN_FORM = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Sign in (local)</title></head>
<body style="font:16px system-ui;max-width:24rem;margin:2rem auto;padding:0 1rem;color:#1a1a1a">
<main><h1>Sign in to the Amazon orders page</h1>
<p>Local stand-in for Cognito's hosted UI (demo users: demo-operator, demo-viewer).</p>
{error}<form method="post" action="/oauth2/authorize?{query}">
<p><label for="username">User name</label><br><input id="username" name="username" autocomplete="username" required></p>
<p><label for="password">Password</label><br><input id="password" name="password" type="password"
 autocomplete="current-password" required></p>
<p><button type="submit">Sign in</button></p></form></main></body></html>"""


class OrdersPageApi(HttpApiAdapter):
    """The page function's routes, with the hosted UI's sign-in stood in for at `/oauth2/authorize`."""

    def __init__(self, stack: Any):
        super().__init__(stack, PAGE_FUNCTION, jwt_authorizers=jwt_authorizers(stack))

    def request(self, method: str, target: str, headers: dict[str, str] | None = None, body: bytes | None = None):
        parts = urlsplit(target)
        if parts.path == "/oauth2/authorize":
            return self._hosted_ui(method, parts.query, body)
        return super().request(method, target, headers, body)

    def _hosted_ui(self, method: str, query: str, body: bytes | None):
        params = dict(parse_qsl(query))
        page = {"content-type": "text/html; charset=utf-8"}
        if method == "GET":
            return 200, page, SIGN_IN_FORM.format(error="", query=html.escape(query)).encode()
        form = dict(parse_qsl((body or b"").decode()))
        try:
            token = sign_in(self.stack, form.get("username", ""), form.get("password", ""))
        except Exception:  # noqa: BLE001 - Cognito's NotAuthorized / UserNotFound: the same answer to both
            error = '<p role="alert">Incorrect user name or password.</p>'
            return 400, page, SIGN_IN_FORM.format(error=error, query=html.escape(query)).encode()
        fragment = urlencode({"id_token": token, "token_type": "Bearer", "expires_in": "3600"})
        if params.get("state"):
            fragment += "&state=" + quote(params["state"], safe="")
        location = params.get("redirect_uri", "/page/callback") + "#" + fragment
        return 302, {"location": location, "content-type": "text/plain"}, b""


def use_local_sign_in(stack: Any) -> None:
    """Point the page's sign-in at the local stand-in for the hosted UI (same origin)."""
    _pool, client = user_pool(stack)
    query = urlencode({"client_id": client, "response_type": "token", "scope": "openid profile email"})
    stack.runtime.environment_overrides["SIGN_IN_URL"] = f"/oauth2/authorize?{query}&redirect_uri=/page/callback"


@contextlib.contextmanager
def serve_orders_page(stack: Any, port: int = 0) -> Iterator[str]:
    """Serve the orders page on 127.0.0.1; yields its base URL (the Orders page is `<url>/page/orders`)."""
    create_demo_users(stack)
    use_local_sign_in(stack)
    with serve(OrdersPageApi(stack), port=port) as url:
        yield url
