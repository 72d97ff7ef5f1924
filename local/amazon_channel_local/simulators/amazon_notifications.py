"""The simulated Amazon's Notifications API (v1) and the grantless token that part of it needs.

Operations (official model `notifications.json`, every body and answer validated against it):
createDestination, getDestinations, getDestination, deleteDestination, createSubscription,
getSubscription, getSubscriptionById, deleteSubscriptionById. `getSubscriptions` and
`sendTestNotification` are not simulated (no route: 404).

Who may call what, as the model's descriptions say:
- the destination operations, `getSubscriptionById` and `deleteSubscriptionById` are grantless:
  they take an access token from Login with Amazon's `client_credentials` grant with the scope
  `sellingpartnerapi::notifications` (the application's, no seller); a seller's token is refused;
- `createSubscription` and `getSubscription` act for one seller: they take that seller's token
  (refresh-token grant); a grantless token is refused.
Refusals answer 403 `Unauthorized`, as for any SP-API call with the wrong token.

Where the model is silent, the stricter behaviour is chosen and said here:
- a second destination for a queue that already has one is a conflict (409; the model declares
  409 "conflicts with the current state"), and so is a second subscription of one seller to one
  notification type and payload version;
- a destination holds exactly one resource ("Applications should use one resource type (sqs or
  eventBridge) per destination"); only SQS destinations are simulated (an EventBridge one is 400);
- only `ORDER_CHANGE`, payload version `1.0` (the one notification this simulator sends, and the
  version of its schema), can be subscribed to; any other type is 400;
- a subscription names a destination that exists (otherwise 400).
Usage plans come from the model (1 request per second, burst 5), per seller or per application.
Notifications are still delivered by the stack's harness whether or not a subscription exists
(every scenario relies on it); `NotificationMetadata.SubscriptionId` is the seller's ORDER_CHANGE
subscription when there is one.
"""

from __future__ import annotations

import json
import secrets
import time
import uuid
from typing import TYPE_CHECKING, Any

from amazon_channel_local.sp_api_models import SchemaValidationError, rate_plan, validate_query

if TYPE_CHECKING:
    from .amazon import Response, SimulatedAmazon

NOTIFICATION_OPERATIONS = (
    "createDestination",
    "getDestinations",
    "getDestination",
    "deleteDestination",
    "createSubscription",
    "getSubscription",
    "getSubscriptionById",
    "deleteSubscriptionById",
)
GRANTLESS_OPERATIONS = frozenset(
    {
        "createDestination",
        "getDestinations",
        "getDestination",
        "deleteDestination",
        "getSubscriptionById",
        "deleteSubscriptionById",
    }
)
NOTIFICATIONS_SCOPE = "sellingpartnerapi::notifications"
# Login with Amazon's grantless scopes (SP-API "Grantless operations"): notifications and the
# application's client secret rotation.
GRANTLESS_SCOPES = frozenset({NOTIFICATIONS_SCOPE, "sellingpartnerapi::client_credential:rotation"})
SUBSCRIBABLE = {"ORDER_CHANGE": ("1.0",)}
PREFIX = "/notifications/v1/"


