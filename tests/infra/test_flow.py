"""Flow: bindings and contracts checked against the definition, grants derived from the Task states,
a version per deploy and the live alias."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk.assertions import Template

from infra.constructs.capability_function import CapabilityFunction
from infra.constructs.flow import (
    BUCKET,
    FUNCTION,
    MACHINE,
    QUEUE,
    TABLE,
    Flow,
    FlowDefinitionError,
    Need,
    needs,
)
from infra.nag import REPORT_ONLY, apply_nag, findings

# A Task whose Payload is what classify and extract take (ClassifyInput, ExtractInput).
DOCUMENT_PAYLOAD = {"correlation_id.$": "$.id", "flow": "test", "document.$": "$.detail"}


def invoke(function: str, **extra: Any) -> dict[str, Any]:
    return {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": "${" + function + "}", "Payload": dict(DOCUMENT_PAYLOAD)},
        **extra,
    }


def definition(states: dict[str, Any], start: str | None = None) -> dict[str, Any]:
    return {"QueryLanguage": "JSONPath", "StartAt": start or next(iter(states)), "States": states}


FAN_OUT = definition(
    {
        "Both": {
            "Type": "Parallel",
            "Branches": [
                definition({"Classify": invoke("ClassifyFunction", End=True)}),
                definition({"Extract": invoke("ExtractFunction", End=True)}),
            ],
            "Next": "Each",
        },
        "Each": {
            "Type": "Map",
            "ItemProcessor": definition(
                {
                    "Park": {
                        "Type": "Task",
                        "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                        "Parameters": {
                            "QueueUrl": "${WorkQueue}",
                            "MessageBody": {"token.$": "$$.Task.Token"},
                        },
                        "End": True,
                    }
                }
            ),
            "Next": "Remember",
        },
        "Remember": {
            "Type": "Task",
            "Resource": "arn:aws:states:::dynamodb:getItem",
            "Parameters": {"TableName": "${StateTable}", "Key": {"pk": {"S.$": "$.pk"}}},
            "End": True,
        },
    }
)


@pytest.fixture
def flows(tmp_path: Path) -> Path:
    """A statemachines/ folder of test flows."""
    (tmp_path / "fan_out.asl.json").write_text(json.dumps(FAN_OUT))
    return tmp_path


def write(folder: Path, name: str, body: dict[str, Any]) -> None:
    (folder / f"{name}.asl.json").write_text(json.dumps(body))


def read(folder: Path, name: str) -> dict[str, Any]:
    return dict(json.loads((folder / f"{name}.asl.json").read_text()))


def capability(stack: cdk.Stack, name: str, code: Path) -> CapabilityFunction:
    return CapabilityFunction(stack, f"{name}Function", capability=name.lower(), code_dir=code)


def one_step(folder: Path, name: str = "one") -> None:
    write(folder, name, definition({"Classify": invoke("ClassifyFunction", End=True)}))


def test_the_needs_of_every_branch_and_map_are_found() -> None:
    # Given a flow whose Tasks sit in Parallel branches, a Map processor and the top level
    # When its needs are derived
    found = needs(FAN_OUT, "fan_out")
    # Then every Task is found, with the action it needs on the resource it names
    assert found == [
        Need("Both/Classify", "ClassifyFunction", FUNCTION, "lambda:InvokeFunction"),
        Need("Both/Extract", "ExtractFunction", FUNCTION, "lambda:InvokeFunction"),
        Need("Each/Park", "WorkQueue", QUEUE, "sqs:SendMessage"),
        Need("Remember", "StateTable", TABLE, "dynamodb:GetItem"),
    ]


@dataclass
class FanOut:
    """fan_out synthesized: its template, its role's statements, and what it is bound to."""

    template: Template
    statements: list[dict[str, Any]]
    arn: Callable[[Any], dict[str, Any]]
    alpha: Any
    beta: Any
    queue: sqs.Queue
    table: dynamodb.TableV2


def synthesize_fan_out(stack: cdk.Stack, definition: dict[str, Any], echo_code: Path) -> FanOut:
    alpha, beta = capability(stack, "Classify", echo_code), capability(stack, "Extract", echo_code)
    queue = sqs.Queue(stack, "Work", enforce_ssl=True)
    table = dynamodb.TableV2(
        stack, "State", partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING)
    )
    flow = Flow(
        stack,
        "FanOut",
        name="fan_out",
        definition=definition,
        bindings={
            "ClassifyFunction": alpha.function,
            "ExtractFunction": beta.function,
            "WorkQueue": queue,
            "StateTable": table,
        },
    )
    template = Template.from_stack(stack)
    role_id = stack.get_logical_id(flow.state_machine.role.node.default_child)  # type: ignore[arg-type]
    policies = template.find_resources("AWS::IAM::Policy", {"Properties": {"Roles": [{"Ref": role_id}]}})
    statements = [s for p in policies.values() for s in p["Properties"]["PolicyDocument"]["Statement"]]

    def arn(construct: Any) -> dict[str, Any]:
        return {"Fn::GetAtt": [stack.get_logical_id(construct.node.default_child), "Arn"]}

    return FanOut(template, statements, arn, alpha, beta, queue, table)


