"""The stage: which stack this is, and its policy, chosen by context values read here only.

    npx cdk deploy                                # stage prod: the stack AiFlows, production policy
    npx cdk deploy -c stage=dev                   # stage dev: the stack AiFlows-dev, development policy
    npx cdk deploy -c stage=alice                 # another stack beside them: AiFlows-alice
    npx cdk deploy -c stage=staging -c stage_policy=production   # a stage that keeps its data

A stage's **name** makes its stack one of several in an account and region: the stack is
``AiFlows-<stage>`` (``AiFlows`` for ``prod``, as before stages had names), and every name the
stack sets itself derives from it (the bus ``aiflows-<stage>``, the alarms, dashboards and the
flows' log groups ``<stack>-…``, the functions' service name, which the custom metrics carry);
CloudFormation generates the rest. A name is lowercase letters and digits in words joined by
single hyphens, starting with a letter, at most :data:`MAX_NAME` characters: the tightest limit
among the derived names is the bus policy's statement ids (64 characters), which are
``aiflows-<stage>-deny-other-detail-types`` at their longest.

A stage's **policy** is what the stack does with its data, its reviewers' sign-in and its
alarms; ``prod`` is ``production`` and any other name ``development``, unless
``-c stage_policy=production|development`` says otherwise:

- ``production``: the state table, the reviewers' user pool and the claim bucket are retained
  (``DeletionPolicy`` and ``UpdateReplacePolicy`` ``Retain``), the table and the pool with
  deletion protection on; the bucket keeps its objects, which go on expiring (30 days); the
  alerts topic's KMS key is retained (a key's deletion cannot be undone). The user pool is on
  Cognito's Plus tier with threat protection enforced (risky sign-ins blocked). Alarms notify
  the alerts topic (``-c alert_email=…`` subscribes to it).
- ``development``: all of it is deleted with the stack, without deletion protection, the claim
  bucket emptied first (``autoDeleteObjects``), the key scheduled for deletion. The pool is on
  the Essentials tier, without threat protection. The alarms are there (dashboards, ``python -m
  aiflows alarms``) with their actions disabled: a development stack pages nobody.
- both: the log groups are deleted with the stack (their events expire in 30 days anyway): the
  flows' log groups have fixed names (``/aws/vendedlogs/states/<stack>-<flow>``), and a retained
  one would make the next create of the same stack fail.

``-c api_gateway_account=true`` has the stack set API Gateway's account-wide CloudWatch role
(``AWS::ApiGateway::Account``, one per account and region): see :class:`Stage`.

``-c audit_retention_days=N`` is how long the audit trail keeps a record (every decision,
edit, expiry and action of a run, docs/reviews.md#the-audit-trail): 400 days unless set, in
both policies; a whole number of days from 1 to 3650.

A value that is not a name, not a policy, or a combination the policy cannot keep is a
:class:`StageError` whose message names the setting and the fix (app.py prints it, no trace).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_cognito as cognito
from constructs import Construct, Node

from aiflows_runtime.state.ports import AUDIT_RETENTION_DAYS

STAGE_CONTEXT = "stage"  # -c stage=<name>
POLICY_CONTEXT = "stage_policy"  # -c stage_policy=production|development
API_GATEWAY_ACCOUNT_CONTEXT = "api_gateway_account"  # -c api_gateway_account=true
ALERT_EMAIL_CONTEXT = "alert_email"  # -c alert_email=you@example.com
AUDIT_RETENTION_CONTEXT = "audit_retention_days"  # -c audit_retention_days=400
MAX_AUDIT_RETENTION_DAYS = 3650

STACK_NAME = "AiFlows"  # the default stage's stack, and the other stages' prefix
PREFIX = "aiflows"  # the default stage's bus and service name, and the other stages' prefix
# The bus policy's longest statement id is f"{PREFIX}-<stage>-deny-other-detail-types", at most
# 64 characters (EventBridge's StatementId): 64 - len("aiflows-") - len("-deny-other-detail-types").
MAX_NAME = 32
_NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")


class StageError(ValueError):
    """A stage setting that cannot be built; the message names the setting and the fix."""


@dataclass(frozen=True)
class Policy:
    """One policy for the resources that hold data, the reviewers' sign-in and the alarms."""

    name: str
    summary: str  # what a destroy leaves, in a few words (the bad-policy message lists it)
    data_removal_policy: RemovalPolicy  # the state table, the user pool, the claim bucket
    deletion_protection: bool  # the state table's and the user pool's own switch
    auto_delete_objects: bool  # the claim bucket is emptied before it is deleted
    log_removal_policy: RemovalPolicy  # every log group of the stack
    key_removal_policy: RemovalPolicy  # the KMS key of the alerts topic (it holds no data itself)
    feature_plan: cognito.FeaturePlan  # the user pool's tier
    threat_protection: cognito.StandardThreatProtectionMode | None  # Plus only; None: off
    alarm_actions: bool  # the alarms notify the alerts topic (ActionsEnabled)


