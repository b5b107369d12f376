"""The AiFlows stack: each resource kind and the properties the design depends on."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Match, Template

from aiflows.flows import action_policies, flows
from aiflows.registry import capabilities
from aiflows_runtime.settings import RuntimeSettings
from infra.constructs.capability_function import POWERTOOLS_PARAMETER_ID
from infra.constructs.flow import substitutions
from infra.regions import SUPPORTED_REGIONS
from tests.infra.conftest import Synthesized
from tests.infra.model_grants import bedrock_grants, expected_grants, rule_regions

ROOT = Path(__file__).resolve().parents[2]

# What the stack must build, from the same registry it builds from: the capabilities'
# manifests and the flows' folders. Adding a capability or a flow changes none of this.
CAPABILITIES = capabilities()
FLOWS = flows()
FUNCTIONS = tuple(info.binding for info in CAPABILITIES.values())
CAPABILITY = {info.binding: info.name for info in CAPABILITIES.values()}
_CLAIM_ACTIONS: dict[str, Any] = {
    "read": "s3:GetObject",
    "read_redact": "s3:GetObject",  # and PutObject under redacted/ only (checked on its own)
    "read_write": ["s3:GetObject", "s3:PutObject"],
}
CLAIMS = {
    info.binding: _CLAIM_ACTIONS[info.manifest.reaches.claims]
    for info in CAPABILITIES.values()
    if info.manifest.reaches.claims
}
REDACTORS = {info.binding for info in CAPABILITIES.values() if info.manifest.reaches.claims == "read_redact"}
MODELS = {info.binding: info.route_models for info in CAPABILITIES.values() if info.route_models}
PUBLISHERS = tuple(info.binding for info in CAPABILITIES.values() if info.manifest.reaches.bus)
CORPUS_READERS = tuple(info.binding for info in CAPABILITIES.values() if info.manifest.reaches.corpus)
ACTORS = tuple(info.binding for info in CAPABILITIES.values() if info.manifest.reaches.actions)
WORKERS = tuple(info.binding for info in CAPABILITIES.values() if info.manifest.reaches.work_queue)
BATCH_READERS = tuple(info.binding for info in CAPABILITIES.values() if info.manifest.reaches.batch_results)


def flow_functions(flow: str) -> tuple[str, ...]:
    """The capabilities' functions a flow's Tasks invoke (its woven definition's ${...Function})."""
    used = substitutions(FLOWS[flow].woven())
    return tuple(sorted(name for name in used if name in FLOWS[flow].capability_bindings()))


def resource(synthesized: Synthesized, logical_id: str) -> dict[str, Any]:
    return synthesized.template.to_json()["Resources"][logical_id]


def policies_of(synthesized: Synthesized, role_logical_id: str) -> list[dict[str, Any]]:
    """Every statement of the inline policies attached to one role."""
    found = synthesized.template.find_resources(
        "AWS::IAM::Policy", {"Properties": {"Roles": [{"Ref": role_logical_id}]}}
    )
    return [s for policy in found.values() for s in policy["Properties"]["PolicyDocument"]["Statement"]]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def statements_with(statements: list[dict[str, Any]], prefix: str) -> list[dict[str, Any]]:
    return [s for s in statements if any(a.startswith(prefix) for a in as_list(s["Action"]))]


def arn_of(synthesized: Synthesized, construct: Any) -> dict[str, Any]:
    return {"Fn::GetAtt": [synthesized.logical_id(construct), "Arn"]}


def ref(synthesized: Synthesized, construct: Any) -> dict[str, Any]:
    return {"Ref": synthesized.logical_id(construct)}


def function_statements(synthesized: Synthesized, name: str) -> list[dict[str, Any]]:
    return policies_of(synthesized, synthesized.logical_id(synthesized.stack.functions[name].role))


def function_properties(synthesized: Synthesized, name: str) -> dict[str, Any]:
    return resource(synthesized, synthesized.logical_id(synthesized.stack.functions[name].function))[
        "Properties"
    ]


def alias_arn_of(synthesized: Synthesized, flow: Any) -> dict[str, Any]:
    return {"Fn::Join": ["", [ref(synthesized, flow.state_machine), ":live"]]}


def test_the_stack_is_environment_agnostic(synthesized: Synthesized) -> None:
    # Given the app as `cdk synth` builds it
    # Then no account or region was looked up: both stay deploy-time tokens
    assert cdk.Token.is_unresolved(synthesized.stack.account)
    assert cdk.Token.is_unresolved(synthesized.stack.region)


def test_there_is_one_function_per_capability(synthesized: Synthesized) -> None:
    # Given the stack's functions
    functions = synthesized.template.find_resources("AWS::Lambda::Function")
    # Then there is one per capability (and the review API's), each built by CapabilityFunction
    assert len(functions) == len(FUNCTIONS) + 1
    assert set(synthesized.stack.functions) == set(FUNCTIONS)
    for name, capability in CAPABILITY.items():
        properties = function_properties(synthesized, name)
        assert properties["Environment"]["Variables"]["CAPABILITY"] == capability
        assert properties["Handler"] == f"{capability}.handler.lambda_handler"
        assert (ROOT / "functions" / capability / "handler.py").is_file()


@pytest.mark.parametrize("name", FUNCTIONS)
def test_each_function_has_the_capability_defaults_and_its_manifests_size(
    synthesized: Synthesized, name: str
) -> None:
    # Given a capability's function and its manifest
    classify = synthesized.stack.functions[name]
    manifest = CAPABILITIES[CAPABILITY[name]].manifest
    # Then it runs python3.12 on arm64, traced, logging JSON into its own log group, sized as declared
    properties = function_properties(synthesized, name)
    assert properties["Runtime"] == "python3.12"
    assert properties["Architectures"] == ["arm64"]
    assert properties["TracingConfig"] == {"Mode": "Active"}
    assert properties["MemorySize"] == manifest.memory_mb
    assert properties["Timeout"] == manifest.timeout_seconds
    assert properties["LoggingConfig"] == {
        "LogFormat": "JSON",
        "ApplicationLogLevel": "INFO",
        "SystemLogLevel": "WARN",
        "LogGroup": ref(synthesized, classify.log_group),
    }
    assert "FunctionName" not in properties


@pytest.mark.parametrize("name", FUNCTIONS)
def test_each_function_is_told_exactly_what_it_reaches(synthesized: Synthesized, name: str) -> None:
    # Given one function's environment
    stack = synthesized.stack
    variables = function_properties(synthesized, name)["Environment"]["Variables"]
    # Then it names the service and the capability, and the state table
    expected: dict[str, Any] = {
        "POWERTOOLS_SERVICE_NAME": "aiflows",
        "POWERTOOLS_METRICS_NAMESPACE": "AiFlows",
        "POWERTOOLS_LOG_LEVEL": "INFO",
        "CAPABILITY": CAPABILITY[name],
        "STATE_TABLE_NAME": ref(synthesized, stack.state_table.table),
        "AUDIT_RETENTION_DAYS": "400",
    }
    # And the claim bucket, the bus and the corpus only where it uses them
    if name in CLAIMS or name in BATCH_READERS:
        expected["CLAIM_BUCKET"] = ref(synthesized, stack.claim_bucket.bucket)
    if name in PUBLISHERS:
        expected["EVENT_BUS_NAME"] = ref(synthesized, stack.event_bus.event_bus)
    if name in ACTORS:
        expected["ACTION_POLICIES"] = json.dumps(action_policies(), sort_keys=True, separators=(",", ":"))
    if name in CORPUS_READERS:
        expected["CORPUS_BUCKET"] = {"Fn::Sub": "cdk-hnb659fds-assets-${AWS::AccountId}-${AWS::Region}"}
        expected["CORPUS_KEY"] = stack.resolve(stack.corpus.asset.s3_object_key)
    assert variables == expected
    # And every variable it is given is one the runtime reads (settings.py), or a Powertools one
    read = {field.alias for field in RuntimeSettings.model_fields.values()}
    assert set(variables) - {"CAPABILITY"} - {v for v in variables if v.startswith("POWERTOOLS_")} <= read


def test_function_logs_are_kept_a_month_and_removed_with_the_stack(synthesized: Synthesized) -> None:
    for name in FUNCTIONS:
        # Given a function's log group
        log_group = resource(synthesized, synthesized.logical_id(synthesized.stack.functions[name].log_group))
        # Then it keeps 30 days of logs and goes away with the stack
        assert log_group["Properties"]["RetentionInDays"] == 30, name
        assert log_group["DeletionPolicy"] == "Delete", name


def test_every_function_has_the_powertools_and_shared_runtime_layers(synthesized: Synthesized) -> None:
    # Given the stack's layers
    layers = synthesized.template.find_resources("AWS::Lambda::LayerVersion")
    # Then the shared runtime is one layer, for python3.12 on arm64
    assert len(layers) == 1
    (layer_id, layer), *_ = layers.items()
    assert layer["Properties"]["CompatibleRuntimes"] == ["python3.12"]
    assert layer["Properties"]["CompatibleArchitectures"] == ["arm64"]
    # And every function carries it and the public Powertools layer the pinned release's SSM
    # parameter names in the region it deploys to
    for name in FUNCTIONS:
        powertools, shared = function_properties(synthesized, name)["Layers"]
        assert shared == {"Ref": layer_id}
        assert powertools == {"Ref": POWERTOOLS_PARAMETER_ID}


@pytest.mark.parametrize("name", FUNCTIONS)
def test_each_function_role_writes_only_its_own_log_group(synthesized: Synthesized, name: str) -> None:
    # Given a function's role
    function = synthesized.stack.functions[name]
    role = resource(synthesized, synthesized.logical_id(function.role))["Properties"]
    # Then it has no managed policy (AWSLambdaBasicExecutionRole writes to any group)
    assert "ManagedPolicyArns" not in role
    # And its log statements name only its own log group
    assert statements_with(function_statements(synthesized, name), "logs:") == [
        {
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Effect": "Allow",
            "Resource": arn_of(synthesized, function.log_group),
        }
    ]


@pytest.mark.parametrize("name", FUNCTIONS)
def test_each_function_reads_and_writes_the_table_and_its_index_by_exact_arn(
    synthesized: Synthesized, name: str
) -> None:
    # Given a function's role and the state table
    table_arn = arn_of(synthesized, synthesized.stack.state_table.table)
    # Then one statement grants reads and writes on the table and on gsi1, no index wildcard
    granted = statements_with(function_statements(synthesized, name), "dynamodb:")
    (statement,) = [s for s in granted if s["Effect"] == "Allow"]
    assert statement["Resource"] == [table_arn, {"Fn::Join": ["", [table_arn, "/index/gsi1"]]}]
    assert {
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:Query",
        "dynamodb:Scan",
    } <= set(statement["Action"])


@pytest.mark.parametrize("name", FUNCTIONS)
def test_each_function_reaches_the_claim_bucket_only_as_designed(synthesized: Synthesized, name: str) -> None:
    # Given a function's s3 statements
    statements = statements_with(function_statements(synthesized, name), "s3:")
    if name in CORPUS_READERS:
        statements = [s for s in statements if "ClaimBucket" in json.dumps(s["Resource"])]
    claims = {"Fn::Join": ["", [arn_of(synthesized, synthesized.stack.claim_bucket.bucket), "/*"]]}
    # Then validate reads and writes the claims, the readers read them, the others have nothing
    if name in REDACTORS:
        # the guard writes redacted copies under redacted/, and nowhere else
        redacted = {
            "Fn::Join": ["", [arn_of(synthesized, synthesized.stack.claim_bucket.bucket), "/redacted/*"]]
        }
        assert statements == [
            {"Action": "s3:GetObject", "Effect": "Allow", "Resource": claims},
            {"Action": "s3:PutObject", "Effect": "Allow", "Resource": redacted},
        ]
    elif name in CLAIMS:
        assert statements == [{"Action": CLAIMS[name], "Effect": "Allow", "Resource": claims}]
    elif name in BATCH_READERS:
        # a batch's result files: listed and read under batches/, and nowhere else
        bucket = arn_of(synthesized, synthesized.stack.claim_bucket.bucket)
        assert statements == [
            {
                "Action": "s3:ListBucket",
                "Condition": {"StringLike": {"s3:prefix": ["batches/*"]}},
                "Effect": "Allow",
                "Resource": bucket,
            },
            {
                "Action": "s3:GetObject",
                "Effect": "Allow",
                "Resource": {"Fn::Join": ["", [bucket, "/batches/*"]]},
            },
        ]
    else:
        assert statements == []


@pytest.mark.parametrize("name", FUNCTIONS)
def test_bedrock_grants_are_exactly_the_models_of_the_route(synthesized: Synthesized, name: str) -> None:
    # Given the route of the capability's manifest, which the model gateway reads, and the template
    template = synthesized.template.to_json()
    role = synthesized.logical_id(synthesized.stack.functions[name].role)
    for region in SUPPORTED_REGIONS:
        granted = bedrock_grants(template, role, region)
        if name not in MODELS:
            # Then a function that asks no model may call none, anywhere
            assert granted == []
            continue
        # Then in each region it may InvokeModel (Converse included) on the ids routing.toml gives its
        # models there: in region, the foundation model; through a profile, the profile and the model
        # in each region the profile routes to; and nothing else
        expected = expected_grants(MODELS[name], region)
        if expected is None:
            # And a region where a model of its route has no id is refused by its rule at deploy
            assert region not in (rule_regions(template, f"{name}ModelsInRegion") or [region])
            continue
        assert sorted(granted) == sorted(expected), region
        allowed = rule_regions(template, f"{name}ModelsInRegion")
        assert allowed is None or region in allowed


@pytest.mark.parametrize("name", FUNCTIONS)
def test_only_the_capabilities_that_reach_the_bus_put_events_on_it(
    synthesized: Synthesized, name: str
) -> None:
    statements = statements_with(function_statements(synthesized, name), "events:")
    if name in PUBLISHERS:
        assert statements == [
            {
                "Action": "events:PutEvents",
                "Effect": "Allow",
                "Resource": arn_of(synthesized, synthesized.stack.event_bus.event_bus),
            }
        ]
    else:
        assert statements == []


@pytest.mark.parametrize("name", CORPUS_READERS)
def test_the_corpus_readers_read_exactly_the_corpus_object(synthesized: Synthesized, name: str) -> None:
    # Given the corpus asset and the retrieve function
    asset = synthesized.stack.corpus.asset
    key = synthesized.stack.resolve(asset.s3_object_key)
    variables = function_properties(synthesized, name)["Environment"]["Variables"]
    assert variables["CORPUS_KEY"] == key
    # Then it may get that one object of the assets bucket, and list or read nothing else
    statements = [
        s
        for s in statements_with(function_statements(synthesized, name), "s3:")
        if "ClaimBucket" not in json.dumps(s["Resource"])
    ]
    assert statements == [
        {
            "Action": "s3:GetObject",
            "Effect": "Allow",
            "Resource": {
                "Fn::Join": [
                    "",
                    [
                        "arn:",
                        {"Ref": "AWS::Partition"},
                        ":s3:::",
                        {"Fn::Sub": "cdk-hnb659fds-assets-${AWS::AccountId}-${AWS::Region}"},
                        f"/{key}",
                    ],
                ]
            },
        }
    ]


def test_the_corpus_asset_is_the_corpus_folder_zipped(synthesized: Synthesized) -> None:
    # Given the assembly's asset manifest
    assets = json.loads((synthesized.assembly_dir / "AiFlows.assets.json").read_text())["files"]
    (corpus,) = [a for a in assets.values() if a["displayName"] == "Corpus/Default"]
    # Then the corpus is a zip of the corpus/ folder, with its documents
    assert corpus["source"]["packaging"] == "zip"
    staged = synthesized.assembly_dir / corpus["source"]["path"]
    assert sorted(p.name for p in staged.iterdir()) == sorted(p.name for p in (ROOT / "corpus").glob("*.md"))


def test_the_worker_is_fed_by_the_work_queue_in_batches(synthesized: Synthesized) -> None:
    # Given the worker and the work queue
    (worker_name,) = WORKERS
    worker = synthesized.stack.functions[worker_name]
    queue = synthesized.stack.work_queue.queue
    # Then one mapping feeds it 5 messages at a time, reporting failed items, 5 pollers at most
    mappings = synthesized.template.find_resources("AWS::Lambda::EventSourceMapping")
    assert [m["Properties"] for m in mappings.values()] == [
        {
            "BatchSize": 5,
            "EventSourceArn": arn_of(synthesized, queue),
            "FunctionName": ref(synthesized, worker.function),
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "ScalingConfig": {"MaximumConcurrency": 5},
        }
    ]
    # And it may take 60 s, a sixth of the queue's visibility timeout
    assert function_properties(synthesized, worker_name)["Timeout"] == 60
    assert resource(synthesized, synthesized.logical_id(queue))["Properties"]["VisibilityTimeout"] == 6 * 60
    # And it may receive and delete the queue's messages, and send to no queue
    (consume,) = statements_with(function_statements(synthesized, worker_name), "sqs:")
    assert consume["Resource"] == arn_of(synthesized, queue)
    assert {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"} <= set(
        consume["Action"]
    )
    assert "sqs:SendMessage" not in consume["Action"]


def test_only_the_work_queues_worker_answers_task_tokens(synthesized: Synthesized) -> None:
    for name in FUNCTIONS:
        # Given a function's states statements
        statements = statements_with(function_statements(synthesized, name), "states:")
        # Then the worker may send task success, failure and heartbeats (they take no resource)
        if name in WORKERS:
            assert statements == [
                {
                    "Action": [
                        "states:SendTaskFailure",
                        "states:SendTaskHeartbeat",
                        "states:SendTaskSuccess",
                    ],
                    "Effect": "Allow",
                    "Resource": "*",
                }
            ]
        else:
            assert statements == [], name


@pytest.mark.parametrize("name", FLOWS)
def test_each_state_machine_is_traced_and_logs_everything(synthesized: Synthesized, name: str) -> None:
    # Given a flow's state machine
    flow = synthesized.stack.flows[name]
    properties = resource(synthesized, synthesized.logical_id(flow.state_machine))["Properties"]
    # Then it is traced, logging ALL events to its own group, without the documents they carry
    assert properties["TracingConfiguration"] == {"Enabled": True}
    assert properties["LoggingConfiguration"] == {
        "Destinations": [{"CloudWatchLogsLogGroup": {"LogGroupArn": arn_of(synthesized, flow.log_group)}}],
        "IncludeExecutionData": False,
        "Level": "ALL",
    }
    log_group = resource(synthesized, synthesized.logical_id(flow.log_group))
    assert log_group["Properties"]["RetentionInDays"] == 30
    assert log_group["DeletionPolicy"] == "Delete"


@pytest.mark.parametrize("name", FLOWS)
def test_each_flow_is_of_its_manifests_type(synthesized: Synthesized, name: str) -> None:
    machine = synthesized.stack.flows[name].state_machine
    properties = resource(synthesized, synthesized.logical_id(machine))["Properties"]
    assert properties["StateMachineType"] == FLOWS[name].manifest.type


@pytest.mark.parametrize("name", FLOWS)
def test_each_flow_deploys_its_woven_definition_bound_to_the_stacks_own_resources(
    synthesized: Synthesized, name: str
) -> None:
    # Given a flow's state machine
    stack = synthesized.stack
    properties = resource(synthesized, synthesized.logical_id(stack.flows[name].state_machine))["Properties"]
    # Then the deployed definition is the written one with the house style woven in
    assert json.loads(properties["DefinitionString"]) == FLOWS[name].woven()
    # And each ${<Name>Function} resolves to the stack's own function of that name (by ARN),
    # ${EventBus} to the bus (by name), ${WorkQueue} to the work queue (by URL) and ${ClaimBucket}
    # to the claim bucket (by name), ${StateTable}, where an event's claim is written, to the table,
    # and ${ParkedRuns}, where a run parks after a step's retries, to the parked-runs queue (by URL)
    used = substitutions(FLOWS[name].woven())
    framework = {
        "EventBus": ref(synthesized, stack.event_bus.event_bus),
        "WorkQueue": ref(synthesized, stack.work_queue.queue),
        "ClaimBucket": ref(synthesized, stack.claim_bucket.bucket),
        "StateTable": ref(synthesized, stack.state_table.table),
        "ParkedRuns": ref(synthesized, stack.parked_runs.queue),
    }
    assert properties["DefinitionSubstitutions"] == {
        **{f: arn_of(synthesized, stack.functions[f].function) for f in flow_functions(name)},
        **{key: value for key, value in framework.items() if key in used},
    }


@pytest.mark.parametrize("name", FLOWS)
def test_each_state_machine_may_invoke_exactly_its_functions(synthesized: Synthesized, name: str) -> None:
    # Given a flow's role
    stack = synthesized.stack
    statements = policies_of(synthesized, synthesized.logical_id(stack.flows[name].state_machine.role))
    # Then it may invoke each function its Tasks call, by exact ARN, and no other
    invoked = [r for s in statements_with(statements, "lambda:") for r in as_list(s["Resource"])]
    assert all(s["Action"] == "lambda:InvokeFunction" for s in statements_with(statements, "lambda:"))
    assert sorted(map(json.dumps, invoked)) == sorted(
        json.dumps(arn_of(synthesized, stack.functions[f].function)) for f in flow_functions(name)
    )


@pytest.mark.parametrize("name", FLOWS)
def test_each_flow_may_put_events_on_the_bus_and_send_work_only_if_it_does(
    synthesized: Synthesized, name: str
) -> None:
    stack = synthesized.stack
    statements = policies_of(synthesized, synthesized.logical_id(stack.flows[name].state_machine.role))
    # Then every flow may put its events (flow.failed at least) on the bus, and nothing else there
    assert statements_with(statements, "events:") == [
        {
            "Action": "events:PutEvents",
            "Effect": "Allow",
            "Resource": arn_of(synthesized, stack.event_bus.event_bus),
        }
    ]
    # And it may send to a queue only when one of its Tasks does: work to the work queue, a
    # parked run to the parked-runs queue
    used = substitutions(FLOWS[name].woven())
    queues = [
        q
        for binding, q in (("ParkedRuns", stack.parked_runs.queue), ("WorkQueue", stack.work_queue.queue))
        if binding in used
    ]
    sends = [
        {"Action": "sqs:SendMessage", "Effect": "Allow", "Resource": [arn_of(synthesized, q) for q in queues]}
    ]
    if len(queues) == 1:
        sends[0]["Resource"] = arn_of(synthesized, queues[0])
    assert statements_with(statements, "sqs:") == (sends if queues else [])


@pytest.mark.parametrize("name", FLOWS)
def test_each_deploy_publishes_a_version_and_the_live_alias_routes_to_it(
    synthesized: Synthesized, name: str
) -> None:
    # Given a flow's version and alias
    flow = synthesized.stack.flows[name]
    machine_id = synthesized.logical_id(flow.state_machine)
    version = resource(synthesized, synthesized.stack.get_logical_id(flow.version))
    alias = resource(synthesized, synthesized.stack.get_logical_id(flow.alias))
    # Then the version follows the machine's revision: a changed definition publishes a new one
    assert version["Type"] == "AWS::StepFunctions::StateMachineVersion"
    assert version["Properties"]["StateMachineArn"] == {"Ref": machine_id}
    assert version["Properties"]["StateMachineRevisionId"] == {
        "Fn::GetAtt": [machine_id, "StateMachineRevisionId"]
    }
    # And the version it replaces stays published, so the alias can be pointed back at it
    assert version["UpdateReplacePolicy"] == "Retain"
    # And the live alias sends every execution to this deploy's version
    version_arn = {"Ref": synthesized.stack.get_logical_id(flow.version)}
    assert alias["Type"] == "AWS::StepFunctions::StateMachineAlias"
    assert alias["Properties"]["Name"] == "live"
    assert alias["Properties"]["RoutingConfiguration"] == [
        {"StateMachineVersionArn": version_arn, "Weight": 100}
    ]
    # And the flow names them by ARN: the version's Ref, the alias's <machine ARN>:live (its Ref's
    # value, spelled out so that the local cloud, which does not model aliases, resolves it)
    assert synthesized.stack.resolve(flow.version_arn) == version_arn
    assert synthesized.stack.resolve(flow.alias_arn) == alias_arn_of(synthesized, flow)


TRIGGERS = [(name, trigger) for name, flow in FLOWS.items() for trigger in flow.manifest.triggers]


def test_there_is_one_bus_rule_per_trigger(synthesized: Synthesized) -> None:
    assert len(synthesized.template.find_resources("AWS::Events::Rule")) == len(TRIGGERS)


@pytest.mark.parametrize(("name", "trigger"), TRIGGERS, ids=[f"{n}-{t.detail_type[0]}" for n, t in TRIGGERS])
def test_each_trigger_is_a_bus_rule_that_starts_its_flows_alias_with_the_whole_event(
    synthesized: Synthesized, name: str, trigger: Any
) -> None:
    # Given the aiflows bus and the rule of one trigger of a flow's manifest
    stack = synthesized.stack
    bus = stack.event_bus
    flow = stack.flows[name]
    bus_id = synthesized.logical_id(bus.event_bus)
    assert resource(synthesized, bus_id)["Properties"] == {"Name": "aiflows"}
    pattern = {"source": list(trigger.source), "detail-type": list(trigger.detail_type)}
    rules = synthesized.template.find_resources(
        "AWS::Events::Rule", {"Properties": {"EventPattern": pattern}}
    )
    # Then exactly one rule matches its source and detail-type, on the bus
    (rule_id, rule), *others = rules.items()
    assert not others
    assert rule["Properties"]["EventBusName"] == {"Ref": bus_id}
    # And its one target is the flow's live alias (a rollback reaches new events), given the
    # whole event, with a DLQ and retries
    (target,) = rule["Properties"]["Targets"]
    alias_arn = alias_arn_of(synthesized, flow)
    assert target["Arn"] == alias_arn
    assert stack.get_logical_id(flow.alias) in rule["DependsOn"]
    assert not {"Input", "InputPath", "InputTransformer"} & target.keys()
    dlq_id = synthesized.logical_id(bus.target_dead_letter_queue)
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [dlq_id, "Arn"]}}
    assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 3600, "MaximumRetryAttempts": 8}
    # And its role may start the flow through the alias only: Step Functions authorizes a start
    # on an alias against the machine's ARN with the alias as qualifier (the alias ARN is kept)
    role_id = target["RoleArn"]["Fn::GetAtt"][0]
    assert resource(synthesized, role_id)["Properties"]["AssumeRolePolicyDocument"]["Statement"] == [
        {"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"}}
    ]
    machine = ref(synthesized, flow.state_machine)
    assert sorted(map(json.dumps, policies_of(synthesized, role_id))) == sorted(
        map(
            json.dumps,
            [
                {
                    "Action": "states:StartExecution",
                    "Condition": {"StringEquals": {"states:StateMachineQualifier": "live"}},
                    "Effect": "Allow",
                    "Resource": machine,
                },
                {"Action": "states:StartExecution", "Effect": "Allow", "Resource": alias_arn},
            ],
        )
    )
    # And EventBridge may send to that DLQ for this rule only
    synthesized.template.has_resource_properties(
        "AWS::SQS::QueuePolicy",
        {
            "Queues": [{"Ref": dlq_id}],
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Action": "sqs:SendMessage",
                                "Effect": "Allow",
                                "Principal": {"Service": "events.amazonaws.com"},
                                "Condition": {
                                    "ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": [rule_id, "Arn"]}}
                                },
                            }
                        )
                    ]
                )
            },
        },
    )