def test_grants_are_derived_for_tasks_in_parallel_branches(
    stack: cdk.Stack, flows: Path, echo_code: Path
) -> None:
    # Given two functions, a queue and a table, bound to the fan_out flow, synthesized
    fan_out = synthesize_fan_out(stack, read(flows, "fan_out"), echo_code)
    template, statements, arn = fan_out.template, fan_out.statements, fan_out.arn
    alpha, beta, queue, table = fan_out.alpha, fan_out.beta, fan_out.queue, fan_out.table
    # Then the machine may invoke each branch's function, by exact ARN, and no other
    invokes = [s for s in statements if s["Action"] == "lambda:InvokeFunction"]
    assert [
        r for s in invokes for r in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])
    ] == [
        arn(alpha.function),
        arn(beta.function),
    ]
    # And send to the queue, and get items from the table: nothing more
    assert {"Action": "sqs:SendMessage", "Effect": "Allow", "Resource": arn(queue)} in statements
    assert {"Action": "dynamodb:GetItem", "Effect": "Allow", "Resource": arn(table)} in statements
    actions = {
        a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    }
    assert not {a for a in actions if a.startswith(("lambda:", "sqs:", "dynamodb:"))} - {
        "lambda:InvokeFunction",
        "sqs:SendMessage",
        "dynamodb:GetItem",
    }
    # And each ${Name} is replaced by what that kind of resource is called by
    machine = template.find_resources("AWS::StepFunctions::StateMachine")
    (properties,) = [m["Properties"] for m in machine.values()]
    assert properties["DefinitionSubstitutions"] == {
        "ClassifyFunction": arn(alpha.function),
        "ExtractFunction": arn(beta.function),
        "WorkQueue": {"Ref": stack.get_logical_id(queue.node.default_child)},  # type: ignore[arg-type]
        "StateTable": {"Ref": stack.get_logical_id(table.node.default_child)},  # type: ignore[arg-type]
    }


def test_a_substitution_without_binding_stops_synth(stack: cdk.Stack, flows: Path, echo_code: Path) -> None:
    # Given the fan_out flow with ExtractFunction, WorkQueue and StateTable left unbound
    alpha = capability(stack, "Classify", echo_code)
    # When the flow is built, then it fails, naming what is missing
    with pytest.raises(
        FlowDefinitionError, match=r"no binding: \['ExtractFunction', 'StateTable', 'WorkQueue'\]"
    ):
        Flow(
            stack,
            "FanOut",
            name="fan_out",
            definition=read(flows, "fan_out"),
            bindings={"ClassifyFunction": alpha.function},
        )


def test_a_binding_the_definition_never_uses_stops_synth(
    stack: cdk.Stack, tmp_path: Path, echo_code: Path
) -> None:
    # Given a one-step flow, and a binding it does not use
    one_step(tmp_path)
    alpha, beta = capability(stack, "Classify", echo_code), capability(stack, "Extract", echo_code)
    # When the flow is built, then it fails, naming the unused binding
    with pytest.raises(FlowDefinitionError, match=r"never uses: \['ExtractFunction'\]"):
        Flow(
            stack,
            "One",
            name="one",
            definition=read(tmp_path, "one"),
            bindings={"ClassifyFunction": alpha.function, "ExtractFunction": beta.function},
        )


@pytest.mark.parametrize(
    ("state", "message"),
    [
        (
            {"Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync:2", "End": True},
            "cannot grant Resource 'arn:aws:states:::states:startExecution.sync:2'",
        ),
        (
            {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:getItem.waitForTaskToken", "End": True},
            "cannot grant Resource",
        ),
        (
            {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName.$": "$.which"},
                "End": True,
            },
            "FunctionName must be a bound",
        ),
        (
            {
                "Type": "Task",
                "Resource": "arn:aws:states:::events:putEvents",
                "Parameters": {"Entries": [{"Source": "x", "DetailType": "y", "Detail": {}}]},
                "End": True,
            },
            "EventBusName must be a bound",
        ),
        (
            {
                "Type": "Task",
                "QueryLanguage": "JSONata",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Arguments": {"FunctionName": "{% $states.input.which %}"},
                "End": True,
            },
            r"FunctionName must be a bound \$\{Name\}, not '\{% \$states.input.which %\}', named at run time",
        ),
        (
            {
                "Type": "Task",
                "QueryLanguage": "JSONata",
                "Resource": "arn:aws:states:::sqs:sendMessage",
                "Arguments": "{% $states.input.message %}",
                "End": True,
            },
            "Arguments is one expression, which names the resource only at run time",
        ),
        (
            {
                "Type": "Task",
                "QueryLanguage": "JSONata",
                "Resource": "arn:aws:states:::events:putEvents",
                "Arguments": {"Entries": [{"Source": "x", "DetailType": "y", "Detail": {}}]},
                "End": True,
            },
            "EventBusName must be a bound",
        ),
        (
            {
                "Type": "Task",
                "QueryLanguage": "JSONata",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": "${ClassifyFunction}"},
                "End": True,
            },
            r"state Only is JSONata \(its QueryLanguage\), but has Parameters, a JSONPath field: "
            "write Arguments",
        ),
        (
            {
                "Type": "Map",
                "ItemReader": {"Resource": "arn:aws:states:::s3:getObject", "Parameters": {}},
                "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}},
                "End": True,
            },
            r"state Only: ItemReader belongs to a Distributed Map only: set ItemProcessor.ProcessorConfig",
        ),
    ],
    ids=[
        "unsupported-service",
        "unsupported-pattern",
        "dynamic-function",
        "default-bus",
        "jsonata-dynamic-function",
        "jsonata-arguments-expression",
        "jsonata-default-bus",
        "jsonata-parameters",
        "item-reader-of-an-inline-map",
    ],
)
def test_a_task_whose_permissions_cannot_be_derived_stops_synth(state: dict[str, Any], message: str) -> None:
    # Given a flow with one state whose needs cannot be known from the definition
    # When its needs are derived, then it fails with a clear message
    with pytest.raises(FlowDefinitionError, match=message):
        needs(definition({"Only": state}), "odd")


def test_a_resource_of_the_wrong_kind_stops_synth(stack: cdk.Stack, tmp_path: Path) -> None:
    # Given a flow that invokes ${ClassifyFunction}, bound to a queue
    one_step(tmp_path)
    queue = sqs.Queue(stack, "Queue")
    # When the flow is built, then it fails, naming both kinds
    with pytest.raises(
        FlowDefinitionError, match="calls \\$\\{ClassifyFunction\\} as a function, but it is bound to a queue"
    ):
        Flow(stack, "One", name="one", definition=read(tmp_path, "one"), bindings={"ClassifyFunction": queue})


def test_an_unknown_kind_of_binding_stops_synth(stack: cdk.Stack, tmp_path: Path) -> None:
    # Given a flow whose substitution is bound to a role (not a bindable kind)
    one_step(tmp_path)
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("states.amazonaws.com"))
    # When the flow is built, then it fails
    with pytest.raises(
        FlowDefinitionError, match="must be bound to a function, event bus, queue, table or bucket"
    ):
        Flow(stack, "One", name="one", definition=read(tmp_path, "one"), bindings={"ClassifyFunction": role})