PRODUCTION = Policy(
    name="production",
    summary="the data outlives the stack, risky sign-ins are blocked, alarms notify",
    data_removal_policy=RemovalPolicy.RETAIN,
    deletion_protection=True,
    auto_delete_objects=False,
    log_removal_policy=RemovalPolicy.DESTROY,
    key_removal_policy=RemovalPolicy.RETAIN,  # CDK's default for a key: its deletion cannot be undone
    feature_plan=cognito.FeaturePlan.PLUS,
    threat_protection=cognito.StandardThreatProtectionMode.FULL_FUNCTION,
    alarm_actions=True,
)
DEVELOPMENT = Policy(
    name="development",
    summary="everything goes with the stack, alarms notify nobody",
    data_removal_policy=RemovalPolicy.DESTROY,
    deletion_protection=False,
    auto_delete_objects=True,
    log_removal_policy=RemovalPolicy.DESTROY,
    key_removal_policy=RemovalPolicy.DESTROY,  # scheduled for deletion, after KMS's waiting period
    feature_plan=cognito.FeaturePlan.ESSENTIALS,
    threat_protection=None,
    alarm_actions=False,
)
POLICIES = {policy.name: policy for policy in (PRODUCTION, DEVELOPMENT)}


@dataclass(frozen=True)
class Stage:
    """One stack of the app: its name, its policy, and whether it owns the account's API logging role.

    ``api_gateway_account``: API Gateway writes a REST API's execution and access logs to
    CloudWatch through one IAM role per account and region (``AWS::ApiGateway::Account``); a
    stage with logging on deploys only where that role is set. It is account-wide, so one
    stack (or the account's baseline) sets it, once: the stack asked to creates the role and
    the setting, both retained (every API of the account logs through them), which is why a
    development stage, which leaves nothing behind, may not be the one.
    """

    name: str
    policy: Policy
    api_gateway_account: bool = False
    audit_retention_days: int = AUDIT_RETENTION_DAYS

    def __post_init__(self) -> None:
        _check_name(self.name)
        if not 1 <= self.audit_retention_days <= MAX_AUDIT_RETENTION_DAYS:
            raise StageError(
                f"context {AUDIT_RETENTION_CONTEXT}={self.audit_retention_days}: the audit trail keeps a "
                f"record 1 to {MAX_AUDIT_RETENTION_DAYS} days; without it, {AUDIT_RETENTION_DAYS}"
            )
        if self.api_gateway_account and self.policy.data_removal_policy != RemovalPolicy.RETAIN:
            raise StageError(
                f"context {API_GATEWAY_ACCOUNT_CONTEXT}=true: the account's API Gateway logging role "
                f"outlives the stack, but stage {self.name} has the {self.policy.name} policy "
                f"({self.policy.summary}): set it from a production stage (e.g. "
                f"-c {STAGE_CONTEXT}=prod -c {API_GATEWAY_ACCOUNT_CONTEXT}=true) or in API Gateway's "
                f"settings, or add -c {POLICY_CONTEXT}={PRODUCTION.name}"
            )

    @property
    def default(self) -> bool:
        return self.name == DEFAULT_NAME

    @property
    def stack_name(self) -> str:
        """``AiFlows`` for the default stage, ``AiFlows-<stage>`` for the others."""
        return STACK_NAME if self.default else f"{STACK_NAME}-{self.name}"

    @property
    def prefix(self) -> str:
        """The bus's name and the functions' service name: ``aiflows``, or ``aiflows-<stage>``."""
        return PREFIX if self.default else f"{PREFIX}-{self.name}"


