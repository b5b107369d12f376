"""The aiflows command line.

    python -m aiflows reviews list
    python -m aiflows reviews show rv-2k7m9q4x
    python -m aiflows reviews approve rv-2k7m9q4x [--reason "..."]
    python -m aiflows reviews reject  rv-2k7m9q4x --reason "wrong tenant"
    python -m aiflows reviews revise  rv-2k7m9q4x --edit total=1,300.00 [--reason "..."]
    python -m aiflows reviews export  > feedback.jsonl
    python -m aiflows trace <execution ARN | correlation id> [--html trace.html] [--endpoint-url URL]

The same commands work against the local cloud and AWS: they speak to the review
API at ``--api`` (or ``AIFLOWS_API``) with ``--token`` (or ``AIFLOWS_TOKEN``): on AWS
the API's URL (the stack output ``ReviewApiUrl``) and a Cognito ID token; locally
the console's URL (``make console`` prints it) and the development token ``dev``.
``trace`` reads X-Ray with boto3: your AWS profile, or ``--endpoint-url`` (or
``AWS_ENDPOINT_URL``) for the local cloud (``make serve``: http://127.0.0.1:4599).
"""

from __future__ import annotations

import argparse
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
        self.status = status


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
    print(f"{'review':<12} {'document':<18} {'label':<10} {'conf':>5}  {'risk':<6} step")
    for row in rows:
        step = row["step"] + (" (escalated)" if row.get("escalation") else "")
        print(
            f"{row['review_id']:<12} {row['document_id']:<18} {row['label']:<10} "
            f"{row['confidence']:>5.2f}  {row['risk']:<6} {step}"
        )


def _print_review(review: dict[str, Any]) -> None:
    details = review["details"]
    print(f"review      {review['review_id']} ({review['status']})")
    print(f"document    {details['document_id']} · tenant {details['tenant']} · step {details['step']}")
    classification = details["classification"]
    evidence = ", ".join(classification["evidence"])
    print(f"label       {classification['label']} at {classification['confidence']:.2f}: {evidence}")
    for finding in details["assessment"]["findings"]:
        print(f"finding     {finding['kind']} ({finding['severity']}): {finding['detail']}")
    for name, field in ((details.get("extraction") or {}).get("fields") or {}).items():
        print(f"field       {name} = {field['value']!r}  ← {field['evidence']['text']!r}")
    if details.get("summary"):
        print(f"summary     {details['summary']['summary']}")
    print(f"proposed    {json.dumps(details['proposed_action'])}")
    if review.get("decision"):
        print(f"decision    {json.dumps(review['decision'])}")


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

    xray = boto3.client("xray", endpoint_url=args.endpoint_url) if args.endpoint_url else boto3.client("xray")
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
    if args.group == "trace":
        return _trace(args)
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
            print(f"{answer['review_id']}: {answer['decision']} recorded; the flow goes on")
    except ApiError as error:
        print(f"error {error}", file=sys.stderr)
        return 2 if error.status in (401, 403) else 1
    return 0