def test_buses_and_buckets_bind_by_name_and_put_events_is_granted(stack: cdk.Stack, tmp_path: Path) -> None:
    # Given a flow that puts an event on ${Bus}, naming ${Archive} in the event
    write(
        tmp_path,
        "notify",
        definition(
            {
                "Tell": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::events:putEvents",
                    "Parameters": {
                        "Entries": [
                            {
                                "EventBusName": "${Bus}",
                                "Source": "aiflows.test",
                                "DetailType": "done",
                                "Detail": {"bucket": "${Archive}"},
                            }
                        ]
                    },
                    "End": True,
                }
            }
        ),
    )
    bus = events.EventBus(stack, "Bus")
    bucket = s3.Bucket(stack, "Archive")
    # When the flow is built and synthesized
    flow = Flow(
        stack,
        "Notify",
        name="notify",
        definition=read(tmp_path, "notify"),
        bindings={"Bus": bus, "Archive": bucket},
    )
    template = Template.from_stack(stack)
    # Then the bus and the bucket replace their names by their names
    (properties,) = [
        m["Properties"] for m in template.find_resources("AWS::StepFunctions::StateMachine").values()
    ]
    assert properties["DefinitionSubstitutions"] == {
        "Bus": {"Ref": stack.get_logical_id(bus.node.default_child)},  # type: ignore[arg-type]
        "Archive": {"Ref": stack.get_logical_id(bucket.node.default_child)},  # type: ignore[arg-type]
    }
    # And the machine may put events on that bus; the bucket, only named, grants nothing
    role_id = stack.get_logical_id(flow.state_machine.role.node.default_child)  # type: ignore[arg-type]
    policies = template.find_resources("AWS::IAM::Policy", {"Properties": {"Roles": [{"Ref": role_id}]}})
    statements = [s for p in policies.values() for s in p["Properties"]["PolicyDocument"]["Statement"]]
    bus_arn = {"Fn::GetAtt": [stack.get_logical_id(bus.node.default_child), "Arn"]}  # type: ignore[arg-type]
    assert {"Action": "events:PutEvents", "Effect": "Allow", "Resource": bus_arn} in statements
    assert not any("s3:" in str(s["Action"]) for s in statements)


def test_the_flow_exposes_its_name_and_machine(stack: cdk.Stack, tmp_path: Path, echo_code: Path) -> None:
    # Given a flow built from one.asl.json
    one_step(tmp_path)
    alpha = capability(stack, "Classify", echo_code)
    flow = Flow(
        stack,
        "One",
        name="one",
        definition=read(tmp_path, "one"),
        bindings={"ClassifyFunction": alpha.function},
    )
    # Then it is known by its flow name, and its state machine is the construct's default child
    assert flow.name == "one"
    assert flow.node.default_child is flow.state_machine


# The fan_out flow again, written in JSONata: each resource named in Arguments, no .$ anywhere.
JSONATA_PAYLOAD = {
    "correlation_id": "{% $states.input.id %}",
    "flow": "test",
    "document": "{% $states.input.detail %}",
}


def jsonata_invoke(function: str, **extra: Any) -> dict[str, Any]:
    return {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Arguments": {"FunctionName": "${" + function + "}", "Payload": dict(JSONATA_PAYLOAD)},
        **extra,
    }


