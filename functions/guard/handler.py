"""guard: inspect the input before any model sees it, and the outputs before the flow acts."""

from typing import Any

import logic

from aiflows_runtime.contracts import GuardInput, GuardOutput, parse_input
from aiflows_runtime.observability import capability_handler, logger
from aiflows_runtime.policies import guard_policy

CAPABILITY = "guard"


@capability_handler(CAPABILITY)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request = parse_input(event, GuardInput)
    policy = guard_policy()
    risk, findings, auto_act = logic.assess(request, policy)
    logger.info("guard verdict", extra={"stage": request.stage, "risk": risk, "findings": len(findings)})
    return GuardOutput(
        stage=request.stage, risk=risk, findings=findings, auto_act=auto_act, policy_version=policy.version
    ).model_dump()
