"""A wrong flow or capability fails synth with the file, the place and the fix: never a stack trace.

Each case breaks one thing in a copy of the repository and synthesizes it as `cdk synth` does.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from aiflows.testing import copy_of_the_repository


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield copy_of_the_repository(tmp_path_factory.mktemp("bad-input") / "repo")


def in_json(change: Callable[[dict], None]) -> Callable[[str], str]:
    """A change of a JSON file's text, made on its data."""

    def edit(text: str) -> str:
        data = json.loads(text)
        change(data)
        return json.dumps(data, indent=2)

    return edit


def synth_fails(repo: Path) -> str:
    """Synthesize the copy; return what it said, having checked it failed cleanly."""
    done = subprocess.run(
        [sys.executable, "app.py"],
        cwd=repo,
        env={**os.environ, "CDK_OUTDIR": str(repo / "cdk.out")},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 1, done.stderr[-2000:]
    assert "Traceback" not in done.stderr, done.stderr[-2000:]
    return done.stderr


def renamed_function(definition: dict) -> None:
    definition["States"]["Triage"]["Parameters"]["FunctionName"] = "${TriageeFunction}"


def ungrantable_task(definition: dict) -> None:
    definition["States"]["Act"]["Resource"] = "arn:aws:states:::states:startExecution.sync:2"


def stranded_state(definition: dict) -> None:
    definition["States"]["Forgotten"] = {"Type": "Succeed"}


TRIAGE_DEFINITION = "statemachines/ticket_triage/definition.asl.json"
CASES = {
    "an unknown capability": (
        TRIAGE_DEFINITION,
        in_json(renamed_function),
        [TRIAGE_DEFINITION, "state Triage", "${TriageeFunction}", "fix the name"],
    ),
    "a Task whose Resource the stack cannot grant": (
        TRIAGE_DEFINITION,
        in_json(ungrantable_task),
        [TRIAGE_DEFINITION, "state Act", "cannot grant", "from a capability"],
    ),
    "an unused binding": (
        "statemachines/ticket_triage/flow.toml",
        lambda text: text + '\n[bindings]\nRouter = "act"\n',
        ["statemachines/ticket_triage/flow.toml", "[bindings] Router", "remove them, or use them"],
    ),
    "a manifest without a trigger": (
        "statemachines/ticket_triage/flow.toml",
        lambda text: re.sub(r"\[\[triggers\]\]\n.*?\n\n", "", text, flags=re.DOTALL),
        ["statemachines/ticket_triage/flow.toml", "add [[triggers]]", 'started_by = "api"'],
    ),
    "two flows claiming the same event": (
        "statemachines/ticket_triage/flow.toml",
        lambda text: text.replace(
            'source = ["aiflows.support"]\ndetail_type = ["ticket.submitted"]',
            'source = ["aiflows.documents"]\ndetail_type = ["document.submitted"]',
        ),
        [
            "statemachines/ticket_triage/flow.toml",
            "already starts the flow 'document_intake'",
            "another detail_type",
        ],
    ),
    "a prompt variable the contract lacks": (
        "functions/triage/prompts/v1.toml",
        lambda text: text.replace("Subject: $title", "Subject: $title (from $channel)").replace(
            'variables = ["title", "text"]', 'variables = ["title", "text", "channel"]'
        ),
        [
            "functions/triage/prompts/v1.toml",
            "$channel",
            "TriageInput",
            "add the field to the input contract",
        ],
    ),
    "a model its routing policy does not price": (
        "functions/triage/capability.toml",
        lambda text: text.replace('primary = "', 'primary = "acme.unpriced-v1:0"\n# was "', 1),
        ["functions/triage/capability.toml", "acme.unpriced-v1:0", "routing.toml does not price"],
    ),
    "a state no transition reaches": (
        TRIAGE_DEFINITION,
        in_json(stranded_state),
        [TRIAGE_DEFINITION, "no transition reaches Forgotten", "point a Next"],
    ),
    "an Express flow that waits for a person": (
        "statemachines/ticket_triage/flow.toml",
        lambda text: text.replace('type = "STANDARD"', 'type = "EXPRESS"'),
        ["statemachines/ticket_triage/flow.toml", "an EXPRESS flow", "Request Response only", "STANDARD"],
    ),
    "a Task that would time out before its function": (
        "functions/triage/capability.toml",
        lambda text: text.replace("\ntimeout_seconds = 50", "\ntimeout_seconds = 90"),
        ["functions/triage/capability.toml", "[task].timeout_seconds = 60", "make the Task's longer"],
    ),
    "a function too short to call each model of its route": (
        "functions/triage/capability.toml",
        lambda text: text.replace("\ntimeout_seconds = 50", "\ntimeout_seconds = 30"),
        [
            "functions/triage/capability.toml",
            "cannot hold one call of each of its 2 models",
            "set timeout_seconds = 47",
        ],
    ),
    "a manifest key the framework does not know": (
        "functions/triage/capability.toml",
        lambda text: text.replace("[reaches]", "[reaches]\nqueue = true"),
        ["functions/triage/capability.toml", "[reaches].queue", "docs/capabilities.md#the-manifest"],
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_a_broken_flow_or_capability_names_the_file_the_place_and_the_fix(repo: Path, case: str) -> None:
    relative, change, said = CASES[case]
    path = repo / relative
    written = path.read_text()
    try:
        path.write_text(change(written))
        message = synth_fails(repo)
    finally:
        path.write_text(written)
    for words in said:
        assert words in message, message


@pytest.mark.parametrize(
    ("region", "why"),
    [
        ("cn-north-1", "the Powertools layer's SSM parameter is not published there"),
        ("af-south-1", "Amazon Bedrock's runtime is not confirmed there"),
    ],
)
def test_a_region_without_the_layer_or_the_models_names_the_setting_and_the_fix(
    repo: Path, region: str, why: str
) -> None:
    # Given the region the CDK CLI passes the app (from AWS_REGION or the profile's region)
    # When the app is synthesized for it
    done = subprocess.run(
        [sys.executable, "app.py"],
        cwd=repo,
        env={**os.environ, "CDK_OUTDIR": str(repo / "cdk.out"), "CDK_DEFAULT_REGION": region},
        capture_output=True,
        text=True,
        timeout=300,
    )
    # Then it is refused cleanly, naming the region, the setting, why and the fix
    assert done.returncode == 1, done.stderr[-2000:]
    assert "Traceback" not in done.stderr, done.stderr[-2000:]
    for words in [
        f"region '{region}' (from CDK_DEFAULT_REGION",
        "AWS_REGION or the profile's region",
        why,
        "Fix: deploy to a supported region",
        "`AWS_REGION=us-east-1 npx cdk deploy`",
        "infra/regions.py",
    ]:
        assert words in done.stderr, done.stderr


PROFILE_ID = "us.anthropic.claude-3-5-haiku-20241022-v1:0"


def test_a_route_that_names_an_inference_profile_id_names_the_model_id_to_write(repo: Path) -> None:
    # Given a route that names Claude's US inference profile, which routing.toml does not price: it
    # prices the model, and gives the profile's id to the regions that need it
    path = repo / "functions/triage/capability.toml"
    written = path.read_text()
    assert 'fallbacks = ["anthropic.claude-3-5-haiku-20241022-v1:0"]' in written
    try:
        path.write_text(written.replace('fallbacks = ["anthropic.', 'fallbacks = ["us.anthropic.'))
        # When the app is synthesized
        message = synth_fails(repo)
    finally:
        path.write_text(written)
    # Then it is refused, naming the file, the route's key, the policy and the id to write instead
    for words in [
        "functions/triage/capability.toml",
        f"fallbacks names '{PROFILE_ID}', an inference profile id",
        "policies/routing.toml does not price",
        "write 'anthropic.claude-3-5-haiku-20241022-v1:0' instead",
        "docs/capabilities.md#models-per-region",
    ]:
        assert words in message, message


def test_a_region_where_a_routed_model_has_no_id_names_the_route_and_the_fix(repo: Path) -> None:
    # Given a deploy region the stack supports, where Claude 3.5 Haiku (a fallback of three routes) has
    # no id in routing.toml: no in_region, no profile that it can call
    done = subprocess.run(
        [sys.executable, "app.py"],
        cwd=repo,
        env={**os.environ, "CDK_OUTDIR": str(repo / "cdk.out"), "CDK_DEFAULT_REGION": "eu-west-1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    # Then synth refuses it cleanly, naming the region, a route, the policy and the fixes
    assert done.returncode == 1, done.stderr[-2000:]
    assert "Traceback" not in done.stderr, done.stderr[-2000:]
    for words in [
        "region 'eu-west-1' (from CDK_DEFAULT_REGION)",
        "capability.toml [model] routes to anthropic.claude-3-5-haiku-20241022-v1:0",
        "policies/routing.toml gives no id in eu-west-1",
        "Fix: deploy to one of us-east-1, us-east-2, us-west-2",
    ]:
        assert words in done.stderr, done.stderr
