"""The aiflows command line.

    python -m aiflows reviews list
    python -m aiflows reviews show rv-2k7m9q4x
    python -m aiflows reviews approve rv-2k7m9q4x [--reason "..."]
    python -m aiflows reviews reject  rv-2k7m9q4x --reason "wrong tenant"
    python -m aiflows reviews revise  rv-2k7m9q4x --edit total=1,300.00 [--reason "..."]
    python -m aiflows reviews export  > feedback.jsonl
    python -m aiflows trace <execution ARN | correlation id> [--html trace.html] [--endpoint-url URL]
    python -m aiflows alarms
    python -m aiflows runs failed [--flow document_intake] [--hours 24]
    python -m aiflows runs redrive <execution ARN> [...] [--dry-run]
    python -m aiflows runs redrive --flow document_intake --failed-since-hours 24 [--dry-run]
    python -m aiflows runs parked [--flow document_intake]
    python -m aiflows runs resume <execution ARN> [...] | --flow document_intake | --all
    python -m aiflows runs abandon <execution ARN> [...] | --flow document_intake | --all
    python -m aiflows runs cost   [--flow document_intake] [--hours 1] [--top 10]
    python -m aiflows runs spend  <correlation id>
    python -m aiflows logs <correlation id> [--errors]
    python -m aiflows audit <execution ARN | correlation id>
    python -m aiflows dlq list    work|event-targets
    python -m aiflows dlq redrive work|event-targets
    python -m aiflows breakers list
    python -m aiflows breakers close <model id>
    python -m aiflows flows list
    python -m aiflows flows show  <flow> [--written]
    python -m aiflows flows graph <flow> [--svg graph.svg]
    python -m aiflows flows docs  <flow>
    python -m aiflows new capability <name>
    python -m aiflows new flow <name> --trigger <detail-type> --capability <name> [--source <source>]
    python -m aiflows doctor [--profile P] [--region R] [--stage S] [--json]

The same commands work against the local cloud and AWS: they speak to the review
API at ``--api`` (or ``AIFLOWS_API``) with ``--token`` (or ``AIFLOWS_TOKEN``): on AWS
the API's URL (the stack output ``ReviewApiUrl``) and a Cognito ID token; locally
the console's URL (``make console`` prints it) and the development token ``dev``.
``trace`` reads X-Ray with boto3: your AWS profile, or ``--endpoint-url`` (or
``AWS_ENDPOINT_URL``) for the local cloud (``make serve``: http://127.0.0.1:4599).
The operations commands (alarms, runs, dlq, breakers: what the runbooks in
``docs/runbooks/`` run) read the stack ``--stack`` (or ``AIFLOWS_STACK``, default
``AiFlows``) the same way.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import urllib.error
import urllib.request
from typing import Any

LOCAL_API = "http://127.0.0.1:8642/"


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status  # 0: nothing answered
        self.message = message


class ReviewClient:
    def __init__(self, api: str, token: str, timeout: float = 30.0) -> None:
        self.api = api if api.endswith("/") else api + "/"
        self.token = token
        self.timeout = timeout

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        request = urllib.request.Request(  # noqa: S310 - the API's own URL, given by the user
            self.api + path,
            method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:  # noqa: S310
                raw = answer.read().decode()
                kind = answer.headers.get("Content-Type", "")
        except urllib.error.HTTPError as error:
            raw = error.read().decode()
            try:
                message = json.loads(raw).get("message", raw)
            except ValueError:
                message = raw
            raise ApiError(error.code, message) from None
        except urllib.error.URLError as error:  # nothing answers there: say where the API is served
            raise ApiError(
                0,
                f"no review API answers at {self.api} ({error.reason}): on AWS, --api is the stack output "
                "ReviewApiUrl; locally, `make console` serves it at http://127.0.0.1:8642/, and `make serve` "
                "at the REST API's URL it prints (…/restapis/<id>/prod/_user_request_/)",
            ) from None
        return json.loads(raw) if kind.startswith("application/json") else raw

    def pending(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "reviews")["reviews"])

    def show(self, review_id: str) -> dict[str, Any]:
        return dict(self._call("GET", f"reviews/{review_id}"))

    def decide(
        self, review_id: str, decision: str, reason: str = "", edits: dict[str, str] | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"decision": decision, "reason": reason}
        if edits:
            body["edits"] = edits
        return dict(self._call("POST", f"reviews/{review_id}/decision", body))

    def export(self) -> str:
        return str(self._call("GET", "feedback.jsonl"))


def _print_pending(rows: list[dict[str, Any]]) -> None:
    if not rows:
        print("No review is waiting.")
        return
    print(f"{'review':<12} {'subject':<26} {'conf':>5}  {'risk':<6} {'flow':<18} step")
    for row in rows:
        step = row["step"] + (" (escalated)" if row.get("escalation") else "")
        confidence = "" if row.get("confidence") is None else f"{row['confidence']:.2f}"
        subject = f"{row['subject_kind']} {row['subject_id']}"
        print(
            f"{row['review_id']:<12} {subject:<26} {confidence:>5}  {row['risk'] or '':<6} "
            f"{row.get('flow') or '':<18} {step}"
        )


def review_lines(details: dict[str, Any]) -> list[tuple[str, str]]:
    """What a reviewer reads of a review, any flow's, as (heading, text) lines."""
    subject = details.get("subject") or {}
    lines = [
        (subject.get("kind", "subject"), f"{subject.get('id')} · tenant {subject.get('tenant')}"),
        ("flow", f"{details.get('flow')} · step {details.get('step')}"),
    ]
    if details.get("summary"):
        lines.append(("summary", str(details["summary"])))
    if details.get("confidence") is not None:
        lines.append(("confidence", f"{details['confidence']:.2f} · risk {details.get('risk')}"))
    if details.get("evidence"):
        lines.append(("evidence", ", ".join(details["evidence"])))
    for finding in details.get("findings") or []:
        lines.append(("finding", f"{finding['kind']} ({finding['severity']}): {finding['detail']}"))
    for name, field in (details.get("fields") or {}).items():
        lines.append(("field", f"{name} = {field['value']!r}  <- {field['evidence']['text']!r}"))
    for name, value in (details.get("details") or {}).items():
        shown = value if isinstance(value, str) else json.dumps(value)
        lines.append((name, shown if len(shown) <= 200 else shown[:197] + "..."))
    lines.append(("proposed", json.dumps(details.get("proposed_action"))))
    return lines


