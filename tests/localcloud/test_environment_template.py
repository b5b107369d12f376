"""Execution environments forked from the environment template are the ones a plain spawn starts.

The functions here are fakes of moto's (the attributes :class:`LambdaService` reads), with
real code zips and layers: no local cloud is needed to start, fork, kill and stop environments.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import time
import zipfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import localcloud.lambdas
from localcloud.lambdas import InvocationError, LambdaService

ACCOUNT = "123456789012"
BASE_ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "TZ": ":UTC", "AWS_REGION": "us-east-1"}
PROBE = """
import os, sys, time

calls = 0


def handler(event, context):
    global calls
    calls += 1
    if event.get("exit") is not None:
        os._exit(event["exit"])
    time.sleep(event.get("sleep", 0))
    print("hello from", os.getpid(), flush=True)
    loaded = {}
    for name in event.get("imports", []):
        module = __import__(name)
        loaded[name] = [getattr(module, "BUNDLED", False), module.__file__]
    return {
        "environ": dict(os.environ),
        "path": sys.path,
        "cwd": os.getcwd(),
        "pid": os.getpid(),
        "ppid": os.getppid(),
        "tzname": list(time.tzname),
        "argv": sys.argv,
        "calls": calls,
        "log_stream": context.log_stream_name,
        "loaded": loaded,
    }
