"""CloudWatch Logs in the local cloud: FilterLogEvents reads filter patterns, and Step Functions
writes its execution logs.

- moto's FilterLogEvents understands a quoted phrase and bare terms, and returns every event
  for any other pattern (a JSON pattern ``{ $.correlation_id = "…" }`` answered the whole log
  group); it ignores ``logStreamNamePrefix`` and ``logGroupIdentifier``. Here the pattern is
  read as "Filter pattern syntax for metric filters, subscription filters, filter log events,
  and Live Tail" (CloudWatch Logs user guide) describes it, by :mod:`localcloud.log_filters`:
  terms, ``?`` alternatives, ``-`` exclusions, quoted phrases, ``%regex%``, JSON patterns,
  space-delimited patterns; one that does not parse answers ``InvalidParameterException``
  (``Invalid filter pattern…``). FilterLogEvents (API reference): "You must include either
  logGroupIdentifier or logGroupName, but not both"; "If you specify a value for both
  logStreamNamePrefix and logStreamNames, the action returns an InvalidParameterException
  error"; ``startTime`` and ``endTime`` bound the events' timestamps, both included;
  ``interleaved`` "is ignored and the value is assumed to be true": the events of every stream
  come in one order, by time; ``limit`` at most 10,000 (the default); a ``nextToken`` while
  more events match; ``searchedLogStreams`` "is no longer supported. This parameter returns an
  empty list". StartLiveTail's ``logEventFilterPattern`` is read by the same parser.
- moto's Step Functions executes a state machine whose ``loggingConfiguration`` names a log
  group without writing a log event (it passes no logging session to the execution, and its
  own session puts events CloudWatch Logs cannot store). AWS ("Using CloudWatch Logs to log
  execution history in Step Functions", "Log levels"): each history event of the level's
  types — ``ALL`` every type, ``ERROR`` and ``FATAL`` those the guide's table marks (moto's
  table, read against it), ``OFF`` none — goes to the log group as ``{"id", "type",
  "details", "previous_event_id", "event_timestamp", "execution_arn", "redrive_count"}``
  (``event_timestamp`` in epoch milliseconds, the ids as strings), ``details`` without the
  execution data (inputs, outputs, a task's ``parameters``, assigned variables) when
  ``includeExecutionData`` is false, in a stream
  ``states/<state machine name>/<YYYY-MM-DD-HH-MM>/<id>`` (the form of the names AWS gives them).
  The configuration is read from the executing backend's state machine when each execution
  starts, so an update of the machine's logging applies to the executions after it.
"""

from __future__ import annotations

import base64
import datetime
import json
import threading
import uuid
from typing import TYPE_CHECKING, Any

from localcloud.log_filters import InvalidFilterPattern, compile_pattern

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud
    from localcloud.patches import Patches

MAX_LIMIT = 10_000  # FilterLogEvents' limit: "The default is 10,000 events", at most 10,000
# what includeExecutionData=false leaves out ("When set to false, data is excluded"): the inputs and
# outputs moto removes, and the other data of an event: a task's parameters (its input) and the
# variables a state assigns
_EXECUTION_DATA = (
    "input",
    "inputDetails",
    "output",
    "outputDetails",
    "parameters",
    "assignedVariables",
    "assignedVariablesDetails",
)


def install(patches: Patches, cloud: LocalCloud) -> None:
    _filter_log_events(patches)
    _live_tail_patterns(patches)
    _execution_logs(patches)


# --- FilterLogEvents -------------------------------------------------------------------------


def page_token(group: str, timestamp: int, event_id: int) -> str:
    return base64.urlsafe_b64encode(json.dumps([group, timestamp, event_id]).encode()).decode()


def read_token(token: str, group: str) -> tuple[int, int] | None:
    """The (timestamp, event id) a token of this group was given after, else ``None``."""
    try:
        name, timestamp, event_id = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, TypeError):
        return None
    if name != group or not isinstance(timestamp, int) or not isinstance(event_id, int):
        return None
    return timestamp, event_id