class SimulatedNotifications:
    """Destinations (the application's) and subscriptions (each seller's), for one SimulatedAmazon."""

    def __init__(self, amazon: SimulatedAmazon):
        self.amazon = amazon
        self._destinations: dict[str, dict] = {}
        self._subscriptions: dict[str, dict] = {}  # id -> {"seller", "type", "subscription": {...}}
        self._grantless: dict[str, tuple[str, float]] = {}  # token -> (scope, expires monotonic)

    # ------------------------------------------------------------------ Login with Amazon
    def grantless_token(self, form: dict[str, str]) -> Response:
        """`grant_type=client_credentials`: an access token for the application, for one scope."""
        from .amazon import TOKEN_LIFETIME, Response

        if form.get("client_id") != self.amazon.client_id or form.get("client_secret") != self.amazon.client_secret:
            return Response(401, {"error": "invalid_client", "error_description": "Client authentication failed"})
        scope = form.get("scope", "")
        if scope not in GRANTLESS_SCOPES:
            return Response(
                400, {"error": "invalid_scope", "error_description": "The request has an invalid parameter : scope"}
            )
        token = "Atc|" + secrets.token_urlsafe(48)
        with self.amazon._lock:
            self._grantless[token] = (scope, time.monotonic() + TOKEN_LIFETIME)
        return Response(
            200, {"access_token": token, "scope": scope, "token_type": "bearer", "expires_in": TOKEN_LIFETIME}
        )

    # ------------------------------------------------------------------ inspection (tests)
    def destinations(self) -> list[dict]:
        with self.amazon._lock:
            return json.loads(json.dumps(list(self._destinations.values())))

    def subscriptions(self, seller_id: str | None = None) -> list[dict]:
        with self.amazon._lock:
            return [
                {"seller_id": s["seller"], "notification_type": s["type"], **s["subscription"]}
                for s in self._subscriptions.values()
                if seller_id in (None, s["seller"])
            ]

    def subscription_id(self, seller_id: str, notification_type: str = "ORDER_CHANGE") -> str | None:
        with self.amazon._lock:
            return next(
                (
                    s["subscription"]["subscriptionId"]
                    for s in self._subscriptions.values()
                    if s["seller"] == seller_id and s["type"] == notification_type
                ),
                None,
            )

    # ------------------------------------------------------------------ HTTP
    @staticmethod
    def route(method: str, path: str) -> tuple[str, dict[str, str]] | None:
        seg = path[len(PREFIX) :].strip("/").split("/") if path.startswith(PREFIX) else []
        match method, seg:
            case "POST", ["destinations"]:
                return "createDestination", {}
            case "GET", ["destinations"]:
                return "getDestinations", {}
            case "GET", ["destinations", d]:
                return "getDestination", {"destinationId": d}
            case "DELETE", ["destinations", d]:
                return "deleteDestination", {"destinationId": d}
            case "POST", ["subscriptions", t] if t != "testNotification":
                return "createSubscription", {"notificationType": t}
            case "GET", ["subscriptions", t]:
                return "getSubscription", {"notificationType": t}
            case "GET", ["subscriptions", t, s]:
                return "getSubscriptionById", {"notificationType": t, "subscriptionId": s}
            case "DELETE", ["subscriptions", t, s]:
                return "deleteSubscriptionById", {"notificationType": t, "subscriptionId": s}
        return None

    def authorize(self, op: str, token: str | None) -> tuple[str | None, str | None]:
        """(who, refusal): the seller or `app:` for the application, or the reason for a 403."""
        now = time.monotonic()
        with self.amazon._lock:
            if op in GRANTLESS_OPERATIONS:
                grant = self._grantless.get(token or "")
                if grant is None or grant[0] != NOTIFICATIONS_SCOPE:
                    return None, "Access to requested resource is denied."
                if grant[1] < now:
                    return None, "The access token you provided has expired."
                return "app:", None
            seller_grant = self.amazon._access_tokens.get(token or "")
            if seller_grant is None:
                return None, "Access to requested resource is denied."
            if seller_grant[1] < now:
                return None, "The access token you provided has expired."
            return seller_grant[0], None

    def call(self, op: str, params: dict[str, str], query: dict, raw: bytes, who: str) -> Response:
        from .amazon import ApiError, Response

        payload = self._body(op, raw)
        try:
            parsed = validate_query(op, query) if query or op == "getSubscription" else {}
        except SchemaValidationError as e:
            raise ApiError(400, f"Invalid {e.field}: {e.detail}") from None
        with self.amazon._lock:
            if op == "createDestination":
                spec = payload["resourceSpecification"]
                if len([k for k in ("sqs", "eventBridge") if k in spec]) != 1:
                    raise ApiError(400, "resourceSpecification must hold exactly one of sqs and eventBridge.")
                if "sqs" not in spec:
                    raise ApiError(400, "Only SQS destinations are simulated.")
                arn = spec["sqs"]["arn"]
                if any(d["resource"].get("sqs", {}).get("arn") == arn for d in self._destinations.values()):
                    raise ApiError(409, f"A destination for {arn} already exists.", "Conflict")
                dest = {"destinationId": str(uuid.uuid4()), "name": payload["name"], "resource": {"sqs": {"arn": arn}}}
                self._destinations[dest["destinationId"]] = dest
                return Response(200, {"payload": dest})
            if op == "getDestinations":
                return Response(200, {"payload": list(self._destinations.values())})
            if op in ("getDestination", "deleteDestination"):
                dest = self._destinations.get(params["destinationId"])
                if dest is None:
                    raise ApiError(404, f"Destination {params['destinationId']} not found.")
                if op == "getDestination":
                    return Response(200, {"payload": dest})
                del self._destinations[params["destinationId"]]
                return Response(200, {})
            kind = params["notificationType"]
            if op == "createSubscription":
                versions = SUBSCRIBABLE.get(kind)
                if versions is None:
                    raise ApiError(400, f"Notification type {kind} is not simulated (only ORDER_CHANGE).")
                if payload["payloadVersion"] not in versions:
                    raise ApiError(400, f"Invalid payloadVersion {payload['payloadVersion']} for {kind}.")
                if payload["destinationId"] not in self._destinations:
                    raise ApiError(400, f"Invalid destinationId {payload['destinationId']}.")
                for s in self._subscriptions.values():
                    if (s["seller"], s["type"], s["subscription"]["payloadVersion"]) == (
                        who,
                        kind,
                        payload["payloadVersion"],
                    ):
                        raise ApiError(
                            409,
                            f"A subscription to {kind} (payload version {payload['payloadVersion']}) already exists.",
                            "Conflict",
                        )
                sub = {
                    "subscriptionId": str(uuid.uuid4()),
                    "payloadVersion": payload["payloadVersion"],
                    "destinationId": payload["destinationId"],
                }
                if payload.get("processingDirective"):
                    sub["processingDirective"] = payload["processingDirective"]
                self._subscriptions[sub["subscriptionId"]] = {"seller": who, "type": kind, "subscription": sub}
                return Response(200, {"payload": sub})
            if op == "getSubscription":
                wanted = parsed.get("payloadVersion")
                mine = [
                    s["subscription"]
                    for s in self._subscriptions.values()
                    if s["seller"] == who
                    and s["type"] == kind
                    and wanted in (None, s["subscription"]["payloadVersion"])
                ]
                if not mine:
                    raise ApiError(404, f"No subscription to {kind} found.")
                return Response(200, {"payload": max(mine, key=lambda s: s["payloadVersion"])})
            found = self._subscriptions.get(params["subscriptionId"])
            if found is None or found["type"] != kind:
                raise ApiError(404, f"Subscription {params['subscriptionId']} not found.")
            if op == "getSubscriptionById":
                return Response(200, {"payload": found["subscription"]})
            del self._subscriptions[params["subscriptionId"]]
            return Response(200, {})

    @staticmethod
    def _body(op: str, raw: bytes) -> Any:
        from .amazon import model_body

        return model_body(op, raw) if op in ("createDestination", "createSubscription") else None


def rate_header(op: str) -> str:
    rate, _ = rate_plan(op)
    return f"{rate:g}"
