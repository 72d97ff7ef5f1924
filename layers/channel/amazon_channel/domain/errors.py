"""Named errors. Their class names are also the Step Functions error names used in Retry/Catch."""


class ChannelError(Exception):
    """Base of the channel's own errors."""


class TransientError(ChannelError):
    """Worth retrying: throttling, a 5xx, a timeout, a version conflict."""


class PermanentError(ChannelError):
    """Retrying will not help: park the input and note why."""


class VersionConflict(TransientError):
    """The order changed under us; reload and try again."""


class RateBudgetContended(TransientError):
    """So many callers wrote the shared rate budget at once that no token could be booked now."""


class ConfirmationInProgress(TransientError):
    """Another invocation is confirming this order's packages to Amazon: try again once it is done."""


class CommerceOrderInProgress(TransientError):
    """Another invocation is creating this order's Commerce order: try again once it is done."""


class EventsNotDelivered(TransientError):
    """EventBridge did not take an event (a failed entry of PutEvents): retried, never dropped."""


class AmazonThrottled(TransientError):
    """SP-API answered 429 after the client's own retries."""


class AmazonUnavailable(TransientError):
    """SP-API answered 5xx or could not be reached."""


class AmazonRejected(PermanentError):
    """SP-API answered 4xx other than 429."""


class AmazonTotalsDisagree(PermanentError):
    """Amazon's breakdowns do not add up to Amazon's own total: no Commerce order is booked."""


class CommerceUnavailable(TransientError):
    """Commerce answered 5xx or could not be reached."""


class CommerceRejected(PermanentError):
    """Commerce answered 4xx: the order is parked with the reason in its notes."""


class CustomerAlreadyExists(CommerceRejected):
    """Commerce already has a customer with that email in the website."""


class OrderStatusRefused(CommerceRejected):
    """Commerce refused an order status (not assigned to the order's state): noted, never fatal."""


class UnknownStore(PermanentError):
    """The notification names a seller or marketplace that is not connected."""


class InvalidNotification(PermanentError):
    """Malformed, unknown type or version, missing fields, unknown status, a bad or future date,
    oversized. `field` names the field at fault (dotted path), when there is one."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


class OrderNotFound(PermanentError):
    """The channel has no record of the order."""


class InvalidQuery(ChannelError):
    """A request to the Orders view has a bad filter, limit or cursor (HTTP 400). Names the parameter."""

    def __init__(self, parameter: str, message: str):
        super().__init__(f"{parameter}: {message}")
        self.parameter = parameter


class OverShipment(PermanentError):
    """A Commerce shipment ships more than the Amazon order has left to ship: never confirmed."""


class OrderBlocked(ChannelError):
    """An FBA order Commerce cannot take (a product missing, disabled or not salable): the order shows
    `Error` with the reason, and the order sync retries it. Not a bad input, so never parked.
    `newly`: this attempt blocked it (an attempt that finds it still blocked does nothing)."""

    def __init__(self, message: str, newly: bool):
        super().__init__(message)
        self.newly = newly
