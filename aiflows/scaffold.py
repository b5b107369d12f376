"""The scaffold: a working capability or flow, written as files in its own folder.

    python -m aiflows new capability <name>
    python -m aiflows new flow <name> --trigger <detail-type> --capability <name>

What it writes synthesizes, passes cdk-nag, runs in the local cloud (which answers
a new capability from its answer contract) and passes its own tests, unedited; then
it is the team's to make its own. It never overwrites: a folder that exists is refused.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from string import Template
from typing import Any

from aiflows.flows import STATEMACHINES, sample_text
from aiflows.registry import FUNCTIONS, camel, capabilities, name_problem
from aiflows_runtime.policies import routing_policy

_DETAIL_TYPE = re.compile(r"^[a-z][a-z0-9_-]*(\.[a-z][a-z0-9_-]*)+$")
CONFIDENT = 0.8  # the skeleton flow acts alone at this confidence or more, and asks a person below it
SKELETON_STATES = frozenset(
    {"Start", "Validate", "Decide", "Review", "ReviewDecision", "PublishRejected", "Rejected"}
    | {"PublishCompleted", "Done"}
)


class ScaffoldError(ValueError):
    """What was asked cannot be written: the message says why and what to do."""


def _check_name(kind: str, name: str) -> None:
    problem = name_problem(name)
    if problem:
        raise ScaffoldError(f"the {kind} name {problem}; choose another")


def _write(folder: Path, files: dict[str, str]) -> list[Path]:
    if folder.exists():
        raise ScaffoldError(f"{folder} exists already: the scaffold writes new folders only")
    written = []
    for relative, text in files.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def _route() -> tuple[str, str]:
    """A primary and a fallback that routing.toml prices: the cheapest two, by output tokens."""
    prices = routing_policy().models
    cheapest = sorted(prices, key=lambda model: (prices[model].output_per_1k, model))
    return cheapest[0], cheapest[1 if len(cheapest) > 1 else 0]


def _render(template: str, **values: str) -> str:
    return Template(template).substitute(values)


# --- a capability -----------------------------------------------------------------------
CAPABILITY_FILES: dict[str, str] = {
    "__init__.py": '"""The $name capability."""\n',
    "capability.toml": """\
# The $name capability: what the framework needs to know (docs/capabilities.md#the-manifest).
description = "$name: reads a document and answers with a summary, a confidence and its evidence."
input = "${Camel}Input"
output = "${Camel}Output"
timeout_seconds = 50  # one call of each routed model and the margin (aiflows_runtime/deadlines.py)

[model]
prompt = "v1"
primary = "$primary"
fallbacks = ["$fallback"]
max_tokens = 512
temperature = 0.0
cacheable = true

[reaches]
claims = "read"  # a large document's text arrives as a reference to the claim bucket

[task]
timeout_seconds = 60
retry_on = ["TransientError", "ModelUnavailable", "States.Timeout", "IdempotencyAlreadyInProgressError"]
""",
    "contract.py": '''\
"""The $name capability's contracts: its input, its output and the answer its prompt asks for."""

from __future__ import annotations

from pydantic import Field

from aiflows_runtime.contracts import MODEL_INPUT_CHARS, Contract, Document, ModelUse, StepInput


class ${Camel}Input(StepInput):
    document: Document
    max_chars: int = Field(default=MODEL_INPUT_CHARS, ge=1000, le=400_000)


class ${Camel}Answer(Contract):
    """What the prompt asks the model for (prompts/v1.toml)."""

    summary: str = Field(min_length=1, max_length=2000)
    confidence: float = Field(ge=0.0, le=1.0)
    evidence: list[str] = Field(default_factory=list, max_length=10)


class ${Camel}Output(Contract):
    summary: str
    confidence: float = Field(ge=0.0, le=1.0)
    evidence: list[str] = Field(description="quotes of the document, each found in it")
    model: ModelUse
''',
    "logic.py": '''\
"""$name, pure domain code: what to ask, and what to make of the answer."""

from __future__ import annotations

from aiflows_runtime.contracts import Document

from .contract import ${Camel}Answer


def prompt_variables(document: Document, max_chars: int) -> dict[str, str]:
    return {"title": document.title or "(none)", "text": document.body[:max_chars]}


def grounded(answer: ${Camel}Answer, text: str) -> ${Camel}Answer:
    """Keep only the evidence the document really holds."""
    lowered = text.lower()
    return answer.model_copy(update={"evidence": [e for e in answer.evidence if e and e.lower() in lowered]})
''',
    "handler.py": '''\
"""$name: a summary of the document, with a confidence and its evidence."""

from typing import Any

