"""The fault-injection suite's machinery: every external call the channel makes, a fault armed on
one of them (before it takes effect, after it with the answer lost, or as a timeout of the
invocation making it), and a tally of what was injected and checked.

A fault is armed for one call made by one function (its Lambda name, read from the environment the
runtime gives the running handler), so it lands where the case says, whatever else runs meanwhile.
"""

from __future__ import annotations

import os
import re
import threading
from collections import Counter
from dataclasses import dataclass, field

KINDS = ("before", "after", "timeout")


@dataclass(frozen=True)
class Call:
    """One external call: `target` amazon | commerce | aws; `what` the operation (amazon), the
    method and path pattern (commerce) or service/operation (aws); `flow` the merchant's story that
    makes it; `function` the logical id of the function that makes it."""

    name: str
    target: str
    what: tuple
    flow: str
    function: str


AMAZON = [
    # a paid order's details: read by the intake once its getOrder token is due (issue 12)
    Call("amazon lwa token", "amazon", ("lwa_token",), "mfn_import", "OrderNotificationIntakeFunction"),
    Call("amazon getOrder", "amazon", ("getOrder",), "mfn_import", "OrderNotificationIntakeFunction"),
    Call("amazon getOrder (FBA)", "amazon", ("getOrder",), "fba_import", "FbaOrderImportFunction"),
    Call("amazon searchOrders", "amazon", ("searchOrders",), "sync", "OrderSyncFunction"),
    Call("amazon confirmShipment", "amazon", ("confirmShipment",), "mfn_ship", "ConfirmShipmentsFunction"),
    Call(
        "amazon createFeedDocument",
        "amazon",
        ("createFeedDocument",),
        "merchant_cancel",
        "RequestAmazonCancellationFunction",
    ),
    Call("amazon createFeed", "amazon", ("createFeed",), "merchant_cancel", "RequestAmazonCancellationFunction"),
    Call("amazon getFeed", "amazon", ("getFeed",), "merchant_cancel", "RequestAmazonCancellationFunction"),
]
_C = "CreateCommerceOrderFunction"
COMMERCE = [
    Call(
        "commerce customers search",
        "commerce",
        ("GET", r"/V1/customers/search"),
        "mfn_import",
        "ResolveCustomerFunction",
    ),
    Call("commerce customers create", "commerce", ("POST", r"/V1/customers"), "mfn_import", "ResolveCustomerFunction"),
    Call("commerce orders search", "commerce", ("GET", r"/V1/orders"), "mfn_import", _C),
    Call("commerce orders get", "commerce", ("GET", r"/V1/orders/\d+"), "mfn_import", _C),
    Call("commerce orders save", "commerce", ("POST", r"/V1/orders"), "mfn_import", _C),
    Call("commerce orders save (FBA)", "commerce", ("POST", r"/V1/orders"), "fba_import", "FbaOrderImportFunction"),
    Call("commerce comments", "commerce", ("POST", r"/V1/orders/\d+/comments"), "mfn_import", _C),
    Call("commerce invoice", "commerce", ("POST", r"/V1/order/\d+/invoice"), "mfn_import", _C),
    Call("commerce ship", "commerce", ("POST", r"/V1/order/\d+/ship"), "fba_import", "FbaOrderImportFunction"),
    Call(
        "commerce shipments search",
        "commerce",
        ("GET", r"/V1/shipments"),
        "fba_ship_answer_lost",
        "FbaOrderImportFunction",
    ),
    Call(
        "commerce shipment get", "commerce", ("GET", r"/V1/shipment/\d+"), "mfn_ship", "CommerceShipmentIntakeFunction"
    ),
    Call("commerce cancel", "commerce", ("POST", r"/V1/orders/\d+/cancel"), "invoice_refused", _C),
    Call(
        "commerce refund", "commerce", ("POST", r"/V1/order/\d+/refund"), "amazon_cancel", "CancelCommerceOrderFunction"
    ),
    Call("commerce products get", "commerce", ("GET", r"/V1/products/[^/]+"), "mfn_import", _C),
    Call("commerce stockItems get", "commerce", ("GET", r"/V1/stockItems/[^/]+"), "mfn_import", _C),
    Call(
        "commerce salable qty", "commerce", ("GET", r"/V1/inventory/get-product-salable-quantity/.+"), "mfn_import", _C
    ),
    Call("commerce stockItems put", "commerce", ("PUT", r"/V1/products/[^/]+/stockItems/.+"), "mfn_import", _C),
]
AWS = [
    Call("aws SendTaskSuccess", "aws", ("sfn", "SendTaskSuccess"), "mfn_ship", "CommerceShipmentIntakeFunction"),
    Call("aws PutEvents", "aws", ("eventbridge", "PutEvents"), "fba_import", "FbaOrderImportFunction"),
    Call(
        "aws TransactWriteItems",
        "aws",
        ("dynamodb", "TransactWriteItems"),
        "mfn_import",
        "OrderNotificationIntakeFunction",
    ),
    Call("aws SendMessage", "aws", ("sqs", "SendMessage"), "bad_notification", "OrderNotificationIntakeFunction"),
]
CALLS = AMAZON + COMMERCE + AWS