def group_name(identifier: str) -> str:
    """A log group's name from its name or ARN (``arn:…:log-group:<name>[:*]``)."""
    if identifier.startswith("arn:") and ":log-group:" in identifier:
        return identifier.split(":log-group:", 1)[1].split(":", 1)[0]
    return identifier


def _filter_log_events(patches: Patches) -> None:
    from moto.logs.exceptions import InvalidParameterException, ResourceNotFoundException
    from moto.logs.responses import LogsResponse

    def filter_log_events(self: Any) -> str:
        name, identifier = self._get_param("logGroupName"), self._get_param("logGroupIdentifier")
        if bool(name) == bool(identifier):
            raise InvalidParameterException(
                "You must include either logGroupIdentifier or logGroupName, but not both."
            )
        name = name or group_name(identifier)
        stream_names = self._get_param("logStreamNames") or []
        prefix = self._get_param("logStreamNamePrefix")
        if stream_names and prefix:
            raise InvalidParameterException("logStreamNames and logStreamNamePrefix cannot both be given.")
        limit = self._get_param("limit")
        if limit is not None and not 1 <= int(limit) <= MAX_LIMIT:
            raise InvalidParameterException(
                constraint=f"Member must have value {'less' if int(limit) > 1 else 'greater'} than or "
                f"equal to {MAX_LIMIT if int(limit) > 1 else 1}",
                parameter="limit",
                value=limit,
            )
        try:
            pattern = compile_pattern(self._get_param("filterPattern"))
        except InvalidFilterPattern as exc:
            raise InvalidParameterException(str(exc)) from None
        group = self.logs_backend.groups.get(name)
        if group is None:
            raise ResourceNotFoundException()
        start, end = self._get_param("startTime"), self._get_param("endTime")
        found: list[tuple[int, int, str, Any]] = []
        for stream_name, stream in list(group.streams.items()):
            if stream_names and stream_name not in stream_names:
                continue
            if prefix and not stream_name.startswith(prefix):
                continue
            for event in list(stream.events):
                if start is not None and event.timestamp < int(start):
                    continue
                if end is not None and event.timestamp > int(end):
                    continue
                if pattern.matches(event.message):
                    found.append((event.timestamp, event.event_id, stream_name, event))
        found.sort(key=lambda item: (item[0], item[1]))
        token = self._get_param("nextToken")
        if token:
            after = read_token(token, name)
            # a token this group never gave: an empty page, as moto answers it
            found = [] if after is None else [item for item in found if (item[0], item[1]) > after]
        size = int(limit or MAX_LIMIT)
        page = found[:size]
        answer: dict[str, Any] = {
            "events": [{**event.to_filter_dict(), "logStreamName": stream} for _, _, stream, event in page],
            "searchedLogStreams": [],
        }
        if len(found) > size:
            last = page[-1]
            answer["nextToken"] = page_token(name, last[0], last[1])
        return json.dumps(answer)

    patches.replace(LogsResponse, "filter_log_events", filter_log_events)


def _live_tail_patterns(patches: Patches) -> None:
    from moto.logs import models
    from moto.logs.exceptions import InvalidParameterException

    class EventMessageFilter:
        """moto's filter of a Live Tail session, by the same parser."""

        def __init__(self, pattern: str) -> None:
            try:
                self._pattern = compile_pattern(pattern)
            except InvalidFilterPattern as exc:
                raise InvalidParameterException(str(exc)) from None

        def matches(self, message: str) -> bool:
            return self._pattern.matches(message)

    patches.replace(models, "EventMessageFilter", EventMessageFilter)


# --- Step Functions execution logs ------------------------------------------------------------


def stream_name(machine_name: str, started: datetime.datetime) -> str:
    return f"states/{machine_name}/{started.astimezone(datetime.UTC):%Y-%m-%d-%H-%M}/{uuid.uuid4().hex[:8]}"


