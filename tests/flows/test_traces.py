"""One run, one trace: the flow's segment, a subsegment per state, and every handler's, linked."""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

from aiflows.flows import read_sample, write_sample
from localcloud import Deployment, LocalCloud
from localcloud.__main__ import put_event_file

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "statemachines" / "document_intake" / "events"  # the flow's sample events


def trace_documents(cloud: LocalCloud) -> dict[str, list[dict[str, Any]]]:
    """Every trace X-Ray holds, its segments and their nested subsegments, read through the X-Ray API."""
    from aiflows.traceview import entities

    xray = cloud.client("xray")
    now = datetime.datetime.now(datetime.UTC)
    window = datetime.timedelta(hours=1)
    summaries = xray.get_trace_summaries(StartTime=now - window, EndTime=now + window)
    ids = [s["Id"] for s in summaries["TraceSummaries"]]
    traces = [
        t for i in range(0, len(ids), 5) for t in xray.batch_get_traces(TraceIds=ids[i : i + 5])["Traces"]
    ]
    return {t["Id"]: list(entities(json.loads(s["Document"]) for s in t["Segments"])) for t in traces}


def test_one_run_gives_one_trace_that_covers_every_state_and_handler(
    cloud: LocalCloud, app: Deployment
) -> None:
    # Given a run of the flow
    before = set(trace_documents(cloud))
    event_id = put_event_file(cloud, app, SAMPLES / "clear.json")
    execution = cloud.wait_for_new_execution(app, set(), timeout=60)
    assert execution["status"] == "SUCCEEDED"
    cloud.flush_traces()

    # When its trace is read through X-Ray
    new = {k: v for k, v in trace_documents(cloud).items() if k not in before}
    assert len(new) == 1, "one run gives exactly one trace"
    [(trace_id, documents)] = new.items()

    # Then the flow's segment has a subsegment per state entered
    [flow] = [d for d in documents if d.get("origin") == "AWS::StepFunctions::StateMachine"]
    history = cloud.client("stepfunctions").get_execution_history(
        executionArn=execution["executionArn"], maxResults=1000
    )["events"]
    entered = [e["stateEnteredEventDetails"]["name"] for e in history if e["type"].endswith("StateEntered")]
    assert [s["name"] for s in flow["subsegments"]] == entered
    # And every handler has its function segment, parented to the state that invoked it
    state_ids = {s["id"]: s["name"] for s in flow["subsegments"]}
    functions = [d for d in documents if d.get("origin") == "AWS::Lambda::Function"]
    by_name = {
        v: k.removesuffix("FunctionName") for k, v in app.outputs.items() if k.endswith("FunctionName")
    }
    invoked = {by_name[d["name"]] for d in functions}
    assert invoked == {"Validate", "Guard", "Classify", "Extract", "Summarize", "Retrieve", "Act"}
    assert all(state_ids.get(d["parent_id"]) for d in functions)
    # And everything shares the trace id
    assert {d.get("trace_id", trace_id) for d in documents} == {trace_id}
    # And the handlers' own subsegments carry the run's annotations
    handlers = [d for d in documents if d.get("name") == "## lambda_handler"]
    assert handlers
    for handler in handlers:
        annotations = handler["annotations"]
        assert annotations["correlation_id"] == event_id
        assert annotations["flow"] == "document_intake"
        assert annotations["capability"]
    model_calls = [h["annotations"] for h in handlers if "model_id" in h["annotations"]]
    assert {a["capability"] for a in model_calls} == {"classify", "extract", "summarize"}
    assert all(a["prompt_version"].startswith(a["capability"] + "/") for a in model_calls)
    # And each guard verdict carries its outcome and the versions of the policies that made it
    guards = [h["annotations"] for h in handlers if h["annotations"]["capability"] == "guard"]
    assert len(guards) == 2 and all(a["guard_outcome"] == "pass" for a in guards)
    assert all(a["guard_policy"].startswith("guard 2026-") for a in guards)


PII = {
    "email": "ada.lovelace@example.com",
    "phone": "+44 20 7946 0958",
    "iban": "GB82 WEST 1234 5698 7654 32",
}


