"""The template's state machines, versions and aliases, registered where moto executes them.

moto's CloudFormation creates state machines in its non-executing backend and
ignores ``DefinitionSubstitutions``; its interpreter cannot start an execution on a
version or an alias ARN. Here every ``AWS::StepFunctions::StateMachine`` is created
(or updated, on a redeploy) in the executing backend with its substitutions
resolved; each ``StateMachineVersion`` publishes a version when the definition
changed; each ``StateMachineAlias`` is created or re-pointed. Starting an execution
on a version or an alias is :mod:`localcloud.patches.stepfunctions.api`'s.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any

MACHINE = "AWS::StepFunctions::StateMachine"
VERSION = "AWS::StepFunctions::StateMachineVersion"
ALIAS = "AWS::StepFunctions::StateMachineAlias"

HANDLED = (VERSION, ALIAS)  # modeled here, though moto's CloudFormation skips them


@dataclass
class Registered:
    machines: dict[str, str] = field(default_factory=dict)  # logical id -> ARN
    versions: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)


def _lower_keys(value: Any) -> Any:
    """CloudFormation spells state machine settings in PascalCase, the API in camelCase."""
    if isinstance(value, dict):
        return {k[:1].lower() + k[1:]: _lower_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_lower_keys(v) for v in value]
    return value


def referenced(value: Any) -> str | None:
    """The logical id a ``Ref`` or ``Fn::GetAtt`` points to."""
    if isinstance(value, dict):
        if "Ref" in value:
            return str(value["Ref"])
        if "Fn::GetAtt" in value:
            return str(value["Fn::GetAtt"][0])
    return None


def register(template: dict[str, Any], cfn_stack: Any, executing: Any) -> Registered:
    from moto.cloudformation.parsing import clean_json

    resources: dict[str, Any] = template.get("Resources", {})
    done = Registered()
    by_arn = {m.arn: m for m in executing.state_machines}

    for logical_id, resource in resources.items():
        if resource["Type"] != MACHINE:
            continue
        properties = clean_json(copy.deepcopy(resource["Properties"]), cfn_stack.resource_map)
        definition = properties.get("DefinitionString")
        if definition is None:
            definition = json.dumps(properties["Definition"])
        for name, value in (properties.get("DefinitionSubstitutions") or {}).items():
            definition = definition.replace("${" + name + "}", str(value))
        planned = cfn_stack.resource_map[logical_id]
        existing = by_arn.get(planned.arn)
        if existing is not None:
            if existing.definition != definition:
                executing.update_state_machine(existing.arn, definition=definition)
            done.machines[logical_id] = existing.arn
            continue
        created = executing.create_state_machine(
            name=planned.name,
            definition=definition,
            roleArn=properties.get("RoleArn", ""),
            loggingConfiguration=_lower_keys(properties.get("LoggingConfiguration")),
            tracingConfiguration=_lower_keys(properties.get("TracingConfiguration")),
            sm_type=properties.get("StateMachineType", "STANDARD"),
        )
        done.machines[logical_id] = created.arn

    for logical_id, resource in resources.items():
        if resource["Type"] != VERSION:
            continue
        properties = resource["Properties"]
        source = referenced(properties["StateMachineArn"])
        machine = executing.describe_state_machine(done.machines[source]) if source else None
        if machine is None:
            continue
        latest = machine.latest_version
        if latest is None or latest.definition != machine.definition:
            machine.publish(properties.get("Description"))
        done.versions[logical_id] = machine.latest_version.arn

    for logical_id, resource in resources.items():
        if resource["Type"] != ALIAS:
            continue
        properties = resource["Properties"]
        routing = []
        for route in properties.get("RoutingConfiguration", []):
            target = referenced(route["StateMachineVersionArn"])
            if target not in done.versions:
                raise ValueError(
                    f"{logical_id}: routes to {route['StateMachineVersionArn']}, not a version here"
                )
            routing.append({"stateMachineVersionArn": done.versions[target], "weight": int(route["Weight"])})
        machine_arn = str(routing[0]["stateMachineVersionArn"]).rsplit(":", 1)[0]
        alias_arn = f"{machine_arn}:{properties['Name']}"
        machine = executing.describe_state_machine(machine_arn)
        if properties["Name"] in machine.aliases:
            executing.update_state_machine_alias(alias_arn, properties.get("Description"), routing)
        else:
            executing.create_state_machine_alias(properties["Name"], routing, properties.get("Description"))
        done.aliases[logical_id] = alias_arn
    return done


def fill_outputs(cfn_stack: Any, template: dict[str, Any], values: dict[str, str]) -> None:
    """Give the stack the outputs moto could not resolve (they name versions and aliases).

    AWS: DescribeStacks lists every output of the template, with its value (moto left these
    out: it resolved their ``Ref`` to nothing).
    """
    from moto.cloudformation.parsing import Output

    outputs = template.get("Outputs", {})
    for key, value in values.items():
        cfn_stack.output_map._parsed_outputs[key] = Output(key, value, outputs[key].get("Description", ""))
