"""Typed domain errors.

Lambda reports an unhandled exception with its class name as ``errorType``, and
Step Functions matches ``Retry`` and ``Catch`` on that name. The flows in
``statemachines/`` therefore name these classes: rename one and the contract
check fails.
"""


class FlowError(Exception):
    """Base class of the errors a flow definition may name."""


class InvalidInput(FlowError):
    """The step's input does not satisfy its contract. Never retried."""


class GuardBlocked(FlowError):
    """A guardrail's policy blocks the run: the message names the findings and the policy versions."""


class TransientError(FlowError):
    """A dependency failed in a way that a retry may fix."""


class MalformedAnswer(Exception):
    """A model's answer does not satisfy the output contract its prompt asks for.

    Handled inside the model gateway (the call moves on to the next model); it
    never reaches a flow.
    """


def error_code(exc: BaseException) -> str:
    """The AWS error code of a botocore ClientError; '' for anything else (a timeout has no response)."""
    return str((getattr(exc, "response", None) or {}).get("Error", {}).get("Code", ""))


# What Step Functions answers to a task token it no longer waits for.
TOKEN_GONE = frozenset({"TaskTimedOut", "TaskDoesNotExist", "InvalidToken"})
