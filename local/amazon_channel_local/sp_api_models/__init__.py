"""Official SP-API models (unmodified, Apache 2.0) and validators built on them."""

from .schemas import (
    SandboxCase,
    SchemaValidationError,
    UnknownOperation,
    notification_examples,
    operation,
    rate_plan,
    response_examples,
    sandbox_cases,
    validate_definition,
    validate_notification,
    validate_query,
    validate_request_body,
    validate_response,
)

__all__ = [
    "SandboxCase",
    "SchemaValidationError",
    "UnknownOperation",
    "notification_examples",
    "operation",
    "rate_plan",
    "response_examples",
    "sandbox_cases",
    "validate_definition",
    "validate_notification",
    "validate_query",
    "validate_request_body",
    "validate_response",
]