def _print_review(review: dict[str, Any]) -> None:
    print(f"{'review':<11} {review['review_id']} ({review['status']})")
    for heading, text in review_lines(review["details"]):
        print(f"{heading:<11} {text}")
    if review.get("decision"):
        print(f"{'decision':<11} {json.dumps(review['decision'])}")


def _edits(pairs: list[str]) -> dict[str, str]:
    edits = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise SystemExit(f"--edit takes field=value, not {pair!r}")
        edits[name] = value
    return edits


def _trace(args: argparse.Namespace) -> int:
    import boto3

    from aiflows import traceview

    xray = boto3.client("xray", endpoint_url=args.endpoint_url)
    try:
        view = traceview.timeline(*traceview.find_trace(xray, args.target, args.hours))
    except LookupError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(traceview.render_text(view))
    if args.html:
        with open(args.html, "w", encoding="utf-8") as out:
            out.write(traceview.render_html(view))
        print(f"\nHTML timeline: {args.html}")
    return 0


def _when(stamp: float | datetime.datetime) -> str:
    if isinstance(stamp, datetime.datetime):
        return stamp.astimezone(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S")
    return (
        datetime.datetime.fromtimestamp(stamp, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S") if stamp else "-"
    )


def _ops(args: argparse.Namespace) -> int:
    import boto3

    from aiflows import ops

    def clients(service: str) -> Any:
        return boto3.client(service, endpoint_url=args.endpoint_url)

    since = datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=getattr(args, "hours", 0) or 0)
    try:
        if args.group == "alarms":
            rows = ops.alarms(clients, args.stack)
            if not rows:
                print(f"No alarm named {args.stack}-*: is the stack deployed?")
            for alarm in rows:
                print(f"{alarm.state:<17} {alarm.name}\n{'':<17} runbook: {alarm.runbook}")
        elif args.group == "runs" and args.command == "failed":
            failed = ops.failed_runs(clients, args.stack, args.flow, since)
            if not failed:
                print(f"No {args.flow} run failed in the last {args.hours:g} h.")
            for run in failed:
                print(f"{_when(run.started)}  {run.status:<9} {run.error} at step {run.step}")
                print(f"    correlation id {run.correlation_id}  execution {run.execution_arn}")
                if run.cause:
                    print(f"    cause: {run.cause[:300]}")
        elif args.group == "runs" and args.command == "redrive":
            return _redrive(args, clients)
        elif args.group == "runs" and args.command == "parked":
            parked = ops.parked_runs(clients, args.stack, args.flow)
            print(f"{len(parked)} run(s) parked{f' in {args.flow}' if args.flow else ''}")
            for waiting in parked:
                print(f"{waiting.parked_at}  {waiting.flow} at step {waiting.step}: {waiting.error}")
                print(f"    execution {waiting.execution_arn}")
                if waiting.cause:
                    print(f"    cause: {waiting.cause[:300]}")
        elif args.group == "runs" and args.command in ("resume", "abandon"):
            return _unpark(args, clients)
        elif args.group == "runs" and args.command == "cost":
            costs = ops.run_costs(clients, args.stack, args.flow, since)
            if not costs:
                print(f"No {args.flow} run in the last {args.hours:g} h.")
            else:
                average = sum(c.cost_usd for c in costs) / len(costs)
                print(f"{len(costs)} runs in the last {args.hours:g} h, ${average:.6f} per run on average")
                print(
                    f"{'correlation id':<38} {'status':<10} {'calls':>5} "
                    f"{'tokens in/out':>15} {'cost USD':>10}"
                )
                for costly in costs[: args.top]:
                    tokens = f"{costly.input_tokens}/{costly.output_tokens}"
                    print(
                        f"{costly.correlation_id:<38} {costly.status:<10} {costly.calls:>5} {tokens:>15} "
                        f"{costly.cost_usd:>10.6f}"
                    )
        elif args.group == "runs" and args.command == "spend":
            spend = ops.model_spend(clients, args.stack, args.correlation_id)
            if not spend:
                print(f"No model call in the ledger of run {args.correlation_id}.")
            for (capability, model), (calls, dollars) in sorted(spend.items(), key=lambda kv: -kv[1][1]):
                print(f"{capability:<12} {model:<48} {calls:>3} calls  ${dollars:.6f}")
        elif args.group == "audit":
            correlation_id, trail = ops.audit_trail(clients, args.stack, args.run)
            if not trail:
                print(f"No audit record of run {correlation_id}.")
            for record in trail:
                print(_audited(record))
        elif args.group == "logs":
            lines = ops.run_logs(clients, args.stack, args.correlation_id, errors_only=args.errors)
            if not lines:
                print(f"No log line about run {args.correlation_id}.")
            for line in lines:
                error = f"  [{line.error}]" if line.error else ""
                print(f"{_when(line.at)}  {line.function:<14} {line.level:<7} {line.message}{error}")
        elif args.group == "dlq" and args.command == "list":
            letters = ops.dead_letters(clients, args.stack, args.queue)
            print(f"{len(letters)} message(s) in the {args.queue} dead-letter queue")
            for letter in letters:
                print(
                    f"{_when(letter.sent)}  {letter.message_id}  "
                    f"received {letter.receives}x  {letter.summary}"
                )
        elif args.group == "dlq" and args.command == "redrive":
            moved = ops.redrive(clients, args.stack, args.queue)
            print(f"{moved} message(s) sent back from the {args.queue} dead-letter queue")
        elif args.group == "breakers" and args.command == "list":
            for row in ops.breakers(clients, args.stack):
                extra = (
                    f"  opened {_when(row.opened_at)}, next probe {_when(row.reopens_at)}"
                    if row.opened_at
                    else ""
                )
                error = f"  last error: {row.last_error}" if row.last_error else ""
                print(f"{row.state:<9} {row.model:<48} failures {row.failures}{extra}{error}")
        elif args.group == "breakers" and args.command == "close":
            row = ops.close_breaker(clients, args.stack, args.model)
            print(f"{row.model}: {row.state}")
    except ops.OpsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


def _audited(record: Any) -> str:
    """One audit record: when, who, what, of which review, and what it changed (before → after)."""
    review = f" {record.review_id}" if record.review_id else ""
    lines = [f"{_when(record.at)}  {record.actor:<28} {record.what}{review}"]
    lines += [
        f"    {key}: {json.dumps(value)}" for key, value in sorted((record.details or {}).items()) if value
    ]
    lines += [
        f"    changed {name}: {json.dumps(change.get('before'))} -> {json.dumps(change.get('after'))}"
        for name, change in sorted((record.changes or {}).items())
    ]
    return "\n".join(lines)


def _redrive(args: argparse.Namespace, clients: Any) -> int:
    """``runs redrive``: the runs named, or every redrivable failed run of a flow in a window."""
    from aiflows import ops

    if bool(args.execution_arn) == (args.failed_since_hours is not None):
        print(
            "error: give the execution ARNs of the runs to redrive, or --failed-since-hours N for every "
            f"failed run of --flow ({args.flow}) in the last N hours; not both",
            file=sys.stderr,
        )
        return 2
    verb = "would be redriven" if args.dry_run else "redriven"
    if args.execution_arn:
        refused = 0
        for arn in args.execution_arn:
            try:
                done = ops.redrive_run(clients, arn, dry_run=args.dry_run)
            except ops.OpsError as error:
                print(f"error: {error}", file=sys.stderr)
                refused += 1
                continue
            print(f"{done.execution_arn}\n    {done.outcome}: {done.detail}")
        return 1 if refused else 0
    since = datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=args.failed_since_hours)
    results = ops.redrive_failed_runs(clients, args.stack, args.flow, since, dry_run=args.dry_run)
    if not results:
        print(f"No {args.flow} run failed in the last {args.failed_since_hours:g} h.")
        return 0
    for done in results:
        print(f"{done.execution_arn}\n    {done.outcome}: {done.detail}")
    taken = sum(done.outcome != "not redriven" for done in results)
    print(
        f"{taken} run(s) {verb}, {len(results) - taken} not, of {len(results)} failed in the last "
        f"{args.failed_since_hours:g} h"
    )
    return 0


