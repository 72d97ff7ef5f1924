"""Login with Amazon and the SP-API Notifications API, as `connect` and `doctor` need them.

Two kinds of access token (SP-API "Grantless operations"):
- a seller's: `grant_type=refresh_token` with the seller's refresh token; for `createSubscription`
  and `getSubscription`, which act for that seller;
- the application's: `grant_type=client_credentials`, `scope=sellingpartnerapi::notifications`;
  for the destination operations and `deleteSubscriptionById`, which are grantless.
Every error is an `AmazonRefused` with Amazon's code and message (never a token or a secret).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import urllib3

NOTIFICATIONS_SCOPE = "sellingpartnerapi::notifications"
NOTIFICATION_TYPE = "ORDER_CHANGE"
PAYLOAD_VERSION = "1.0"  # the ORDER_CHANGE payload the channel reads (NotificationVersion/PayloadVersion 1.0)


class AmazonRefused(Exception):
    """Amazon (LWA or SP-API) answered with an error; `status` 0 when it could not be reached."""

    def __init__(self, what: str, status: int, code: str, message: str):
        self.what, self.status, self.code, self.message = what, status, code, message
        super().__init__(f"{what}: {status or 'unreachable'} {code}" + (f": {message}" if message else ""))


@dataclass
class AmazonApi:
    sp_api_endpoint: str
    lwa_token_url: str
    client_id: str
    client_secret: str
    http: Any = None
    attempts: int = 4  # a 429 is retried after a pause (the Notifications API allows 1 call a second)
    sleep: Any = time.sleep

    def __post_init__(self) -> None:
        self.http = self.http or urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(connect=5, read=30))

    # -- Login with Amazon -------------------------------------------------------------------
    def seller_token(self, refresh_token: str) -> str:
        return self._token(
            {"grant_type": "refresh_token", "refresh_token": refresh_token}, "LWA token exchange (refresh token)"
        )

    def grantless_token(self) -> str:
        return self._token(
            {"grant_type": "client_credentials", "scope": NOTIFICATIONS_SCOPE},
            f"LWA grantless token ({NOTIFICATIONS_SCOPE})",
        )

    def _token(self, fields: dict[str, str], what: str) -> str:
        form = {**fields, "client_id": self.client_id, "client_secret": self.client_secret}
        try:
            r = self.http.request("POST", self.lwa_token_url, fields=form, encode_multipart=False)
        except urllib3.exceptions.HTTPError as e:
            raise AmazonRefused(what, 0, type(e).__name__, f"cannot reach {self.lwa_token_url}") from None
        body = _json(r.data)
        if r.status == 200 and body.get("access_token"):
            return body["access_token"]
        raise AmazonRefused(what, r.status, str(body.get("error") or "error"), str(body.get("error_description") or ""))

    # -- Notifications API -------------------------------------------------------------------
    def destinations(self, grantless: str) -> list[dict]:
        return self._call("getDestinations", "GET", "/notifications/v1/destinations", grantless).get("payload") or []

    def create_destination(self, grantless: str, name: str, queue_arn: str) -> dict:
        body = {"name": name, "resourceSpecification": {"sqs": {"arn": queue_arn}}}
        return self._call("createDestination", "POST", "/notifications/v1/destinations", grantless, body)["payload"]

    def subscription(self, seller: str) -> dict | None:
        """The seller's ORDER_CHANGE subscription (payload version 1.0), or None."""
        try:
            return self._call(
                "getSubscription",
                "GET",
                f"/notifications/v1/subscriptions/{NOTIFICATION_TYPE}",
                seller,
                query={"payloadVersion": PAYLOAD_VERSION},
            ).get("payload")
        except AmazonRefused as e:
            if e.status == 404:
                return None
            raise

    def create_subscription(self, seller: str, destination_id: str) -> dict:
        # No processingDirective: the channel reads every ORDER_CHANGE type (status changes, buyer
        # cancellation requests, delivery tips), in every marketplace of the seller.
        body = {"payloadVersion": PAYLOAD_VERSION, "destinationId": destination_id}
        return self._call(
            "createSubscription", "POST", f"/notifications/v1/subscriptions/{NOTIFICATION_TYPE}", seller, body
        )["payload"]

    def delete_subscription(self, grantless: str, subscription_id: str) -> None:
        self._call(
            "deleteSubscriptionById",
            "DELETE",
            f"/notifications/v1/subscriptions/{NOTIFICATION_TYPE}/{subscription_id}",
            grantless,
        )

    def _call(
        self, op: str, method: str, path: str, token: str, body: Any = None, *, query: dict | None = None
    ) -> dict:
        url = self.sp_api_endpoint.rstrip("/") + path
        headers = {
            "x-amz-access-token": token,
            "Accept": "application/json",
            "user-agent": "amazon-channel-connect/1.0",
        }
        data = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            data = json.dumps(body).encode()
        for attempt in range(self.attempts):
            try:
                r = self.http.request(method, url, body=data, headers=headers, fields=query if data is None else None)
            except urllib3.exceptions.HTTPError as e:
                raise AmazonRefused(op, 0, type(e).__name__, f"cannot reach {self.sp_api_endpoint}") from None
            if r.status == 429 and attempt + 1 < self.attempts:
                self.sleep(1.0 + attempt)
                continue
            payload = _json(r.data)
            if 200 <= r.status < 300:
                return payload
            first = (payload.get("errors") or [{}])[0]
            raise AmazonRefused(op, r.status, str(first.get("code") or "error"), str(first.get("message") or ""))
        raise AmazonRefused(op, 429, "QuotaExceeded", "still throttled")  # pragma: no cover


def _json(data: bytes) -> dict:
    try:
        value = json.loads(data or b"{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {"payload": value}
