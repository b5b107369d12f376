"""CloudFormation in the local cloud: the CDK's auto-delete custom resource, and buckets on delete.

- ``Custom::S3AutoDeleteObjects`` (what ``autoDeleteObjects`` adds to a bucket, as the
  ``dev`` stage does to the claim bucket) is backed by a Node.js function of the CDK's;
  moto invokes a custom resource's function and waits for its answer on a response URL,
  and the local cloud runs Python handlers only, so the stack would never leave
  CREATE_IN_PROGRESS. Here the resource is answered as the CDK's handler answers it
  (``aws-cdk-lib``'s ``custom-resource-handlers/dist/aws-s3/auto-delete-objects-handler``):
  nothing to do on create and update, and on delete, if the bucket carries the tag
  ``aws-cdk:auto-delete-objects=true``, every object version and delete marker is deleted,
  through the local cloud's own S3 API. (The handler also puts a statement denying new
  uploads in the bucket policy first; moto does not enforce bucket policies, so it is left
  out.) Any other custom resource type goes to moto, unchanged.
- moto's stack deletion "deletes" a bucket that still holds objects by leaving it in S3
  and reporting success; AWS refuses (``BucketNotEmpty``, the stack in DELETE_FAILED).
  Here the refusal is AWS's, so the bucket goes only once it is empty: moto's deletion
  retries a refused resource after the others, which lets the auto-delete resource empty
  it first, as CloudFormation's dependency order does.

Every stack operation, however it arrives (``cloud.deploy``'s boto3, or the stock CDK CLI over
HTTP), ends in one hook, :func:`deployed`: the stack's state machines, versions and aliases
registered where moto executes them (:mod:`localcloud.state_machines`), the outputs moto could
not resolve filled in, and a :class:`~localcloud.cloud.Deployment` kept in ``cloud.deployments``.
It runs when a stack's creation completes (CreateStack, or a CREATE change set executed) and after
an update (UpdateStack, or an UPDATE change set); before either, the account has API Gateway's
CloudWatch role set, as an account that has set it once.

And what the CDK CLI asks of CloudFormation, as AWS answers it:

- a ``TemplateURL`` naming the local endpoint in path style (``http://127.0.0.1:<port>/<bucket>/<key>``,
  which the CLI builds from ``AWS_ENDPOINT_URL``) is read from that bucket and key; moto read the
  host's first label as the bucket ("127");
- CreateChangeSet: a CREATE change set makes a stack in ``REVIEW_IN_PROGRESS`` (one that is still
  in review takes another; any other is refused), an UPDATE one needs a stack; ``UsePreviousValue``
  takes the value the stack uses (its input, or the template's default) rather than moto's resolved
  one; a change set that changes nothing is ``FAILED`` with CloudFormation's status reason, which
  the CDK CLI reads;
- DescribeChangeSet, ExecuteChangeSet and DeleteChangeSet find a change set by its ARN, or by its
  name on the stack named (``ChangeSetNotFound`` otherwise; deleting one that is not there is no
  error, as the CLI's cleanup relies on); executing one creates or updates the stack as CreateStack
  and UpdateStack do (resources, outputs, exports) and deletes the stack's other change sets;
- UpdateStack's ``UsePreviousValue`` for a parameter the stack took from its template's default;
- DescribeStacks lists each parameter's input value (``ParameterValue``), and for an SSM
  parameter type the value read from Parameter Store (``ResolvedValue``); moto listed the resolved
  value as the input (a list parameter as a Python list).
"""

from __future__ import annotations

import json
import time
import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

from localcloud import state_machines
from localcloud.assembly import API_GATEWAY_LOGGING_ROLE

if TYPE_CHECKING:
    from localcloud.cloud import Deployment, LocalCloud
    from localcloud.patches import Patches

# CloudFormation's status reason for a change set that changes nothing (the CDK CLI matches it)
NO_CHANGES = (
    "The submitted information didn't contain changes. Submit different information to create a change set."
)
CDK_METADATA = "AWS::CDK::Metadata"

AUTO_DELETE_OBJECTS = "Custom::S3AutoDeleteObjects"
HANDLED = (AUTO_DELETE_OBJECTS,)  # modeled here, though moto's CloudFormation would wait on its function
AUTO_DELETE_TAG = "aws-cdk:auto-delete-objects"  # the tag the CDK puts on a bucket it may empty


