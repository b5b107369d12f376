"""Lambda in the local cloud: invocations run the real handlers in execution environments.

- moto without Docker answers every invocation itself; here ``Invoke`` goes to the
  cloud's :class:`~localcloud.lambdas.LambdaService` (RequestResponse, Event, DryRun).
- moto's CloudFormation creates functions without their layers, logging
  configuration, dead-letter target, tracing or architectures: the execution
  environment needs them, and ``GetFunctionConfiguration`` shows them.
- A public layer the environment provides (Powertools) resolves without being published.
- An SQS event source mapping is polled by the cloud's poller (moto's own wiring
  invokes inside ``SendMessage``, once per message, with no batching or visibility).
- ``Invoke`` answers with the version that ran, ``X-Amz-Executed-Version`` (moto sends
  none, so a Step Functions ``lambda:invoke`` result lacked ``ExecutedVersion``).
- CloudFormation's ``Ref`` of a layer version is its ARN (moto hands over the model).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from localcloud.lambdas import InvocationError, is_provided_layer

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud
    from localcloud.patches import Patches


@dataclass(frozen=True)
class ProvidedLayer:
    """A public layer whose packages the local cloud's Python environment provides."""

    arn: str
    code_size: int = 0


def install(patches: Patches, cloud: LocalCloud) -> None:
    from moto.awslambda.models import LambdaBackend, LambdaFunction, LayerVersion
    from moto.awslambda_simple.models import LambdaSimpleBackend

    patches.add(LayerVersion, "physical_resource_id", property(lambda self: self.arn))

    create_function = LambdaFunction.create_from_cloudformation_json.__func__

    def create_function_from_template(
        cls: Any, name: str, template: Any, account: str, region: str, **kw: Any
    ) -> Any:
        function = create_function(cls, name, template, account, region, **kw)
        properties = template["Properties"]
        if properties.get("Layers"):
            function.layers = function._get_layers_data(properties["Layers"])
        function.logging_config = properties.get("LoggingConfig") or {}
        function.dead_letter_config = properties.get("DeadLetterConfig") or {}
        function.tracing_config = properties.get("TracingConfig") or function.tracing_config
        function.architectures = properties.get("Architectures") or function.architectures
        return function

    patches.replace(
        LambdaFunction, "create_from_cloudformation_json", classmethod(create_function_from_template)
    )
    configuration = LambdaFunction.get_configuration

    def get_configuration(self: Any, on_create: bool = False) -> dict[str, Any]:
        config = configuration(self, on_create)
        if getattr(self, "logging_config", None):
            config["LoggingConfig"] = self.logging_config
        if getattr(self, "dead_letter_config", None):
            config["DeadLetterConfig"] = self.dead_letter_config
        return config

    patches.replace(LambdaFunction, "get_configuration", get_configuration)

    def invoke(
        self: Any,
        function_name: str,
        qualifier: str | None,
        body: Any,
        headers: Any,
        response_headers: Any,
    ) -> bytes:
        assert cloud.lambdas is not None
        # AWS: "X-Amz-Executed-Version: The version of the function that executed" ($LATEST unqualified)
        response_headers["x-amz-executed-version"] = str(cloud._function(function_name, qualifier).version)
        event = json.loads(body) if body else {}
        invocation_type = (headers or {}).get("X-Amz-Invocation-Type", "RequestResponse")
        if invocation_type == "DryRun":
            return b""
        if invocation_type == "Event":
            cloud.lambdas.invoke_async(function_name, qualifier, event)
            return b""
        try:
            result = cloud.lambdas.invoke(
                function_name,
                qualifier,
                event,
                trace_header=(headers or {}).get("X-Amzn-Trace-Id", ""),
            )
        except InvocationError as exc:
            response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps(exc.payload).encode()
        return json.dumps(result).encode()

    patches.replace(LambdaSimpleBackend, "invoke", invoke)

    layer_lookup = LambdaBackend.layers_versions_by_arn

    def layers_versions_by_arn(self: Any, layer_version_arn: str) -> Any:
        found = layer_lookup(self, layer_version_arn)
        if found is None and is_provided_layer(layer_version_arn):
            return ProvidedLayer(layer_version_arn)
        return found

    patches.replace(LambdaBackend, "layers_versions_by_arn", layers_versions_by_arn)

    create_esm = LambdaBackend.create_event_source_mapping

    def create_event_source_mapping(self: Any, spec: dict[str, Any]) -> Any:
        mapping = create_esm(self, spec)
        if ":sqs:" in mapping.event_source_arn:
            from moto.sqs.models import sqs_backends

            for queue in sqs_backends[self.account_id][self.region_name].queues.values():
                queue.lambda_event_source_mappings.pop(mapping.function_arn, None)
            cloud.start_poller(mapping)
        return mapping

    patches.replace(LambdaBackend, "create_event_source_mapping", create_event_source_mapping)