@dataclass
class _Armed:
    call: Call
    kind: str
    function_name: str  # the Lambda name the fault waits for
    status: int
    made: int = 0  # calls made before it was armed (a timeout lands once the next one is made)
    hits: int = 0


@dataclass
class Injector:
    """Arms one fault at a time on the stack's simulators and AWS calls, and counts every call."""

    player: object
    armed: list[_Armed] = field(default_factory=list)
    seen: Counter = field(default_factory=Counter)  # call name -> times made (any function)
    injected: Counter = field(default_factory=Counter)  # kind -> faults injected
    _lock: threading.RLock = field(default_factory=threading.RLock)  # when() runs inside traced calls

    def install(self) -> None:
        p = self.player
        amazon, commerce, aws = p.amazon, p.commerce, p.stack.aws_faults
        take_commerce, call_amazon, lwa, take_aws = commerce._take_fault, amazon._call, amazon._lwa, aws._take

        def commerce_fault(method, path, api_path):
            fault = self._commerce(method, api_path or path)
            return fault if fault is not None else take_commerce(method, path, api_path)

        def amazon_call(op, *a, **k):
            self._amazon(op)
            return call_amazon(op, *a, **k)

        def amazon_lwa(*a, **k):
            self._amazon("lwa_token")
            return lwa(*a, **k)

        def aws_fault(service, operation, request):
            self._aws(service, operation)
            return take_aws(service, operation, request)

        commerce._take_fault, amazon._call, amazon._lwa, aws._take = commerce_fault, amazon_call, amazon_lwa, aws_fault

    # -- arming ---------------------------------------------------------------------------------
    def arm(self, call: Call, kind: str, status: int) -> None:
        stack = self.player.stack
        if call.what == ("lwa_token",):
            self.player.amazon.expire_access_tokens()  # the channel's cached token is refused: it asks LWA
        made = self.count(call)
        self.armed.append(_Armed(call, kind, stack.resources[call.function], status, made))
        if kind == "timeout":
            # The embedded stack hands a failed SQS batch back at once; AWS waits for the queue's
            # visibility timeout (720 s), past the in-progress window the dead invocation left
            # (Powertools idempotency, leases: its remaining time). A 10 ms timeout makes that
            # window already over at the next delivery, as it is on AWS.
            # (The order sync plans its run by its remaining time: it gets the template's timeout.)
            timeout_s = None if call.function == "OrderSyncFunction" else 0.01
            stack.timeout_next(call.function, timeout_s=timeout_s, when=lambda: self.count(call) > made)

    def disarm(self) -> int:
        """Forget the armed faults; returns how many times the last one armed was injected."""
        hits = 0
        for armed in self.armed:
            if armed.kind == "timeout":
                self.player.stack.runtime._timeouts.pop(armed.call.function, None)
                hits = 1 if self.count(armed.call) > armed.made else 0
            else:
                hits = armed.hits
            self.injected[armed.kind] += hits
        self.armed = []
        return hits

    def count(self, call: Call) -> int:
        with self._lock:
            return self.seen[call]

    # -- the hooks ------------------------------------------------------------------------------
    def _caller(self) -> str:
        return os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")

    def _match(self, call: Call) -> _Armed | None:
        return next(
            (
                a
                for a in self.armed
                if a.kind != "timeout" and a.hits == 0 and a.call == call and self._caller() == a.function_name
            ),
            None,
        )

    def _note(self, target: str, matches) -> list[Call]:
        caller = self._caller()
        found = [c for c in CALLS if c.target == target and matches(c.what)]
        with self._lock:
            for c in found:
                if self.player.stack.resources.get(c.function) == caller:
                    self.seen[c] += 1
        return found

    def _commerce(self, method: str, path: str) -> dict | None:
        path = path.rstrip("/")
        for call in self._note("commerce", lambda w: w[0] == method and re.fullmatch(w[1], path)):
            if armed := self._match(call):
                armed.hits += 1
                return {"status": armed.status, "after": armed.kind == "after"}
        return None

    def _amazon(self, op: str) -> None:
        for call in self._note("amazon", lambda w: w[0] == op):
            if armed := self._match(call):
                armed.hits += 1
                self.player.amazon.fail_next(op, armed.status, after_effect=armed.kind == "after")

    def _aws(self, service: str, operation: str) -> None:
        for call in self._note("aws", lambda w: w == (service, operation)):
            if armed := self._match(call):
                armed.hits += 1
                self.player.stack.aws_faults.fail_next(
                    service, operation, when=armed.kind, error="ServiceUnavailable", status=503
                )
