"""API Gateway HTTP API (payload format 2.0) in front of a function of a LocalStack, for local use.

moto cannot create `AWS::ApiGatewayV2::Api`, so locally the template's HttpApi routes are read
from the template (the function's `HttpApi` events) and served here:

- `HttpApiAdapter(stack, "OrdersViewFunction")` turns a request (method, path, query) into the
  event API Gateway would send (`apigw_v2_event`), runs the real handler with `stack.invoke`, and
  turns the handler's answer back into status, headers and body. A path no route matches gets
  API Gateway's own `404 {"message":"Not Found"}`; a handler that fails gets its `500`.
- `serve(adapter)` listens on 127.0.0.1 (a free port unless one is given) in a daemon thread,
  for HTTP clients such as schemathesis or `amazon-channel orders --endpoint`.

IAM auth is emulated, not verified: with `require_auth` a request without an `Authorization`
header gets API Gateway's `403 {"message":"Forbidden"}`; any signature is taken as valid, and the
event carries the `requestContext.authorizer.iam` block API Gateway adds (a local caller).

A route whose event names `Auth: {Authorizer: NONE}` is public. A route naming a JWT authorizer
is served only with a token that authorizer accepts (`jwt_authorizers`: name -> a verifier, see
`jwt_authorizer.JwtAuthorizer`, which checks what API Gateway checks); otherwise API Gateway's
`401 {"message":"Unauthorized"}`. The event then carries `requestContext.authorizer.jwt`.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

LOCAL_ACCOUNT = "123456789012"
UNAUTHORIZED = b'{"message":"Unauthorized"}'
LOCAL_CALLER_ARN = f"arn:aws:iam::{LOCAL_ACCOUNT}:user/local-merchant"
_PARAM = re.compile(r"\{([^}/]+)\}")


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # API Gateway syntax: /orders/{amazonOrderId}
    authorizer: str | None = None  # None: the API's default; "NONE": public; else a named authorizer

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"

    def match(self, method: str, path: str) -> dict[str, str] | None:
        """Path parameters (decoded) when the request takes this route, else None."""
        if method.upper() != self.method and self.method != "ANY":
            return None
        pieces, pos, names = [], 0, []
        for m in _PARAM.finditer(self.path):
            name = m.group(1)
            greedy = name.endswith("+")  # {proxy+} takes the rest of the path
            names.append(name)
            pieces += [re.escape(self.path[pos : m.start()]), "(.+)" if greedy else "([^/]+)"]
            pos = m.end()
        pieces.append(re.escape(self.path[pos:]))
        m = re.fullmatch("".join(pieces), path)
        return None if m is None else {n: unquote(v) for n, v in zip(names, m.groups(), strict=True)}


def http_api_routes(template_path: Path, function_logical_id: str) -> list[Route]:
    """The function's routes, as its `HttpApi` events in the SAM template declare them."""
    from samtranslator.yaml_helper import yaml_parse

    resources = yaml_parse(Path(template_path).read_text())["Resources"]
    events = resources[function_logical_id]["Properties"].get("Events") or {}
    return [
        Route(
            str(e["Properties"].get("Method", "ANY")).upper(),
            e["Properties"].get("Path", "/"),
            (e["Properties"].get("Auth") or {}).get("Authorizer"),
        )
        for e in events.values()
        if e.get("Type") == "HttpApi"
    ]


