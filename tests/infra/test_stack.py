"""The AiFlows stack: each resource kind and the properties the design depends on."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk.assertions import Match

from infra.constructs.capability_function import POWERTOOLS_LAYER_NAME, POWERTOOLS_LAYER_VERSION
from tests.infra.conftest import Synthesized

ROOT = Path(__file__).resolve().parents[2]


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


def test_the_stack_is_environment_agnostic(synthesized: Synthesized) -> None:
    # Given the app as `cdk synth` builds it
    # Then no account or region was looked up: both stay deploy-time tokens
    assert cdk.Token.is_unresolved(synthesized.stack.account)
    assert cdk.Token.is_unresolved(synthesized.stack.region)


def test_the_classify_function_has_the_capability_defaults(synthesized: Synthesized) -> None:
    # Given the classify capability
    function_id = synthesized.logical_id(synthesized.stack.classify.function)
    log_group_id = synthesized.logical_id(synthesized.stack.classify.log_group)
    # Then it runs python3.12 on arm64, traced, logging JSON into its own log group
    properties = resource(synthesized, function_id)["Properties"]
    assert properties["Runtime"] == "python3.12"
    assert properties["Architectures"] == ["arm64"]
    assert properties["Handler"] == "handler.lambda_handler"
    assert properties["TracingConfig"] == {"Mode": "Active"}
    assert properties["MemorySize"] == 512
    assert properties["Timeout"] == 30
    assert properties["LoggingConfig"] == {
        "LogFormat": "JSON",
        "ApplicationLogLevel": "INFO",
        "SystemLogLevel": "WARN",
        "LogGroup": {"Ref": log_group_id},
    }
    assert "FunctionName" not in properties
    # And its environment names the service, the capability and the state table
    table_id = synthesized.logical_id(synthesized.stack.state_table.table)
    assert properties["Environment"]["Variables"] == {
        "POWERTOOLS_SERVICE_NAME": "aiflows",
        "POWERTOOLS_METRICS_NAMESPACE": "AiFlows",
        "POWERTOOLS_LOG_LEVEL": "INFO",
        "CAPABILITY": "classify",
        "STATE_TABLE_NAME": {"Ref": table_id},
    }


def test_function_logs_are_kept_a_month_and_removed_with_the_stack(synthesized: Synthesized) -> None:
    # Given the classify function's log group
    log_group = resource(synthesized, synthesized.logical_id(synthesized.stack.classify.log_group))
    # Then it keeps 30 days of logs and goes away with the stack
    assert log_group["Properties"]["RetentionInDays"] == 30
    assert log_group["DeletionPolicy"] == "Delete"


def test_the_function_has_the_powertools_and_shared_runtime_layers(synthesized: Synthesized) -> None:
    # Given the stack's layers
    layers = synthesized.template.find_resources("AWS::Lambda::LayerVersion")
    # Then the shared runtime is one layer, for python3.12 on arm64
    assert len(layers) == 1
    (layer_id, layer), *_ = layers.items()
    assert layer["Properties"]["CompatibleRuntimes"] == ["python3.12"]
    assert layer["Properties"]["CompatibleArchitectures"] == ["arm64"]
    # And the function carries it and the public Powertools layer of the stack's region
    function_id = synthesized.logical_id(synthesized.stack.classify.function)
    powertools, shared = resource(synthesized, function_id)["Properties"]["Layers"]
    assert shared == {"Ref": layer_id}
    assert powertools == {
        "Fn::Join": [
            "",
            [
                "arn:aws:lambda:",
                {"Ref": "AWS::Region"},
                f":017000801446:layer:{POWERTOOLS_LAYER_NAME}:{POWERTOOLS_LAYER_VERSION}",
            ],
        ]
    }


def test_the_function_role_writes_only_its_own_log_group(synthesized: Synthesized) -> None:
    # Given the classify function's role
    classify = synthesized.stack.classify
    role_id = synthesized.logical_id(classify.role)
    role = resource(synthesized, role_id)["Properties"]
    # Then it has no managed policy (AWSLambdaBasicExecutionRole writes to any group)
    assert "ManagedPolicyArns" not in role
    # And its log statements name only its own log group
    log_group_arn = {"Fn::GetAtt": [synthesized.logical_id(classify.log_group), "Arn"]}
    log_statements = [
        s
        for s in policies_of(synthesized, role_id)
        if any(a.startswith("logs:") for a in as_list(s["Action"]))
    ]
    assert log_statements == [
        {
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Effect": "Allow",
            "Resource": log_group_arn,
        }
    ]


def test_the_function_may_read_and_write_the_state_table(synthesized: Synthesized) -> None:
    # Given the classify function's role and the state table
    role_id = synthesized.logical_id(synthesized.stack.classify.role)
    table_arn = {"Fn::GetAtt": [synthesized.logical_id(synthesized.stack.state_table.table), "Arn"]}
    # Then one statement grants reads and writes on the table
    statements = [s for s in policies_of(synthesized, role_id) if table_arn in as_list(s["Resource"])]
    assert len(statements) == 1
    assert {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query"} <= set(
        statements[0]["Action"]
    )


def test_the_state_machine_is_traced_and_logs_everything(synthesized: Synthesized) -> None:
    # Given the document_intake state machine
    flow = synthesized.stack.document_intake
    properties = resource(synthesized, synthesized.logical_id(flow.state_machine))["Properties"]
    # Then it is a traced STANDARD machine, logging ALL with execution data to its own group
    assert properties["TracingConfiguration"] == {"Enabled": True}
    assert properties["StateMachineType"] == "STANDARD"
    log_group_id = synthesized.logical_id(flow.log_group)
    assert properties["LoggingConfiguration"] == {
        "Destinations": [{"CloudWatchLogsLogGroup": {"LogGroupArn": {"Fn::GetAtt": [log_group_id, "Arn"]}}}],
        "IncludeExecutionData": True,
        "Level": "ALL",
    }
    log_group = resource(synthesized, log_group_id)
    assert log_group["Properties"]["RetentionInDays"] == 30
    assert log_group["DeletionPolicy"] == "Delete"


def test_the_definition_is_the_file_and_binds_the_stacks_own_classify_function(
    synthesized: Synthesized,
) -> None:
    # Given the state machine and the stack's classify function
    flow = synthesized.stack.document_intake
    properties = resource(synthesized, synthesized.logical_id(flow.state_machine))["Properties"]
    classify_id = synthesized.logical_id(synthesized.stack.classify.function)
    # Then the deployed definition is statemachines/document_intake.asl.json, as written
    asl = json.loads((ROOT / "statemachines" / "document_intake.asl.json").read_text())
    assert json.loads(properties["DefinitionString"]) == asl
    # And ${ClassifyFunction} resolves to that function's ARN, and to nothing else
    assert properties["DefinitionSubstitutions"] == {"ClassifyFunction": {"Fn::GetAtt": [classify_id, "Arn"]}}


def test_the_state_machine_may_invoke_exactly_the_classify_function(synthesized: Synthesized) -> None:
    # Given the state machine's role
    role_id = synthesized.logical_id(synthesized.stack.document_intake.state_machine.role)
    classify_id = synthesized.logical_id(synthesized.stack.classify.function)
    # Then its only lambda permission is to invoke the classify function, by exact ARN
    lambda_statements = [
        s
        for s in policies_of(synthesized, role_id)
        if any(a.startswith("lambda:") for a in as_list(s["Action"]))
    ]
    assert lambda_statements == [
        {
            "Action": "lambda:InvokeFunction",
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [classify_id, "Arn"]},
        }
    ]


def test_the_bus_rule_starts_document_intake_with_the_whole_event(synthesized: Synthesized) -> None:
    # Given the aiflows bus and its DocumentSubmitted rule
    bus = synthesized.stack.event_bus
    bus_id = synthesized.logical_id(bus.event_bus)
    assert resource(synthesized, bus_id)["Properties"] == {"Name": "aiflows"}
    rules = synthesized.template.find_resources("AWS::Events::Rule")
    assert len(rules) == 1
    (rule_id, rule), *_ = rules.items()
    assert rule_id.startswith("EventBusDocumentSubmitted")
    # Then it matches document.submitted events from aiflows.documents, exactly
    assert rule["Properties"]["EventBusName"] == {"Ref": bus_id}
    assert rule["Properties"]["EventPattern"] == {
        "source": ["aiflows.documents"],
        "detail-type": ["document.submitted"],
    }
    # And its one target is the state machine, given the whole event, with a DLQ and retries
    (target,) = rule["Properties"]["Targets"]
    machine_id = synthesized.logical_id(synthesized.stack.document_intake.state_machine)
    dlq_id = synthesized.logical_id(bus.target_dead_letter_queue)
    assert target["Arn"] == {"Ref": machine_id}
    assert not {"Input", "InputPath", "InputTransformer"} & target.keys()
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [dlq_id, "Arn"]}}
    assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 3600, "MaximumRetryAttempts": 8}
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
    assert len(queues) == 3
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


def test_the_state_table_keys_ttl_and_recovery(synthesized: Synthesized) -> None:
    # Given the state table
    table = resource(synthesized, synthesized.logical_id(synthesized.stack.state_table.table))
    properties = table["Properties"]
    # Then it is keyed on pk/sk strings, on demand, expiring items by TTL, recoverable
    assert properties["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    assert properties["AttributeDefinitions"] == [
        {"AttributeName": "pk", "AttributeType": "S"},
        {"AttributeName": "sk", "AttributeType": "S"},
    ]
    assert properties["BillingMode"] == "PAY_PER_REQUEST"
    assert properties["TimeToLiveSpecification"] == {"AttributeName": "expiration", "Enabled": True}
    assert properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    # And it is encrypted with an AWS-managed key, and removed with the stack
    assert properties["SSESpecification"] == {"SSEEnabled": True}
    assert "KMSMasterKeyId" not in properties["SSESpecification"]
    assert table["DeletionPolicy"] == "Delete"


def test_the_outputs_name_what_clients_and_the_local_cloud_need(synthesized: Synthesized) -> None:
    # Given the stack's outputs
    outputs = synthesized.template.to_json()["Outputs"]
    stack = synthesized.stack
    # Then each one refers to the resource it names
    assert outputs == {
        "EventBusName": {"Value": {"Ref": synthesized.logical_id(stack.event_bus.event_bus)}},
        "DocumentIntakeStateMachineArn": {
            "Value": {"Ref": synthesized.logical_id(stack.document_intake.state_machine)}
        },
        "StateTableName": {"Value": {"Ref": synthesized.logical_id(stack.state_table.table)}},
        "WorkQueueUrl": {"Value": {"Ref": synthesized.logical_id(stack.work_queue.queue)}},
        "WorkDeadLetterQueueUrl": {
            "Value": {"Ref": synthesized.logical_id(stack.work_queue.dead_letter_queue)}
        },
        "ClassifyFunctionName": {"Value": {"Ref": synthesized.logical_id(stack.classify.function)}},
    }


def test_the_assembly_holds_the_template_and_its_assets(synthesized: Synthesized) -> None:
    # Then what `cdk deploy` (and the local cloud) read is there
    assert (synthesized.assembly_dir / "AiFlows.template.json").is_file()
    assets = json.loads((synthesized.assembly_dir / "AiFlows.assets.json").read_text())["files"]
    zips = {
        a["displayName"]: a["source"]["path"] for a in assets.values() if a["source"]["packaging"] == "zip"
    }
    assert set(zips) == {"ClassifyFunction/Default/Code", "SharedRuntimeLayer/Code"}
    # And the code assets hold sources only, no bytecode from local runs
    for folder in zips.values():
        assert not list((synthesized.assembly_dir / folder).rglob("__pycache__")), folder