def empty_bucket(s3: Any, bucket: str) -> int:
    """Delete every version and delete marker of ``bucket``, as the CDK's handler does; return how many."""
    deleted = 0
    paginator = s3.get_paginator("list_object_versions")
    for page in paginator.paginate(Bucket=bucket):
        objects = [
            {"Key": item["Key"], "VersionId": item["VersionId"]}
            for item in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]
        ]
        if objects:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": objects, "Quiet": True})
            deleted += len(objects)
    return deleted


def install(patches: Patches, cloud: LocalCloud) -> None:
    from botocore.exceptions import ClientError
    from moto.cloudformation.custom_model import CustomModel
    from moto.cloudformation.models import cloudformation_backends
    from moto.s3.exceptions import BucketNotEmpty
    from moto.s3.models import FakeBucket, s3_backends
    from moto.utilities.utils import get_partition

    class AutoDeleteObjects(CustomModel):
        """``Custom::S3AutoDeleteObjects``, answered at once; on delete, empties its tagged bucket."""

        def __init__(self, region_name: str, logical_id: str, resource_name: str, bucket_name: str) -> None:
            super().__init__(region_name, str(uuid.uuid4()), logical_id, resource_name)
            self.bucket_name = bucket_name
            self.set_data({})  # CREATE: the CDK's handler does nothing, and answers SUCCESS

        def delete(self, account_id: str, region_name: str) -> None:
            s3 = cloud.client("s3")
            try:
                tags = s3.get_bucket_tagging(Bucket=self.bucket_name).get("TagSet", [])
            except ClientError as error:
                if error.response["Error"]["Code"] == "NoSuchBucket":
                    return  # "Bucket ... does not exist": nothing to empty
                if error.response["Error"]["Code"] != "NoSuchTagSet":
                    raise
                tags = []
            if {"Key": AUTO_DELETE_TAG, "Value": "true"} in tags:
                empty_bucket(s3, self.bucket_name)

    create_custom = CustomModel.create_from_cloudformation_json.__func__

    def create_custom_resource(
        cls: Any, name: str, template: dict[str, Any], account: str, region: str, **kw: Any
    ) -> Any:
        if kw.get("ResourceType") != AUTO_DELETE_OBJECTS:
            return create_custom(cls, name, template, account, region, **kw)
        bucket_name = template["Properties"]["BucketName"]
        resource = AutoDeleteObjects(region, kw["LogicalId"], name, bucket_name)
        cloudformation_backends[account][region].get_stack(kw["StackId"]).add_custom_resource(resource)
        return resource

    patches.replace(CustomModel, "create_from_cloudformation_json", classmethod(create_custom_resource))

    delete_bucket = FakeBucket.delete_from_cloudformation_json.__func__

    def delete_bucket_from_template(
        cls: Any, name: str, template: dict[str, Any], account: str, region: str
    ) -> None:
        backend = s3_backends[account][get_partition(region)]
        if name in backend.buckets and backend.buckets[name].keys:
            raise BucketNotEmpty(name)
        delete_bucket(cls, name, template, account, region)

    patches.replace(FakeBucket, "delete_from_cloudformation_json", classmethod(delete_bucket_from_template))
    _install_json_templates(patches)
    _install_deployments(patches, cloud)
    _install_template_urls(patches, cloud)
    _install_parameters(patches)
    _install_change_sets(patches)


