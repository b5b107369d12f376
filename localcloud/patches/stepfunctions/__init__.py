"""Step Functions in the local cloud: moto's executing backend, run as AWS runs it.

One module a concern: :mod:`.api` (StartExecution, StartSyncExecution, execution
ARNs), :mod:`.interpreter` (error names, task tokens, traces), :mod:`.jsonata`
(JSONata and workflow variables), :mod:`.integrations` (what Task
integrations answer), :mod:`.clock` (the time scale of waits and
timeouts).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from localcloud.patches.stepfunctions import api, clock, integrations, interpreter, jsonata

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud
    from localcloud.patches import Patches


def install(patches: Patches, cloud: LocalCloud) -> None:
    for concern in (clock, api, interpreter, jsonata, integrations):
        concern.install(patches, cloud)
