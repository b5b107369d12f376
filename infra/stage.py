"""The stage: what a stack keeps when it is deleted, chosen by one context value, read here only.

    npx cdk deploy                  # stage prod, the default: the data outlives the stack
    npx cdk deploy -c stage=dev     # stage dev: `cdk destroy -c stage=dev` removes everything

Every construct that holds data asks :func:`stage_of` for its policy instead of deciding
for itself, so the two stages differ here and nowhere else:

- ``prod``: the state table, the reviewers' user pool and the claim bucket are retained
  (``DeletionPolicy`` and ``UpdateReplacePolicy`` ``Retain``), the table and the pool with
  deletion protection on; the bucket keeps its objects, which go on expiring (30 days).
- ``dev``: all three are deleted with the stack, without deletion protection, and the
  claim bucket is emptied first (``autoDeleteObjects``).
- both: the log groups are deleted with the stack (their events expire in 30 days anyway).
- the alerts topic's KMS key is retained in ``prod`` (CDK's default: a key's deletion cannot
  be undone) and scheduled for deletion in ``dev``.

A deploy that names no stage is ``prod``: forgetting the flag keeps the data, and only a
stack deployed with ``-c stage=dev`` can be destroyed with nothing left behind. The log
groups go with the stack in both stages: the flows' log groups have fixed names
(``/aws/vendedlogs/states/<stack>-<flow>``), and a retained one would make the next
create of the same stack fail (after a destroy, or a first deploy that rolled back); the
runs' durable record (the ledger, the reviews, their decisions) is in the state table.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import RemovalPolicy
from constructs import Construct

STAGE_CONTEXT = "stage"  # -c stage=<name>


class StageError(ValueError):
    """The stage context value names no stage; the message names the key and the choices."""


@dataclass(frozen=True)
class Stage:
    """One stage's policy for the resources that hold data."""

    name: str
    summary: str  # what a destroy leaves, in a few words (the bad-stage message lists it)
    data_removal_policy: RemovalPolicy  # the state table, the user pool, the claim bucket
    deletion_protection: bool  # the state table's and the user pool's own switch
    auto_delete_objects: bool  # the claim bucket is emptied before it is deleted
    log_removal_policy: RemovalPolicy  # every log group of the stack
    key_removal_policy: RemovalPolicy  # the KMS key of the alerts topic (it holds no data itself)


PROD = Stage(
    name="prod",
    summary="the data outlives the stack",
    data_removal_policy=RemovalPolicy.RETAIN,
    deletion_protection=True,
    auto_delete_objects=False,
    log_removal_policy=RemovalPolicy.DESTROY,
    key_removal_policy=RemovalPolicy.RETAIN,  # CDK's default for a key: its deletion cannot be undone
)
DEV = Stage(
    name="dev",
    summary="everything goes with the stack",
    data_removal_policy=RemovalPolicy.DESTROY,
    deletion_protection=False,
    auto_delete_objects=True,
    log_removal_policy=RemovalPolicy.DESTROY,
    key_removal_policy=RemovalPolicy.DESTROY,  # scheduled for deletion, after KMS's waiting period
)
STAGES = {stage.name: stage for stage in (PROD, DEV)}
DEFAULT_STAGE = PROD


def stage_named(value: object) -> Stage:
    """The stage a context value names; no value is the default, anything else unknown is refused."""
    if value is None:
        return DEFAULT_STAGE
    stage = STAGES.get(value) if isinstance(value, str) else None
    if stage is None:
        choices = " or ".join(f"-c {STAGE_CONTEXT}={s.name} ({s.summary})" for s in STAGES.values())
        raise StageError(
            f"context {STAGE_CONTEXT}={value!r} is not a stage: use {choices}; "
            f"without -c {STAGE_CONTEXT}, the stage is {DEFAULT_STAGE.name}"
        )
    return stage


def stage_of(scope: Construct) -> Stage:
    """The stage of the app ``scope`` is in: the ``stage`` context value (``-c stage=…``)."""
    return stage_named(scope.node.try_get_context(STAGE_CONTEXT))