# --- what every stack operation ends with ------------------------------------------------
def deployed(cloud: LocalCloud, stack: Any, seconds: float = 0.0) -> Deployment:
    """What a stack create or update does beyond moto's CloudFormation; the stack's :class:`Deployment`.

    Its state machines are registered where moto executes them, with their versions and aliases;
    the outputs that name a version or an alias (which moto resolved to nothing) are filled in, in
    the stack's own outputs too, so DescribeStacks lists them ("DescribeStacks: Outputs, a list of
    output structures"); the deployment is kept in ``cloud.deployments``.
    """
    from moto.cloudformation.parsing import NULL_MODELS, get_model_map
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    from localcloud.cloud import Deployment

    template: dict[str, Any] = stack.template_dict
    executing = stepfunctions_parser_backends[stack.account_id][stack.region_name]
    registered = state_machines.register(template, stack, executing)
    filled = {}
    for key, output in template.get("Outputs", {}).items():
        target = state_machines.referenced(output.get("Value")) or ""
        arn = registered.versions.get(target) or registered.aliases.get(target)
        if arn:
            filled[key] = arn
    state_machines.fill_outputs(stack, template, filled)
    # moto skips the resource types it does not model (policies, authorizers...): say which
    handled = (
        set(get_model_map()) | set(NULL_MODELS) | set(state_machines.HANDLED) | set(HANDLED) | {CDK_METADATA}
    )
    # moto lists the resources of a type it does not model without an id: they are left out
    modeled = [r for r in stack.stack_resources if getattr(r, "logical_resource_id", None)]
    deployment = Deployment(
        stack_name=stack.name,
        outputs={
            o["OutputKey"]: str(o["OutputValue"]) for o in stack.outputs or [] if o["OutputValue"] is not None
        },
        resources={
            r.logical_resource_id: str(getattr(r, "physical_resource_id", None) or "") for r in modeled
        },
        resource_types={r.logical_resource_id: str(getattr(r, "cf_resource_type", "")) for r in modeled},
        state_machines=registered.machines,
        versions=registered.versions,
        aliases=registered.aliases,
        not_modeled=sorted({r["Type"] for r in template.get("Resources", {}).values()} - handled),
        seconds=seconds,
    )
    cloud.deployments[stack.name] = deployment
    return deployment


def _install_deployments(patches: Patches, cloud: LocalCloud) -> None:
    from moto.apigateway.models import apigateway_backends
    from moto.cloudformation.models import Stack, cloudformation_backends

    def logging_role(stack: Any) -> None:
        """API Gateway's CloudWatch role, as in an account that has set it once (``aiflows doctor``'s
        api logging check): a REST API stage that logs deploys only where it is set."""
        account = apigateway_backends[stack.account_id][stack.region_name].account
        if not account.cloudwatch_role_arn:
            account.cloudwatch_role_arn = f"arn:aws:iam::{stack.account_id}:role/{API_GATEWAY_LOGGING_ROLE}"

    create_resources = Stack.create_resources
    mark_creation_complete = Stack.mark_creation_complete
    update = Stack.update
    delete = Stack.delete

    def create_stack_resources(self: Any) -> None:
        logging_role(self)
        self._localcloud_started = time.perf_counter()
        create_resources(self)

    def creation_completed(self: Any) -> None:
        mark_creation_complete(self)
        started = getattr(self, "_localcloud_started", time.perf_counter())
        deployed(cloud, self, time.perf_counter() - started)

    def update_stack(self: Any, *args: Any, **kwargs: Any) -> None:
        logging_role(self)
        started = time.perf_counter()
        update(self, *args, **kwargs)
        deployed(cloud, self, time.perf_counter() - started)

    def delete_stack(self: Any) -> None:
        delete(self)
        cloud.deployments.pop(self.name, None)
        # the stack's change sets go with it (a new stack of its name starts with none)
        change_sets = cloudformation_backends[self.account_id][self.region_name].change_sets
        for change_set_id in [k for k, c in change_sets.items() if c.stack_id == self.stack_id]:
            del change_sets[change_set_id]

    patches.replace(Stack, "create_resources", create_stack_resources)
    patches.replace(Stack, "mark_creation_complete", creation_completed)
    patches.replace(Stack, "update", update_stack)
    patches.replace(Stack, "delete", delete_stack)


# --- templates --------------------------------------------------------------------------
def _install_json_templates(patches: Patches) -> None:
    """A JSON template is read as JSON: moto reads every template with PyYAML's pure-Python parser
    first (JSON is YAML), seconds for a CDK app's template of some hundred kilobytes. The document
    read is the same; a template that is not JSON goes to moto's YAML reading, unchanged."""
    from moto.cloudformation.models import ChangeSet, Stack

    parse_template = Stack.parse_template
    parse_change_set_template = ChangeSet._parse_template

    def parse(template: str) -> dict[str, Any]:
        if isinstance(template, str) and template.lstrip().startswith("{"):
            try:
                return dict(json.loads(template))
            except ValueError:
                pass
        return dict(parse_template(template))

    def parse_change_set(self: Any) -> None:
        if isinstance(self.template, str) and self.template.lstrip().startswith("{"):
            try:
                self.template_dict = json.loads(self.template)
                return
            except ValueError:
                pass
        parse_change_set_template(self)

    patches.replace(Stack, "parse_template", staticmethod(parse))
    patches.replace(ChangeSet, "_parse_template", parse_change_set)