def test_the_work_queue_dead_letters_after_three_receives(synthesized: Synthesized) -> None:
    # Given the work queue and its dead-letter queue
    work = synthesized.stack.work_queue
    queue_id = synthesized.logical_id(work.queue)
    dlq_id = synthesized.logical_id(work.dead_letter_queue)
    assert queue_id.startswith("WorkQueue") and dlq_id.startswith("WorkDeadLetterQueue")
    # Then a message goes to the DLQ after 3 receives; it stays hidden 6 x 60 s while worked on
    queue = resource(synthesized, queue_id)["Properties"]
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": [dlq_id, "Arn"]},
        "maxReceiveCount": 3,
    }
    assert queue["VisibilityTimeout"] == 360
    # And the DLQ keeps messages 14 days
    assert resource(synthesized, dlq_id)["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600


def test_every_queue_is_encrypted_and_refuses_plain_http(synthesized: Synthesized) -> None:
    # Given every queue of the stack
    queues = synthesized.template.find_resources("AWS::SQS::Queue")
    assert len(queues) == 4  # work, its dead letters, the event targets' dead letters, parked runs
    for queue_id, queue in queues.items():
        # Then SQS encrypts it
        assert queue["Properties"]["SqsManagedSseEnabled"] is True, queue_id
        # And its policy denies any request not made over TLS
        synthesized.template.has_resource_properties(
            "AWS::SQS::QueuePolicy",
            {
                "Queues": [{"Ref": queue_id}],
                "PolicyDocument": {
                    "Statement": Match.array_with(
                        [
                            Match.object_like(
                                {
                                    "Effect": "Deny",
                                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                                }
                            )
                        ]
                    )
                },
            },
        )


def test_the_state_table_keys_ttl_recovery_and_pending_reviews_index(synthesized: Synthesized) -> None:
    # Given the state table
    table = resource(synthesized, synthesized.logical_id(synthesized.stack.state_table.table))
    properties = table["Properties"]
    # Then it is keyed on pk/sk strings, on demand, expiring items by TTL, recoverable
    assert properties["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    assert properties["BillingMode"] == "PAY_PER_REQUEST"
    assert properties["TimeToLiveSpecification"] == {"AttributeName": "expiration", "Enabled": True}
    assert properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    # And pending reviews are indexed in gsi1, keyed on gsi1pk/gsi1sk strings, every attribute projected
    assert properties["GlobalSecondaryIndexes"] == [
        {
            "IndexName": "gsi1",
            "KeySchema": [
                {"AttributeName": "gsi1pk", "KeyType": "HASH"},
                {"AttributeName": "gsi1sk", "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "ALL"},
        }
    ]
    assert sorted(properties["AttributeDefinitions"], key=lambda a: a["AttributeName"]) == [
        {"AttributeName": name, "AttributeType": "S"} for name in ("gsi1pk", "gsi1sk", "pk", "sk")
    ]
    # And it is encrypted with an AWS-managed key (what a delete does to it is the stage's: test_data_kept.py)
    assert properties["SSESpecification"] == {"SSEEnabled": True}
    assert "KMSMasterKeyId" not in properties["SSESpecification"]


def test_the_pending_reviews_index_is_the_one_the_runtime_queries() -> None:
    # The index the review store writes and queries is the one the table has
    from aiflows_runtime import reviews
    from infra.constructs.state_table import PENDING_REVIEWS_INDEX

    assert reviews.PENDING_INDEX == PENDING_REVIEWS_INDEX == "gsi1"


def test_the_claim_bucket_is_private_encrypted_tls_only_and_expires_claims(synthesized: Synthesized) -> None:
    # Given the claim bucket
    bucket_id = synthesized.logical_id(synthesized.stack.claim_bucket.bucket)
    bucket = resource(synthesized, bucket_id)
    properties = bucket["Properties"]
    # Then S3 encrypts it with its own keys, and no public access is possible
    assert properties["BucketEncryption"] == {
        "ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
    }
    assert properties["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    # And claims expire after 30 days, and an upload left incomplete is aborted after a day
    assert properties["LifecycleConfiguration"] == {
        "Rules": [
            {
                "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
                "ExpirationInDays": 30,
                "Id": "ExpireClaims",
                "Status": "Enabled",
            }
        ]
    }
    # And its policy denies any request not made over TLS
    synthesized.template.has_resource_properties(
        "AWS::S3::BucketPolicy",
        {
            "Bucket": {"Ref": bucket_id},
            "PolicyDocument": {
                "Statement": [
                    Match.object_like(
                        {
                            "Effect": "Deny",
                            "Action": "s3:*",
                            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                        }
                    )
                ]
            },
        },
    )
    # (what a delete does to it, and to its objects, is the stage's: test_data_kept.py)


def test_the_outputs_name_what_clients_and_the_local_cloud_need(synthesized: Synthesized) -> None:
    # Given the stack's outputs
    outputs = synthesized.template.to_json()["Outputs"]
    stack = synthesized.stack

    def value(construct: Any) -> dict[str, Any]:
        return {"Value": ref(synthesized, construct)}

    # Then each one refers to the resource it names
    assert outputs == {
        "EventBusName": value(stack.event_bus.event_bus),
        **{
            f"{flow.construct_id}{what}": output
            for flow in FLOWS.values()
            for what, output in (
                ("StateMachineArn", value(stack.flows[flow.name].state_machine)),
                ("VersionArn", {"Value": {"Ref": stack.get_logical_id(stack.flows[flow.name].version)}}),
                ("AliasArn", {"Value": alias_arn_of(synthesized, stack.flows[flow.name])}),
            )
        },
        "ReviewApiUrl": outputs["ReviewApiUrl"],
        "ReviewApiEndpointFF143331": outputs["ReviewApiUrl"],  # the one RestApi adds by itself
        "ReviewApiFunctionName": value(stack.review_api.handler.function),
        "ReviewerUserPoolId": value(stack.review_api.user_pool),
        "ReviewConsoleClientId": value(stack.review_api.client),
        "StateTableName": value(stack.state_table.table),
        "WorkQueueUrl": value(stack.work_queue.queue),
        "WorkDeadLetterQueueUrl": value(stack.work_queue.dead_letter_queue),
        "ParkedRunsQueueUrl": value(stack.parked_runs.queue),
        "EventTargetDeadLetterQueueUrl": value(stack.event_bus.target_dead_letter_queue),
        "AlertsTopicArn": value(stack.monitoring.topic),
        "ClaimBucketName": value(stack.claim_bucket.bucket),
        **{f"{name}Name": value(stack.functions[name].function) for name in FUNCTIONS},
    }


def test_the_assembly_holds_the_template_and_its_assets(synthesized: Synthesized) -> None:
    # Then what `cdk deploy` (and the local cloud) read is there
    assert (synthesized.assembly_dir / "AiFlows.template.json").is_file()
    assets = json.loads((synthesized.assembly_dir / "AiFlows.assets.json").read_text())["files"]
    zips = {
        a["displayName"]: a["source"]["path"] for a in assets.values() if a["source"]["packaging"] == "zip"
    }
    assert set(zips) == {
        *(f"{name}/Default/Code" for name in FUNCTIONS),
        "ReviewApi/Function/Default/Code",
        "SharedRuntimeLayer/Code",
        "Corpus/Default",
    }
    # And the code assets hold sources only, no bytecode from local runs
    for folder in zips.values():
        assert not list((synthesized.assembly_dir / folder).rglob("__pycache__")), folder


def test_the_managed_guardrails_are_wired_when_the_deploy_asks_for_them(tmp_path: Path) -> None:
    from app import build
    from infra.nag import REPORT_ONLY, findings

    # Given a deploy with a Bedrock guardrail and Comprehend PII detection
    context = {
        **REPORT_ONLY,
        "bedrock_guardrail_id": "abc123xyz",
        "bedrock_guardrail_version": "4",
        "comprehend_pii_language": "en",
    }
    app = build(context=context, outdir=str(tmp_path))
    stack = app.node.find_child("AiFlows")
    app.synth()
    template = Template.from_stack(stack)  # type: ignore[arg-type]
    guard = stack.functions["GuardFunction"]  # type: ignore[attr-defined]
    guard_id = stack.get_logical_id(guard.function.node.default_child)  # type: ignore[attr-defined]
    # Then the guard function is told which guardrail and which language
    variables = template.to_json()["Resources"][guard_id]["Properties"]["Environment"]["Variables"]
    assert variables["BEDROCK_GUARDRAIL_ID"] == "abc123xyz"
    assert variables["BEDROCK_GUARDRAIL_VERSION"] == "4"
    assert variables["COMPREHEND_PII_LANGUAGE"] == "en"
    # And may apply exactly that guardrail, and call DetectPiiEntities
    statements = [
        s
        for r in template.find_resources("AWS::IAM::Policy").values()
        for s in r["Properties"]["PolicyDocument"]["Statement"]
    ]
    [apply] = [s for s in statements if s["Action"] == "bedrock:ApplyGuardrail"]
    assert "guardrail/abc123xyz" in json.dumps(apply["Resource"])
    assert [s["Resource"] for s in statements if s["Action"] == "comprehend:DetectPiiEntities"] == ["*"]
    # And cdk-nag has nothing left unacknowledged
    assert findings(tmp_path) == []
