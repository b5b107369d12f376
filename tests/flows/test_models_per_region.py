"""The deployed functions call each model by the id routing.toml gives it in the local cloud's region."""

from __future__ import annotations

import json
from pathlib import Path

from aiflows_runtime.policies import routing_policy
from localcloud import Deployment, LocalCloud
from localcloud.__main__ import put_event_file
from tests.conftest import execution_of

CLEAR = Path(__file__).resolve().parents[2] / "statemachines" / "document_intake" / "events" / "clear.json"
CLAUDE = "anthropic.claude-3-5-haiku-20241022-v1:0"


def test_a_run_calls_claude_through_its_profile_and_nova_by_its_own_id(
    cloud: LocalCloud, app: Deployment, tmp_path: Path
) -> None:
    # Given the stack deployed in the local cloud's region, where Claude is served only by its US profile
    assert cloud.region == "us-east-1"
    cloud.model.reset()
    event = tmp_path / "event.json"
    event.write_text(CLEAR.read_text())
    # When a document runs through document_intake (extract asks Claude, classify and summarize Nova)
    execution = cloud.wait_for_execution(
        execution_of(cloud, app, put_event_file(cloud, app, event), flow="document_intake")["executionArn"],
        timeout=90,
    )
    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    # Then each call named the id routing.toml gives its model in the region, and the local model
    # answered a profile id as its model
    policy = routing_policy()
    calls = cloud.model.calls
    assert {call.model_id for call in calls} >= {CLAUDE, "amazon.nova-lite-v1:0"}
    for call in calls:
        called = policy.invocation(call.model_id, cloud.region)
        assert called is not None and call.called_as == called.model_id, call
    assert {call.called_as for call in calls if call.model_id == CLAUDE} == {f"us.{CLAUDE}"}
    assert json.loads(execution["output"])["classification"]["label"] == "invoice"
