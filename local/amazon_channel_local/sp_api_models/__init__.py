"""Official SP-API models (unmodified, Apache 2.0) and validators built on them."""

from .schemas import (
    SchemaValidationError,
    UnknownOperation,
    operation,
    rate_plan,
    validate_definition,
    validate_notification,
    validate_query,
    validate_request_body,
    validate_response,
)

__all__ = [
    "SchemaValidationError",
    "UnknownOperation",
    "operation",
    "rate_plan",
    "validate_definition",
    "validate_notification",
    "validate_query",
    "validate_request_body",
    "validate_response",
]
