r"""The Step Functions interpreter as AWS runs a definition, where moto's differs.

Error names:
- a heartbeat that times out is ``States.HeartbeatTimeout`` (moto says
  ``States.Timeout``, so a Retry on the heartbeat never matched);
- a Parallel branch or a Map iteration that fails with a ``States.*`` error passes
  that error on (moto built a custom error name from it, which refuses the
  ``States.`` prefix, and the whole execution failed with States.Runtime);
- a Fail state's ``Error`` may be any name, ``States.*`` included: AWS's Fail state
  documents no reserved prefix (moto refused it, failing with States.Runtime).

Task tokens: each attempt of a ``.waitForTaskToken`` Task gets a token of its own,
as on AWS (moto reused the first attempt's token on every Retry, so a retried
attempt's work carried the token of the attempt that failed).

Choice rules: a ``…Path`` comparator may name a context path, ``$$.Execution.Name``,
as any other path of the ASL may (moto read every ``…Path`` from the state's input
and failed to parse ``$$``, States.Runtime).

Intrinsic functions: a string literal may escape the characters the intrinsic
syntax reserves, ``\'``, ``\{``, ``\}`` and ``\\`` (AWS: "you must escape them
with a backslash"); an escaped brace in ``States.Format``'s template is a literal
brace, not a placeholder (moto's lexer refused every escape).

Traces: a Lambda Task passes the state's trace header to the function it invokes.
"""

from __future__ import annotations

import contextvars
import json
from typing import TYPE_CHECKING, Any

from localcloud import traces

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud
    from localcloud.patches import Patches


def _error_names(patches: Patches) -> None:
    from moto.stepfunctions.parser.api import HistoryEventType, TaskTimedOutEventDetails
    from moto.stepfunctions.parser.asl.component.common.error_name import custom_error_name
    from moto.stepfunctions.parser.asl.component.common.error_name.error_name import ErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import FailureEvent
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration import iteration_worker
    from moto.stepfunctions.parser.asl.component.state.exec.state_parallel import branches_decl
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task import StateTask
    from moto.stepfunctions.parser.asl.component.state.fail import state_fail
    from moto.stepfunctions.parser.asl.eval.callback.callback import HeartbeatTimeoutError
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

    states_names = {t.to_name(): t for t in StatesErrorNameType}

    def error_name(error_name: str | None = None) -> Any:
        if error_name in states_names:
            return StatesErrorName(typ=states_names[error_name])
        if error_name and error_name.startswith(custom_error_name.ILLEGAL_CUSTOM_ERROR_PREFIX):
            return ErrorName(error_name=error_name)  # a States.* name moto's enumeration lacks
        return custom_error_name.CustomErrorName(error_name=error_name)

    for module in (branches_decl, iteration_worker, state_fail):
        patches.replace(module, "CustomErrorName", error_name)

    from_error = StateTask._from_error

    def task_from_error(self: Any, env: Any, ex: Exception) -> Any:
        if isinstance(ex, HeartbeatTimeoutError):
            heartbeat = StatesErrorNameType.StatesHeartbeatTimeout
            return FailureEvent(
                env=env,
                error_name=StatesErrorName(typ=heartbeat),
                event_type=HistoryEventType.TaskTimedOut,
                event_details=EventDetails(
                    taskTimedOutEventDetails=TaskTimedOutEventDetails(error=heartbeat.to_name())
                ),
            )
        return from_error(self, env, ex)

    patches.replace(StateTask, "_from_error", task_from_error)


def _task_token_per_attempt(patches: Patches) -> None:
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        resource,
        state_task_service_callback,
    )

    ResourceCondition = resource.ResourceCondition
    StateTaskServiceCallback = state_task_service_callback.StateTaskServiceCallback
    execute = StateTaskServiceCallback._eval_execution

    def eval_execution(self: Any, env: Any) -> None:
        context = env.states.context_object
        retrying = context.context_object_data.get("State", {}).get("RetryCount", 0) > 0
        if (
            retrying
            and self._is_integration_pattern()
            and ResourceCondition.WaitForTaskToken in self._supported_integration_patterns
        ):
            env.callback_pool_manager.add(context.update_task_token())
        execute(self, env)

    patches.replace(StateTaskServiceCallback, "_eval_execution", eval_execution)


# What an escape in an intrinsic's string literal stands for, while the lexer reads it:
# private-use characters, which no definition writes.
_ESCAPED = {"'": "\ue000", "\\": "\ue001", "{": "\ue002", "}": "\ue003"}
_QUOTE_AND_BACKSLASH = {"\ue000": "'", "\ue001": "\\"}
_BRACES = {"\ue002": "{", "\ue003": "}"}


def _hide_escapes(source: str) -> str:
    """The intrinsic's source with each escape inside a quoted string put out of the lexer's way."""
    out: list[str] = []
    quoted = False
    i = 0
    while i < len(source):
        char = source[i]
        if quoted and char == "\\" and i + 1 < len(source) and source[i + 1] in _ESCAPED:
            out.append(_ESCAPED[source[i + 1]])
            i += 2
            continue
        if char == "'":
            quoted = not quoted
        out.append(char)
        i += 1
    return "".join(out)