def branch(states: dict[str, Any]) -> dict[str, Any]:
    return {"StartAt": next(iter(states)), "States": states}


JSONATA_FAN_OUT = {
    "QueryLanguage": "JSONata",
    "StartAt": "Both",
    "States": {
        "Both": {
            "Type": "Parallel",
            "Branches": [
                branch({"Classify": jsonata_invoke("ClassifyFunction", End=True)}),
                branch({"Extract": jsonata_invoke("ExtractFunction", End=True)}),
            ],
            "Next": "Each",
        },
        "Each": {
            "Type": "Map",
            "Items": "{% $states.input.items %}",
            "ItemProcessor": branch(
                {
                    "Park": {
                        "Type": "Task",
                        "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                        "Arguments": {
                            "QueueUrl": "${WorkQueue}",
                            "MessageBody": {"token": "{% $states.context.Task.Token %}"},
                        },
                        "End": True,
                    }
                }
            ),
            "Next": "Remember",
        },
        "Remember": {
            "Type": "Task",
            "Resource": "arn:aws:states:::dynamodb:getItem",
            "Arguments": {"TableName": "${StateTable}", "Key": {"pk": {"S": "{% $states.input.pk %}"}}},
            "Output": {"item": "{% $states.result.Item %}"},
            "End": True,
        },
    },
}
FAN_OUT_NEEDS = [
    Need("Both/Classify", "ClassifyFunction", FUNCTION, "lambda:InvokeFunction"),
    Need("Both/Extract", "ExtractFunction", FUNCTION, "lambda:InvokeFunction"),
    Need("Each/Park", "WorkQueue", QUEUE, "sqs:SendMessage"),
    Need("Remember", "StateTable", TABLE, "dynamodb:GetItem"),
]


def test_the_needs_of_a_jsonata_flow_are_read_from_its_arguments() -> None:
    # Given fan_out written in JSONata at the top level, its states inheriting it
    # When its needs are derived, then they are those of the JSONPath fan_out
    assert needs(JSONATA_FAN_OUT, "fan_out") == FAN_OUT_NEEDS


def test_the_needs_of_a_flow_mixing_languages_state_by_state_are_found() -> None:
    # Given the JSONPath fan_out, with its Extract and Remember rewritten in JSONata, state by state
    mixed = json.loads(json.dumps(FAN_OUT))
    mixed["States"]["Both"]["Branches"][1]["States"]["Extract"] = jsonata_invoke(
        "ExtractFunction", QueryLanguage="JSONata", End=True
    )
    mixed["States"]["Remember"] = {**JSONATA_FAN_OUT["States"]["Remember"], "QueryLanguage": "JSONata"}
    # Then each state's resource is read in its own language
    assert needs(mixed, "fan_out") == FAN_OUT_NEEDS


def test_grants_are_derived_for_a_jsonata_flow(stack: cdk.Stack, tmp_path: Path, echo_code: Path) -> None:
    # Given fan_out in JSONata, bound to two functions, a queue and a table, synthesized
    write(tmp_path, "fan_out", JSONATA_FAN_OUT)
    fan_out = synthesize_fan_out(stack, read(tmp_path, "fan_out"), echo_code)
    template, statements, arn = fan_out.template, fan_out.statements, fan_out.arn
    alpha, beta, queue, table = fan_out.alpha, fan_out.beta, fan_out.queue, fan_out.table
    # Then the machine may invoke each function, send to the queue and get items, as in JSONPath
    assert {
        "Action": "lambda:InvokeFunction",
        "Effect": "Allow",
        "Resource": arn(alpha.function),
    } in statements
    assert {
        "Action": "lambda:InvokeFunction",
        "Effect": "Allow",
        "Resource": arn(beta.function),
    } in statements
    assert {"Action": "sqs:SendMessage", "Effect": "Allow", "Resource": arn(queue)} in statements
    assert {"Action": "dynamodb:GetItem", "Effect": "Allow", "Resource": arn(table)} in statements
    # And the definition deploys as written, JSONata, its ${Name}s in Arguments substituted
    (properties,) = [
        m["Properties"] for m in template.find_resources("AWS::StepFunctions::StateMachine").values()
    ]
    assert json.loads(properties["DefinitionString"]) == JSONATA_FAN_OUT
    assert set(properties["DefinitionSubstitutions"]) == {
        "ClassifyFunction",
        "ExtractFunction",
        "WorkQueue",
        "StateTable",
    }