def log_record(history_log: dict[str, Any], redrive_count: int) -> tuple[int, str]:
    """The event's time (epoch ms) and the message Step Functions writes for one history event."""
    from moto.stepfunctions.parser.asl.utils.encoding import to_json_str

    stamp = history_log["event_timestamp"]
    if isinstance(stamp, str):
        stamp = datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=datetime.UTC)
    millis = int(stamp.timestamp() * 1000)
    record = {
        "id": str(history_log["id"]),
        "type": str(getattr(history_log["type"], "value", history_log["type"])),  # the enum's name
        "details": history_log.get("details") or {},
        "previous_event_id": str(history_log["previous_event_id"]),
        "event_timestamp": str(millis),
        "execution_arn": history_log["execution_arn"],
        "redrive_count": str(redrive_count),
    }
    return millis, to_json_str(record, separators=(",", ":"))  # compact, as AWS writes it


def _execution_logs(patches: Patches) -> None:
    from moto.logs.models import logs_backends
    from moto.stepfunctions.parser.asl.eval.event.logging import (
        CloudWatchLoggingConfiguration,
        CloudWatchLoggingSession,
    )
    from moto.stepfunctions.parser.backend.execution import Execution

    lock = threading.Lock()  # executions log from their own threads, into one backend

    class ExecutionLogs(CloudWatchLoggingSession):
        """One execution's logging: moto's level filter and execution data; AWS's record and stream."""

        def __init__(self, execution_arn: str, configuration: Any, machine_name: str) -> None:
            super().__init__(execution_arn=execution_arn, configuration=configuration)
            self.stream = stream_name(machine_name, datetime.datetime.now(datetime.UTC))
            self.redrive_count = 0

        def publish_history_log(self, history_log: Any) -> None:
            if history_log["type"] == "ExecutionRedriven":
                self.redrive_count += 1
            history_log = dict(history_log)
            if not self.configuration.include_execution_data and history_log.get("details"):
                details = history_log["details"]
                history_log["details"] = {k: v for k, v in details.items() if k not in _EXECUTION_DATA}
            millis, message = log_record(history_log, self.redrive_count)
            group = self.configuration.log_group_name
            logs = logs_backends[self.configuration.log_account_id][self.configuration.log_region]
            with lock:
                if group not in logs.groups:
                    return  # no log group, no delivery (CreateStateMachine checks the destination)
                if self.stream not in logs.groups[group].streams:
                    logs.create_log_stream(group, self.stream)
                logs.put_log_events(group, self.stream, [{"timestamp": millis, "message": message}])

    def logging_session(execution_arn: str, machine: Any) -> ExecutionLogs | None:
        configuration = getattr(machine, "loggingConfiguration", None) or getattr(
            machine, "logging_config", None
        )
        if not configuration or configuration.get("level", "OFF") == "OFF":
            return None
        read = CloudWatchLoggingConfiguration.from_logging_configuration(
            state_machine_arn=machine.arn,
            logging_configuration={  # IncludeExecutionData is optional: false when left out
                **configuration,
                "includeExecutionData": bool(configuration.get("includeExecutionData", False)),
            },
        )
        return None if read is None else ExecutionLogs(execution_arn, read, machine.name)

    init_execution = Execution.__init__

    def init_with_logging(self: Any, *args: Any, **kwargs: Any) -> None:
        machine = kwargs.get("state_machine")
        if kwargs.get("cloud_watch_logging_session") is None and machine is not None:
            kwargs["cloud_watch_logging_session"] = logging_session(kwargs["exec_arn"], machine)
        init_execution(self, *args, **kwargs)
        session = self._cloud_watch_logging_session
        if isinstance(session, ExecutionLogs):
            session.execution_arn = self.exec_arn  # the ARN it runs under (an Express one is set inside)

    patches.replace(Execution, "__init__", init_with_logging)
