"""The regions the stack deploys to, in one place, and the check that refuses the others at synth.

A region is supported when both of the stack's regional dependencies exist there:

- **The Powertools layer's SSM parameter.** Every function's Powertools layer is resolved at
  deploy time from ``/aws/service/powertools/python/<arch>/<runtime>/<version>``
  (:func:`infra.constructs.capability_function.powertools_layer`). Powertools' release workflow
  (``.github/workflows/update_ssm.yml`` of aws-powertools/powertools-lambda-python) writes it in
  the 30 commercial regions of :data:`POWERTOOLS_PARAMETER_REGIONS`, and in no region of
  ``aws-cn`` or ``aws-us-gov``: there the layer is published under other accounts, with no
  parameter to resolve, so those partitions are not targets (``cdk.json``).
- **Amazon Bedrock's runtime.** Every capability calls Converse. The Bedrock user guide
  ("Regional availability by endpoints") lists ``bedrock-runtime`` in each region of
  :data:`SUPPORTED_REGIONS`; of the 30 above, af-south-1, ap-east-1, il-central-1 and
  mx-central-1 are left out until Bedrock's runtime is confirmed there.

The stack's other services (Lambda on arm64, Step Functions, EventBridge, SQS, DynamoDB, S3,
API Gateway, Cognito, CloudWatch, SNS, KMS, X-Ray) are offered in each supported region.
Whether a model of the routing policy is enabled in a region is a question for the account,
not for synth.

The stack is environment-agnostic (its template names no region), so the region is checked
where it is known at synth: the stack's own ``env`` region, or ``CDK_DEFAULT_REGION``, which the
CDK CLI passes to the app from ``AWS_REGION``, ``AWS_DEFAULT_REGION`` or the profile's region.
A template deployed into another region anyway is refused by CloudFormation: the stack's rule
:data:`RULE_ID` asserts the region is in this list before any resource is created.
"""

from __future__ import annotations

from aws_cdk import Aws, CfnRule, CfnRuleAssertion, Fn, Stack, Token

# Where Powertools' release workflow writes the layer parameters (update_ssm.yml's region matrix).
POWERTOOLS_PARAMETER_REGIONS = frozenset(
    {
        "af-south-1",
        "ap-east-1",
        "ap-northeast-1",
        "ap-northeast-2",
        "ap-northeast-3",
        "ap-south-1",
        "ap-south-2",
        "ap-southeast-1",
        "ap-southeast-2",
        "ap-southeast-3",
        "ap-southeast-4",
        "ap-southeast-5",
        "ap-southeast-7",
        "ca-central-1",
        "ca-west-1",
        "eu-central-1",
        "eu-central-2",
        "eu-north-1",
        "eu-south-1",
        "eu-south-2",
        "eu-west-1",
        "eu-west-2",
        "eu-west-3",
        "il-central-1",
        "mx-central-1",
        "sa-east-1",
        "us-east-1",
        "us-east-2",
        "us-west-1",
        "us-west-2",
    }
)
# Of those, the regions where Bedrock's runtime is not confirmed (see the module's docstring).
WITHOUT_BEDROCK_RUNTIME = frozenset({"af-south-1", "ap-east-1", "il-central-1", "mx-central-1"})
SUPPORTED_REGIONS: tuple[str, ...] = tuple(sorted(POWERTOOLS_PARAMETER_REGIONS - WITHOUT_BEDROCK_RUNTIME))

REGION_SETTING = "CDK_DEFAULT_REGION"  # what the CDK CLI passes the app: AWS_REGION, or the profile's
_FROM_THE_CLI = f"{REGION_SETTING}, which the CDK CLI sets from AWS_REGION or the profile's region"
RULE_ID = "SupportedRegion"


class RegionError(ValueError):
    """The deploy region is not one the stack supports; the message names the setting and the fix."""


def require_supported_region(region: str | None, setting: str = _FROM_THE_CLI) -> None:
    """Refuse a region outside :data:`SUPPORTED_REGIONS`; no region (or a token) is not known yet."""
    if region is None or region == "" or Token.is_unresolved(region) or region in SUPPORTED_REGIONS:
        return
    why = (
        "the Powertools layer's SSM parameter is not published there"
        if region not in POWERTOOLS_PARAMETER_REGIONS
        else "Amazon Bedrock's runtime is not confirmed there"
    )
    raise RegionError(
        f"region {region!r} (from {setting}) is not one the stack supports: {why}. "
        f"Fix: deploy to a supported region, by AWS_REGION or the profile's region "
        f"(`AWS_REGION=us-east-1 npx cdk deploy`); the supported regions are "
        f"{', '.join(SUPPORTED_REGIONS)} (infra/regions.py says why)"
    )


def supported_region_rule(stack: Stack) -> CfnRule:
    """The template's own check, for a deploy the synth did not see: one rule per stack."""
    existing = stack.node.try_find_child(RULE_ID)
    if isinstance(existing, CfnRule):
        return existing
    return CfnRule(
        stack,
        RULE_ID,
        assertions=[
            CfnRuleAssertion(
                assert_=Fn.condition_contains(list(SUPPORTED_REGIONS), Aws.REGION),
                assert_description=(
                    "aiflows deploys only to the regions where the Powertools layer's SSM parameter "
                    "and Amazon Bedrock's runtime both exist: " + ", ".join(SUPPORTED_REGIONS)
                ),
            )
        ],
    )