DEFAULT_NAME = "prod"


def default_policy(name: str) -> Policy:
    """``prod`` is production; any other stage development, unless -c stage_policy says otherwise."""
    return PRODUCTION if name == DEFAULT_NAME else DEVELOPMENT


def _check_name(value: object) -> str:
    if isinstance(value, str) and _NAME.match(value) and len(value) <= MAX_NAME:
        return value
    why = (
        f"{len(value)} characters, more than {MAX_NAME}"
        if isinstance(value, str) and _NAME.match(value)
        else "not a resource prefix"
    )
    raise StageError(
        f"context {STAGE_CONTEXT}={value!r} is {why}: a stage name prefixes the stack's names "
        f"({STACK_NAME}-<stage>, the bus {PREFIX}-<stage>), so it is lowercase letters and digits, "
        f"words joined by single hyphens, starting with a letter, at most {MAX_NAME} characters "
        f"(e.g. -c {STAGE_CONTEXT}=dev or -c {STAGE_CONTEXT}=review-2); "
        f"without -c {STAGE_CONTEXT}, the stage is {DEFAULT_NAME}"
    )


def _policy_named(value: object, stage: str) -> Policy:
    if value is None:
        return default_policy(stage)
    policy = POLICIES.get(value) if isinstance(value, str) else None
    if policy is None:
        choices = " or ".join(f"-c {POLICY_CONTEXT}={p.name} ({p.summary})" for p in POLICIES.values())
        raise StageError(
            f"context {POLICY_CONTEXT}={value!r} is not a policy: use {choices}; without "
            f"-c {POLICY_CONTEXT}, stage {DEFAULT_NAME} is {PRODUCTION.name} and any other {DEVELOPMENT.name}"
        )
    return policy


def context_flag(key: str, value: object) -> bool:
    """A true/false context value (``-c <key>=true``); no value is false, anything else a StageError."""
    if value is None or value is False or value == "false":
        return False
    if value is True or value == "true":
        return True
    raise StageError(f"context {key}={value!r} is not true or false: use -c {key}=true, or leave it out")


def stage_from(context: Node) -> Stage:
    """The stage the context values name (``-c stage=…``, ``-c stage_policy=…``, …), checked."""
    name = _check_name(DEFAULT_NAME if (given := context.try_get_context(STAGE_CONTEXT)) is None else given)
    policy = _policy_named(context.try_get_context(POLICY_CONTEXT), name)
    email = context.try_get_context(ALERT_EMAIL_CONTEXT)
    if email and not policy.alarm_actions:
        raise StageError(
            f"context {ALERT_EMAIL_CONTEXT}={email!r} subscribes to the alarms, but stage {name} has the "
            f"{policy.name} policy, whose alarms notify nobody: drop -c {ALERT_EMAIL_CONTEXT}, "
            f"or add -c {POLICY_CONTEXT}={PRODUCTION.name}"
        )
    account = context_flag(API_GATEWAY_ACCOUNT_CONTEXT, context.try_get_context(API_GATEWAY_ACCOUNT_CONTEXT))
    return Stage(
        name=name,
        policy=policy,
        api_gateway_account=account,
        audit_retention_days=_days(context.try_get_context(AUDIT_RETENTION_CONTEXT)),
    )


def _days(value: object) -> int:
    if value is None:
        return AUDIT_RETENTION_DAYS
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    raise StageError(
        f"context {AUDIT_RETENTION_CONTEXT}={value!r} is not a number of days: use e.g. "
        f"-c {AUDIT_RETENTION_CONTEXT}=400 (1 to {MAX_AUDIT_RETENTION_DAYS}), or leave it out"
    )


def stage_of(scope: Construct) -> Stage:
    """The stage of the stack ``scope`` is in: the stack's own (AiFlowsStack), or the context's."""
    stage = getattr(Stack.of(scope), "stage", None)
    return stage if isinstance(stage, Stage) else stage_from(scope.node)


def policy_of(scope: Construct) -> Policy:
    """What the stack of ``scope`` does with its data (infra/stage.py's module docstring)."""
    return stage_of(scope).policy


PROD = Stage(DEFAULT_NAME, PRODUCTION)  # a deploy that names no stage
DEV = Stage("dev", DEVELOPMENT)