from aiflows_runtime.capability import Capability, ask_model, idempotent_step, model_use, register_context
from aiflows_runtime.contracts import parse_input
from aiflows_runtime.observability import capability_handler

from . import logic
from .contract import ${Camel}Answer, ${Camel}Input, ${Camel}Output

CAPABILITY = Capability.at(__file__)


@idempotent_step(CAPABILITY.name, defer_claim=True)  # its only effects: the gateway's
def run(request: ${Camel}Input) -> dict[str, Any]:
    variables = logic.prompt_variables(request.document, request.max_chars)
    answer = ask_model(CAPABILITY, request, request.document.tenant, variables, ${Camel}Answer)
    kept = logic.grounded(answer.value, request.document.body)
    return ${Camel}Output(**kept.model_dump(), model=model_use(answer)).model_dump()


@capability_handler(CAPABILITY.name)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    register_context(context)
    return run(request=parse_input(event, ${Camel}Input))
''',
    "prompts/v1.toml": '''\
description = "$name: what the document is about, how sure, and the words that show it."
variables = ["title", "text"]
output_model = "${Camel}Answer"
system = """You read business documents carefully. You answer with one JSON object and nothing else."""
template = """Read the document below. Say in one or two sentences what it is about, how sure you are, and quote the words of the document that show it.

Title: $$title
<document>
$$text
</document>

Answer with JSON: {"summary": "<one or two sentences>", "confidence": <0.0 to 1.0>, "evidence": ["<exact words from the document>"]}"""
''',
    "test_$name.py": '''\
"""$name's logic and prompt, without AWS: python -m pytest functions/$name"""

from __future__ import annotations

from aiflows.registry import capabilities, capability_module
from aiflows_runtime.contracts import Document
from localcloud.answers import answer_from_contract

logic = capability_module("$name", "logic")
contract = capability_module("$name", "contract")
DOCUMENT = Document(
    document_id="d-1", tenant="acme", title="A letter", text="Please refund order 42: it arrived broken."
)


def test_the_prompt_gets_the_title_and_the_text() -> None:
    assert logic.prompt_variables(DOCUMENT, 1000) == {"title": "A letter", "text": DOCUMENT.text}


def test_evidence_the_document_does_not_hold_is_dropped() -> None:
    # Given a valid answer (whatever fields the contract grows), quoting the document once, and once not
    valid = contract.${Camel}Answer.model_validate(answer_from_contract(contract.${Camel}Answer, DOCUMENT.body))
    answer = valid.model_copy(update={"evidence": ["arrived broken", "invented"]})
    # Then only the quote the document holds is kept
    assert logic.grounded(answer, DOCUMENT.body).evidence == ["arrived broken"]


def test_the_prompt_renders_what_the_logic_gives() -> None:
    prompt = capabilities()["$name"].prompt()
    rendered = prompt.render(**logic.prompt_variables(DOCUMENT, 1000))
    assert DOCUMENT.body in rendered.text
