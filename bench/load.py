"""A bounded load test: a burst of flows in the local cloud, some of them duplicates.

    make bench   (or: .venv/bin/python -m bench.load [--flows 200] [--duplicates 0.1] [--redeliveries 0.1])

All traffic stays on loopback. The burst mixes documents that act alone, tickets
that are routed and documents a person approves (a reviewer answers them). Duplicates
come two ways: a share of the events submit a document that was already submitted (a
new event, which the flow's idempotent steps act on once), and EventBridge delivers a
share of the events to their rule twice (the same event, whose second run ends
AlreadyStarted, docs/flows.md#one-run-per-event). Prints what it ran and
how fast, and exits 1 when an invariant of :mod:`aiflows.traffic` breaks: a run lost
or stuck, an action performed twice (a duplicate acted on), a model call charged
twice, a ledger that does not add up, a budget passed, or a queue not back to 0.
"""

from __future__ import annotations

import random
import statistics
import sys
import time

from aiflows import traffic
from aiflows.testing import subscribe_to_the_bus
from bench import local_cloud_arguments
from localcloud import LocalCloud

MIX = (("document_intake", "clear"), ("ticket_triage", "sample"), ("document_intake", "review"))


def main() -> None:
    parser = local_cloud_arguments(__doc__)
    parser.add_argument("--flows", type=int, default=200)
    parser.add_argument("--duplicates", type=float, default=0.1, help="the share of events that resubmit")
    parser.add_argument(
        "--redeliveries", type=float, default=0.1, help="the share of deliveries EventBridge makes twice"
    )
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    chooser = random.Random(args.seed)  # noqa: S311 - which events repeat, reproducibly
    distinct = round(args.flows * (1 - args.duplicates))
    entries = traffic.batch("load", names=tuple(MIX[n % len(MIX)] for n in range(distinct)))
    entries += [chooser.choice(entries) for _ in range(args.flows - distinct)]  # the same document again
    chooser.shuffle(entries)

    # Retry intervals compressed; a Task never timed out under 60 s of real time (a burst on two cores)
    with LocalCloud(time_scale=0.01, timeout_floor=60.0) as cloud:
        app = cloud.deploy(args.assembly)
        bus = subscribe_to_the_bus(cloud, app)
        cloud.faults.seed(args.seed)
        cloud.faults.add(kind="events.duplicate", rate=args.redeliveries)
        load = traffic.Traffic(cloud, app)
        started = time.perf_counter()
        runs = load.start(entries)
        load.wait(runs, timeout=1800)
        wall = time.perf_counter() - started
        cloud.faults.disarm()
        redelivered = cloud.faults.injected.get("events.duplicate", 0)
        try:
            summary = traffic.check(load, runs, bus, "load")
        except traffic.InvariantBroken as broken:
            print(f"load test: {broken}", file=sys.stderr)
            raise SystemExit(1) from None
        durations = sorted(
            (e["stopDate"] - e["startDate"]).total_seconds() for r in runs for e in traffic.worked(cloud, r)
        )
        invocations = cloud.lambdas.records if cloud.lambdas else []
        acted = sum(1 for e in bus if e["source"] in traffic.action_sources())

    p95 = durations[min(len(durations) - 1, round(0.95 * (len(durations) - 1)))]
    again = args.flows - distinct
    print(f"Load test ({args.flows} flows in a burst, {again} of them a document submitted again)")
    print(f"  deliveries made twice:      {redelivered} (to every rule, the observer's included)")
    print(f"  ended:                      {summary['ended']}")
    print(f"  wall time:                  {wall:7.1f} s   ({args.flows / wall:.2f} flows/s)")
    print(f"  run duration:               median {statistics.median(durations):6.1f} s   p95 {p95:6.1f} s")
    cold = sum(1 for i in invocations if i.cold_start)
    print(f"  Lambda invocations:         {len(invocations)} ({cold} cold)")
    print(f"  paid model calls:           {summary['paid_calls']}")
    print(f"  actions performed:          {acted} for {distinct} distinct documents and tickets")
    print("  queues after the burst:     work 0, dead letters 0 (checked)")
    print("  invariants:                 every run ended by name, no duplicate acted on, ledger exact")


if __name__ == "__main__":
    main()