def apigw_v2_event(
    method: str,
    raw_path: str,
    raw_query: str = "",
    *,
    headers: dict[str, str] | None = None,
    route: Route | None = None,
    path_parameters: dict[str, str] | None = None,
    body: bytes | None = None,
    api_id: str = "local",
    authorizer: dict | None = None,
) -> dict:
    """The event API Gateway HTTP API (payload 2.0) sends a function for this request."""
    headers = {k.lower(): v for k, v in (headers or {}).items()}
    query: dict[str, list[str]] = {}
    for k, v in parse_qsl(raw_query, keep_blank_values=True):
        query.setdefault(k, []).append(v)
    now = time.time()
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route.key if route else "$default",
        "rawPath": raw_path,
        "rawQueryString": raw_query,
        "headers": headers,
        "requestContext": {
            "accountId": LOCAL_ACCOUNT,
            "apiId": api_id,
            "authorizer": {
                "iam": {
                    "accessKey": "ASIALOCALACCESSKEY00",
                    "accountId": LOCAL_ACCOUNT,
                    "callerId": "AIDALOCALMERCHANT0001",
                    "cognitoIdentity": None,
                    "principalOrgId": None,
                    "userArn": LOCAL_CALLER_ARN,
                    "userId": "AIDALOCALMERCHANT0001",
                }
            },
            "domainName": headers.get("host", f"{api_id}.execute-api.localhost"),
            "domainPrefix": api_id,
            "http": {
                "method": method.upper(),
                "path": raw_path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": uuid.uuid4().hex[:16] + "=",
            "routeKey": route.key if route else "$default",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": False,
    }
    if authorizer is not None:
        event["requestContext"]["authorizer"] = authorizer
    if query:
        # API Gateway joins a repeated parameter's values with commas
        event["queryStringParameters"] = {k: ",".join(v) for k, v in query.items()}
    if path_parameters:
        event["pathParameters"] = path_parameters
    if "cookie" in headers:
        event["cookies"] = [c.strip() for c in headers["cookie"].split(";")]
    if body:
        event["body"] = base64.b64encode(body).decode()
        event["isBase64Encoded"] = True
    return event


def _response(result: Any) -> tuple[int, dict[str, str], bytes]:
    """API Gateway's reading of a payload 2.0 answer (a bare JSON value means 200 with that body)."""
    if isinstance(result, dict) and "statusCode" in result:
        body = result.get("body") or ""
        data = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode()
        headers = {k.lower(): str(v) for k, v in (result.get("headers") or {}).items()}
        for k, values in (result.get("multiValueHeaders") or {}).items():
            headers[k.lower()] = ",".join(str(v) for v in values)
        return int(result["statusCode"]), headers, data
    return 200, {"content-type": "application/json"}, json.dumps(result).encode()


class HttpApiAdapter:
    """Requests in, the function's real handler on the local stack, API Gateway's answers out."""

    def __init__(
        self,
        stack: Any,
        function_logical_id: str,
        routes: list[Route] | None = None,
        require_auth: bool = False,
        jwt_authorizers: Mapping[str, Callable[[str], dict]] | None = None,
    ):
        self.stack = stack
        self.function = function_logical_id
        self.require_auth = require_auth  # refuse requests without an Authorization header, as IAM auth does
        self.routes = routes if routes is not None else http_api_routes(stack.template_path, function_logical_id)
        self.jwt_authorizers = jwt_authorizers or {}

    def request(
        self, method: str, target: str, headers: dict[str, str] | None = None, body: bytes | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        """`target` is the path with its query string, as on the request line."""
        parts = urlsplit(target)
        path = parts.path or "/"
        given = {k.lower(): v for k, v in (headers or {}).items()}
        route, params = self._route(method, path)
        default_auth = route is None or route.authorizer is None
        if default_auth and self.require_auth and not given.get("authorization", "").strip():
            return 403, {"content-type": "application/json"}, b'{"message":"Forbidden"}'
        if route is None or params is None:
            return 404, {"content-type": "application/json"}, b'{"message":"Not Found"}'
        authorizer = None
        if route.authorizer not in (None, "NONE"):
            try:
                claims = self.jwt_authorizers[route.authorizer](given.get("authorization", ""))
            except Exception:  # noqa: BLE001 - any token the authorizer refuses is API Gateway's 401
                return 401, {"content-type": "application/json", "www-authenticate": "Bearer"}, UNAUTHORIZED
            authorizer = {"jwt": {"claims": claims, "scopes": None}}
        event = apigw_v2_event(
            method,
            path,
            parts.query,
            headers=headers,
            route=route,
            path_parameters=params,
            body=body,
            authorizer=authorizer,
        )
        return self._invoke(event)

    def _route(self, method: str, path: str) -> tuple[Route | None, dict[str, str] | None]:
        for route in self.routes:
            params = route.match(method, path)
            if params is not None:
                return route, params
        return None, None

    def _invoke(self, event: dict) -> tuple[int, dict[str, str], bytes]:
        from .lambda_runtime import HandlerError

        try:
            result = self.stack.invoke(self.function, event, source="http-api")
        except HandlerError:
            return 500, {"content-type": "application/json"}, b'{"message":"Internal Server Error"}'
        except Exception:  # noqa: BLE001 - a failing handler is a 500, as API Gateway answers
            return 500, {"content-type": "application/json"}, b'{"message":"Internal Server Error"}'
        return _response(result)

    def get_json(self, path: str, params: dict[str, str] | None = None) -> tuple[int, Any]:
        from urllib.parse import urlencode

        status, _headers, body = self.request("GET", path + ("?" + urlencode(params) if params else ""))
        return status, json.loads(body) if body else None


class _Handler(BaseHTTPRequestHandler):
    adapter: HttpApiAdapter
    protocol_version = "HTTP/1.1"

    def _serve(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else None
        status, headers, data = self.adapter.request(self.command, self.path, dict(self.headers.items()), body)
        self.send_response(status)
        for k, v in headers.items():
            if k not in ("content-length", "connection"):
                self.send_header(k, v)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("do_"):  # any method (TRACE too): API Gateway routes or answers 404 itself
            return self._serve
        raise AttributeError(name)

    def log_message(self, format: str, *args: Any) -> None:
        return


@contextlib.contextmanager
def serve(adapter: HttpApiAdapter, port: int = 0) -> Iterator[str]:
    """Serve `adapter` on 127.0.0.1 while the block runs; yields the base URL."""
    handler = type("Handler", (_Handler,), {"adapter": adapter})
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="http-api", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
