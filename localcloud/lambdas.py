"""Lambda execution environments: every invocation path lands on a function's real handler.

moto without Docker answers every invocation in ``LambdaSimpleBackend.invoke`` (it
echoes the payload). The local cloud replaces that method, so direct invokes,
Step Functions tasks, EventBridge targets and SQS event source mappings all reach
:class:`LambdaService`, which runs the handler in an execution environment of its
function: a warm worker process (``_worker.py``) with the function's environment
variables, its code folder and layers on the import path, and a Lambda context.

Each function has a pool of environments that grows up to its concurrency limit,
as Lambda scales: a first call pays a real cold start, later calls reuse a warm one.

An environment is forked from the cloud's environment template
(:mod:`localcloud.environment_template`, started at the first cold start, stopped by
:meth:`LambdaService.close`), a ``python -I`` process that has imported botocore, boto3 and
pydantic once: the child replaces its environment, folder and stdio with the function's
and runs the worker, so a cold start pays the handler's own imports, not the interpreter's
start and the SDK's. An environment is spawned as ``python -I _worker.py`` instead when the
function's code folder or a layer bundles a package the template holds (Lambda: a
function's own packages take precedence over the runtime's, and a preloaded one would win),
when it sets another locale than the template's, or when the template is gone.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import os
import queue
import subprocess
import sys
import threading
import time
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Protocol

from localcloud import traces
from localcloud._worker import LOGS_WRITTEN
from localcloud.environment_template import EnvironmentTemplate
from localcloud.faults import Faults

WORKER = Path(__file__).with_name("_worker.py")
_LOGGER = logging.getLogger("localcloud.lambdas")
_GONE: dict[str, Any] = {"gone": True}  # what the answer reader puts when the process has exited
INIT_TIMEOUT_SECONDS = 10.0  # Lambda's limit on the init phase
# how long an answered invocation's log lines may take to be read off the worker's stderr (they are in
# the pipe already: the reader thread only has to get to them)
LOGS_READ_SECONDS = 5.0
DEFAULT_CONCURRENCY = 10
USE_TEMPLATE = True  # fork environments from the template where the function allows it
ASYNC_RETRY_DELAYS_SECONDS = (60.0, 120.0)  # Lambda's asynchronous retries

# Public layers whose content the local cloud's own Python environment provides
# (the requirements file pins the same packages the layer carries).
PROVIDED_LAYER_PREFIXES = ("arn:aws:lambda:*:017000801446:layer:AWSLambdaPowertoolsPythonV3",)


def is_provided_layer(arn: str) -> bool:
    parts = arn.split(":")
    for prefix in PROVIDED_LAYER_PREFIXES:
        want = prefix.split(":")
        if len(parts) >= len(want) and all(
            w == "*" or (p.startswith(w) if i == len(want) - 1 else p == w)
            for i, (p, w) in enumerate(zip(parts, want, strict=False))
        ):
            return True
    return False


class InvocationError(Exception):
    """The function failed: its answer carries ``errorType`` and ``errorMessage``."""

    def __init__(self, payload: dict[str, Any]) -> None:
        super().__init__(f"{payload.get('errorType')}: {payload.get('errorMessage')}")
        self.payload = payload


@dataclass(frozen=True)
class FunctionConfig:
    """What an execution environment needs to know of its function."""

    name: str
    arn: str
    handler: str
    environment: dict[str, str]
    timeout_seconds: float
    memory_mb: int
    code_dir: Path
    paths: tuple[str, ...]
    log_group: str
    concurrency: int
    dead_letter_arn: str | None
    async_max_retries: int
    log_format: str = "Text"  # LoggingConfig.LogFormat: the platform records' form
    system_log_level: str = "INFO"  # LoggingConfig.SystemLogLevel (JSON format only)


@dataclass
class InvocationRecord:
    """One invocation as the REPORT line of Lambda's log tells it."""

    function: str
    request_id: str
    cold_start: bool
    init_ms: float
    duration_ms: float
    error_type: str | None
    started: float = field(default_factory=time.time)


LogSink = Callable[[str, str, list[tuple[int, str]]], None]


