"""Step Functions in the local cloud: moto's executing backend, run as AWS runs it.

One module a concern:

- :mod:`.api`: StartExecution, DescribeExecution, StartSyncExecution, execution ARNs,
  definition and name checks;
- :mod:`.activities`: activity Tasks and their workers;
- :mod:`.interpreter`: task tokens, traces;
- :mod:`.errors`: error names and matching;
- :mod:`.paths`: JSONPath;
- :mod:`.intrinsics`: intrinsic functions;
- :mod:`.jsonata`: JSONata and workflow variables;
- :mod:`.integrations`: what Task integrations answer;
- :mod:`.distributed_map`: Distributed Map states, their Map Runs and child
  executions, and the ``states:startExecution`` Task;
- :mod:`.redrive`: RedriveExecution, and what DescribeExecution and ListExecutions say of redrives;
- :mod:`.history`: GetExecutionHistory's pages, order and execution data;
- :mod:`.clock`: the time scale of waits and timeouts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from localcloud.patches.stepfunctions import (
    activities,
    api,
    clock,
    distributed_map,
    errors,
    history,
    integrations,
    interpreter,
    intrinsics,
    jsonata,
    paths,
    redrive,
)

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud
    from localcloud.patches import Patches

CONCERNS = (
    clock,
    api,
    activities,
    interpreter,
    errors,
    paths,
    intrinsics,
    jsonata,
    integrations,
    distributed_map,
    redrive,
    history,
)


# What a definition does, as AWS runs it, without a cloud around it (no server, no clock, no
# processes): what `make bench` runs its moto floor with. None of them reads the cloud but .api,
# for StartSyncExecution, which the floor does not call.
SEMANTICS = (api, errors, paths, intrinsics, jsonata, integrations)


def install_semantics(patches: Patches) -> None:
    for concern in SEMANTICS:
        concern.install(patches, cloud=None)
    # how a definition is parsed, as the local cloud parses it: once, not at every start (moto's
    # cost, which the floor would otherwise count against the local cloud's overhead)
    distributed_map.install_parsing(patches)


def install(patches: Patches, cloud: LocalCloud) -> None:
    for concern in CONCERNS:
        concern.install(patches, cloud)
