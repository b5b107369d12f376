"""The review API and console: API Gateway (REST), a Cognito user pool authorizer, one function.

The page and its assets (``GET /``, ``GET /console/{name}``) are public, like any
sign-in page; every API route needs a Cognito ID token. The function answers the
flows' task tokens, so it may call the three task-token APIs of Step Functions.

Limits at the edge (docs/reviews.md#limits-at-the-edge): the stage throttles each method
(:data:`THROTTLES`), and API Gateway's request validator checks a decision's body against
a model generated from the function's own ``DecisionBody`` (:func:`decision_model_schema`),
so an over-long field or too many edits is a 400 before the function runs.

Who may review what is the user pool's groups (docs/reviews.md#who-may-review-what): the
two role groups are the stack's; a tenant's group (``tenant:<id>``) is an administrator's
to create, as tenants come, and members of every group are theirs to add and remove.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_logs as logs
from constructs import Construct

from aiflows.registry import capability_module
from aiflows_runtime.reviews import ADMINS_GROUP, REVIEWERS_GROUP
from infra.constructs.capability_function import CapabilityFunction
from infra.constructs.claim_bucket import ClaimBucket
from infra.constructs.event_bus import EventBus
from infra.constructs.state_table import StateTable
from infra.draft4 import draft4
from infra.nag import acknowledge
from infra.stage import stage_of


@dataclass(frozen=True)
class Throttle:
    rate: int  # requests per second, sustained (the token bucket's refill)
    burst: int  # requests at once (the bucket's size)


# The stage's throttles, by method ("*/*": every method without its own). A few reviewers, each a
# person: a low ceiling keeps a runaway client from running up the bill. A decision is a write that
# answers a flow, once per review; the feedback dataset reads every decision of the tenants in scope.
THROTTLES = {
    "/*/*": Throttle(rate=20, burst=40),
    "/reviews/{review_id}/decision/POST": Throttle(rate=5, burst=10),
    "/feedback.jsonl/GET": Throttle(rate=1, burst=2),
}
DECISION_MODEL = "DecisionBody"  # the model's name in the REST API (letters and digits)


def decision_model_schema() -> dict[str, Any]:
    """The model of ``POST /reviews/{review_id}/decision``'s body: the function's DecisionBody, in draft 4."""
    logic = capability_module("review_api", "logic")
    return draft4(logic.DecisionBody.model_json_schema())


PUBLIC_REASON = (
    "The console's page and its static assets are public, as a sign-in page is: they hold "
    "no data, and every API route they call requires a Cognito ID token."
)


class ReviewApi(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        state_table: StateTable,
        claim_bucket: ClaimBucket,
        event_bus: EventBus,
    ) -> None:
        super().__init__(scope, construct_id)
        stage = stage_of(self)
        policy = stage.policy
        # the reviewers' accounts: kept, and protected from deletion, under the production policy;
        # its tier and threat protection are the policy's too (infra/stage.py)
        self.user_pool = cognito.UserPool(
            self,
            "Reviewers",
            self_sign_up_enabled=False,
            sign_in_aliases=cognito.SignInAliases(email=True),
            password_policy=cognito.PasswordPolicy(
                min_length=12,
                require_digits=True,
                require_lowercase=True,
                require_uppercase=True,
                require_symbols=True,
            ),
            mfa=cognito.Mfa.REQUIRED,
            mfa_second_factor=cognito.MfaSecondFactor(sms=False, otp=True),
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            feature_plan=policy.feature_plan,
            standard_threat_protection_mode=policy.threat_protection,
            deletion_protection=policy.deletion_protection,
            removal_policy=policy.data_removal_policy,
        )
        if policy.feature_plan != cognito.FeaturePlan.PLUS:
            acknowledge(
                self.user_pool.node.default_child,
                "AwsSolutions-COG8",
                "A development stage's pool (infra/stage.py): test reviewers on the Essentials tier, "
                "MFA still required; a production stage's pool is on Plus, threat protection enforced.",
            )
        # the roles, as groups: what a member may do is the review API's to decide (its logic.py)
        self.role_groups = {
            group: cognito.UserPoolGroup(
                self, construct_id, user_pool=self.user_pool, group_name=group, description=description
            )
            for construct_id, group, description in (
                ("ReviewersGroup", REVIEWERS_GROUP, "Reviewers: decide the reviews of their tenant:<id>s"),
                ("AdminsGroup", ADMINS_GROUP, "Administrators: see and decide the reviews of every tenant"),
            )
        }
        self.client = self.user_pool.add_client(
            "Console", auth_flows=cognito.AuthFlow(user_srp=True), prevent_user_existence_errors=True
        )

        self.handler = CapabilityFunction(
            self,
            "Function",
            capability="review_api",
            environment={
                "STATE_TABLE_NAME": state_table.table.table_name,
                "CLAIM_BUCKET": claim_bucket.bucket.bucket_name,
                "EVENT_BUS_NAME": event_bus.event_bus.event_bus_name,  # review.decided
            },
            timeout=Duration.seconds(10),
            answers_task_tokens=True,
            invoked_by="api",
        )
        function = self.handler.function
        state_table.grant_read_write_data(function)
        claim_bucket.grant_read(self.handler)
        event_bus.event_bus.grant_put_events_to(function)

        access_logs = logs.LogGroup(
            self,
            "AccessLogs",
            retention=logs.RetentionDays.ONE_MONTH,
            removal_policy=policy.log_removal_policy,
        )
        self.api = apigw.LambdaRestApi(
            self,
            "Api",
            handler=function,
            proxy=False,
            description="aiflows review API and console",
            # API Gateway's account-wide logging role, only when asked (-c api_gateway_account=true):
            # one per account and region, kept when the stack goes (every API there logs through it)
            cloud_watch_role=stage.api_gateway_account,
            cloud_watch_role_removal_policy=RemovalPolicy.RETAIN if stage.api_gateway_account else None,
            deploy_options=apigw.StageOptions(
                stage_name="prod",
                tracing_enabled=True,
                throttling_rate_limit=THROTTLES["/*/*"].rate,
                throttling_burst_limit=THROTTLES["/*/*"].burst,
                logging_level=apigw.MethodLoggingLevel.INFO,
                # a method's own settings replace the stage's for it: each repeats the logging level
                method_options={
                    path: apigw.MethodDeploymentOptions(
                        throttling_rate_limit=throttle.rate,
                        throttling_burst_limit=throttle.burst,
                        logging_level=apigw.MethodLoggingLevel.INFO,
                    )
                    for path, throttle in THROTTLES.items()
                    if path != "/*/*"
                },
                access_log_destination=apigw.LogGroupLogDestination(access_logs),
                access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                    caller=False,
                    http_method=True,
                    ip=True,
                    protocol=True,
                    request_time=True,
                    resource_path=True,
                    response_length=True,
                    status=True,
                    user=True,
                ),
            ),
        )
        authorizer = apigw.CognitoUserPoolsAuthorizer(self, "Authorizer", cognito_user_pools=[self.user_pool])
        protected = {"authorizer": authorizer, "authorization_type": apigw.AuthorizationType.COGNITO}
        validator = self.api.add_request_validator(
            "Validator", validate_request_body=True, validate_request_parameters=True
        )
        root = self.api.root
        public_methods = [root.add_method("GET")]
        console = root.add_resource("console").add_resource("{name}")
        public_methods.append(console.add_method("GET"))
        reviews = root.add_resource("reviews")
        reviews.add_method("GET", **protected)
        review = reviews.add_resource("{review_id}")
        review.add_method("GET", **protected)
        # the body's model, from the function's own DecisionBody: API Gateway refuses (400) a body
        # it does not match, and the function still checks everything (the rules draft 4 cannot say)
        self.decision_model = apigw.CfnModel(
            self,
            "DecisionModel",
            rest_api_id=self.api.rest_api_id,
            name=DECISION_MODEL,
            content_type="application/json",
            description="The body of POST /reviews/{review_id}/decision (the function's DecisionBody).",
            schema=decision_model_schema(),
        )
        decision_model = apigw.Model.from_model_name(self, "DecisionModelName", self.decision_model.ref)
        review.add_resource("decision").add_method(
            "POST",
            authorizer=authorizer,
            authorization_type=apigw.AuthorizationType.COGNITO,
            request_validator=validator,
            request_models={"application/json": decision_model},
        )
        root.add_resource("feedback.jsonl").add_method("GET", **protected)
        for method in public_methods:
            for finding in ("AwsSolutions-APIG4", "AwsSolutions-COG4"):
                acknowledge(method.node.default_child, finding, PUBLIC_REASON)
        acknowledge(
            self.api.deployment_stage,
            "AwsSolutions-APIG3",
            "A private review tool for a few reviewers behind Cognito and MFA; attach the "
            "organization's WAF web ACL to this stage where one exists.",
        )
        acknowledge(
            self.api.node.default_child,
            "AwsSolutions-APIG2",
            "A decision's body is validated by API Gateway against a model generated from the "
            "function's pydantic DecisionBody (400), and by the function itself (422 naming each "
            "problem); the other routes take no body, and their path parameters are the function's.",
        )
        for child in ("CloudWatchRole",):
            role = self.api.node.try_find_child(child)
            if role is not None:
                acknowledge(
                    role,
                    "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                    "AmazonAPIGatewayPushToCloudWatchLogs]",
                    "API Gateway's account-level logging role: the managed policy is the one API "
                    "Gateway documents for pushing execution logs to CloudWatch Logs.",
                )
        self.url = self.api.url