# --- templates by URL ----------------------------------------------------------------------
def _install_template_urls(patches: Patches, cloud: LocalCloud) -> None:
    from moto.cloudformation import models, responses
    from moto.s3.models import s3_backends

    read_url = models.get_stack_from_s3_url

    def template_from_url(template_url: str, account_id: str, partition: str) -> str:
        """CreateStack's TemplateURL: "The URL of a file containing the template body ... located in an
        Amazon S3 bucket". A URL naming the local endpoint names the local S3, in path style."""
        url = urlparse(template_url)
        if url.netloc == urlparse(cloud.endpoint).netloc:
            bucket, key = unquote(url.path).lstrip("/").split("/", 1)
            return str(s3_backends[account_id][partition].get_object(bucket, key).value.decode("utf-8"))
        return str(read_url(template_url, account_id, partition))

    patches.replace(models, "get_stack_from_s3_url", template_from_url)
    patches.replace(responses, "get_stack_from_s3_url", template_from_url)


# --- parameters ----------------------------------------------------------------------------
def _declared(template: dict[str, Any]) -> dict[str, Any]:
    return dict(template.get("Parameters") or {})


def _in_use(stack: Any, key: str) -> str:
    """The value a stack uses for a parameter: its input, or its template's default (UsePreviousValue:
    "use the existing parameter value that the stack is using for a given parameter key")."""
    from moto.cloudformation.exceptions import ValidationError

    if key in stack.parameters:
        return str(stack.parameters[key])
    declared = _declared(stack.template_dict)
    if key not in declared or declared[key].get("Default") is None:
        raise ValidationError(
            message=f"Invalid input for parameter key {key}. Cannot specify usePreviousValue as true "
            "for a parameter key not in the previous template"
        )
    return str(declared[key]["Default"])


def _parameters(listed: list[dict[str, Any]], previous: Any | None) -> dict[str, str]:
    """A request's Parameters: each one's value, or with ``UsePreviousValue`` the stack's."""
    values = {}
    for parameter in listed:
        key = parameter["ParameterKey"]
        if str(parameter.get("UsePreviousValue", "")).lower() == "true" and previous is not None:
            values[key] = _in_use(previous, key)
        elif "ParameterValue" in parameter:
            values[key] = str(parameter["ParameterValue"])
    return values


def _effective(template: dict[str, Any], parameters: dict[str, str]) -> dict[str, Any]:
    """The value of each declared parameter: the input's, or the default."""
    return {key: parameters.get(key, spec.get("Default")) for key, spec in _declared(template).items()}


def _install_parameters(patches: Patches) -> None:
    from moto.cloudformation.models import CloudFormationBackend, Stack

    resolve_update_parameters = CloudFormationBackend._resolve_update_parameters

    def update_parameters(self: Any, instance: Any, incoming_params: list[dict[str, str]]) -> dict[str, str]:
        if not isinstance(instance, Stack):  # a stack set's, as moto resolves them
            return dict(resolve_update_parameters(self, instance, incoming_params))
        return _parameters(incoming_params, instance)

    def parameter_list(self: Any) -> list[dict[str, Any]]:
        """Parameter: ``ParameterValue`` "the input value", ``ResolvedValue`` "the value that corresponds
        to a SSM parameter key. This field is returned only for SSM parameter types"."""
        declared = _declared(self.template_dict)
        hidden = getattr(self.resource_map, "no_echo_parameter_keys", [])
        listed = []
        for key, resolved in self.resource_map.resolved_parameters.items():
            spec = declared.get(key, {})
            value = self.parameters.get(key, spec.get("Default"))
            entry: dict[str, Any] = {
                "ParameterKey": key,
                "ParameterValue": "****" if key in hidden or spec.get("NoEcho") else str(value),
            }
            if str(spec.get("Type", "")).startswith("AWS::SSM::Parameter::"):
                entry["ResolvedValue"] = ",".join(resolved) if isinstance(resolved, list) else str(resolved)
            listed.append(entry)
        return listed

    patches.replace(CloudFormationBackend, "_resolve_update_parameters", update_parameters)
    patches.replace(Stack, "parameter_list", property(parameter_list))


# --- change sets ---------------------------------------------------------------------------
def _live_stack(backend: Any, name_or_id: str) -> Any | None:
    for stack in backend.stacks.values():
        if name_or_id in (stack.name, stack.stack_id):
            return stack
    return None