@pytest.mark.parametrize(
    ("written", "problem"),
    [
        (
            {**invoke("ClassifyFunction", End=True), "QueryLanguage": "JSONata"},
            "state Classify is JSONata (its QueryLanguage), but has Parameters, a JSONPath field: write "
            "Arguments: its keys without .$, its values literal or {% %} expressions",
        ),
        (
            {**invoke("ClassifyFunction", End=True), "QueryLanguage": "JSONPath", "Machine": "JSONata"},
            "state Classify: QueryLanguage JSONPath in a JSONata machine, which AWS refuses: write the state "
            "in JSONata, or make the machine JSONPath and set QueryLanguage JSONata on its JSONata states",
        ),
        (
            jsonata_invoke("ClassifyFunction", End=True),
            "state Classify is JSONPath (the machine's QueryLanguage), but has Arguments, a JSONata field: "
            "set QueryLanguage JSONata on the state (or the machine), or write Parameters",
        ),
    ],
    ids=["parameters-in-jsonata", "jsonpath-in-jsonata-machine", "arguments-in-jsonpath"],
)
def test_a_state_with_fields_of_the_other_query_language_stops_synth_naming_file_state_and_fix(
    stack: cdk.Stack, tmp_path: Path, echo_code: Path, written: dict[str, Any], problem: str
) -> None:
    # Given a one-step flow file whose Task mixes up its query languages
    machine = written.pop("Machine", "JSONPath")
    write(tmp_path, "mixed", {**definition({"Classify": written}), "QueryLanguage": machine})
    source = tmp_path / "mixed.asl.json"
    # When the flow is built, then it fails, naming the file, the state and what to write instead
    with pytest.raises(FlowDefinitionError) as raised:
        Flow(
            stack,
            "Mixed",
            name="mixed",
            definition=read(tmp_path, "mixed"),
            bindings={"ClassifyFunction": capability(stack, "Classify", echo_code).function},
            source=source,
        )
    assert str(raised.value).splitlines() == [
        f"mixed ({source}) breaks the rules of its query languages:",
        f"  - {problem}",
    ]
    # And before the contract check or the state machine
    assert stack.node.find_child("Mixed").node.try_find_child("Default") is None


def test_a_flow_that_breaks_its_functions_contracts_stops_synth_listing_every_problem(
    stack: cdk.Stack, tmp_path: Path, echo_code: Path
) -> None:
    # Given a mis-wired flow: classify misses a field it needs and passes one it does not take,
    # the flow reads a field classify does not return, and extract is handed a whole state
    classify = invoke("ClassifyFunction", Next="Extract", ResultSelector={"label.$": "$.Payload.lable"})
    del classify["Parameters"]["Payload"]["correlation_id.$"]
    classify["Parameters"]["Payload"]["doc.$"] = "$.detail"
    extract = invoke("ExtractFunction", End=True)
    extract["Parameters"] = {"FunctionName": "${ExtractFunction}", "Payload.$": "$"}
    write(tmp_path, "miswired", definition({"Classify": classify, "Extract": extract}))
    bindings = {
        "ClassifyFunction": capability(stack, "Classify", echo_code).function,
        "ExtractFunction": capability(stack, "Extract", echo_code).function,
    }
    # When the flow is built, then it fails, and the message lists each problem
    with pytest.raises(FlowDefinitionError) as raised:
        Flow(stack, "Miswired", name="miswired", definition=read(tmp_path, "miswired"), bindings=bindings)
    message = str(raised.value)
    assert "miswired" in message and "contracts" in message
    for problem in (
        "miswired: Classify: Payload misses 'correlation_id', required by ClassifyInput",
        "miswired: Classify: Payload passes 'doc', which ClassifyInput does not take",
        "miswired: Classify: reads $.Payload.lable, which ClassifyOutput does not promise",
        "miswired: Extract: passes a whole state (Payload.$); name the fields it passes",
    ):
        assert f"  - {problem}" in message.splitlines()
    # And the flow stopped before making its state machine
    assert stack.node.find_child("Miswired").node.try_find_child("Default") is None


def test_a_function_without_a_contract_cannot_be_called(
    stack: cdk.Stack, tmp_path: Path, echo_code: Path
) -> None:
    # Given a flow that calls a function whose capability has no contract
    write(tmp_path, "odd", definition({"Echo": invoke("EchoFunction", End=True)}))
    echo = capability(stack, "Echo", echo_code)
    # When the flow is built, then it fails: every Task's function must have a contract
    with pytest.raises(FlowDefinitionError, match=r"\$\{EchoFunction\} is no capability's function"):
        Flow(
            stack,
            "Odd",
            name="odd",
            definition=read(tmp_path, "odd"),
            bindings={"EchoFunction": echo.function},
        )


def test_each_flow_publishes_a_version_and_a_live_alias_that_callers_start(
    stack: cdk.Stack, tmp_path: Path, echo_code: Path
) -> None:
    # Given an Express flow, and a role that should start it
    one_step(tmp_path)
    flow = Flow(
        stack,
        "One",
        name="one",
        definition=read(tmp_path, "one"),
        state_machine_type=sfn.StateMachineType.EXPRESS,
        bindings={"ClassifyFunction": capability(stack, "Classify", echo_code).function},
    )
    caller = iam.Role(stack, "Caller", assumed_by=iam.ServicePrincipal("events.amazonaws.com"))
    flow.grant_start_live(caller)
    # When the stack is synthesized
    template = Template.from_stack(stack)
    machine_id = stack.get_logical_id(flow.state_machine.node.default_child)  # type: ignore[arg-type]
    version_id = stack.get_logical_id(flow.version)
    # Then the machine is Express, and a version follows its revision, kept when replaced
    template.has_resource_properties("AWS::StepFunctions::StateMachine", {"StateMachineType": "EXPRESS"})
    template.has_resource(
        "AWS::StepFunctions::StateMachineVersion",
        {
            "Properties": {
                "StateMachineArn": {"Ref": machine_id},
                "StateMachineRevisionId": {"Fn::GetAtt": [machine_id, "StateMachineRevisionId"]},
            },
            "UpdateReplacePolicy": "Retain",
        },
    )
    # And the live alias routes all of it to that version
    template.has_resource_properties(
        "AWS::StepFunctions::StateMachineAlias",
        {
            "Name": "live",
            "RoutingConfiguration": [{"StateMachineVersionArn": {"Ref": version_id}, "Weight": 100}],
        },
    )
    assert stack.resolve(flow.alias_arn) == {"Fn::Join": ["", [{"Ref": machine_id}, ":live"]]}
    assert stack.resolve(flow.live.state_machine_arn) == stack.resolve(flow.alias_arn)
    # And the caller may start the machine through the alias only
    template.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "Roles": [{"Ref": stack.get_logical_id(caller.node.default_child)}],  # type: ignore[arg-type]
            "PolicyDocument": {
                "Statement": [
                    {
                        "Action": "states:StartExecution",
                        "Condition": {"StringEquals": {"states:StateMachineQualifier": "live"}},
                        "Effect": "Allow",
                        "Resource": {"Ref": machine_id},
                    }
                ]
            },
        },
    )


