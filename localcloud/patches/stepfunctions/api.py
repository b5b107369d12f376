"""The Step Functions API as AWS answers it, where moto's executing backend differs.

- ``StartExecution`` without a name names the execution with a UUID (moto: ``None``,
  so a second unnamed start failed with ExecutionAlreadyExists). AWS: "If you don't
  provide a name for the execution, Step Functions automatically generates a
  universally unique identifier (UUID) as the execution name."
- ``StartExecution`` on a version or an alias ARN runs that version's definition;
  an alias picks its version by the routing weights (moto refuses qualified ARNs).
- An Express execution's ARN is ``…:express:<machine>:<name>:<uuid>`` (moto gives it
  the Standard ``…:execution:<machine>:<name>`` shape), so ``$$.Execution.Id`` parses
  as on AWS. The local cloud still describes Express executions, which AWS does not
  (their history is in CloudWatch Logs there): its traces and reports read them.
- ``StartSyncExecution`` runs an Express execution and answers with its result
  (moto does not implement it): :meth:`LocalCloud.start_sync_execution`.
"""

from __future__ import annotations

import random
import re
import threading
import uuid
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud
    from localcloud.patches import Patches

_start_lock = threading.Lock()


def express_arn(execution_arn: str) -> str:
    """The ARN AWS gives an Express execution, from moto's Standard-shaped one."""
    head, _, tail = execution_arn.partition(":execution:")
    return f"{head}:express:{tail}:{uuid.uuid4()}"


def install(patches: Patches, cloud: LocalCloud) -> None:
    from moto.core.responses import ActionResult
    from moto.stepfunctions.models import StepFunctionBackend
    from moto.stepfunctions.parser.backend.execution import Execution
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend
    from moto.stepfunctions.responses import StepFunctionResponse

    accepted = StepFunctionBackend.accepted_exec_arn_format
    patches.replace(
        StepFunctionBackend,
        "accepted_exec_arn_format",
        re.compile(accepted.pattern.replace(":execution:", ":(execution|express):")),
    )

    execution_init = Execution.__init__

    def init_execution(self: Any, *args: Any, **kwargs: Any) -> None:
        # moto's machines keep their type in ``type`` (``sm_type`` is always STANDARD)
        if getattr(kwargs.get("state_machine"), "type", None) == "EXPRESS":
            kwargs["exec_arn"] = express_arn(kwargs["exec_arn"])
        execution_init(self, *args, **kwargs)

    patches.replace(Execution, "__init__", init_execution)

    start = StepFunctionsParserBackend.start_execution

    def start_execution(
        self: Any,
        state_machine_arn: str,
        name: Any = None,
        execution_input: Any = None,
        trace_header: Any = None,
    ) -> Any:
        name = name or str(uuid.uuid4())
        parts = state_machine_arn.split(":")
        if len(parts) <= 7:
            return start(self, state_machine_arn, name, execution_input, trace_header)
        alias_arn = None
        version_arn = state_machine_arn
        if not parts[7].isdigit():
            alias_arn = state_machine_arn
            routes = self.describe_state_machine_alias(alias_arn).routing_configuration
            weights = [int(r.get("weight", r.get("Weight", 0))) for r in routes]
            chosen = random.choices(routes, weights=weights)[0]  # noqa: S311 - traffic shifting, not security
            version_arn = chosen.get("stateMachineVersionArn") or chosen["StateMachineVersionArn"]
        version = self.describe_state_machine(version_arn)
        base_arn = ":".join(version_arn.split(":")[:7])
        base = self.describe_state_machine(base_arn)
        with _start_lock:  # run the version's definition: the execution snapshots the machine
            current = base.definition
            base.definition = version.definition
            try:
                execution = start(self, base_arn, name, execution_input, trace_header)
            finally:
                base.definition = current
        execution.state_machine_version_arn = version_arn
        execution.state_machine_alias_arn = alias_arn
        return execution

    patches.replace(StepFunctionsParserBackend, "start_execution", start_execution)

    def start_sync_execution(self: Any) -> ActionResult:
        return ActionResult(
            cloud.start_sync_execution(
                self._get_param("stateMachineArn"),
                self._get_param("name"),
                self._get_param("input", if_none="{}"),
            )
        )

    patches.add(StepFunctionResponse, "start_sync_execution", start_sync_execution)
