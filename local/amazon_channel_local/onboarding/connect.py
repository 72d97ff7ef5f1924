"""`amazon-channel connect`: one Amazon store (seller account) connected to a deployed stack.

In order, and idempotent (a second run changes nothing and says so):
1. the credentials are tried first, so nothing is stored that does not work: the seller's refresh
   token is exchanged with LWA, the application's grantless token is asked for, and Commerce is
   asked one signed GET;
2. the SP-API secret gets the LWA client id and secret and the seller's refresh token, merged into
   `refresh_tokens` (other sellers' tokens are kept); the Commerce secret gets the integration's
   four OAuth 1.0a credentials (or `access_token` alone with CommerceAuth=bearer);
3. the store's item is written (marketplaces, settings, Commerce website and store view), keeping
   the `connected_at` of a store connected before: orders placed before it stay out;
4. the SP-API destination for the stack's notifications queue is found, or created (grantless),
   and the seller's ORDER_CHANGE subscription (payload 1.0) to it is found, or created;
5. every Commerce route the channel reads is asked once (GETs only).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..debugging.errors import CommandError, InvalidInput
from ..debugging.handle import StackHandle
from .amazon_api import AmazonApi, AmazonRefused
from .commerce_routes import RouteCheck, check_routes
from .stack_config import (
    COMMERCE_SECRET,
    OAUTH1_KEYS,
    SP_API_SECRET,
    Targets,
    commerce_client,
    notifications_queue_arn,
    read_secret,
    read_stores,
    write_secret,
    write_store,
)

EXIT_ATTENTION = 4


class CredentialsRefused(CommandError):
    """A credential given to connect does not work: nothing was stored."""

    exit_code = 2


@dataclass
class StoreInput:
    """What connect needs for one store; credentials left None keep what the stack's secrets hold."""

    seller_id: str
    refresh_token: str | None = None
    marketplace_ids: list[str] | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    commerce_website_id: int | None = None
    commerce_store_id: int | None = None
    client_id: str | None = None
    client_secret: str | None = None
    commerce: dict[str, str] = field(default_factory=dict)  # any of OAUTH1_KEYS
    sku: str | None = None  # a product the store sells, for the per-product route checks
    move_subscription: bool = False  # the seller's subscription points elsewhere: move it to this stack


@dataclass
class ConnectReport:
    stack: str
    seller_id: str
    steps: list[tuple[str, str]] = field(default_factory=list)  # (what, outcome)
    routes: list[RouteCheck] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)  # (what is wrong, fix)

    def as_json(self) -> dict:
        return {
            "stack": self.stack,
            "seller_id": self.seller_id,
            "steps": [{"step": s, "outcome": o} for s, o in self.steps],
            "commerce_routes": [
                {"route": r.route, "ok": r.ok, "status": r.status, "detail": r.detail, "acl": r.acl, "fix": r.fix}
                for r in self.routes
            ],
            "problems": [{"problem": p, "fix": f} for p, f in self.problems],
        }


def connect(handle: StackHandle, targets: Targets, store: StoreInput) -> ConnectReport:
    report = ConnectReport(handle.label, store.seller_id)
    sp_secret, commerce_secret = read_secret(handle, SP_API_SECRET), read_secret(handle, COMMERCE_SECRET)
    sp_value = _merged_sp_api(sp_secret.value, store)
    commerce_value = _merged_commerce(commerce_secret.value, store, targets.commerce_auth)
    stores = read_stores(handle)
    item = _store_item(stores.get(store.seller_id), store)

    # 1. every credential works before anything is stored
    api = AmazonApi(targets.sp_api_endpoint, targets.lwa_token_url, sp_value["client_id"], sp_value["client_secret"])
    try:
        seller_token = api.seller_token(sp_value["refresh_tokens"][store.seller_id])
        grantless = api.grantless_token()
    except AmazonRefused as e:
        raise CredentialsRefused(
            f"{e}: check the LWA client id and secret of your SP-API app and the seller's refresh "
            "token (Seller Central > Apps > Authorize); nothing was stored"
        ) from None
    client = commerce_client(targets, commerce_value)
    first = check_routes(client, sku=store.sku, website_id=item["commerce_website_id"])[0]
    if first.status == 401:
        raise CredentialsRefused(
            f"Commerce refused the integration's credentials ({first.detail}): {first.fix}; nothing was stored"
        )
    report.steps.append(("credentials", "LWA refresh token, grantless token and Commerce sign-in work"))

    # 2. secrets, 3. the store
    for name, state, value in (
        ("SP-API secret", sp_secret, sp_value),
        ("Commerce secret", commerce_secret, commerce_value),
    ):
        report.steps.append((name, "updated" if write_secret(handle, state, value) else "unchanged"))
    if (sp_secret.value or {}).get("client_secret") != sp_value["client_secret"]:
        from ..secrets_commands import record_rotation

        # A client secret stored now starts its 180 days as far as the channel knows
        # (LwaClientSecretExpiringAlarm); one generated earlier: run rotate-lwa-secret soon.
        report.steps.append(("LWA client secret", f"rotation date recorded ({record_rotation(handle)})"))
    if stores.get(store.seller_id) == item:
        report.steps.append(("store settings", "unchanged"))
    else:
        write_store(handle, store.seller_id, item)
        report.steps.append(("store settings", "written" if store.seller_id not in stores else "updated"))

    # 4. Amazon's notifications to the stack's queue
    queue_arn = notifications_queue_arn(handle)
    try:
        destination, made = _destination(api, grantless, queue_arn, f"amazon-channel {handle.stack_name}")
        report.steps.append(
            ("notification destination", f"{'created' if made else 'found'} {destination} -> {queue_arn}")
        )
        subscription = api.subscription(seller_token)
        if subscription and subscription["destinationId"] != destination:
            if not store.move_subscription:
                report.problems.append(
                    (
                        f"seller {store.seller_id}'s ORDER_CHANGE subscription {subscription['subscriptionId']} "
                        f"delivers to destination {subscription['destinationId']}, not this stack's queue",
                        "if that is an old or another stack's destination, move it here: `amazon-channel connect ... "
                        "--move-subscription`",
                    )
                )
                subscription = None
            else:
                api.delete_subscription(grantless, subscription["subscriptionId"])
                report.steps.append(
                    (
                        "ORDER_CHANGE subscription",
                        f"deleted {subscription['subscriptionId']} (destination {subscription['destinationId']})",
                    )
                )
                subscription = None
                subscription = api.create_subscription(seller_token, destination)
                report.steps.append(("ORDER_CHANGE subscription", f"created {subscription['subscriptionId']}"))
        elif subscription:
            report.steps.append(("ORDER_CHANGE subscription", f"found {subscription['subscriptionId']}"))
        else:
            subscription = api.create_subscription(seller_token, destination)
            report.steps.append(("ORDER_CHANGE subscription", f"created {subscription['subscriptionId']}"))
    except AmazonRefused as e:
        report.problems.append(
            (f"Notifications API: {e}", "check that the SP-API app has the Notifications role; then run connect again")
        )

    # 5. Commerce, read-only
    report.routes = check_routes(client, sku=store.sku, website_id=item["commerce_website_id"])
    report.problems += [(f"Commerce {r.route}: {r.detail}", r.fix) for r in report.routes if not r.ok]
    return report