"""
SHADOW = "BUNDLED = True\n"


def zipped(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def function(name: str, files: dict[str, str], **config: Any) -> SimpleNamespace:
    code = zipped(files)
    return SimpleNamespace(
        function_name=name,
        function_arn=f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{name}",
        code_sha_256=hashlib.sha256(code).hexdigest(),
        code_bytes=code,
        layers=config.get("layers", []),
        handler=config.get("handler", "handler.handler"),
        environment_vars=config.get("env", {"SETTING": "one"}),
        timeout=config.get("timeout", 3),
        memory_size=128,
        logging_config=None,
        dead_letter_config=None,
        reserved_concurrency=None,
    )


BUNDLED_LAYER = f"arn:aws:lambda:us-east-1:{ACCOUNT}:layer:bundled-boto3:1"
LAYERS = {BUNDLED_LAYER: SimpleNamespace(code_bytes=zipped({"python/boto3/__init__.py": SHADOW}))}
FUNCTIONS = {
    fn.function_name: fn
    for fn in (
        function("probe", {"handler.py": PROBE}),
        function("tz", {"handler.py": PROBE}, env={"TZ": "XYZ+3"}),
        function("latin", {"handler.py": PROBE}, env={"LANG": "C"}),
        function("bundles-pydantic", {"handler.py": PROBE, "pydantic/__init__.py": SHADOW}),
        function("layer-boto3", {"handler.py": PROBE}, layers=[{"Arn": BUNDLED_LAYER}]),
        function("no-module", {"handler.py": PROBE}, handler="missing.handler"),
        function("no-handler", {"handler.py": PROBE}, handler="handler.absent"),
    )
}


class Logs:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, group: str, stream: str, lines: list[tuple[int, str]]) -> None:
        self.lines += [message for _, message in lines]


def service(workdir: Path, logs: Logs | None = None) -> LambdaService:
    return LambdaService(
        workdir=workdir,
        base_env=BASE_ENV,
        log_sink=logs or Logs(),
        function_lookup=lambda name, qualifier: FUNCTIONS[name],
        layer_lookup=lambda arn: LAYERS[arn],
        dead_letter=lambda arn, event: None,
        time_scale=0.01,
    )


@pytest.fixture
def lambdas(tmp_path: Path) -> Iterator[LambdaService]:
    running = service(tmp_path)
    yield running
    running.close()


def forked(lambdas: LambdaService, answer: dict[str, Any]) -> bool:
    template = lambdas.template
    return template is not None and answer["ppid"] == template.pid


def gone(pid: int, within: float = 5.0) -> bool:
    """The process has exited and been reaped (no zombie left either)."""
    deadline = time.monotonic() + within
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    return not Path(f"/proc/{pid}").exists()


def test_a_forked_environment_has_exactly_the_functions_environment(
    lambdas: LambdaService, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a variable in the local cloud's own environment
    monkeypatch.setenv("LEAK_CANARY", "the cloud's")
    # When a function is invoked for the first time
    answer = lambdas.invoke("probe", None, {})
    # Then its environment was forked from the template
    assert forked(lambdas, answer)
    # And its os.environ is the function's, as Lambda sets it, and nothing of the parent's
    config = lambdas._pool("probe", None).config
    expected = localcloud.lambdas.function_environment(config, BASE_ENV, answer["log_stream"])
    environ = answer["environ"]
    assert environ.pop("_X_AMZN_TRACE_ID")  # the invocation's, set by the runtime
    assert environ == expected
    # And it runs in its code folder, under the worker's name
    assert answer["cwd"] == str(config.code_dir)
    assert answer["argv"] == [str(localcloud.lambdas.WORKER)]


def test_a_forked_environment_matches_a_spawned_one(
    tmp_path: Path, lambdas: LambdaService, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the same function forked from the template and spawned as python -I _worker.py
    fork = lambdas.invoke("tz", None, {})
    monkeypatch.setattr(localcloud.lambdas, "USE_TEMPLATE", False)
    plain = service(tmp_path / "plain")
    try:
        spawn = plain.invoke("tz", None, {})
    finally:
        plain.close()
    assert forked(lambdas, fork) and not forked(lambdas, spawn)
    # Then both see the same import path, the function's code first
    config = lambdas._pool("tz", None).config
    assert fork["path"][: len(config.paths)] == list(config.paths)
    assert fork["path"][len(config.paths) :] == spawn["path"][len(config.paths) :]
    # And the time zone of the function's TZ, not the template's
    assert fork["tzname"] == spawn["tzname"] == ["XYZ", "XYZ"]


@pytest.mark.parametrize(
    ("name", "package", "where"),
    [("bundles-pydantic", "pydantic", "code"), ("layer-boto3", "boto3", "layer")],
)
def test_a_bundled_package_the_template_holds_forces_a_plain_spawn(
    lambdas: LambdaService, name: str, package: str, where: str
) -> None:
    # Given a function whose code folder or layer bundles a package the template has imported
    lambdas.invoke("probe", None, {})  # the template is running
    assert lambdas.template is not None and package in lambdas.template.modules
    # When it is invoked
    answer = lambdas.invoke(name, None, {"imports": [package]})
    # Then its environment was spawned, and the function imported its own copy (Lambda: the
    # function's packages come before the runtime's)
    assert not forked(lambdas, answer)
    bundled, path = answer["loaded"][package]
    assert bundled
    folder = lambdas._pool(name, None).config.paths[0 if where == "code" else 1]
    assert path.startswith(folder)


def test_a_function_with_another_locale_is_spawned(lambdas: LambdaService) -> None:
    # Given a function that sets LANG (the interpreter reads it when it starts)
    # When it is invoked
    answer = lambdas.invoke("latin", None, {})
    # Then it got an interpreter of its own, with its locale
    assert not forked(lambdas, answer)
    assert answer["environ"]["LANG"] == "C"


def test_a_killed_environment_is_detected_and_replaced(lambdas: LambdaService) -> None:
    # Given a warm forked environment
    first = lambdas.invoke("probe", None, {})
    assert forked(lambdas, first)
    # When it is killed from outside (it is the template's child, not ours)
    os.kill(first["pid"], signal.SIGKILL)
    assert gone(first["pid"])  # the template reaped it
    # Then the next call starts a fresh environment
    again = lambdas.invoke("probe", None, {})
    assert again["pid"] != first["pid"] and again["calls"] == 1
    assert [r.cold_start for r in lambdas.records] == [True, True]


def test_an_environment_dying_in_a_call_fails_it_with_its_exit_status(lambdas: LambdaService) -> None:
    # Given a call in flight in a forked environment
    warm = lambdas.invoke("probe", None, {})
    with ThreadPoolExecutor(max_workers=1) as pool:
        call = pool.submit(lambda: lambdas.invoke("probe", None, {"sleep": 5}))
        deadline = time.monotonic() + 10
        while lambdas.busy("probe") == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.5)  # the request has reached the handler
        # When its environment is killed
        os.kill(warm["pid"], signal.SIGKILL)
        # Then the call fails as Lambda reports a runtime killed by a signal
        with pytest.raises(InvocationError) as killed:
            call.result(timeout=10)
    assert killed.value.payload["errorType"] == "Runtime.ExitError"
    assert killed.value.payload["errorMessage"].endswith("exit status -9")
    # And a handler that exits on its own reports its status, as a spawned one does
    with pytest.raises(InvocationError) as exited:
        lambdas.invoke("probe", None, {"exit": 3})
    assert exited.value.payload["errorMessage"].endswith("exit status 3")


def test_crash_kills_forked_environments(lambdas: LambdaService) -> None:
    # Given a forked environment
    first = lambdas.invoke("probe", None, {})
    # When chaos crashes the function
    assert lambdas.crash("probe") == 1
    # Then its process is gone and the next call is a cold start
    assert gone(first["pid"])
    assert lambdas.invoke("probe", None, {})["calls"] == 1


@pytest.mark.parametrize(
    ("name", "error_type"),
    [("no-module", "Runtime.ImportModuleError"), ("no-handler", "Runtime.HandlerNotFound")],
)
def test_an_init_error_is_lambdas(lambdas: LambdaService, name: str, error_type: str) -> None:
    # Given a function whose handler cannot be loaded
    # When it is invoked in a forked environment
    with pytest.raises(InvocationError) as failed:
        lambdas.invoke(name, None, {})
    # Then the init fails with Lambda's error type, and the invocation is recorded as a cold one
    assert failed.value.payload["errorType"] == error_type
    assert lambdas.template is not None and lambdas.template.alive
    assert [(r.cold_start, r.error_type) for r in lambdas.records] == [(True, error_type)]


def test_an_init_past_its_limit_is_retried_in_a_forked_environment(
    lambdas: LambdaService, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an init limit no environment can start within
    lambdas.invoke("tz", None, {})  # the template is running
    monkeypatch.setattr(localcloud.lambdas, "INIT_TIMEOUT_SECONDS", 0.001)
    # When a function is invoked for the first time
    answer = lambdas.invoke("probe", None, {})
    # Then the retried init (with the function's timeout) ran, forked, and so did the handler
    assert forked(lambdas, answer) and answer["calls"] == 1


def test_logs_and_the_cold_start_record_come_from_a_forked_environment(tmp_path: Path) -> None:
    # Given a function whose handler prints
    logs = Logs()
    lambdas = service(tmp_path, logs)
    try:
        # When it is invoked twice
        first = lambdas.invoke("probe", None, {})
        lambdas.invoke("probe", None, {})
    finally:
        lambdas.close()
    # Then its output reached its log stream, with one REPORT of a cold start
    assert forked(lambdas, first) or lambdas.template is None
    assert f"hello from {first['pid']}" in logs.lines
    reports = [line for line in logs.lines if line.startswith("REPORT")]
    assert len(reports) == 2 and sum("Init Duration" in r for r in reports) == 1
    assert [r.cold_start for r in lambdas.records] == [True, False]
    assert lambdas.records[0].init_ms > 0


def test_a_dead_template_falls_back_to_spawning(lambdas: LambdaService) -> None:
    # Given a template that has died
    lambdas.invoke("probe", None, {})
    template = lambdas.template
    assert template is not None and template.pid is not None
    os.kill(template.pid, signal.SIGKILL)
    assert gone(template.pid)
    # When a function needs a new environment
    answer = lambdas.invoke("tz", None, {})
    # Then it is spawned, and works
    assert answer["ppid"] == os.getpid()
    assert not template.alive


def test_closing_the_service_leaves_no_process_behind(tmp_path: Path) -> None:
    # Given forked and spawned environments, idle and running, and the template
    lambdas = service(tmp_path)
    idle = [lambdas.invoke(name, None, {})["pid"] for name in ("probe", "bundles-pydantic")]
    template = lambdas.template
    assert template is not None and template.pid is not None
    with ThreadPoolExecutor(max_workers=1) as pool:
        call = pool.submit(lambda: lambdas.invoke("tz", None, {"sleep": 30}))
        deadline = time.monotonic() + 10
        while lambdas.busy("tz") == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        running = [p for p in os.listdir("/proc") if p.isdigit() and _parent(int(p)) == template.pid]
        # When the service is closed
        lambdas.close()
        # Then the running call fails as its runtime exits
        with pytest.raises(InvocationError):
            call.result(timeout=10)
    # And no process is left, not even a zombie
    for pid in [*idle, *map(int, running), template.pid]:
        assert gone(pid), f"process {pid} outlived the service"
    # And nothing is forked afterwards
    assert lambdas.invoke("probe", None, {})["ppid"] == os.getpid()
    lambdas.close()


def _parent(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rpartition(")")[2].split()[1])


def test_the_template_preloads_no_powertools_no_xray_and_no_function_code(lambdas: LambdaService) -> None:
    # Given the running template
    lambdas.invoke("probe", None, {})
    assert lambdas.template is not None
    # Then it holds the SDK and pydantic, and nothing that configures itself from the environment
    modules = lambdas.template.modules
    assert {"boto3", "botocore", "pydantic", "pydantic_core"} <= modules
    assert not modules & {"aws_lambda_powertools", "aws_xray_sdk", "aiflows_runtime", "handler"}
    assert json.dumps(sorted(modules))  # names only