def _change_set(backend: Any, name_or_arn: str, stack_name: str | None) -> Any | None:
    """A change set by its ARN, or by its name on the stack named (names are unique per stack): the
    live stack of that name, not a deleted one that had a change set of the same name."""
    if name_or_arn in backend.change_sets:
        return backend.change_sets[name_or_arn]
    stack = _live_stack(backend, stack_name) if stack_name else None
    for change_set in reversed(list(backend.change_sets.values())):
        if change_set.change_set_name != name_or_arn:
            continue
        if stack is not None and change_set.stack_id != stack.stack_id:
            continue
        if stack is None and stack_name and stack_name not in (change_set.stack_name, change_set.stack_id):
            continue
        return change_set
    return None


def _requires_recreation(resource_type: str, name: str) -> str:
    """ResourceTargetDefinition's RequiresRecreation: ``Always`` for a property the resource type's
    schema lists as create-only (its change replaces the resource), ``Never`` for one updated in
    place; ``Conditionally`` for a type without a schema. The schemas are CloudFormation's registry
    schemas, as cfn-lint (moto's template validator) ships them."""
    if resource_type.startswith("Custom::") or resource_type == "AWS::CloudFormation::CustomResource":
        return "Never"  # the custom resource's handler is sent the update
    try:
        from cfnlint.schema import PROVIDER_SCHEMA_MANAGER  # type: ignore[import-untyped]

        schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema("us-east-1", resource_type).schema
    except Exception:  # noqa: BLE001 - a type cfn-lint does not know: CloudFormation would say "Conditionally"
        return "Conditionally"
    return "Always" if f"/properties/{name}" in schema.get("createOnlyProperties", []) else "Never"


def _changes(stack: Any, new_template: dict[str, Any], listed: list[Any]) -> list[dict[str, Any]]:
    """DescribeChangeSet's Changes, each a ResourceChange as AWS describes one: Action, ids, type;
    for a Modify, the properties changed (Details: ``Target`` with ``BeforeValue``/``AfterValue`` and
    ``RequiresRecreation``), ``Replacement`` and ``Scope``; ``BeforeContext``/``AfterContext``, the
    resource's definition before and after (given with IncludePropertyValues)."""
    old_resources = dict(stack.template_dict.get("Resources") or {})
    new_resources = dict(new_template.get("Resources") or {})
    changes = []
    for change in listed:
        logical_id, action = change.logical_resource_id, change.action
        resource_change: dict[str, Any] = {
            "Action": action,
            "LogicalResourceId": logical_id,
            "ResourceType": change.resource_type,
        }
        existing = stack.resource_map._parsed_resources.get(logical_id) if action != "Add" else None
        physical_id = getattr(existing, "physical_resource_id", None)
        if physical_id:
            resource_change["PhysicalResourceId"] = str(physical_id)
        old = {k: v for k, v in old_resources.get(logical_id, {}).items() if k != "Type"}
        new = {k: v for k, v in new_resources.get(logical_id, {}).items() if k != "Type"}
        if action != "Add":
            resource_change["BeforeContext"] = json.dumps(old)
        if action != "Remove":
            resource_change["AfterContext"] = json.dumps(new)
        if action == "Modify":
            before, after = old.get("Properties") or {}, new.get("Properties") or {}
            details: list[dict[str, Any]] = []
            for name in sorted(set(before) | set(after)):
                if before.get(name) == after.get(name):
                    continue
                target: dict[str, Any] = {
                    "Attribute": "Properties",
                    "Name": name,
                    "RequiresRecreation": _requires_recreation(change.resource_type, name),
                    "AttributeChangeType": "Add"
                    if name not in before
                    else "Remove"
                    if name not in after
                    else "Modify",
                }
                if name in before:
                    target["BeforeValue"] = json.dumps(before[name])
                if name in after:
                    target["AfterValue"] = json.dumps(after[name])
                details.append(
                    {"Target": target, "Evaluation": "Static", "ChangeSource": "DirectModification"}
                )
            recreation = {d["Target"]["RequiresRecreation"] for d in details}
            resource_change["Replacement"] = (
                "True"
                if "Always" in recreation
                else "Conditional"
                if "Conditionally" in recreation
                else "False"
            )
            resource_change["Scope"] = ["Properties"] if details else []
            resource_change["Details"] = details
        changes.append(resource_change)
    return changes