''',
}


def new_capability(name: str, functions: Path = FUNCTIONS) -> list[Path]:
    _check_name("capability", name)
    primary, fallback = _route()
    values = {"name": name, "Camel": camel(name), "primary": primary, "fallback": fallback}
    files = {_render(path, **values): _render(text, **values) for path, text in CAPABILITY_FILES.items()}
    return _write(functions / name, files)


# --- a flow -----------------------------------------------------------------------------
def _flow_definition(flow: str, step: str, binding: str, outputs: list[str], subject: str) -> dict[str, Any]:
    confident = "confidence" in outputs
    after_step = "Decide" if confident else "PublishCompleted"
    states: dict[str, Any] = {
        "Start": {
            "Type": "Pass",
            "Comment": "No review yet: the automatic path goes on the flow's own judgement.",
            "Result": {"decision": "auto", "reviewer": "flow", "reason": ""},
            "ResultPath": "$.review",
            "Next": "Validate",
        },
        "Validate": {
            "Type": "Task",
            "Comment": "Hold the document to its contract.",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "${ValidateFunction}", "Payload": {"document.$": "$.detail"}},
            "ResultSelector": {"tenant.$": "$.Payload.tenant", "document.$": "$.Payload.document"},
            "ResultPath": "$.intake",
            "Next": step,
        },
        step: {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": f"${{{binding}}}", "Payload": {"document.$": "$.intake.document"}},
            "ResultSelector": {f"{field}.$": f"$.Payload.{field}" for field in outputs},
            "ResultPath": "$.answer",
            "Next": after_step,
        },
    }
    subject_ref = {"id.$": "$.intake.document.document_id", "kind": subject}
    if confident:
        review: dict[str, Any] = {
            "task_token.$": "$$.Task.Token",
            "subject": {**subject_ref, "tenant.$": "$.intake.tenant"},
            "confidence.$": "$.answer.confidence",
            "document.$": "$.intake.document",
            "proposed_action": {"action": "publish", "payload": {"detail_type": f"{flow}.completed"}},
            "details": {"answer.$": "$.answer"},
        }
        if "summary" in outputs:
            review["summary.$"] = "$.answer.summary"
        if "evidence" in outputs:
            review["evidence.$"] = "$.answer.evidence"
        states |= {
            "Decide": {
                "Type": "Choice",
                "Comment": f"Go on alone at a confidence of {CONFIDENT} or more; otherwise ask a person.",
                "Choices": [
                    {
                        "Variable": "$.answer.confidence",
                        "NumericGreaterThanEquals": CONFIDENT,
                        "Next": "PublishCompleted",
                    }
                ],
                "Default": "Review",
            },
            "Review": {
                "Type": "Task",
                "Comment": "Wait for a person: the review API answers this task token.",
                "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                "Parameters": {"FunctionName": "${RequestReviewFunction}", "Payload": review},
                "ResultPath": "$.review",
                "Next": "ReviewDecision",
            },
            "ReviewDecision": {
                "Type": "Choice",
                "Choices": [
                    {"Variable": "$.review.decision", "StringEquals": "reject", "Next": "PublishRejected"}
                ],
                "Default": "PublishCompleted",
            },
            "PublishRejected": _publish(
                flow,
                f"{flow}.rejected",
                {
                    "subject": subject_ref,
                    "review_id.$": "$.review.review_id",
                    "reviewer.$": "$.review.reviewer",
                    "reason.$": "$.review.reason",
                },
                "Rejected",
            ),
            "Rejected": {
                "Type": "Fail",
                "Comment": "A reviewer rejected the run; the cause is their reason.",
                "Error": "Rejected",
                "CausePath": "$.review.reason",
            },
        }
    states["PublishCompleted"] = _publish(
        flow,
        f"{flow}.completed",
        {
            "subject": subject_ref,
            "decision.$": "$.review.decision",
            "reference": None,
            "details": {"answer.$": "$.answer"},
        },
        "Done",
    )
    states["Done"] = {"Type": "Succeed"}
    return {
        "Comment": f"{flow}: validate, {step.lower()}, a person when unsure, then {flow}.completed on the bus.",
        "QueryLanguage": "JSONPath",
        "StartAt": "Start",
        "TimeoutSeconds": 604800,
        "States": states,
    }


def _publish(flow: str, detail_type: str, detail: dict[str, Any], following: str) -> dict[str, Any]:
    return {
        "Type": "Task",
        "Resource": "arn:aws:states:::events:putEvents",
        "Parameters": {
            "Entries": [
                {
                    "EventBusName": "${EventBus}",
                    "Source": "aiflows.flows",
                    "DetailType": detail_type,
                    "Detail": {
                        "correlation_id.$": "$.id",
                        "flow": flow,
                        "tenant.$": "$.intake.tenant",
                        **detail,
                    },
                }
            ]
        },
        "ResultPath": None,
        "Next": following,
    }


FLOW_MANIFEST = """\
# $flow: how the flow runs (docs/flows.md#the-manifest). What it does: definition.asl.json.
description = "$flow: a $trigger event's document, read by $capability; a person decides when it is unsure."
type = "STANDARD"
budget_usd = 0.05             # what one run may spend on models
cost_per_run_alarm_usd = 0.01 # the alarm on the hourly average cost per run

[[triggers]]
source = ["$source"]
detail_type = ["$trigger"]
detail = "Document"
description = "A document for $flow: its text inline, or a reference to it in S3."

[events."$flow.completed"]
outcome = "completed"
description = "The run is done: alone, or after a reviewer approved."
$rejected
[review]
state = "Review"
remind_after_seconds = 3600    # an hour without a decision: a reminder
escalate_after_seconds = 3600  # an hour more: an escalation
give_up_after_seconds = 86400  # a day more: the run ends TimedOut

[pricing.paths]  # what docs/flows.md prices: the state each Choice goes to
$paths
"""

FLOW_README = """\
# $flow

$description

Written by `python -m aiflows new flow`; the stack builds it from this folder:
`definition.asl.json` (its states), `flow.toml` (how it runs), `events/` (sample events).
`python -m aiflows flows show $flow` prints what deploys, `python -m aiflows flows graph $flow`
draws it, and `python -m pytest statemachines/$flow` runs it in the local cloud.

## Its events

$events"""

FLOW_TEST = '''\
"""$flow in the local cloud: a sample event runs to its end (python -m pytest statemachines/$flow)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aiflows.flows import read_sample
from aiflows.testing import drained, of_type, run_sample
from localcloud import Deployment, LocalCloud

SAMPLE = Path(__file__).parent / "events" / "sample.json"


def test_the_sample_runs_to_its_end_and_announces_it(
    cloud: LocalCloud, app: Deployment, bus_events: list[dict[str, Any]]
) -> None:
    # Given the sample event, when it is put on the bus (and a reviewer approves, if asked)
    done = run_sample(cloud, app, SAMPLE, flow="$flow", approve_as="reviewer@example.com")
    # Then the run succeeds and announces it, about the sample's document
    assert done["status"] == "SUCCEEDED", done.get("cause")
    event_id = json.loads(done["input"])["id"]
    [completed] = of_type(drained(cloud, bus_events), "$flow.completed", event_id)
    assert completed["detail"]["subject"]["id"] == read_sample(SAMPLE)["Detail"]["document_id"]
'''


def _event_section(detail_type: str, source: str, contract: Any, said: str) -> str:
    rows = "\n".join(
        f"| `detail.{name}` | {field.description or 'see the contract'} |"
        for name, field in contract.model_fields.items()
    )
    return (
        f"### `{detail_type}`\n\n{said} (source `{source}`, contract `{contract.__name__}`).\n\n"
        f"| field | value |\n| --- | --- |\n{rows}\n"
    )


def new_flow(
    name: str,
    trigger: str,
    capability: str,
    source: str | None = None,
    root: Path = STATEMACHINES,
    functions: Path = FUNCTIONS,
) -> list[Path]:
    from aiflows_runtime import contracts

    _check_name("flow", name)
    if not _DETAIL_TYPE.match(trigger):
        raise ScaffoldError(f"--trigger {trigger!r} is not a detail-type like 'ticket.submitted'")
    known = capabilities(functions)
    if capability not in known:
        raise ScaffoldError(
            f"--capability {capability!r}: there is no functions/{capability}/capability.toml "
            f"(capabilities: {', '.join(sorted(known))}); write one with `python -m aiflows new capability`"
        )
    info = known[capability]
    if "document" not in info.input_model.model_fields:
        raise ScaffoldError(
            f"--capability {capability}: its input ({info.input_model.__name__}) takes no document; "
            "the skeleton hands its step the event's document"
        )
    outputs = [field for field in info.output_model.model_fields if field != "model"]
    source = source or f"aiflows.{trigger.split('.')[0]}"
    kind = trigger.split(".")[0].replace("-", "_")
    step = camel(capability)
    if step in SKELETON_STATES:
        step += "Step"  # the skeleton's own states keep their names
    definition = _flow_definition(name, step, info.binding, outputs, kind)
    reviewed = "Review" in definition["States"]
    paths = ['"confident" = { Decide = "PublishCompleted" }', '"reviewed, approved" = { Decide = "Review" }']
    manifest = _render(
        FLOW_MANIFEST,
        flow=name,
        trigger=trigger,
        capability=capability,
        source=source,
        rejected=f'\n[events."{name}.rejected"]\noutcome = "rejected"\ndescription = "A reviewer rejected the run."\n'
        if reviewed
        else "",
        paths="\n".join(paths) if reviewed else '"the one path" = {}',
    )
    if not reviewed:
        manifest = manifest.replace(
            manifest[manifest.index("[review]") : manifest.index("[pricing.paths]")], ""
        )
    events = [
        _event_section(trigger, source, contracts.Document, f"Starts {name}, put by a producer"),
        _event_section(
            f"{name}.completed", contracts.FLOWS_SOURCE, contracts.FlowCompleted, f"{name} is done"
        ),
    ]
    if reviewed:
        events.append(
            _event_section(
                f"{name}.rejected", contracts.FLOWS_SOURCE, contracts.FlowRejected, "A reviewer said no"
            )
        )
    sample = {
        "Source": source,
        "DetailType": trigger,
        "Detail": {
            "document_id": f"{kind}-1",
            "tenant": "acme",
            "title": f"A sample {kind}",
            "text": "Hello, the order 42 I received yesterday arrived broken. Please send a new one or refund it.",
        },
    }
    description = (
        f"A `{trigger}` event's document, read by `{capability}`; a person decides when it is unsure."
    )
    files = {
        "definition.asl.json": json.dumps(definition, indent=2) + "\n",
        "flow.toml": manifest,
        "events/sample.json": sample_text(sample),
        f"test_{name}.py": _render(FLOW_TEST, flow=name),
        "README.md": _render(FLOW_README, flow=name, description=description, events="\n".join(events)),
    }
    written = _write(root / name, files)
    from aiflows.authoring import write_docs
    from aiflows.flows import read_flow

    write_docs(read_flow(root / name))  # its graph and cost table, from what deploys
    return [*written, root / name / "graph.svg"]
