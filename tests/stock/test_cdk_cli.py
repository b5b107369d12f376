"""The stock CDK CLI against the local cloud: bootstrap, deploy, diff, an update, destroy.

The CLI is the one package.json pins (``node_modules/.bin/cdk``), run in a subprocess with
nothing but the environment docs/local-cloud.md gives: the local endpoint, fake credentials,
a region, and a home of its own (no ``~/.aws`` is read). It deploys the synthesized assembly
(``--app <cdk.out>``), so nothing is synthesized twice.

The AWS rules each step relies on, as AWS documents them:

- AWS CDK bootstrapping (CDK v2 Developer Guide): "Before you deploy a CDK stack into an AWS
  environment, the environment must first be bootstrapped"; the CLI deploys its template as the
  ``CDKToolkit`` stack. ``cloud.deploy`` bootstraps the same way, so ``cdk bootstrap`` on a served
  cloud finds it bootstrapped.
- CreateChangeSet (CloudFormation API Reference): "To create a change set for a stack that
  doesn't exist, for the ChangeSetType parameter, specify CREATE. To create a change set for an
  existing stack, specify UPDATE"; the stack of a CREATE change set is in REVIEW_IN_PROGRESS.
- DescribeChangeSet: ``StatusReason``, "if your attempt to create a change set failed,
  CloudFormation shows the error message" (for one without changes, "The submitted information
  didn't contain changes...", which the CLI reads as "no changes"); ``ChangeSetNotFound``, HTTP 404.
- ExecuteChangeSet: "When you execute a change set, CloudFormation deletes all other change sets
  associated with the stack because they aren't valid for the updated stack."
- DeleteChangeSet: "If you specified the name of a change set to delete, specify the stack name".
- Parameter: ``UsePreviousValue``, "use the existing parameter value that the stack is using for
  a given parameter key"; ``ResolvedValue``, "the value that corresponds to a SSM parameter key".
- CreateStack: ``TemplateURL``, "The URL of a file containing the template body ... located in an
  Amazon S3 bucket" (here the local S3, in path style: the CLI builds it from AWS_ENDPOINT_URL).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from aiflows.testing import ROOT, execution_of, finished
from localcloud import Deployment, LocalCloud
from localcloud.__main__ import put_event_file
from localcloud.assembly import BOOTSTRAP_VERSION_PARAMETER, TOOLKIT_STACK, bootstrap_template
from localcloud.patches.cloudformation import NO_CHANGES

CDK = ROOT / "node_modules" / ".bin" / "cdk"
CHANGED_FUNCTION = "ClassifyFunctionEFB7FF4E"  # the one-line change: its log level
INVALID_DOCUMENT = ROOT / "statemachines" / "document_intake" / "events" / "invalid.json"


TIMINGS: dict[str, float] = {}  # seconds each CLI command took, by command


def cdk(cloud: LocalCloud, home: Path, *argv: str | Path, step: str = "") -> str:
    """Run the stock CLI as a user would against the local cloud; its output (stdout and stderr).

    The seconds it took are kept in :data:`TIMINGS`, under ``step`` (the command by default)."""
    home.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    env = {
        "PATH": f"{CDK.parent}{os.pathsep}/usr/bin{os.pathsep}/bin",
        "HOME": str(home),
        "CDK_HOME": str(home),
        "AWS_CONFIG_FILE": str(home / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "credentials"),
        "AWS_ENDPOINT_URL": cloud.endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": cloud.region,
        "CDK_DISABLE_CLI_TELEMETRY": "true",
        "CDK_DISABLE_VERSION_CHECK": "true",
    }
    done = subprocess.run(
        [str(CDK), *map(str, argv), "--no-notices", "--require-approval", "never"],
        capture_output=True,
        text=True,
        env=env,
        cwd=home,  # no cdk.json of the project: --app names the assembly
        timeout=300,
        check=False,
    )
    TIMINGS[step or str(argv[0])] = time.perf_counter() - started
    output = done.stdout + done.stderr
    assert done.returncode == 0, (
        f"`cdk {' '.join(map(str, argv))}` exited {done.returncode}:\n{output[-4000:]}"
    )
    return output


def changed_assembly(source: Path, target: Path) -> Path:
    """A copy of the assembly with one change: one function's log level. Its template is a new
    asset (the CLI publishes a template under its hash, and skips one already published)."""
    shutil.copytree(source, target)
    manifest = json.loads((target / "manifest.json").read_text())
    [stack] = [a for a in manifest["artifacts"].values() if a["type"] == "aws:cloudformation:stack"]
    template_file = target / stack["properties"]["templateFile"]
    template = json.loads(template_file.read_text())
    variables = template["Resources"][CHANGED_FUNCTION]["Properties"]["Environment"]["Variables"]
    assert variables["POWERTOOLS_LOG_LEVEL"] == "INFO"
    variables["POWERTOOLS_LOG_LEVEL"] = "DEBUG"
    text = json.dumps(template, indent=1)
    template_file.write_text(text)
    old = stack["properties"]["stackTemplateAssetObjectUrl"].rsplit("/", 1)[-1].removesuffix(".json")
    new = hashlib.sha256(text.encode()).hexdigest()
    for name in {"manifest.json", *(f.name for f in target.glob("*.assets.json"))}:
        (target / name).write_text((target / name).read_text().replace(old, new))
    return target


def stack_status(cloud: LocalCloud, name: str) -> str:
    """The status of the stack of that name: the live one, else the last deleted."""
    summaries = [
        s for s in cloud.client("cloudformation").list_stacks()["StackSummaries"] if s["StackName"] == name
    ]
    return str(summaries[0]["StackStatus"])  # moto lists the live stacks first


def log_level(cloud: LocalCloud, deployment: Deployment) -> str:
    configuration = cloud.client("lambda").get_function_configuration(
        FunctionName=deployment.resources[CHANGED_FUNCTION]
    )
    return str(configuration["Environment"]["Variables"]["POWERTOOLS_LOG_LEVEL"])


def test_the_stock_cdk_cli_bootstraps_deploys_diffs_updates_and_destroys_the_app(
    cloud: LocalCloud,
    app: Deployment,
    app_assembly: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    home, assembly = tmp_path / "home", shutil.copytree(app_assembly, tmp_path / "cdk.out")
    cfn = cloud.client("cloudformation")
    TIMINGS["cloud.deploy"] = app.seconds

    # Given the app served as `make serve` serves it (cloud.deploy bootstraps first, as on AWS)
    # When `cdk bootstrap` runs, then the environment is found bootstrapped, from the same template
    assert "bootstrapped (no changes)" in cdk(cloud, home, "bootstrap", "--app", assembly)
    toolkit = cfn.describe_stacks(StackName=TOOLKIT_STACK)["Stacks"][0]
    assert toolkit["StackStatus"] == "CREATE_COMPLETE"
    outputs = {o["OutputKey"]: o["OutputValue"] for o in toolkit["Outputs"]}
    version = json.loads(bootstrap_template())["Outputs"]["BootstrapVersion"]["Value"]
    assert outputs["BootstrapVersion"] == version
    parameter = cloud.client("ssm").get_parameter(Name=BOOTSTRAP_VERSION_PARAMETER)["Parameter"]
    assert parameter["Value"] == version
    # and `cdk deploy` of the served assembly changes nothing (an empty change set, deleted)
    unchanged = cdk(cloud, home, "deploy", "--app", assembly, step="deploy (no changes)")
    assert f"{app.stack_name} (no changes)" in unchanged
    assert stack_status(cloud, app.stack_name) == "CREATE_COMPLETE"

    # When the stack is gone and `cdk deploy` creates it (a CREATE change set, the assets published)
    cfn.delete_stack(StackName=app.stack_name)
    cdk(cloud, home, "deploy", "--app", assembly)
    # Then the stack is created, with the outputs cloud.deploy gives, and it runs as cloud.deploy's does
    assert stack_status(cloud, app.stack_name) == "CREATE_COMPLETE"
    deployed = cloud.deployments[app.stack_name]
    assert set(deployed.outputs) == set(app.outputs)
    assert set(deployed.state_machines) == set(app.state_machines)
    assert set(deployed.versions) == set(app.versions) and set(deployed.aliases) == set(app.aliases)
    assert deployed.state_machines != app.state_machines  # a new stack, new machines
    # (an event on its bus starts its flow, which ends in the error route tests/flows checks for
    # cloud.deploy's stack: the event is refused by the flow's first Lambda step, a run of seconds)
    started = time.perf_counter()
    event_id = put_event_file(cloud, deployed, INVALID_DOCUMENT)
    done = finished(cloud, execution_of(cloud, deployed, event_id, flow="document_intake"))
    TIMINGS["a document_intake run"] = time.perf_counter() - started
    assert (done["status"], done["error"]) == ("FAILED", "InvalidDocument")
    assert done["stateMachineArn"] in deployed.state_machines.values()

    # When the assembly changes in one line, then `cdk diff` shows that one change
    changed = changed_assembly(app_assembly, tmp_path / "changed.out")
    diff = cdk(cloud, home, "diff", "--app", changed)
    assert "Number of stacks with differences: 1" in diff
    changed_resources = [line for line in diff.splitlines() if line.startswith("[")]
    assert changed_resources == [f"[~] AWS::Lambda::Function ClassifyFunction/Default {CHANGED_FUNCTION}"], (
        diff
    )
    assert "POWERTOOLS_LOG_LEVEL" in diff and "[-] INFO" in diff and "[+] DEBUG" in diff
    # and a second `cdk deploy` updates the stack through a change set, the change live
    assert log_level(cloud, deployed) == "INFO"
    cdk(cloud, home, "deploy", "--app", changed, step="deploy (update)")
    assert stack_status(cloud, app.stack_name) == "UPDATE_COMPLETE"
    assert log_level(cloud, cloud.deployments[app.stack_name]) == "DEBUG"

    # When `cdk destroy` runs, then the stack is gone
    cdk(cloud, home, "destroy", "--app", changed, "--force")
    assert stack_status(cloud, app.stack_name) == "DELETE_COMPLETE"
    assert app.stack_name not in cloud.deployments
    with capsys.disabled():
        print("\n  seconds: " + ", ".join(f"{step} {seconds:.1f}" for step, seconds in TIMINGS.items()))


# --- the CloudFormation operations the CLI calls, one rule each ------------------------------
QUEUE_TEMPLATE = {
    "Parameters": {
        "Version": {"Type": "AWS::SSM::Parameter::Value<String>", "Default": "/cli-test/version"},
        "Label": {"Type": "String", "Default": "first"},
    },
    "Resources": {"Queue": {"Type": "AWS::SQS::Queue", "Properties": {"VisibilityTimeout": 30}}},
    "Outputs": {"Version": {"Value": {"Ref": "Version"}}, "Label": {"Value": {"Ref": "Label"}}},
}


@pytest.fixture
def version_parameter(cloud: LocalCloud) -> str:
    cloud.client("ssm").put_parameter(Name="/cli-test/version", Value="7", Type="String", Overwrite=True)
    return "7"


def test_a_create_change_set_reviews_a_new_stack_then_executing_it_creates_the_stack(
    cloud: LocalCloud, version_parameter: str
) -> None:
    cfn = cloud.client("cloudformation")
    # Given a CREATE change set and a second one for the same stack
    first = cfn.create_change_set(
        StackName="cs-create",
        ChangeSetName="one",
        ChangeSetType="CREATE",
        TemplateBody=json.dumps(QUEUE_TEMPLATE),
    )
    # Then the stack is in review, and the change set lists the resource it adds
    assert stack_status(cloud, "cs-create") == "REVIEW_IN_PROGRESS"
    cfn.create_change_set(
        StackName="cs-create",
        ChangeSetName="two",
        ChangeSetType="CREATE",
        TemplateBody=json.dumps(QUEUE_TEMPLATE),
    )
    described = cfn.describe_change_set(ChangeSetName="one", StackName="cs-create")
    assert (described["Status"], described["ExecutionStatus"]) == ("CREATE_COMPLETE", "AVAILABLE")
    assert [c["ResourceChange"]["Action"] for c in described["Changes"]] == ["Add"]
    # When the first is executed
    cfn.execute_change_set(ChangeSetName=first["Id"])
    # Then the stack is created with its outputs, and its other change set is gone
    stack = cfn.describe_stacks(StackName="cs-create")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]} == {"Version": "7", "Label": "first"}
    assert [s["ChangeSetName"] for s in cfn.list_change_sets(StackName="cs-create")["Summaries"]] == ["one"]
    # and a CREATE change set for it now is refused, as for any stack that exists
    with pytest.raises(ClientError, match="already exists"):
        cfn.create_change_set(
            StackName="cs-create", ChangeSetName="three", ChangeSetType="CREATE", TemplateBody="{}"
        )
    assert "cs-create" in cloud.deployments  # every stack operation records its deployment


def test_an_update_change_set_lists_what_changes_or_fails_when_nothing_does(
    cloud: LocalCloud, version_parameter: str
) -> None:
    cfn = cloud.client("cloudformation")
    cfn.create_stack(StackName="cs-update", TemplateBody=json.dumps(QUEUE_TEMPLATE))
    keep = [{"ParameterKey": k, "UsePreviousValue": True} for k in QUEUE_TEMPLATE["Parameters"]]
    # When an UPDATE change set submits the same template and parameters
    cfn.create_change_set(
        StackName="cs-update", ChangeSetName="same", ChangeSetType="UPDATE", Parameters=keep,
        TemplateBody=json.dumps(QUEUE_TEMPLATE),
    )  # fmt: skip
    # Then it failed, with CloudFormation's reason
    same = cfn.describe_change_set(ChangeSetName="same", StackName="cs-update")
    assert (same["Status"], same["ExecutionStatus"], same["StatusReason"]) == (
        "FAILED",
        "UNAVAILABLE",
        NO_CHANGES,
    )
    # When one changes a property
    changed: dict[str, Any] = json.loads(json.dumps(QUEUE_TEMPLATE))
    changed["Resources"]["Queue"]["Properties"]["VisibilityTimeout"] = 60
    cfn.create_change_set(
        StackName="cs-update", ChangeSetName="longer", ChangeSetType="UPDATE", Parameters=keep,
        TemplateBody=json.dumps(changed),
    )  # fmt: skip
    # Then it lists the change, the property changed and whether it replaces the resource
    [change] = cfn.describe_change_set(ChangeSetName="longer", StackName="cs-update")["Changes"]
    resource = change["ResourceChange"]
    assert (resource["Action"], resource["LogicalResourceId"], resource["Replacement"]) == (
        "Modify",
        "Queue",
        "False",
    )
    [detail] = resource["Details"]
    assert (
        detail["Target"]["Name"] == "VisibilityTimeout" and detail["Target"]["RequiresRecreation"] == "Never"
    )
    assert (detail["Target"]["BeforeValue"], detail["Target"]["AfterValue"]) == ("30", "60")
    # and executed, it updates the stack; deleting it then, or a name the stack has not, is no error
    cfn.execute_change_set(ChangeSetName="longer", StackName="cs-update")
    assert stack_status(cloud, "cs-update") == "UPDATE_COMPLETE"
    cfn.delete_change_set(ChangeSetName="cdk-deploy-change-set", StackName="cs-update")
    with pytest.raises(ClientError) as missing:
        cfn.describe_change_set(ChangeSetName="cdk-deploy-change-set", StackName="cs-update")
    assert missing.value.response["Error"]["Code"] == "ChangeSetNotFound"
    assert missing.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_update_stack_keeps_a_defaulted_parameter_and_describe_stacks_lists_input_and_resolved_values(
    cloud: LocalCloud, version_parameter: str
) -> None:
    cfn = cloud.client("cloudformation")
    cfn.create_stack(StackName="previous-values", TemplateBody=json.dumps(QUEUE_TEMPLATE))
    changed: dict[str, Any] = json.loads(json.dumps(QUEUE_TEMPLATE))
    changed["Resources"]["Queue"]["Properties"]["VisibilityTimeout"] = 45
    # When the stack is updated with UsePreviousValue for the parameters it took from their defaults
    cfn.update_stack(
        StackName="previous-values",
        TemplateBody=json.dumps(changed),
        Parameters=[{"ParameterKey": k, "UsePreviousValue": True} for k in QUEUE_TEMPLATE["Parameters"]],
    )
    # Then it keeps them, and lists each one's input value, an SSM parameter's value as resolved
    stack = cfn.describe_stacks(StackName="previous-values")["Stacks"][0]
    assert stack["StackStatus"] == "UPDATE_COMPLETE"
    assert sorted(stack["Parameters"], key=lambda p: p["ParameterKey"]) == [
        {"ParameterKey": "Label", "ParameterValue": "first"},
        {"ParameterKey": "Version", "ParameterValue": "/cli-test/version", "ResolvedValue": "7"},
    ]


def test_a_template_url_naming_the_local_endpoint_reads_that_bucket_and_key(cloud: LocalCloud) -> None:
    # Given a template in a bucket of the local S3
    s3, cfn = cloud.client("s3"), cloud.client("cloudformation")
    s3.create_bucket(Bucket="templates")
    template = {"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}}
    s3.put_object(Bucket="templates", Key="stacks/topic.json", Body=json.dumps(template).encode())
    # When a stack is created from its URL in path style, as the CDK CLI builds it from AWS_ENDPOINT_URL
    cfn.create_stack(StackName="by-url", TemplateURL=f"{cloud.endpoint}/templates/stacks/topic.json")
    # Then the template is that object's
    assert stack_status(cloud, "by-url") == "CREATE_COMPLETE"
    body = cfn.get_template(StackName="by-url")["TemplateBody"]  # botocore decodes a JSON one
    assert (json.loads(body) if isinstance(body, str) else body) == template