class WorkerProcess(Protocol):
    """What an environment needs of its process: a ``subprocess.Popen`` or a template's child."""

    @property
    def pid(self) -> int: ...
    @property
    def returncode(self) -> int | None: ...
    @property
    def stdin(self) -> IO[str] | None: ...
    @property
    def stdout(self) -> IO[str] | None: ...
    @property
    def stderr(self) -> IO[str] | None: ...
    def poll(self) -> int | None: ...
    def wait(self, timeout: float | None = None) -> int: ...
    def kill(self) -> None: ...


def function_environment(config: FunctionConfig, base_env: dict[str, str], log_stream: str) -> dict[str, str]:
    """The whole ``os.environ`` of an execution environment, as Lambda sets it."""
    return {
        **base_env,
        **config.environment,
        "AWS_LAMBDA_FUNCTION_NAME": config.name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(config.memory_mb),
        "AWS_LAMBDA_LOG_GROUP_NAME": config.log_group,
        "AWS_LAMBDA_LOG_STREAM_NAME": log_stream,
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
        "LAMBDA_TASK_ROOT": str(config.code_dir),
        "_HANDLER": config.handler,
    }


class ExecutionEnvironment:
    """A warm worker process running one function's handler: forked from ``template`` when it
    is given and can, spawned otherwise (``forked`` tells which)."""

    def __init__(
        self,
        config: FunctionConfig,
        base_env: dict[str, str],
        log_sink: LogSink,
        template: EnvironmentTemplate | None = None,
    ):
        self.config = config
        self.log_stream = f"{datetime.now(UTC):%Y/%m/%d}/[$LATEST]{uuid.uuid4().hex}"
        self._log_sink = log_sink
        self._template = template
        self.forked = False
        env = function_environment(config, base_env, self.log_stream)
        # AWS: the init phase has 10 s; past them, Lambda retries it once at the first invocation,
        # with the function's timeout.
        ready = self._start(env, INIT_TIMEOUT_SECONDS)
        if ready is None:
            self.kill()
            ready = self._start(env, max(INIT_TIMEOUT_SECONDS, float(config.timeout_seconds)))
        if ready is None or ready is _GONE or not ready.get("ready"):
            self.kill()
            error = ((ready if ready is not _GONE else None) or {}).get("error") or {
                "errorType": "Runtime.InitError",
                "errorMessage": f"the execution environment of {config.name} did not start",
            }
            self.flush_logs()
            raise InvocationError(error)
        self.init_ms = float(ready["init_ms"])

    def _start(self, env: dict[str, str], timeout: float) -> Any:
        """Start the worker process and wait for its init; its answer, or None when it took too long."""
        config = self.config
        child = self._template.spawn(env, config.code_dir) if self._template else None
        self.forked = child is not None
        self._process: WorkerProcess = child or subprocess.Popen(  # noqa: S603 - our own worker, fixed argv
            [sys.executable, "-I", str(WORKER)],
            cwd=config.code_dir,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )
        self._answers: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._log_lines: list[tuple[int, str]] = []
        self._log_lock = threading.Lock()
        self._logs_read = threading.Event()  # the reader reached the invocation's LOGS_WRITTEN
        # each reader is bound to its own process: a retried init's old process cannot answer for the new
        threading.Thread(target=self._read_answers, args=(self._process, self._answers), daemon=True).start()
        threading.Thread(target=self._read_logs, args=(self._process,), daemon=True).start()
        self._send({"paths": list(config.paths), "handler": config.handler})
        return self._receive(timeout)

    @property
    def pid(self) -> int:
        return self._process.pid

    def _send(self, message: dict[str, Any]) -> None:
        assert self._process.stdin is not None
        self._process.stdin.write(json.dumps(message) + "\n")
        self._process.stdin.flush()

    def _receive(self, timeout: float) -> dict[str, Any] | None:
        try:
            return self._answers.get(timeout=timeout)
        except queue.Empty:
            return None

    @staticmethod
    def _read_answers(process: WorkerProcess, answers: queue.Queue[Any]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            answers.put(json.loads(line))
        answers.put(_GONE)  # the process has gone

    def _read_logs(self, process: WorkerProcess) -> None:
        assert process.stderr is not None
        for line in process.stderr:
            message = line.rstrip("\n")
            if message == LOGS_WRITTEN:
                self._logs_read.set()
            else:
                self.log(message)

    def log(self, message: str) -> None:
        with self._log_lock:
            self._log_lines.append((int(time.time() * 1000), message))

    def flush_logs(self) -> None:
        with self._log_lock:
            lines, self._log_lines = self._log_lines, []
        if lines:
            self._log_sink(self.config.log_group, self.log_stream, lines)

    def invoke(self, event: Any, request_id: str, trace_header: str) -> Any:
        """Run the handler once; raise :class:`InvocationError` when it fails."""
        config = self.config
        for record in platform_start(config, request_id):
            self.log(record)
        self._logs_read.clear()
        try:
            self._send(
                {
                    "event": event,
                    "context": {
                        "function_name": config.name,
                        "function_version": "$LATEST",
                        "invoked_function_arn": config.arn,
                        "memory_limit_in_mb": config.memory_mb,
                        "aws_request_id": request_id,
                        "log_group_name": config.log_group,
                        "log_stream_name": self.log_stream,
                        "timeout_seconds": config.timeout_seconds,
                        "trace_header": trace_header,
                    },
                }
            )
        except OSError:  # the process died between two invocations
            self.kill()
            raise InvocationError(
                {
                    "errorType": "Runtime.ExitError",
                    "errorMessage": f"RequestId: {request_id} Error: Runtime exited",
                }
            ) from None
        answer = self._receive(config.timeout_seconds)
        if answer is None or answer is _GONE:
            self.kill()
            if answer is None:  # no answer within the function's timeout
                raise InvocationError(
                    {
                        "errorType": "Sandbox.Timedout",
                        "errorMessage": f"RequestId: {request_id} Error: Task timed out "
                        f"after {config.timeout_seconds:.2f} seconds",
                    }
                )
            raise InvocationError(
                {
                    "errorType": "Runtime.ExitError",
                    "errorMessage": f"RequestId: {request_id} Error: Runtime exited "
                    f"with error: exit status {self._process.returncode}",
                }
            )
        self._logs_read.wait(LOGS_READ_SECONDS)  # it answered, its lines written first: read them
        if not answer["ok"]:
            raise InvocationError(answer["error"])
        return answer["result"]

    @property
    def alive(self) -> bool:
        return self._process.poll() is None

    def kill(self) -> None:
        if self._process.poll() is None:
            self._process.kill()
        self._process.wait()


class FunctionPool:
    """The execution environments of one function, up to its concurrency limit."""

    def __init__(self, config: FunctionConfig, spawn: Callable[[FunctionConfig], ExecutionEnvironment]):
        self.config = config
        self._spawn = spawn
        self._idle: list[ExecutionEnvironment] = []
        self._running: set[ExecutionEnvironment] = set()
        self._count = 0
        self._ready = threading.Condition()

    def acquire(self) -> tuple[ExecutionEnvironment, bool]:
        with self._ready:
            while True:
                while not self._idle and self._count >= self.config.concurrency:
                    self._ready.wait()
                if not self._idle:
                    break
                environment = self._idle.pop()
                if environment.alive:
                    self._running.add(environment)
                    return environment, False
                self._count -= 1  # it died while idle (a crash): Lambda starts a new one
            self._count += 1
        try:
            environment = self._spawn(self.config)
            with self._ready:
                self._running.add(environment)
            return environment, True
        except BaseException:
            with self._ready:
                self._count -= 1
                self._ready.notify()
            raise

    def release(self, environment: ExecutionEnvironment) -> None:
        with self._ready:
            self._running.discard(environment)
            if environment.alive:
                self._idle.append(environment)
            else:
                self._count -= 1
            self._ready.notify()

    def close(self) -> None:
        with self._ready:
            idle, self._idle = self._idle, []
            self._count -= len(idle)
        for environment in idle:
            environment.kill()

    def crash(self) -> int:
        """Kill every environment of the function, busy or idle, as a crash would."""
        with self._ready:
            victims = [*self._running, *self._idle]
        for environment in victims:
            environment.kill()
        return len(victims)

    @property
    def size(self) -> int:
        return self._count

    @property
    def busy(self) -> int:
        """Environments running an invocation now (not those still starting)."""
        with self._ready:
            return len(self._running)


class LambdaService:
    """Runs invocations against the functions that moto's Lambda backend holds."""

    def __init__(
        self,
        workdir: Path,
        base_env: dict[str, str],
        log_sink: LogSink,
        function_lookup: Callable[[str, str | None], Any],
        layer_lookup: Callable[[str], Any],
        dead_letter: Callable[[str, dict[str, Any]], None],
        time_scale: float,
        faults: Faults | None = None,
        segment_sink: Callable[[dict[str, Any]], None] = lambda segment: None,
    ) -> None:
        self._faults = faults or Faults()
        self._segment_sink = segment_sink
        self._workdir = workdir
        self._base_env = base_env
        self._log_sink = log_sink
        self._function_lookup = function_lookup
        self._layer_lookup = layer_lookup
        self._dead_letter = dead_letter
        self._time_scale = time_scale
        self._pools: dict[str, FunctionPool] = {}
        self._lock = threading.Lock()
        self._template: EnvironmentTemplate | None = None
        self._template_lock = threading.Lock()
        self._closed = False
        self.records: list[InvocationRecord] = []

    # --- configuration -------------------------------------------------
    def _config(self, fn: Any) -> FunctionConfig:
        code_dir = self._workdir / "functions" / fn.function_name / fn.code_sha_256[:12].replace("/", "_")
        if not code_dir.exists():
            _extract(fn.code_bytes, code_dir)
        paths: list[str] = [str(code_dir)]
        for layer in fn.layers:
            arn = layer["Arn"]
            if is_provided_layer(arn):
                continue
            version = self._layer_lookup(arn)
            layer_dir = self._workdir / "layers" / arn.split(":layer:")[1].replace(":", "-")
            if not layer_dir.exists():
                _extract(version.code_bytes, layer_dir)
            paths.append(str(layer_dir / "python"))
        logging_config = getattr(fn, "logging_config", None) or {}
        dead_letter = (getattr(fn, "dead_letter_config", None) or {}).get("TargetArn")
        return FunctionConfig(
            name=fn.function_name,
            arn=fn.function_arn,
            handler=fn.handler,
            environment={k: str(v) for k, v in (fn.environment_vars or {}).items()},
            timeout_seconds=float(fn.timeout),
            memory_mb=int(fn.memory_size),
            code_dir=code_dir,
            paths=tuple(paths),
            log_group=logging_config.get("LogGroup") or f"/aws/lambda/{fn.function_name}",
            log_format=logging_config.get("LogFormat") or "Text",
            system_log_level=logging_config.get("SystemLogLevel") or "INFO",
            concurrency=int(fn.reserved_concurrency or DEFAULT_CONCURRENCY),
            dead_letter_arn=dead_letter,
            async_max_retries=len(ASYNC_RETRY_DELAYS_SECONDS),
        )

    def _pool(self, name_or_arn: str, qualifier: str | None) -> FunctionPool:
        fn = self._function_lookup(name_or_arn, qualifier)
        key = f"{fn.function_arn}@{fn.code_sha_256}"
        with self._lock:
            pool = self._pools.get(key)
            if pool is None:
                pool = self._pools[key] = FunctionPool(self._config(fn), self._spawn)
            return pool

    def _spawn(self, config: FunctionConfig) -> ExecutionEnvironment:
        return ExecutionEnvironment(
            config, self._base_env, self._log_sink, self._environment_template(config)
        )

    def _environment_template(self, config: FunctionConfig) -> EnvironmentTemplate | None:
        """The template to fork ``config``'s environments from, started at the first call; None
        when they must be spawned (a bundled package it holds, no template, or the cloud is closing)."""
        if not USE_TEMPLATE:
            return None
        with self._template_lock:
            if self._closed:
                return None
            if self._template is None:
                self._template = EnvironmentTemplate(self._base_env, log=_LOGGER.warning)
                self._template.start()
            template = self._template
        if not template.alive or template.shadows(config.paths):
            return None
        return template

    @property
    def template(self) -> EnvironmentTemplate | None:
        """The environment template, once the first cold start has started it."""
        return self._template

    # --- invocation ----------------------------------------------------
    def invoke(self, name_or_arn: str, qualifier: str | None, event: Any, trace_header: str = "") -> Any:
        """Invoke synchronously; raise :class:`InvocationError` when the function fails."""
        pool = self._pool(name_or_arn, qualifier)
        request_id = str(uuid.uuid4())
        try:
            environment, cold = pool.acquire()
        except InvocationError as exc:  # the init phase failed
            self.records.append(
                InvocationRecord(pool.config.name, request_id, True, 0.0, 0.0, exc.payload.get("errorType"))
            )
            raise
        error: dict[str, Any] | None = None
        caller = traces.parse_header(trace_header)
        trace_id, segment_id = caller.get("Root") or traces.new_trace_id(), traces.new_segment_id()
        started, wall_started = time.perf_counter(), time.time()
        try:
            result = environment.invoke(event, request_id, traces.header(trace_id, segment_id))
            if self._faults.strike("lambda.crash", pool.config.name):
                # the work is done, the environment dies before its answer leaves it
                environment.kill()
                raise InvocationError(
                    {
                        "errorType": "Runtime.ExitError",
                        "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: "
                        "signal: killed",
                    }
                )
            return result
        except InvocationError as exc:
            error = exc.payload
            raise
        finally:
            error_type = error.get("errorType") if error else None
            self._segment_sink(
                traces.function_segment(
                    pool.config.name,
                    pool.config.arn,
                    trace_id,
                    segment_id,
                    caller.get("Parent"),
                    wall_started,
                    time.time(),
                    cold,
                    error,
                )
            )
            duration = (time.perf_counter() - started) * 1000
            init_ms = environment.init_ms if cold else 0.0
            used_mb = _peak_memory_mb(environment.pid)
            for record in platform_end(pool.config, request_id, duration, init_ms, used_mb, error_type):
                environment.log(record)
            environment.flush_logs()
            pool.release(environment)
            self.records.append(
                InvocationRecord(pool.config.name, request_id, cold, init_ms, duration, error_type)
            )

    def invoke_async(self, name_or_arn: str, qualifier: str | None, event: Any) -> None:
        """Queue an asynchronous invocation: Lambda's retries, then the dead-letter target."""
        pool = self._pool(name_or_arn, qualifier)

        def run() -> None:
            delays = ASYNC_RETRY_DELAYS_SECONDS[: pool.config.async_max_retries]
            error: dict[str, Any] = {}
            for attempt in range(len(delays) + 1):
                if attempt:
                    time.sleep(delays[attempt - 1] * self._time_scale)
                try:
                    self.invoke(name_or_arn, qualifier, event)
                    return
                except InvocationError as exc:
                    error = exc.payload
            if pool.config.dead_letter_arn:
                self._dead_letter(pool.config.dead_letter_arn, event)
                return
            record = {
                "level": "ERROR",
                "message": "asynchronous invocation dropped after its retries: no dead-letter queue",
                **error,
            }
            self._log_sink(
                pool.config.log_group,
                "async-invocation-failures",
                [(int(time.time() * 1000), json.dumps(record))],
            )

        threading.Thread(target=run, daemon=True, name=f"async:{pool.config.name}").start()

    def crash(self, name_or_arn: str) -> int:
        """Chaos: kill the execution environments of a function; its calls in flight fail."""
        fn = self._function_lookup(name_or_arn, None)
        with self._lock:
            pools = [p for p in self._pools.values() if p.config.arn == fn.function_arn]
        return sum(pool.crash() for pool in pools)

    def busy(self, name_or_arn: str) -> int:
        """How many calls of a function are running now."""
        fn = self._function_lookup(name_or_arn, None)
        with self._lock:
            pools = [p for p in self._pools.values() if p.config.arn == fn.function_arn]
        return sum(p.busy for p in pools)

    def close(self) -> None:
        """Stop every execution environment, idle or running, and the template."""
        with self._template_lock:
            self._closed = True
            template, self._template = self._template, None
        with self._lock:
            pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            pool.close()
            pool.crash()  # the ones running an invocation too: none outlives the cloud
        if template is not None:
            template.close()


# --- the platform's records: START, END and REPORT ------------------------------------------
# Lambda ("Configuring JSON and plain text log formats", "Log-level filtering"): a function's system
# logs are plain text (START, END, REPORT lines) in the Text format; in the JSON format they are
# JSON records, {"time", "type": "platform.start" | "platform.report", "record"}, and "Lambda
# sends logs at the selected level and lower": at the default system log level, INFO, "Lambda
# automatically sends "start" and "report" log messages"; at WARN it sends neither.
SYSTEM_LOG_LEVELS = ("DEBUG", "INFO", "WARN")  # most detail first
PLATFORM_RECORD_LEVEL = "INFO"  # the level of platform.start and platform.report


def _json_system_logs(config: FunctionConfig) -> bool:
    return config.log_format.upper() == "JSON"


def _sends_platform_records(config: FunctionConfig) -> bool:
    level = config.system_log_level.upper()
    chosen = SYSTEM_LOG_LEVELS.index(level) if level in SYSTEM_LOG_LEVELS else 1
    return SYSTEM_LOG_LEVELS.index(PLATFORM_RECORD_LEVEL) >= chosen


def _record(kind: str, record: dict[str, Any]) -> str:
    now = datetime.now(UTC)
    return json.dumps(
        {"time": f"{now:%Y-%m-%dT%H:%M:%S}.{now.microsecond // 1000:03d}Z", "type": kind, "record": record},
        separators=(",", ":"),  # compact, as Lambda writes them
    )


def platform_start(config: FunctionConfig, request_id: str) -> list[str]:
    """What Lambda writes when an invocation starts."""
    if not _json_system_logs(config):
        return [f"START RequestId: {request_id} Version: $LATEST"]
    if not _sends_platform_records(config):
        return []
    return [
        _record("platform.start", {"requestId": request_id, "functionArn": config.arn, "version": "$LATEST"})
    ]


def platform_end(
    config: FunctionConfig,
    request_id: str,
    duration_ms: float,
    init_ms: float,
    max_memory_mb: int,
    error_type: str | None,
) -> list[str]:
    """What Lambda writes when an invocation ends: END and REPORT, or the platform.report record."""
    billed_ms = int(duration_ms) + 1
    if not _json_system_logs(config):
        report = (
            f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\t"
            f"Billed Duration: {billed_ms} ms\tMemory Size: {config.memory_mb} MB\t"
            f"Max Memory Used: {max_memory_mb} MB"
        )
        report += f"\tInit Duration: {init_ms:.2f} ms" if init_ms else ""
        return [f"END RequestId: {request_id}", report]
    if not _sends_platform_records(config):
        return []
    metrics: dict[str, Any] = {
        "durationMs": round(duration_ms, 3),
        "billedDurationMs": billed_ms,
        "memorySizeMB": config.memory_mb,
        "maxMemoryUsedMB": max_memory_mb,
    }
    if init_ms:
        metrics["initDurationMs"] = round(init_ms, 3)
    status = "success" if error_type is None else "timeout" if error_type == "Sandbox.Timedout" else "error"
    record: dict[str, Any] = {"requestId": request_id, "metrics": metrics, "status": status}
    if error_type is not None:
        record["errorType"] = error_type
    return [_record("platform.report", record)]


def _peak_memory_mb(pid: int) -> int:
    """The execution environment's peak resident memory (Linux's VmHWM), in MB; 0 where unknown."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return max(1, int(line.split()[1]) // 1024)
    return 0


def _extract(zip_bytes: bytes | str, target: Path) -> None:
    if isinstance(zip_bytes, str):
        zip_bytes = base64.b64decode(zip_bytes)
    tmp = target.with_name(target.name + f".tmp{os.getpid()}{threading.get_ident()}")
    with zipfile.ZipFile(io.BytesIO(zip_bytes)) as archive:
        archive.extractall(tmp)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        tmp.rename(target)
    except OSError:  # another thread extracted the same code first
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
