"""The review API and console: API Gateway (REST), a Cognito user pool authorizer, one function.

The page and its assets (``GET /``, ``GET /console/{name}``) are public, like any
sign-in page; every API route needs a Cognito ID token. The function answers the
flows' task tokens, so it may call the three task-token APIs of Step Functions.

Who may review what is the user pool's groups (docs/reviews.md#who-may-review-what): the
two role groups are the stack's; a tenant's group (``tenant:<id>``) is an administrator's
to create, as tenants come, and members of every group are theirs to add and remove.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_logs as logs
from constructs import Construct

from aiflows_runtime.reviews import ADMINS_GROUP, REVIEWERS_GROUP
from infra.constructs.capability_function import CapabilityFunction
from infra.constructs.claim_bucket import ClaimBucket
from infra.constructs.state_table import StateTable
from infra.nag import acknowledge
from infra.stage import stage_of

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
    ) -> None:
        super().__init__(scope, construct_id)
        stage = stage_of(self)
        # the reviewers' accounts: kept, and protected from deletion, in prod (infra/stage.py)
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
            feature_plan=cognito.FeaturePlan.PLUS,
            standard_threat_protection_mode=cognito.StandardThreatProtectionMode.FULL_FUNCTION,
            deletion_protection=stage.deletion_protection,
            removal_policy=stage.data_removal_policy,
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
            },
            timeout=Duration.seconds(10),
            answers_task_tokens=True,
            invoked_by="api",
        )
        function = self.handler.function
        state_table.grant_read_write_data(function)
        claim_bucket.grant_read(self.handler)

        access_logs = logs.LogGroup(
            self,
            "AccessLogs",
            retention=logs.RetentionDays.ONE_MONTH,
            removal_policy=stage.log_removal_policy,
        )
        self.api = apigw.LambdaRestApi(
            self,
            "Api",
            handler=function,
            proxy=False,
            description="aiflows review API and console",
            cloud_watch_role=True,
            cloud_watch_role_removal_policy=RemovalPolicy.DESTROY,
            deploy_options=apigw.StageOptions(
                stage_name="prod",
                tracing_enabled=True,
                # a few reviewers: a low ceiling keeps a runaway client from running up the bill
                throttling_rate_limit=20,
                throttling_burst_limit=40,
                logging_level=apigw.MethodLoggingLevel.INFO,
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
        review.add_resource("decision").add_method(
            "POST",
            authorizer=authorizer,
            authorization_type=apigw.AuthorizationType.COGNITO,
            request_validator=validator,
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
            "Decisions are validated by the function with pydantic (422 naming each problem), "
            "the one place their rules live; the stage validates the body's presence.",
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