# A Distributed Map, in JSONata: claims read from a JSONL object of the claim bucket, each classified
# in an Express child execution, the results written back under a prefix computed per run.
CHILD_PAYLOAD = {
    "correlation_id": "{% $states.context.Execution.Input.correlation_id %}",  # the child's own input
    "flow": "test",
    "document": "{% $states.input.claim %}",
}
READ_CLAIMS = {
    "Resource": "arn:aws:states:::s3:getObject",
    "ReaderConfig": {"InputType": "JSONL"},
    "Arguments": {"Bucket": "${ClaimBucket}", "Key": "{% $states.input.manifest_key %}"},
}
WRITE_RESULTS = {
    "Resource": "arn:aws:states:::s3:putObject",
    "Arguments": {"Bucket": "${ClaimBucket}", "Prefix": "{% 'batches/' & $states.context.Execution.Name %}"},
}


def distributed(execution_type: str = "EXPRESS", **fields: Any) -> dict[str, Any]:
    classify = jsonata_invoke("ClassifyFunction", End=True)
    classify["Arguments"]["Payload"] = dict(CHILD_PAYLOAD)
    return {
        "QueryLanguage": "JSONata",
        "StartAt": "Batch",
        "States": {
            "Batch": {
                "Type": "Map",
                "ItemReader": READ_CLAIMS,
                "ItemSelector": {
                    "correlation_id": "{% $states.context.Execution.Input.id %}",
                    "claim": "{% $states.context.Map.Item.Value %}",
                },
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": execution_type},
                    **branch({"Classify": classify}),
                },
                "ResultWriter": WRITE_RESULTS,
                "MaxConcurrency": 10,
                "ToleratedFailurePercentage": 5,
                "End": True,
                **fields,
            }
        },
    }


def test_a_distributed_map_needs_its_child_runs_its_reader_and_writer_and_its_tasks() -> None:
    # Given a JSONata Distributed Map reading claims from ${ClaimBucket}, writing its results there
    # When its needs are derived
    found = needs(distributed(), "batch")
    # Then it may start, describe and stop its Express children (executions of its own machine),
    # get any object of the bucket (the key is data), write results with the multipart calls,
    # and its child's Task invokes its function like any other
    assert found == [
        Need("Batch", "", MACHINE, "states:StartExecution"),
        Need("Batch", "", MACHINE, "states:DescribeExecution", ":*"),
        Need("Batch", "", MACHINE, "states:StopExecution", ":*"),
        Need("Batch", "ClaimBucket", BUCKET, "s3:GetObject", "*"),
        Need("Batch", "ClaimBucket", BUCKET, "s3:PutObject", "*"),
        Need("Batch", "ClaimBucket", BUCKET, "s3:GetObject", "*"),
        Need("Batch", "ClaimBucket", BUCKET, "s3:ListMultipartUploadParts", "*"),
        Need("Batch", "ClaimBucket", BUCKET, "s3:AbortMultipartUpload", "*"),
        Need("Batch/Classify", "ClassifyFunction", FUNCTION, "lambda:InvokeFunction"),
    ]


