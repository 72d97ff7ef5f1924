"""What a stack holds for the channel, read and written through a `StackHandle`: the SP-API and
Commerce secrets, the stores table, the notifications queue, and where its functions reach
Amazon and Commerce.

Where Amazon and Commerce are: the stack's parameters `SpApiEndpoint`, `LwaTokenUrl`,
`CommerceBaseUrl` and `CommerceAuth` (a deployed stack); for `amazon-channel local up`, its
simulators (`GET /_local/info`), since the local stack points its functions at them; options on the
command line override either.
"""

from __future__ import annotations

import json
import urllib.request
from dataclasses import dataclass
from typing import Any

from ..debugging.errors import InvalidInput, StackUnreachable
from ..debugging.handle import StackHandle

SP_API_SECRET, COMMERCE_SECRET = "SpApiCredentialsSecret", "CommerceTokenSecret"
STORES_TABLE, NOTIFICATIONS_QUEUE = "StoresTable", "NotificationsQueue"
OAUTH1_KEYS = ("consumer_key", "consumer_secret", "access_token", "access_token_secret")
AMAZON_NOTIFICATIONS_ACCOUNT = "437568002678"  # Amazon's account that sends SP-API notifications to SQS


@dataclass
class Targets:
    """Where the stack's functions reach Amazon and Commerce."""

    sp_api_endpoint: str
    lwa_token_url: str
    commerce_base_url: str
    commerce_auth: str = "oauth1"


def stack_parameters(handle: StackHandle) -> dict[str, str]:
    try:
        stack = handle.client("cloudformation").describe_stacks(StackName=handle.stack_name)["Stacks"][0]
    except Exception:  # noqa: BLE001 - an embedded stack without CloudFormation's record: no parameters
        return {}
    return {p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters", [])}


def targets_of(handle: StackHandle, endpoint: str | None, overrides: dict[str, str | None]) -> Targets:
    params = stack_parameters(handle)
    found = {
        "sp_api_endpoint": params.get("SpApiEndpoint") or "https://sellingpartnerapi-na.amazon.com",
        "lwa_token_url": params.get("LwaTokenUrl") or "https://api.amazon.com/auth/o2/token",
        "commerce_base_url": params.get("CommerceBaseUrl") or "",
        "commerce_auth": params.get("CommerceAuth") or "oauth1",
    }
    if endpoint:  # `amazon-channel local up`: its functions reach the simulators
        info = _local_info(endpoint)
        if info.get("amazon"):
            found["sp_api_endpoint"] = info["amazon"]
            found["lwa_token_url"] = info["amazon"].rstrip("/") + "/auth/o2/token"
        if info.get("commerce"):
            found["commerce_base_url"] = info["commerce"]
    found.update({k: v for k, v in overrides.items() if v})
    return Targets(**found)


def _local_info(endpoint: str) -> dict:
    try:
        with urllib.request.urlopen(endpoint.rstrip("/") + "/_local/info", timeout=10) as r:  # noqa: S310 - loopback
            return json.loads(r.read())
    except Exception:  # noqa: BLE001 - a plain moto server has no control API: parameters only
        return {}


# -- secrets --------------------------------------------------------------------------------------
class SecretState:
    """A secret's current JSON value: `value` None when it has none yet, `error` when unreadable."""

    def __init__(self, secret_id: str, value: dict | None, error: str | None = None):
        self.secret_id, self.value, self.error = secret_id, value, error


def read_secret(handle: StackHandle, logical_id: str) -> SecretState:
    secret_id = handle.need(logical_id)
    from botocore.exceptions import ClientError

    try:
        raw = handle.client("secretsmanager").get_secret_value(SecretId=secret_id).get("SecretString")
    except ClientError as e:
        code = e.response.get("Error", {}).get("Code", "")
        if code == "ResourceNotFoundException":  # the secret exists with no value yet (or is gone)
            return SecretState(secret_id, None, "has no value")
        if code in ("AccessDeniedException", "UnrecognizedClientException"):
            raise StackUnreachable(f"{handle.label}: cannot read {logical_id}: {code}") from None
        return SecretState(secret_id, None, f"cannot be read ({code})")
    try:
        value = json.loads(raw or "")
    except ValueError:
        return SecretState(secret_id, None, "is not JSON")
    if not isinstance(value, dict):
        return SecretState(secret_id, None, "is not a JSON object")
    return SecretState(secret_id, value)


def write_secret(handle: StackHandle, state: SecretState, value: dict) -> bool:
    """Store `value` as the secret's new version unless it is already the current one."""
    if state.value == value:
        return False
    handle.client("secretsmanager").put_secret_value(SecretId=state.secret_id, SecretString=json.dumps(value))
    state.value = value
    return True


# -- stores ---------------------------------------------------------------------------------------
def read_stores(handle: StackHandle) -> dict[str, Any]:
    """Every item of the stores table: SellerId -> its JSON value (dict), or the text that is not."""
    ddb = handle.client("dynamodb")
    items: dict[str, Any] = {}
    kwargs: dict = {"TableName": handle.need(STORES_TABLE), "ConsistentRead": True}
    while True:
        page = ddb.scan(**kwargs)
        for item in page.get("Items", []):
            raw = (item.get("value") or {}).get("S", "")
            try:
                items[item["id"]["S"]] = json.loads(raw)
            except ValueError:
                items[item["id"]["S"]] = raw
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def write_store(handle: StackHandle, seller_id: str, value: dict) -> None:
    handle.client("dynamodb").put_item(
        TableName=handle.need(STORES_TABLE), Item={"id": {"S": seller_id}, "value": {"S": json.dumps(value)}}
    )


def notifications_queue_arn(handle: StackHandle) -> str:
    arn = handle.outputs.get("NotificationsQueueArn")
    if arn:
        return arn
    url = handle.need(NOTIFICATIONS_QUEUE)
    return handle.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]


def commerce_client(targets: Targets, credentials: dict):
    """The channel's own Commerce client (OAuth 1.0a signing, or Bearer as the stack is deployed)."""
    from amazon_channel.adapters.commerce_rest import CommerceRestClient

    if not targets.commerce_base_url:
        raise InvalidInput("the stack has no CommerceBaseUrl: give --commerce-url URL")
    return CommerceRestClient(
        targets.commerce_base_url,
        credentials=lambda: credentials,
        auth=targets.commerce_auth,
        max_attempts=1,
        timeout=15,
    )
