"""The debugging commands' failures, each with its exit code (see `cli.py` for the table)."""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_INVALID = 2
EXIT_ATTENTION = 4  # the command ran; what it found needs a person (failed again, differs, replay failed)
EXIT_UNREACHABLE = 5


class CommandError(Exception):
    """A failure the command explains in one line."""

    exit_code = EXIT_FAILED


class InvalidInput(CommandError):
    """The command line or an input file is wrong, or names something the stack does not have."""

    exit_code = EXIT_INVALID


class StackUnreachable(CommandError):
    """The stack could not be found or reached (no such stack, no credentials, endpoint down)."""

    exit_code = EXIT_UNREACHABLE


def explain_aws_error(e: Exception, what: str) -> CommandError | None:
    """A boto3/botocore failure as a one-line `CommandError`, or None when it is not one of those."""
    try:
        from botocore import exceptions as bx
    except ImportError:  # pragma: no cover
        return None
    if isinstance(e, bx.NoCredentialsError | bx.PartialCredentialsError):
        return StackUnreachable(f"{what}: no AWS credentials (set AWS_PROFILE or use --profile)")
    if isinstance(e, bx.NoRegionError):
        return StackUnreachable(f"{what}: no AWS region (set AWS_REGION or use --region)")
    if isinstance(e, bx.EndpointConnectionError | bx.ConnectTimeoutError | bx.ReadTimeoutError):
        return StackUnreachable(
            f"{what}: cannot connect to {getattr(e, 'kwargs', {}).get('endpoint_url', 'the endpoint')}"
        )
    if isinstance(e, bx.ClientError):
        err = e.response.get("Error", {})
        code, message = err.get("Code", "Error"), (err.get("Message") or "").splitlines()[0:1]
        text = f"{what}: {code}" + (f": {message[0]}" if message else "")
        if code in (
            "AccessDenied",
            "AccessDeniedException",
            "UnrecognizedClientException",
            "ExpiredToken",
            "ExpiredTokenException",
            "InvalidClientTokenId",
            "SignatureDoesNotMatch",
        ):
            return StackUnreachable(text)
        return CommandError(text)
    if isinstance(e, bx.BotoCoreError):
        return CommandError(f"{what}: {e}")
    return None