def test_literal_keys_and_prefixes_narrow_the_grant_and_standard_children_may_be_redriven() -> None:
    # Given a Standard-children Distributed Map with a Label, listing objects under a literal prefix,
    # and writing under another, in JSONPath
    listing = {
        "Resource": "arn:aws:states:::s3:listObjectsV2",
        "Parameters": {"Bucket": "${ClaimBucket}", "Prefix": "claims/"},
    }
    writer = {
        "Resource": "arn:aws:states:::s3:putObject",
        "Parameters": {"Bucket": "${ClaimBucket}", "Prefix": "out"},
    }
    state = {
        "Type": "Map",
        "Label": "Claims",
        "ItemReader": listing,
        "ResultWriter": writer,
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            **definition({"P": {"Type": "Pass", "End": True}}),
        },
        "End": True,
    }
    found = needs(definition({"Batch": state}), "batch")
    # Then ListBucket is limited to the prefix, the objects to those under it, the results to theirs,
    # and a redriven Map Run may redrive this Map's Standard children
    assert found == [
        Need("Batch", "", MACHINE, "states:StartExecution"),
        Need("Batch", "", MACHINE, "states:DescribeExecution", ":*"),
        Need("Batch", "", MACHINE, "states:StopExecution", ":*"),
        Need("Batch", "", MACHINE, "states:RedriveExecution", "/Claims:*"),
        Need("Batch", "ClaimBucket", BUCKET, "s3:ListBucket", None, "claims/"),
        Need("Batch", "ClaimBucket", BUCKET, "s3:GetObject", "claims/*"),
        *(
            Need("Batch", "ClaimBucket", BUCKET, action, "out*")
            for action in (
                "s3:PutObject",
                "s3:GetObject",
                "s3:ListMultipartUploadParts",
                "s3:AbortMultipartUpload",
            )
        ),
    ]
    # And a literal Key reaches that object alone; a WriterConfig alone writes nothing
    one = {**READ_CLAIMS, "Arguments": {"Bucket": "${ClaimBucket}", "Key": "claims/today.jsonl"}}
    shaped = distributed(ItemReader=one, ResultWriter={"WriterConfig": {"OutputType": "JSON"}})
    assert [n for n in needs(shaped, "batch") if n.kind is BUCKET] == [
        Need("Batch", "ClaimBucket", BUCKET, "s3:GetObject", "claims/today.jsonl")
    ]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {
                "ItemReader": {
                    **READ_CLAIMS,
                    "Arguments": {"Bucket": "{% $states.input.bucket %}", "Key": "k"},
                }
            },
            r"odd: state Batch: ItemReader.Arguments.Bucket must be a bound \$\{Name\}, not "
            r"'\{% \$states.input.bucket %\}', named at run time, which cannot be granted",
        ),
        (
            {"ResultWriter": {**WRITE_RESULTS, "Arguments": {"Bucket": "claims-bucket", "Prefix": "x"}}},
            r"state Batch: ResultWriter.Arguments.Bucket must be a bound \$\{Name\}, not 'claims-bucket'",
        ),
        (
            {"ItemReader": {**READ_CLAIMS, "Resource": "arn:aws:states:::s3:getObjectAttributes"}},
            r"state Batch: the stack cannot grant ItemReader Resource "
            r"'arn:aws:states:::s3:getObjectAttributes': its Resource may be "
            r"arn:aws:states:::s3:getObject or arn:aws:states:::s3:listObjectsV2",
        ),
        (
            {"ResultWriter": {"Resource": "arn:aws:states:::s3:putObject", "Arguments": {"Prefix": "x"}}},
            r"state Batch: ResultWriter writes its results to no Bucket: name one in ResultWriter.Arguments, "
            r"a bound \$\{Name\}",
        ),
        (
            {"ResultWriter": {"Arguments": {"Bucket": "${ClaimBucket}"}}},
            r"the stack cannot grant ResultWriter Resource '': its Resource may be "
            r"arn:aws:states:::s3:putObject",
        ),
        (
            {"ItemReader": {**READ_CLAIMS, "Arguments": "{% {'Bucket': $b, 'Key': $k} %}"}},
            r"ItemReader.Arguments is one expression, which names the bucket only at run time",
        ),
    ],
    ids=[
        "reader-bucket-at-run-time",
        "writer-bucket-unbound",
        "unsupported-reader",
        "writer-without-bucket",
        "writer-without-resource",
        "reader-arguments-expression",
    ],
)
def test_a_distributed_map_whose_bucket_cannot_be_granted_stops_synth_naming_state_and_fix(
    fields: dict[str, Any], message: str
) -> None:
    # Given a Distributed Map whose ItemReader or ResultWriter names no bucket the stack can grant
    # When its needs are derived, then it fails, naming the state and what to write
    with pytest.raises(FlowDefinitionError, match=message):
        needs(distributed(**fields), "odd")


def test_a_distributed_map_without_an_execution_type_stops_synth() -> None:
    written = distributed()
    del written["States"]["Batch"]["ItemProcessor"]["ProcessorConfig"]["ExecutionType"]
    with pytest.raises(FlowDefinitionError, match=r"ExecutionType must be EXPRESS or STANDARD, not None"):
        needs(written, "odd")


def _id(stack: cdk.Stack, construct: Any) -> str:
    element = construct.node.default_child
    assert isinstance(element, cdk.CfnElement)
    return stack.get_logical_id(element)


def _statements(policies: dict[str, Any], stack: cdk.Stack, policy: Any) -> list[dict[str, Any]]:
    return list(policies[_id(stack, policy)]["Properties"]["PolicyDocument"]["Statement"])


def _acyclic(template: Template) -> None:
    """No resource depends on itself through Refs, GetAtts and DependsOn (CloudFormation refuses it)."""
    resources = template.to_json()["Resources"]

    def refs(value: Any) -> set[str]:
        if isinstance(value, dict):
            found = {value["Ref"]} if isinstance(value.get("Ref"), str) else set()
            if "Fn::GetAtt" in value:
                found.add(value["Fn::GetAtt"][0])
            return found.union(*(refs(v) for v in value.values()))
        if isinstance(value, list):
            return set().union(*(refs(v) for v in value))
        return set()

    edges = {
        name: (refs(r.get("Properties", {})) | set(r.get("DependsOn", []))) & set(resources)
        for name, r in resources.items()
    }
    done: set[str] = set()

    def visit(name: str, trail: tuple[str, ...]) -> None:
        assert name not in trail, f"circular dependency: {' -> '.join((*trail, name))}"
        if name not in done:
            for other in edges[name]:
                visit(other, (*trail, name))
            done.add(name)

    for name in resources:
        visit(name, ())


