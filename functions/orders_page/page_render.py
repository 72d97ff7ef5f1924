"""HTML of the orders page: Jinja2 templates (autoescaped), static files, and the headers every
answer carries (a strict Content-Security-Policy: scripts and styles from the page only)."""

from __future__ import annotations

import os
import uuid
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

from aws_lambda_powertools.event_handler import Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from amazon_channel import runtime

HERE = Path(__file__).resolve().parent
STATIC_TYPES = {
    "htmx.min.js": "text/javascript; charset=utf-8",
    "page.js": "text/javascript; charset=utf-8",
    "page.css": "text/css; charset=utf-8",
    "htmx-LICENSE.txt": "text/plain; charset=utf-8",
}
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


@cache
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = lambda v: (v or "")[:19].replace("T", " ") if v else "—"
    env.filters["urlpart"] = lambda v: quote(str(v), safe="")
    # one id per action form: a second submit of the same form (a double-click) is the same action
    env.globals["action_id"] = lambda: uuid.uuid4().hex
    return env


def render(name: str, **context: Any) -> str:
    return environment().get_template(name).render(**context)


def html(body: str, status: int = 200, push_url: str | None = None) -> Response[str]:
    headers = {**SECURITY_HEADERS, "Cache-Control": "no-store"}
    if push_url:
        headers["HX-Push-Url"] = push_url
    return Response(status_code=status, content_type="text/html; charset=utf-8", body=body, headers=headers)


def problem(status: int, title: str, message: str) -> Response[str]:
    return html(render("problem.html", title=title, message=message, status=status), status=status)


def static(name: str) -> Response[str]:
    if name not in STATIC_TYPES:
        return problem(404, "Not found", "There is no such file.")
    body = (HERE / "static" / name).read_text(encoding="utf-8")
    headers = {**SECURITY_HEADERS, "Cache-Control": "public, max-age=300"}
    return Response(status_code=200, content_type=STATIC_TYPES[name], body=body, headers=headers)


def redirect(location: str) -> Response[str]:
    return Response(status_code=302, content_type="text/plain", body="", headers={"Location": location})


def sign_in_url(params: dict[str, str]) -> str:
    """The hosted UI's authorize URL (implicit grant: the ID token comes back in the fragment)."""
    after = params.get("next", "/page/orders")
    if not after.startswith("/page/") or "//" in after:
        after = "/page/orders"
    return runtime.setting("SIGN_IN_URL") + "&state=" + quote(after, safe="")


def commerce_admin_url() -> str:
    return os.environ.get("COMMERCE_ADMIN_URL", "").rstrip("/")
