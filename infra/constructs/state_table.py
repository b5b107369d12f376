"""The state table: idempotency records and run records, one DynamoDB table, single-table keys."""

from __future__ import annotations

from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.stage import policy_of

TTL_ATTRIBUTE = "expiration"
# The sparse index of pending reviews: only a pending review has ``gsi1pk``
# (aiflows_runtime.reviews writes it, and removes it once the review is decided).
PENDING_REVIEWS_INDEX = "gsi1"

# What the runtime does with the table: idempotency records (Powertools), the flows' event claims,
# the model ledger, the circuit breaker, the response cache, reviews and feedback.
READ_ACTIONS = (
    "dynamodb:BatchGetItem",
    "dynamodb:ConditionCheckItem",
    "dynamodb:DescribeTable",
    "dynamodb:GetItem",
    "dynamodb:Query",
    "dynamodb:Scan",
)
WRITE_ACTIONS = (
    "dynamodb:BatchWriteItem",
    "dynamodb:DeleteItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
)
# The audit trail is append-only (docs/reviews.md#the-audit-trail): no grantee changes or deletes an
# audit#<run> item; a record is added with PutItem, on the condition that no item has its key.
AUDIT_KEYS = "audit#*"
AUDIT_CHANGES = (
    "dynamodb:BatchWriteItem",
    "dynamodb:DeleteItem",
    "dynamodb:PartiQLDelete",
    "dynamodb:PartiQLUpdate",
    "dynamodb:UpdateItem",
)


class StateTable(Construct):
    """``pk``/``sk`` string keys, on-demand, TTL on ``expiration``, point-in-time recovery.

    ``expiration`` is the attribute Powertools Idempotency writes, so expired
    idempotency records disappear without a sweeper. ``gsi1`` (``gsi1pk``/``gsi1sk``,
    every attribute projected) indexes the pending reviews.

    It holds what outlives a run (the reviews and their decisions, the feedback dataset,
    the ledger), so the stage's policy decides its fate (:mod:`infra.stage`): under
    ``production`` it is retained, on delete and on replacement, with deletion protection on;
    under ``development`` it goes with the stack.
    """

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        policy = policy_of(self)
        self.table = dynamodb.Table(
            self,
            "Default",
            partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="sk", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            time_to_live_attribute=TTL_ATTRIBUTE,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            deletion_protection=policy.deletion_protection,
            removal_policy=policy.data_removal_policy,
        )
        self.table.add_global_secondary_index(
            index_name=PENDING_REVIEWS_INDEX,
            partition_key=dynamodb.Attribute(name="gsi1pk", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="gsi1sk", type=dynamodb.AttributeType.STRING),
            projection_type=dynamodb.ProjectionType.ALL,
        )

    def grant_read_write_data(self, grantee: iam.IGrantable) -> iam.Grant:
        """Reads and writes on the table and on its ``gsi1`` index, by exact ARN; never a change or a
        deletion of an audit record (an explicit Deny on ``audit#`` leading keys).

        ``Table.grant_read_write_data`` would add ``<table>/index/*``, a wildcard that
        cdk-nag (rightly) flags on every function; the table has one index, named.
        """
        grant = iam.Grant.add_to_principal(
            grantee=grantee,
            actions=[*READ_ACTIONS, *WRITE_ACTIONS],
            resource_arns=[self.table.table_arn, f"{self.table.table_arn}/index/{PENDING_REVIEWS_INDEX}"],
        )
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                sid="AuditTrailIsAppendOnly",
                effect=iam.Effect.DENY,
                actions=list(AUDIT_CHANGES),
                resources=[self.table.table_arn],
                conditions={"ForAnyValue:StringLike": {"dynamodb:LeadingKeys": [AUDIT_KEYS]}},
            )
        )
        return grant