class _Described:
    """A change set as DescribeChangeSet answers it: without the resources' contexts unless asked."""

    def __init__(self, change_set: Any, with_values: bool) -> None:
        self._change_set = change_set
        self.changes = [
            c if with_values else {k: v for k, v in c.items() if k not in ("BeforeContext", "AfterContext")}
            for c in change_set.changes
        ]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._change_set, name)


def _install_change_sets(patches: Patches) -> None:
    from moto.cloudformation.exceptions import CloudFormationError, ValidationError
    from moto.cloudformation.models import ChangeSet, CloudFormationBackend, Stack
    from moto.cloudformation.responses import CloudFormationResponse
    from moto.cloudformation.utils import (
        generate_changeset_id,
        generate_stack_id,
        validate_create_change_set,
    )
    from moto.core.responses import ActionResult, EmptyResult

    class ChangeSetNotFound(CloudFormationError):
        code = "ChangeSetNotFoundException"  # DescribeChangeSet: ChangeSetNotFound, HTTP 404

    class InvalidChangeSetStatus(CloudFormationError):
        code = "InvalidChangeSetStatusException"

    def found(backend: Any, name: str, stack_name: str | None) -> Any:
        change_set = _change_set(backend, name, stack_name)
        if change_set is None:
            raise ChangeSetNotFound(f"ChangeSet [{name}] does not exist")
        return change_set

    def create_change_set(
        self: Any,
        stack_name: str,
        change_set_name: str,
        template: str,
        parameters: dict[str, str],
        description: str,
        change_set_type: str,
        notification_arns: list[str] | None = None,
        tags: dict[str, str] | None = None,
        role_arn: str | None = None,
    ) -> tuple[str, str]:
        """CreateChangeSet: "To create a change set for a stack that doesn't exist, for the ChangeSetType
        parameter, specify CREATE. To create a change set for an existing stack, specify UPDATE"."""
        validate_create_change_set(change_set_name)
        stack = _live_stack(self, stack_name)
        if change_set_type == "UPDATE":
            if stack is None or stack.status == "REVIEW_IN_PROGRESS":
                raise ValidationError(stack_name)
        elif stack is None:  # CREATE: the stack exists from now on, in review
            stack = Stack(
                stack_id=generate_stack_id(stack_name, self.region_name, self.account_id),
                name=stack_name,
                template={},
                parameters=parameters,
                account_id=self.account_id,
                region_name=self.region_name,
                notification_arns=notification_arns,
                tags=tags,
                role_arn=role_arn,
            )
            self.stacks[stack.stack_id] = stack
            stack.status = "REVIEW_IN_PROGRESS"
            stack._add_stack_event("REVIEW_IN_PROGRESS", resource_status_reason="User Initiated")
        elif stack.status != "REVIEW_IN_PROGRESS":
            raise ValidationError(
                message=f"Stack [{stack_name}] already exists and cannot be created again with the "
                f"changeSet [{change_set_name}]."
            )
        change_set = ChangeSet(
            change_set_type=change_set_type,
            change_set_id=generate_changeset_id(change_set_name, self.region_name, self.account_id),
            change_set_name=change_set_name,
            stack=stack,
            template=template,
            parameters=parameters,
            description=description,
            notification_arns=notification_arns,
            tags=tags,
            role_arn=role_arn,
        )
        change_set.changes = _changes(stack, change_set.template_dict, change_set.changes)
        unchanged = (
            change_set_type == "UPDATE"
            and change_set.template_dict == stack.template_dict
            and _effective(change_set.template_dict, parameters)
            == _effective(stack.template_dict, stack.parameters)
            and (tags is None or tags == stack.tags)
        )
        if unchanged:
            change_set.status, change_set.execution_status = "FAILED", "UNAVAILABLE"
            change_set.status_reason = NO_CHANGES
        else:
            change_set.status, change_set.execution_status = "CREATE_COMPLETE", "AVAILABLE"
        self.change_sets[change_set.change_set_id] = change_set
        return change_set.change_set_id, stack.stack_id

    def execute_change_set(self: Any, change_set_name: str, stack_name: str | None = None) -> None:
        """ExecuteChangeSet: the stack created or updated as the change set says, as CreateStack and
        UpdateStack do it; "CloudFormation deletes all other change sets associated with the stack"."""
        change_set = found(self, change_set_name, stack_name)
        if change_set.execution_status != "AVAILABLE":
            raise InvalidChangeSetStatus(
                f"ChangeSet [{change_set.change_set_id}] cannot be executed in its current status of "
                f"[{change_set.status}]"
            )
        stack = self.stacks[change_set.stack_id]
        change_set.execution_status = "EXECUTE_IN_PROGRESS"
        if change_set.change_set_type == "CREATE":
            stack.template = change_set.template
            stack._parse_template()
            stack.description = stack.template_dict.get("Description")
            stack.parameters = change_set.parameters
            stack.cross_stack_resources = self.exports
            stack.resource_map = stack._create_resource_map()
            stack.output_map = stack._create_output_map()
            self._validate_export_uniqueness(stack)
            for export in stack.exports:
                self.exports[export.name] = export
            stack._add_stack_event("CREATE_IN_PROGRESS", resource_status_reason="User Initiated")
            stack.create_resources()
        else:
            stack.update(
                change_set.template,
                change_set.role_arn,
                parameters=change_set.parameters,
                tags=change_set.tags,
            )
        change_set.execution_status = "EXECUTE_COMPLETE"
        for other in [
            c for c in self.change_sets.values() if c.stack_id == stack.stack_id and c is not change_set
        ]:
            del self.change_sets[other.change_set_id]

    def delete_change_set(self: Any, change_set_name: str, stack_name: str | None = None) -> None:
        """DeleteChangeSet; one that is not there is no error (the CDK CLI deletes its own by name
        before each deploy, "if it exists")."""
        if stack_name and not change_set_name.startswith("arn:") and _live_stack(self, stack_name) is None:
            raise ValidationError(stack_name)
        change_set = _change_set(self, change_set_name, stack_name)
        if change_set is not None:
            del self.change_sets[change_set.change_set_id]

    def describe_change_set(self: Any, change_set_name: str, stack_name: str | None = None) -> Any:
        return found(self, change_set_name, stack_name)

    def create_change_set_response(self: Any) -> ActionResult:
        backend = self.cloudformation_backend
        stack_name = self._get_param("StackName")
        change_set_type = self._get_param("ChangeSetType", "CREATE")
        body = self._get_param("TemplateBody")
        template_url = self._get_param("TemplateURL")
        previous = _live_stack(backend, stack_name)
        if change_set_type == "UPDATE":
            if previous is None:
                raise ValidationError(stack_name)
            self.validate_template_and_stack_body()
            if self._get_bool_param("UsePreviousTemplate", False):
                body = previous.template
        if template_url:
            body = self._get_stack_from_s3_url(template_url)
        listed_tags = self._get_param("Tags")
        change_set_id, stack_id = backend.create_change_set(
            stack_name=stack_name,
            change_set_name=self._get_param("ChangeSetName"),
            template=body,
            parameters=_parameters(self._get_param("Parameters", []), previous),
            description=self._get_param("Description"),
            notification_arns=self._get_param("NotificationARNs", []),
            tags=None if listed_tags is None else {t["Key"]: t["Value"] for t in listed_tags},
            role_arn=self._get_param("RoleARN"),
            change_set_type=change_set_type,
        )
        return ActionResult({"Id": change_set_id, "StackId": stack_id})

    def describe_change_set_response(self: Any) -> ActionResult:
        change_set = self.cloudformation_backend.describe_change_set(
            self._get_param("ChangeSetName"), self._get_param("StackName")
        )
        return ActionResult(_Described(change_set, self._get_bool_param("IncludePropertyValues", False)))

    def delete_change_set_response(self: Any) -> EmptyResult:
        self.cloudformation_backend.delete_change_set(
            self._get_param("ChangeSetName"), self._get_param("StackName")
        )
        return EmptyResult()

    patches.replace(CloudFormationBackend, "create_change_set", create_change_set)
    patches.replace(CloudFormationBackend, "execute_change_set", execute_change_set)
    patches.replace(CloudFormationBackend, "delete_change_set", delete_change_set)
    patches.replace(CloudFormationBackend, "describe_change_set", describe_change_set)
    patches.replace(CloudFormationResponse, "create_change_set", create_change_set_response)
    patches.replace(CloudFormationResponse, "describe_change_set", describe_change_set_response)
    patches.replace(CloudFormationResponse, "delete_change_set", delete_change_set_response)