def _merged_sp_api(current: dict | None, store: StoreInput) -> dict:
    value = copy.deepcopy(current or {})
    for key in ("client_id", "client_secret"):
        given = getattr(store, key)
        if given:
            value[key] = given
        if not str(value.get(key) or "").strip():
            raise InvalidInput(f"the SP-API secret has no {key} yet: give --{key.replace('_', '-')}")
    tokens = value.get("refresh_tokens") if isinstance(value.get("refresh_tokens"), dict) else {}
    value["refresh_tokens"] = {**tokens, **({store.seller_id: store.refresh_token} if store.refresh_token else {})}
    if not value["refresh_tokens"].get(store.seller_id):
        raise InvalidInput(
            f"no refresh token for seller {store.seller_id}: give --refresh-token "
            "(Seller Central > Apps and Services > Develop Apps > Authorize, or the OAuth website flow)"
        )
    return value


def _merged_commerce(current: dict | None, store: StoreInput, auth: str) -> dict:
    value = {**(current or {}), **{k: v for k, v in store.commerce.items() if v}}
    needed = ("access_token",) if auth == "bearer" else OAUTH1_KEYS
    missing = [k for k in needed if not str(value.get(k) or "").strip()]
    if missing:
        raise InvalidInput(
            f"the Commerce secret has no {', '.join(missing)} yet: give "
            + " ".join(f"--commerce-{k.replace('_', '-')}" for k in missing)
        )
    return value


def _store_item(current: Any, store: StoreInput) -> dict:
    """The store's item: what the table holds, with what was given; validated as the channel reads it."""
    from pydantic import ValidationError

    from amazon_channel.domain.models import StoreConfig

    base = dict(current) if isinstance(current, dict) else {}
    item = {
        **base,
        "seller_id": store.seller_id,
        "marketplace_ids": store.marketplace_ids or base.get("marketplace_ids") or [],
        "settings": {**(base.get("settings") or {}), **store.settings},
        "commerce_website_id": store.commerce_website_id or base.get("commerce_website_id") or 1,
        "commerce_store_id": store.commerce_store_id or base.get("commerce_store_id") or 1,
        "connected_at": base.get("connected_at") or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    if not item["marketplace_ids"]:
        raise InvalidInput(f"store {store.seller_id}: give at least one --marketplace (e.g. ATVPDKIKX0DER)")
    try:
        StoreConfig.model_validate(item)
    except ValidationError as e:
        first = e.errors()[0]
        raise InvalidInput(f"store {store.seller_id}: {'.'.join(map(str, first['loc']))}: {first['msg']}") from None
    return item


def _destination(api: AmazonApi, grantless: str, queue_arn: str, name: str) -> tuple[str, bool]:
    """The destination that delivers to the queue: found, or created. (destination id, created)"""
    for d in api.destinations(grantless):
        if (d.get("resource") or {}).get("sqs", {}).get("arn") == queue_arn:
            return d["destinationId"], False
    try:
        return api.create_destination(grantless, name, queue_arn)["destinationId"], True
    except AmazonRefused as e:
        if e.status != 409:
            raise
    for d in api.destinations(grantless):  # created meanwhile by another run
        if (d.get("resource") or {}).get("sqs", {}).get("arn") == queue_arn:
            return d["destinationId"], False
    raise AmazonRefused("createDestination", 409, "Conflict", f"a destination for {queue_arn} exists but is not listed")