def _unpark(args: argparse.Namespace, clients: Any) -> int:
    """``runs resume`` / ``runs abandon``: the parked runs named, of a flow, or all of them."""
    from aiflows import ops

    if sum((bool(args.execution_arn), args.flow is not None, args.all)) != 1:
        print(
            f"error: give the execution ARNs of the parked runs to {args.command}, or --flow <flow>, "
            "or --all (`python -m aiflows runs parked` lists them)",
            file=sys.stderr,
        )
        return 2
    done = ops.unpark(
        clients, args.stack, resume=args.command == "resume", executions=args.execution_arn, flow=args.flow
    )
    for unparked in done:
        print(f"{unparked.run.execution_arn}\n    {unparked.outcome} (parked at step {unparked.run.step})")
    verb = "resumed" if args.command == "resume" else "abandoned"
    print(f"{sum(d.outcome != 'no longer waiting' for d in done)} run(s) {verb}")
    return 0


def _new(args: argparse.Namespace) -> int:
    from aiflows import scaffold
    from aiflows.registry import ROOT

    try:
        if args.command == "capability":
            written = scaffold.new_capability(args.name)
        else:
            written = scaffold.new_flow(args.name, args.trigger, args.capability, args.source)
    except scaffold.ScaffoldError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for path in written:
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m aiflows", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--api", default=os.environ.get("AIFLOWS_API", LOCAL_API), help="the review API's URL"
    )
    parser.add_argument("--token", default=os.environ.get("AIFLOWS_TOKEN", ""), help="a bearer token for it")
    groups = parser.add_subparsers(dest="group", required=True)
    reviews = groups.add_parser("reviews", help="list, show and decide reviews").add_subparsers(
        dest="command", required=True
    )
    trace = groups.add_parser("trace", help="a run's timeline, read from X-Ray")
    trace.add_argument("target", help="an execution ARN, or a run's correlation id (its event id)")
    trace.add_argument("--html", help="also write an HTML timeline to this file")
    trace.add_argument("--endpoint-url", default=os.environ.get("AWS_ENDPOINT_URL"))
    trace.add_argument("--hours", type=float, default=24.0, help="how far back to look")
    stack = argparse.ArgumentParser(add_help=False)
    stack.add_argument("--stack", default=os.environ.get("AIFLOWS_STACK", "AiFlows"), help="the stack's name")
    stack.add_argument("--endpoint-url", default=os.environ.get("AWS_ENDPOINT_URL"))
    groups.add_parser("alarms", parents=[stack], help="the stack's alarms, firing first, with their runbooks")
    runs = groups.add_parser("runs", help="failed runs, and what runs cost").add_subparsers(
        dest="command", required=True
    )
    for name, hours in (("failed", 24.0), ("cost", 1.0)):
        command = runs.add_parser(name, parents=[stack])
        command.add_argument("--flow", default="document_intake")
        command.add_argument("--hours", type=float, default=hours, help="how far back to look")
        if name == "cost":
            command.add_argument("--top", type=int, default=10)
    runs.add_parser("spend", parents=[stack], help="one run's spend by capability and model").add_argument(
        "correlation_id"
    )
    redrive = runs.add_parser(
        "redrive",
        parents=[stack],
        help="restart failed runs from the steps that did not finish (Step Functions redrive)",
        description="Redrive runs: each goes on from the steps it had not finished, with the input "
        "they had; the steps it finished are not run again. Give the runs' execution ARNs, or "
        "--failed-since-hours for every failed run of a flow in a window.",
    )
    redrive.add_argument("execution_arn", nargs="*", help="the runs to redrive (`runs failed` lists them)")
    redrive.add_argument("--flow", default="document_intake", help="with --failed-since-hours")
    redrive.add_argument(
        "--failed-since-hours", type=float, metavar="N", help="every run that failed in the last N hours"
    )
    redrive.add_argument("--dry-run", action="store_true", help="say what would be redriven; redrive nothing")
    runs.add_parser(
        "parked", parents=[stack], help="the runs parked after a step's retries ran out"
    ).add_argument("--flow", help="one flow's only")
    for verb, does in (
        ("resume", "the step that parked each run runs again"),
        ("abandon", "each run goes down its failure path, with the error that parked it"),
    ):
        unpark = runs.add_parser(
            verb, parents=[stack], help=f"parked runs: {does}", description=f"Parked runs: {does}."
        )
        unpark.add_argument("execution_arn", nargs="*", help="the parked runs (`runs parked` lists them)")
        unpark.add_argument("--flow", help="every parked run of this flow")
        unpark.add_argument("--all", action="store_true", help="every parked run")
    groups.add_parser(
        "audit", parents=[stack], help="a run's audit trail: every decision, edit, escalation, expiry, action"
    ).add_argument("run", help="an execution ARN, or a run's correlation id (its event id)")
    logs = groups.add_parser("logs", parents=[stack], help="what the functions logged about one run")
    logs.add_argument("correlation_id")
    logs.add_argument("--errors", action="store_true", help="warnings and errors only")
    dlq = groups.add_parser("dlq", help="look at and redrive dead letters").add_subparsers(
        dest="command", required=True
    )
    for name in ("list", "redrive"):
        dlq.add_parser(name, parents=[stack]).add_argument("queue", choices=("work", "event-targets"))
    breakers = groups.add_parser("breakers", help="the models' circuit breakers").add_subparsers(
        dest="command", required=True
    )
    breakers.add_parser("list", parents=[stack])
    breakers.add_parser("close", parents=[stack]).add_argument("model")
    from aiflows import doctor

    doctor.add_arguments(
        groups.add_parser("doctor", help="before a deploy: what the account lacks, with the fixes")
    )
    flows_group = groups.add_parser("flows", help="the flows: list them, print and draw what deploys")
    flows_commands = flows_group.add_subparsers(dest="command", required=True)
    flows_commands.add_parser("list", help="every flow, its type, its size written and woven")
    shown = flows_commands.add_parser("show", help="the definition that deploys (the house style woven in)")
    shown.add_argument("flow")
    shown.add_argument("--written", action="store_true", help="as its author wrote it")
    drawn = flows_commands.add_parser("graph", help="the flow's graph, as Mermaid text")
    drawn.add_argument("flow")
    drawn.add_argument("--svg", metavar="FILE", help="also draw it as an SVG picture")
    documented = flows_commands.add_parser("docs", help="write its README's graph and costs, and graph.svg")
    documented.add_argument("flow")
    scaffolds = groups.add_parser("new", help="write a working capability or flow, in its own folder")
    new = scaffolds.add_subparsers(dest="command", required=True)
    new_capability = new.add_parser(
        "capability", help="functions/<name>/: manifest, contract, prompt, code, test"
    )
    new_capability.add_argument("name")
    new_flow = new.add_parser("flow", help="statemachines/<name>/: definition, manifest, sample event, test")
    new_flow.add_argument("name")
    new_flow.add_argument(
        "--trigger", required=True, help="the detail-type that starts it (ticket.submitted)"
    )
    new_flow.add_argument("--capability", required=True, help="the capability its step invokes")
    new_flow.add_argument(
        "--source", help="the events' source (default: aiflows.<the detail-type's first word>)"
    )
    reviews.add_parser("list")
    reviews.add_parser("export")
    for name in ("show", "approve", "reject", "revise"):
        command = reviews.add_parser(name)
        command.add_argument("review_id")
        if name != "show":
            command.add_argument("--reason", default="", required=name == "reject")
        if name == "revise":
            command.add_argument("--edit", action="append", required=True, metavar="FIELD=VALUE")
    args = parser.parse_args(argv)
    if args.group == "flows":
        from aiflows import authoring

        if args.command == "list":
            return authoring.list_flows()
        if args.command == "show":
            return authoring.show(args.flow, args.written)
        if args.command == "docs":
            return authoring.docs(args.flow)
        return authoring.graph(args.flow, args.svg)
    if args.group == "new":
        return _new(args)
    if args.group == "doctor":
        return doctor.main(args)
    if args.group == "trace":
        return _trace(args)
    if args.group in ("alarms", "runs", "audit", "logs", "dlq", "breakers"):
        return _ops(args)
    if not args.token:
        parser.error("give --token (or AIFLOWS_TOKEN): the local cloud's development token is 'dev'")
    client = ReviewClient(args.api, args.token)
    try:
        if args.command == "list":
            _print_pending(client.pending())
        elif args.command == "export":
            sys.stdout.write(client.export())
        elif args.command == "show":
            _print_review(client.show(args.review_id))
        else:
            decision = {"approve": "approve", "reject": "reject", "revise": "revise"}[args.command]
            edits = _edits(args.edit) if args.command == "revise" else None
            answer = client.decide(args.review_id, decision, args.reason, edits)
            if answer["status"] == "PENDING":  # four eyes: another reviewer's approval is still needed
                still = answer["approvals_needed"] - len(answer["approved_by"])
                print(
                    f"{answer['review_id']}: {answer['decision']} recorded (approved by "
                    f"{', '.join(answer['approved_by'])}); {still} more approval(s) needed, "
                    "from another reviewer"
                )
            else:
                print(f"{answer['review_id']}: {answer['decision']} recorded; the flow goes on")
    except ApiError as error:
        print(f"error {error}" if error.status else f"error: {error.message}", file=sys.stderr)
        return 2 if error.status in (0, 401, 403) else 1
    return 0