def test_a_distributed_map_flow_synthesizes_with_least_privilege_and_no_cycle(
    tmp_path: Path, echo_code: Path
) -> None:
    # Given the JSONata Distributed Map flow, bound to a capability and a bucket like the claim bucket,
    # in an app checked by cdk-nag
    app = cdk.App(outdir=str(tmp_path / "out"), context=REPORT_ONLY)
    stack = cdk.Stack(app, "Test")
    classify = capability(stack, "Classify", echo_code)
    bucket = s3.Bucket(stack, "Claims", enforce_ssl=True, encryption=s3.BucketEncryption.S3_MANAGED)
    write(tmp_path, "batch", distributed())
    flow = Flow(
        stack,
        "Batch",
        name="batch",
        definition=read(tmp_path, "batch"),
        bindings={"ClassifyFunction": classify.function, "ClaimBucket": bucket},
    )
    apply_nag(app)
    # When the stack is synthesized
    assembly = Path(app.synth().directory)
    template = Template.from_stack(stack)
    machine = flow.state_machine
    machine_id = _id(stack, machine)
    policies = template.find_resources(
        "AWS::IAM::Policy", {"Properties": {"Roles": [{"Ref": _id(stack, machine.role)}]}}
    )
    default = _statements(policies, stack, machine.role.node.find_child("DefaultPolicy"))
    children = _statements(policies, stack, machine.node.find_child("DistributedMapPolicy"))
    bucket_arn = {"Fn::GetAtt": [_id(stack, bucket), "Arn"]}
    # Then the role may get any of the bucket's objects (the key is data) and write results there,
    # with the multipart calls, on that bucket's objects only, and invoke the child's function
    s3_statements = [s for s in default if str(s["Action"]).count("s3:")]
    assert s3_statements == [
        {
            "Action": [
                "s3:GetObject",
                "s3:PutObject",
                "s3:ListMultipartUploadParts",
                "s3:AbortMultipartUpload",
            ],
            "Effect": "Allow",
            "Resource": {"Fn::Join": ["", [bucket_arn, "/*"]]},
        }
    ]
    assert {
        "Action": "lambda:InvokeFunction",
        "Effect": "Allow",
        "Resource": {"Fn::GetAtt": [_id(stack, classify.function), "Arn"]},
    } in default
    # And start its children (this machine), describe and stop them (its executions), in a policy of its own
    executions = {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                ":states:",
                {"Ref": "AWS::Region"},
                ":",
                {"Ref": "AWS::AccountId"},
                ":execution:",
                {"Fn::GetAtt": [machine_id, "Name"]},
                ":*",
            ],
        ]
    }
    assert children == [
        {"Action": "states:StartExecution", "Effect": "Allow", "Resource": {"Ref": machine_id}},
        {
            "Action": ["states:DescribeExecution", "states:StopExecution"],
            "Effect": "Allow",
            "Resource": executions,
        },
    ]
    # And nothing else of S3 or Step Functions
    actions = {
        a
        for s in default + children
        for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    }
    assert {a for a in actions if a.startswith(("s3:", "states:", "kms:"))} == {
        "s3:GetObject",
        "s3:PutObject",
        "s3:ListMultipartUploadParts",
        "s3:AbortMultipartUpload",
        "states:StartExecution",
        "states:DescribeExecution",
        "states:StopExecution",
    }
    # And the machine's own policy does not name the machine: no circular dependency
    assert machine_id not in json.dumps(default)
    _acyclic(template)
    # And cdk-nag finds nothing unacknowledged on the flow
    on_flow = [f for f in findings(assembly) if any(p.startswith("Test/Batch/") for p in f.paths)]
    assert on_flow == [], "\n".join(str(f) for f in on_flow)


def test_a_distributed_map_refusal_names_the_flow_file(
    stack: cdk.Stack, tmp_path: Path, echo_code: Path
) -> None:
    # Given the Distributed Map flow file, its ResultWriter's bucket a literal name
    writer = {**WRITE_RESULTS, "Arguments": {"Bucket": "claims-bucket", "Prefix": "x"}}
    write(tmp_path, "batch", distributed(ResultWriter=writer))
    source = tmp_path / "batch.asl.json"
    # When the flow is built, then it fails, naming the file, the state and the fix
    with pytest.raises(FlowDefinitionError) as raised:
        Flow(
            stack,
            "Batch",
            name="batch",
            definition=read(tmp_path, "batch"),
            bindings={
                "ClassifyFunction": capability(stack, "Classify", echo_code).function,
                "ClaimBucket": s3.Bucket(stack, "Claims"),
            },
            source=source,
        )
    assert str(raised.value) == (
        f"batch ({source}): state Batch: ResultWriter.Arguments.Bucket must be a bound ${{Name}}, "
        "not 'claims-bucket'"
    )
