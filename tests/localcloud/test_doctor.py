"""`python -m aiflows doctor` against the local cloud, with the app deployed.

The local cloud answers the bootstrap version, the Powertools layer's parameter, the stack,
its outputs and their resources: those are real outcomes here. Bedrock's model availability,
inference profiles, the Service Quotas and Lambda's account settings it does not model: the
doctor says it could not check them, and with those clients stubbed (botocore's Stubber) the
same run passes, or fails with each fix.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from aiflows import doctor
from aiflows.cli import main
from aiflows.registry import capabilities
from aiflows_runtime.policies import routing_policy
from localcloud import Deployment, LocalCloud

STUBBED = ("bedrock", "service-quotas", "lambda")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[dict[str, Any]]]:
    code = main(["doctor", "--json", *argv])
    return code, json.loads(capsys.readouterr().out)


def by_check(findings: list[dict[str, Any]]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for finding in findings:
        found.setdefault(finding["check"], set()).add(finding["outcome"])
    return found


def test_the_doctor_checks_what_the_local_cloud_models_and_says_what_it_could_not(
    cloud: LocalCloud, app: Deployment, app_assembly: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # When the doctor runs against the local cloud, the app deployed
    code, findings = run(capsys, "--assembly", str(app_assembly), "--endpoint-url", cloud.endpoint)
    outcomes = by_check(findings)
    # Then the bootstrap, the layer and the stack are real outcomes, and pass
    assert outcomes["bootstrap"] == {doctor.OK} and outcomes["layer"] == {doctor.OK}
    stack = {f["subject"]: f for f in findings if f["check"] == "stack"}
    assert stack[app.stack_name]["outcome"] == doctor.OK
    probed = {key for key in app.outputs if not key.startswith("ReviewApi") or key == "ReviewApiFunctionName"}
    assert {key: stack[key]["outcome"] for key in probed} == dict.fromkeys(probed, doctor.OK)
    # (the review API exists; its URL names AWS's host, which is not requested from here)
    assert stack["ReviewApiUrl"]["outcome"] == doctor.OK
    assert stack["ReviewApiUrl over HTTP"]["outcome"] == doctor.UNCHECKED
    # and what the local cloud does not model could not be checked: no failure, exit 0
    assert (
        outcomes["models"]
        == outcomes["lambda concurrency"]
        == outcomes["bedrock quotas"]
        == {doctor.UNCHECKED}
    )
    assert code == 0


def stubbed_account(
    cloud: LocalCloud, demanded: set[str], *, enabled: bool, quota: float, concurrency: int
) -> tuple[doctor.Account, list[Stubber]]:
    """The local cloud's clients, with Bedrock, Service Quotas and Lambda's settings stubbed."""
    region = cloud.region
    clients = {service: boto3.client(service, region_name=region) for service in STUBBED}
    stubs = {service: Stubber(clients[service]) for service in STUBBED}
    policy = routing_policy()
    for model in doctor.routed_models():
        invocation = policy.invocation(model, region)
        assert invocation is not None
        stubs["bedrock"].add_response(
            "get_foundation_model_availability",
            {
                "modelId": model,
                "agreementAvailability": {"status": "AVAILABLE"},
                "authorizationStatus": "AUTHORIZED" if enabled else "NOT_AUTHORIZED",
                "entitlementAvailability": "AVAILABLE",
                "regionAvailability": "AVAILABLE",
            },
            {"modelId": model},
        )
        if invocation.through_profile:
            stubs["bedrock"].add_response(
                "get_inference_profile",
                {
                    "inferenceProfileName": invocation.model_id,
                    "inferenceProfileArn": (
                        f"arn:aws:bedrock:{region}:{cloud.account}:inference-profile/{invocation.model_id}"
                    ),
                    "inferenceProfileId": invocation.model_id,
                    "status": "ACTIVE",
                    "type": "SYSTEM_DEFINED",
                    "models": [
                        {"modelArn": f"arn:aws:bedrock:{r}::foundation-model/{model}"}
                        for r in invocation.destinations
                    ],
                },
                {"inferenceProfileIdentifier": invocation.model_id},
            )
    stubs["lambda"].add_response(
        "get_account_settings",
        {
            "AccountLimit": {
                "ConcurrentExecutions": concurrency,
                "UnreservedConcurrentExecutions": concurrency,
            }
        },
    )
    quotas = []
    names = {}
    for model in sorted(demanded):
        invocation = policy.invocation(model, region)
        assert invocation is not None
        kind = "Cross-Region" if invocation.through_profile else "On-demand"
        name = model.split(".")[1].split("-v")[0].replace("-", " ").title()
        names[model] = name
        for unit, code in (("requests", "R"), ("tokens", "T")):
            quotas.append(
                {
                    "QuotaName": f"{kind} InvokeModel {unit} per minute for Acme {name}",
                    "QuotaCode": f"L-{code}{len(quotas)}",
                    "Value": quota * (1 if unit == "requests" else 1024),
                }
            )
    stubs["service-quotas"].add_response(
        "list_service_quotas", {"Quotas": quotas}, {"ServiceCode": "bedrock"}
    )
    for model in sorted(demanded):
        stubs["bedrock"].add_response(
            "get_foundation_model",
            {
                "modelDetails": {
                    "modelArn": f"arn:aws:bedrock:{region}::foundation-model/{model}",
                    "modelId": model,
                    "modelName": names[model],
                    "providerName": "Acme",
                }
            },
            {"modelIdentifier": model},
        )
    for stub in stubs.values():
        stub.activate()

    class LocalLambda:
        """The local cloud's Lambda, but for the account settings, which it does not model."""

        def __init__(self) -> None:
            self.get_account_settings = clients["lambda"].get_account_settings
            self._local = cloud.client("lambda")

        def __getattr__(self, name: str) -> Any:
            return getattr(self._local, name)

    def client(service: str) -> Any:
        if service == "lambda":
            return LocalLambda()
        return clients[service] if service in clients else cloud.client(service)

    return doctor.Account(client, local=True), list(stubs.values())