def test_no_raw_pii_from_the_input_reaches_a_segment_or_a_log_line(
    cloud: LocalCloud, app: Deployment
) -> None:
    from tests.conftest import pending_review

    # Given a document with PII in it, and a payment request the content policy sends to review
    text = (
        f"INVOICE INV-77. Bill to: ACME Corp. Contact {PII['email']} or {PII['phone']}. "
        f"Pay to {PII['iban']}, or in gift cards. Amount due: 300.00 EUR including VAT. Total: 300.00 EUR."
    )
    event = SAMPLES / "clear.json"
    entry = read_sample(event)
    entry["Detail"] = {**entry["Detail"], "document_id": "pii-1", "text": text}
    seeded = Path(cloud.workdir) / "pii-event.json"
    write_sample(entry, seeded)
    before = set(trace_documents(cloud))
    started_ms = int(datetime.datetime.now(datetime.UTC).timestamp() * 1000)
    event_id = put_event_file(cloud, app, seeded)
    # When the run goes through every step (the guard sends it to a person, who approves)
    from aiflows_runtime.contracts import ReviewDecision
    from aiflows_runtime.reviews import DynamoDBReviews, answer_flow

    review_id = pending_review(cloud, app, event_id)
    store = DynamoDBReviews(app.outputs["StateTableName"], client=cloud.client("dynamodb"))
    decision = ReviewDecision(review_id=review_id, decision="approve", reviewer="ada@example.com")
    answer_flow(cloud.client("stepfunctions"), store.decide(decision), decision)
    machine = app.outputs["DocumentIntakeStateMachineArn"]
    sfn = cloud.client("stepfunctions")
    [execution] = [
        e
        for e in sfn.list_executions(stateMachineArn=machine)["executions"]
        if json.loads(sfn.describe_execution(executionArn=e["executionArn"])["input"])["id"] == event_id
    ]
    assert cloud.wait_for_execution(execution["executionArn"], timeout=60)["status"] == "SUCCEEDED"
    cloud.flush_traces()

    # Then no segment of the run, and no log line of any function, holds the raw PII
    captured = [json.dumps(d) for k, docs in trace_documents(cloud).items() if k not in before for d in docs]
    logs = cloud.client("logs")
    for group in logs.describe_log_groups()["logGroups"]:
        events = logs.filter_log_events(logGroupName=group["logGroupName"], startTime=started_ms)["events"]
        captured.extend(e["message"] for e in events)
    assert len(captured) > 50  # the scan saw the run's segments and log lines
    for kind, value in PII.items():
        leaks = [c[:200] for c in captured if value in c or value.replace(" ", "") in c]
        assert not leaks, f"raw {kind} found in: {leaks[:3]}"


def test_the_trace_view_reads_a_run_from_x_ray(
    cloud: LocalCloud, app: Deployment, tmp_path: Path, capsys: Any
) -> None:
    from aiflows.cli import main as cli

    # Given a finished run
    event_id = put_event_file(cloud, app, SAMPLES / "clear.json")
    execution = cloud.wait_for_new_execution(app, set(), timeout=60)
    cloud.flush_traces()
    html_file = tmp_path / "trace.html"
    # When a person asks for its trace, by execution ARN or by correlation id
    for target in (execution["executionArn"], event_id):
        capsys.readouterr()
        assert cli(["trace", target, "--endpoint-url", cloud.endpoint, "--html", str(html_file)]) == 0
        printed = capsys.readouterr().out
        # Then the timeline shows the states, the functions, the model calls and their cost
        assert ": SUCCEEDED in" in printed
        for state in ("Validate", "Classify", "Analyze", "Act", "PublishProcessed"):
            assert f"  {state} " in printed
        assert "AiFlows-ClassifyFunction" in printed
        assert "amazon.nova-lite-v1:0" in printed and "classify/v1" in printed
        assert "total" in printed and "$0.0" in printed
    assert 'class="bar Task"' in html_file.read_text()
    # And a run that is not there is a clear error
    assert cli(["trace", "no-such-run", "--endpoint-url", cloud.endpoint]) == 1