def _restore(text: str, escapes: dict[str, str]) -> str:
    for hidden, char in escapes.items():
        text = text.replace(hidden, char)
    return text


def _escapes_in_intrinsics(patches: Patches) -> None:
    from moto.stepfunctions.parser.asl.component.intrinsic.argument.argument import ArgumentLiteral
    from moto.stepfunctions.parser.asl.component.intrinsic.function.statesfunction.generic import (
        string_format,
    )
    from moto.stepfunctions.parser.asl.parse.intrinsic.intrinsic_parser import IntrinsicParser
    from moto.stepfunctions.parser.asl.parse.intrinsic.preprocessor import Preprocessor

    parse = IntrinsicParser.parse
    text_of_str = Preprocessor._text_of_str

    def parse_escaped(source: str) -> Any:
        # moto hands over the definition's raw JSON text: read its JSON escapes first
        try:
            source = json.loads(f'"{source}"')
        except json.JSONDecodeError:
            pass
        return parse(_hide_escapes(source))

    def visit_string(self: Any, ctx: Any) -> Any:
        template = _restore(text_of_str(ctx.STRING()), _QUOTE_AND_BACKSLASH)
        literal = ArgumentLiteral(definition_value=_restore(template, _BRACES))
        literal.template = template  # braces still hidden: what States.Format reads
        return literal

    def format_string(self: Any, env: Any) -> None:
        self.argument_list.eval(env=env)
        args = env.stack.pop()
        first = self.argument_list.arguments[0]
        template = getattr(first, "template", None) or args[0]
        pieces = template.split("{}")
        values = [string_format.StringFormat._to_str_repr(value) for value in args[1:]]
        formatted = pieces[0] + "".join(v + piece for v, piece in zip(values, pieces[1:], strict=False))
        env.stack.append(_restore(formatted, _BRACES))

    patches.replace(IntrinsicParser, "parse", staticmethod(parse_escaped))
    patches.replace(Preprocessor, "visitFunc_arg_string", visit_string)
    patches.replace(string_format.StringFormat, "_eval_body", format_string)


_choice_env: contextvars.ContextVar[Any] = contextvars.ContextVar("choice_env", default=None)


def _context_paths_in_choice_rules(patches: Patches) -> None:
    from moto.stepfunctions.parser.asl.component.state.choice.comparison import comparison_func
    from moto.stepfunctions.parser.asl.component.state.choice.comparison.operator.implementations import (
        boolean_equals,
        numeric,
        string_operators,
        timestamp_operators,
    )
    from moto.stepfunctions.parser.asl.utils.json_path import extract_json

    def extract(path: str, data: Any) -> Any:
        env = _choice_env.get()
        if env is not None and path.startswith("$$"):
            return extract_json("$" + path[2:], env.states.context_object.context_object_data)
        return extract_json(path, data)

    for module in (boolean_equals, numeric, string_operators, timestamp_operators):
        patches.replace(module, "extract_json", extract)

    compare = comparison_func.ComparisonFuncValue._eval_body

    def eval_comparison(self: Any, env: Any) -> None:
        token = _choice_env.set(env)
        try:
            compare(self, env)
        finally:
            _choice_env.reset(token)

    patches.replace(comparison_func.ComparisonFuncValue, "_eval_body", eval_comparison)


def _lambda_trace_header(patches: Patches, cloud: LocalCloud) -> None:
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils

    execute_lambda = lambda_eval_utils.execute_lambda_function_integration
    client_for = lambda_eval_utils.boto_client_for

    def execute_lambda_function_integration(env: Any, *args: Any, **kwargs: Any) -> Any:
        context = env.states.context_object.context_object_data
        state = context.get("State", {})
        token = traces.current_header.set(
            cloud.traces.task_header(
                context["Execution"]["Id"], state.get("Name", ""), str(state.get("EnteredTime", ""))
            )
        )
        try:
            return execute_lambda(env, *args, **kwargs)
        finally:
            traces.current_header.reset(token)

    def boto_client_for(*args: Any, **kwargs: Any) -> Any:
        client = client_for(*args, **kwargs)
        trace_header = traces.current_header.get()
        if trace_header:
            client.meta.events.register(
                "before-send.lambda.Invoke",
                lambda request, **_: request.headers.__setitem__("X-Amzn-Trace-Id", trace_header),
            )
        return client

    patches.replace(
        lambda_eval_utils, "execute_lambda_function_integration", execute_lambda_function_integration
    )
    patches.replace(lambda_eval_utils, "boto_client_for", boto_client_for)


def install(patches: Patches, cloud: LocalCloud) -> None:
    _error_names(patches)
    _task_token_per_attempt(patches)
    _context_paths_in_choice_rules(patches)
    _escapes_in_intrinsics(patches)
    _lambda_trace_header(patches, cloud)