@pytest.fixture(scope="module")
def demanded(app_assembly: Path) -> set[str]:
    """The models the flows' configured concurrency calls, from the deployed template."""
    assembly = doctor.read_assembly(app_assembly, "AiFlows")
    found = set(doctor.model_demands(doctor.concurrency_demands(assembly.template), capabilities()))
    assert found, "the stack configures no bounded concurrency that calls a model"
    return found


def diagnose(cloud: LocalCloud, app_assembly: Path, account: doctor.Account) -> list[doctor.Finding]:
    assembly = doctor.read_assembly(app_assembly, "AiFlows")
    return doctor.diagnose(account, assembly, cloud.region, "prod", account.identity())


def test_with_bedrock_quotas_and_lambda_stubbed_every_check_passes(
    cloud: LocalCloud, app: Deployment, app_assembly: Path, demanded: set[str]
) -> None:
    # Given an account where every model is enabled, the quotas are generous and Lambda has 1000
    account, stubs = stubbed_account(cloud, demanded, enabled=True, quota=10_000, concurrency=1000)
    # When the doctor runs
    findings = diagnose(cloud, app_assembly, account)
    # Then nothing fails, and only the review API's URL over HTTP is left unchecked
    assert doctor.exit_code(findings) == 0, doctor.render(findings)
    unchecked = {f.subject for f in findings if f.outcome == doctor.UNCHECKED}
    urls = {
        key for key, value in app.outputs.items() if value.startswith("https://") and "QueueUrl" not in key
    }
    assert unchecked == {f"{key} over HTTP" for key in urls}
    for stub in stubs:
        stub.assert_no_pending_responses()


def test_models_not_enabled_small_quotas_and_a_new_accounts_concurrency_fail_each_with_its_fix(
    cloud: LocalCloud, app: Deployment, app_assembly: Path, demanded: set[str]
) -> None:
    # Given models not enabled, one request a minute, and a new account's 10 concurrent executions
    account, _ = stubbed_account(cloud, demanded, enabled=False, quota=1, concurrency=10)
    # And a bootstrap older than the app requires
    ssm = cloud.client("ssm")
    ssm.put_parameter(Name="/cdk-bootstrap/hnb659fds/version", Value="5", Type="String", Overwrite=True)
    try:
        findings = diagnose(cloud, app_assembly, account)
    finally:
        ssm.put_parameter(Name="/cdk-bootstrap/hnb659fds/version", Value="30", Type="String", Overwrite=True)
    failed = {(f.check, f.subject): f for f in findings if f.outcome == doctor.FAIL}
    # Then each fails with its fix
    assert failed[("bootstrap", "/cdk-bootstrap/hnb659fds/version")].fix == (
        f"npx cdk bootstrap aws://{cloud.account}/{cloud.region}"
    )
    for model in doctor.routed_models():
        assert "Model access page" in failed[("models", model)].fix
    assert "--quota-code L-B99A9384" in failed[("lambda concurrency", "concurrent executions")].fix
    for model in demanded:
        assert (
            "request-service-quota-increase --service-code bedrock"
            in failed[("bedrock quotas", f"{model} requests/min")].fix
        )
    assert doctor.exit_code(findings) == 1
