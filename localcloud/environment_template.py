"""A fork server for Lambda execution environments: one pre-initialized template process.

A cold start of an execution environment (``_worker.py``) is mostly the import of the
same third-party packages by every function: botocore, boto3, pydantic and what they pull
in. The template process imports them once (``python -I``, as a worker runs), then serves
spawn requests, single-threaded: each request carries a function's environment, its
working folder and the child's stdin, stdout and stderr (``socket.send_fds``). It forks;
the child takes the pipes as fds 0, 1 and 2, closes every other fd, replaces
``os.environ`` with the function's environment (and the time zone with it), changes
folder and runs the worker's main loop, as ``python -I _worker.py`` would have.

What the template preloads is environment-independent and configures nothing at import
(no ``os.environ`` read at module level, no handler, no client): Powertools is left out
because its package ``__init__`` reads ``POWERTOOLS_DEBUG`` and registers a botocore
initializer, the X-Ray SDK because it configures itself from the environment, and no
function's code is imported here. What a forked child still shares with the template:
the interpreter's hash seed (``random`` reseeds after a fork) and ``__main__`` (this module).

The protocol, on one ``SOCK_SEQPACKET`` socket pair, one JSON document per message:

- template to cloud, once: ``{"ready": true, "modules": [...]}``, the top-level names of
  every module it holds (a function bundling one of them must not be forked: see
  :meth:`EnvironmentTemplate.shadows`);
- cloud to template: ``{"env": {...}, "cwd": "..."}`` with three fds; the answer is
  ``{"pid": N}`` with the child's pidfd, or ``{"error": "..."}``;
- template to cloud, whenever a child exits (it reaps each at once, so none is left a
  zombie): ``{"exited": N, "returncode": R}``, ``R`` as ``subprocess`` tells it.

When the cloud's end closes (``EnvironmentTemplate.close``, or the cloud process died),
the template kills every child still running, reaps them and exits.

This file is also the template's program: it imports only the standard library.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import queue
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import IO, Any

WORKER = Path(__file__).with_name("_worker.py")
# What a cold start imports in every function (python -X importtime over each handler, and the
# clients of its first invocation): these modules and what they import (pydantic_core,
# annotated_types, typing_extensions, typing_inspection, urllib3, dateutil, jmespath,
# s3transfer, six, certifi). Each reads the environment only when called, never at import.
PRELOAD = (
    "boto3",
    "boto3.dynamodb.types",
    "boto3.s3.inject",
    "botocore.session",
    "botocore.client",
    "pydantic",
    "pydantic.main",
    "pydantic.fields",
    "pydantic.functional_validators",
    "pydantic.networks",
    "pydantic.type_adapter",
    "pydantic.plugin._loader",
)
# What an interpreter reads of the environment when it starts, under -I (which ignores PYTHON*):
# the locale of its text streams and file names. A function that sets another is not forked.
INTERPRETER_VARIABLES = ("LANG", "LC_ALL", "LC_CTYPE")
MESSAGE_BYTES = 1 << 20
READY_TIMEOUT_SECONDS = 60.0  # the preload, on a busy machine
SPAWN_TIMEOUT_SECONDS = 10.0  # a fork answers in milliseconds: past this the template is stuck
REPORT_TIMEOUT_SECONDS = 2.0  # from a child's exit to the template's report of its status
MODULE_SUFFIXES = (".py", ".pyc", ".so", ".pyd")


# --- the cloud's side ------------------------------------------------------------------------
class TemplateChild:
    """An execution environment forked by the template, with the part of ``subprocess.Popen``
    the local cloud uses. It is the template's child, not ours: it is signalled and watched
    through a pidfd (no pid reuse can confuse it), and its exit status comes from the template."""

    def __init__(self, pid: int, pidfd: int) -> None:
        self.pid = pid
        self.returncode: int | None = None
        self.stdin: IO[str] | None = None
        self.stdout: IO[str] | None = None
        self.stderr: IO[str] | None = None
        self._pidfd = pidfd
        self._reported: int | None = None
        self._report = threading.Event()  # the template reported the exit, or will never
        self._killed = False
        self._lock = threading.Lock()

    def reported(self, returncode: int | None) -> None:
        """The template's report of the exit status (None: the template is gone, no report comes)."""
        if returncode is not None:
            self._reported = returncode
        self._report.set()

    def _exited(self, timeout: float | None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._lock:
                if self.returncode is not None:
                    return True
                poller = select.poll()
                poller.register(self._pidfd, select.POLLIN)
            # in slices: another thread may settle the exit (and close the pidfd) meanwhile
            left = 0.1 if deadline is None else min(0.1, max(0.0, deadline - time.monotonic()))
            if poller.poll(int(left * 1000)):
                break
            if deadline is not None and time.monotonic() >= deadline:
                return False
        self._report.wait(REPORT_TIMEOUT_SECONDS)
        with self._lock:
            if self.returncode is None:
                self.returncode = self._reported
                if self.returncode is None:  # the template died before it could tell
                    self.returncode = -signal.SIGKILL if self._killed else -1
                os.close(self._pidfd)
        return True

    def poll(self) -> int | None:
        self._exited(0)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if not self._exited(timeout):
            raise subprocess.TimeoutExpired(f"pid {self.pid}", timeout or 0.0)
        assert self.returncode is not None
        return self.returncode

    def kill(self) -> None:
        with self._lock:
            if self.returncode is not None:
                return
            self._killed = True
            try:
                signal.pidfd_send_signal(self._pidfd, signal.SIGKILL)
            except ProcessLookupError:  # it has exited already
                pass


class EnvironmentTemplate:
    """The local cloud's handle on its template process: start it, fork environments from it, stop it."""

    def __init__(self, env: dict[str, str], log: Callable[[str], None] = lambda line: None) -> None:
        """``env``: the template's own environment; only INTERPRETER_VARIABLES of it matter."""
        self._env = {k: v for k, v in env.items() if k in INTERPRETER_VARIABLES}
        self._log = log
        self._lock = threading.Lock()  # one spawn request at a time: its answer is the next one
        self._answers: queue.Queue[TemplateChild | dict[str, Any] | None] = queue.Queue()
        self._children: dict[int, TemplateChild] = {}
        self._dead = threading.Event()
        self._process: subprocess.Popen[bytes] | None = None
        self._channel: socket.socket | None = None
        self.modules: frozenset[str] = frozenset()
        self._shadowing: dict[tuple[str, ...], bool] = {}

    def start(self) -> bool:
        """Start the template and wait for its preload; False (and a dead template) when it fails."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self._process = subprocess.Popen(  # noqa: S603 - our own program, fixed argv
                [sys.executable, "-I", str(Path(__file__)), str(theirs.fileno())],
                env=self._env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                pass_fds=(theirs.fileno(),),
            )
        except OSError as exc:
            ours.close()
            self._log(f"the environment template did not start: {exc}")
            self._dead.set()
            return False
        finally:
            theirs.close()
        self._channel = ours
        threading.Thread(target=self._read_stderr, args=(self._process,), daemon=True).start()
        threading.Thread(target=self._read_answers, daemon=True, name="environment-template").start()
        try:
            hello = self._answers.get(timeout=READY_TIMEOUT_SECONDS)
        except queue.Empty:
            hello = None
        if not isinstance(hello, dict) or not hello.get("ready"):
            self._log("the environment template did not get ready: environments are spawned")
            self.close()
            return False
        self.modules = frozenset(hello["modules"])
        return True

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    @property
    def alive(self) -> bool:
        return not self._dead.is_set() and self._process is not None and self._process.poll() is None

    def shadows(self, paths: tuple[str, ...]) -> bool:
        """Whether a folder of ``paths`` holds a top-level package or module the template has
        imported: forked, the function would get the template's copy instead of its own."""
        if paths not in self._shadowing:
            self._shadowing[paths] = any(top_level_names(Path(p)) & self.modules for p in paths)
        return self._shadowing[paths]

    def forks(self, env: dict[str, str]) -> bool:
        """Whether an environment with ``env`` can be forked from the template as it started."""
        return self.alive and all(env.get(k) == self._env.get(k) for k in INTERPRETER_VARIABLES)

    def spawn(self, env: dict[str, str], cwd: Path) -> TemplateChild | None:
        """Fork an execution environment with text pipes on its stdin, stdout and stderr;
        None when the template cannot (the caller spawns the worker itself)."""
        if not self.forks(env):
            return None
        stdin_r, stdin_w = os.pipe()
        stdout_r, stdout_w = os.pipe()
        stderr_r, stderr_w = os.pipe()
        request = json.dumps({"env": env, "cwd": str(cwd)}).encode()
        answer: TemplateChild | dict[str, Any] | None = None
        with self._lock:
            try:
                assert self._channel is not None
                socket.send_fds(self._channel, [request], [stdin_r, stdout_w, stderr_w])
                answer = self._answers.get(timeout=SPAWN_TIMEOUT_SECONDS)
            except (OSError, queue.Empty) as exc:
                self._log(f"the environment template does not answer ({exc!r}): environments are spawned")
                self._stop_process()
            finally:
                for fd in (stdin_r, stdout_w, stderr_w):
                    os.close(fd)
        if not isinstance(answer, TemplateChild):
            if isinstance(answer, dict):
                self._log(f"the environment template could not fork: {answer.get('error')}")
            for fd in (stdin_w, stdout_r, stderr_r):
                os.close(fd)
            return None
        # the environment's ends, open as long as it lives (as subprocess.Popen's pipes)
        answer.stdin = open(stdin_w, "w", encoding="utf-8")
        answer.stdout = open(stdout_r, encoding="utf-8")
        answer.stderr = open(stderr_r, encoding="utf-8")
        return answer

    def _read_answers(self) -> None:
        channel = self._channel
        assert channel is not None
        try:
            while True:
                message, fds, _, _ = socket.recv_fds(channel, MESSAGE_BYTES, 1)
                if not message:
                    break
                answer = json.loads(message)
                if "exited" in answer:
                    child = self._children.pop(answer["exited"], None)
                    if child is not None:
                        child.reported(answer["returncode"])
                elif "pid" in answer and fds:
                    os.set_inheritable(fds[0], False)
                    # registered here, before the next message (its exit report) is read
                    child = self._children[answer["pid"]] = TemplateChild(answer["pid"], fds[0])
                    self._answers.put(child)
                else:
                    self._answers.put(answer)
        except OSError:
            pass
        self._dead.set()
        self._answers.put(None)  # wake a spawn waiting for its answer
        if self._process is not None:  # it has closed its end: it has exited, or is about to
            try:
                self._process.wait(timeout=10)  # reaped, never left a zombie
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        for child in list(self._children.values()):
            child.reported(None)
        self._children.clear()

    def _read_stderr(self, process: subprocess.Popen[bytes]) -> None:
        assert process.stderr is not None
        for line in process.stderr:
            self._log(f"environment template: {line.decode(errors='replace').rstrip()}")

    def _stop_process(self) -> None:
        self._dead.set()
        if self._channel is not None:
            try:
                self._channel.shutdown(socket.SHUT_RDWR)  # the template sees its end close
            except OSError:
                pass
        if self._process is not None:
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()

    def close(self) -> None:
        """Stop the template; it kills and reaps the environments it forked before it exits."""
        with self._lock:
            self._stop_process()
            if self._channel is not None:
                self._channel.close()
                self._channel = None


def top_level_names(folder: Path) -> set[str]:
    """The top-level packages and modules an import path entry offers."""
    try:
        entries = list(folder.iterdir())
    except OSError:
        return set()
    names = set()
    for entry in entries:
        if entry.is_dir():
            names.add(entry.name)
        elif entry.name.endswith(MODULE_SUFFIXES):
            names.add(entry.name.split(".", 1)[0])
    return names


# --- the template's side -------------------------------------------------------------------------
def _load_worker() -> ModuleType:
    spec = importlib.util.spec_from_file_location("_worker", WORKER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _send(channel: socket.socket, message: dict[str, Any], fds: list[int] | None = None) -> None:
    socket.send_fds(channel, [json.dumps(message).encode()], fds or [])


def _serve(channel: socket.socket) -> tuple[dict[str, Any], list[int]] | None:
    """Fork an environment for each request until the cloud hangs up. Returns None in the
    template when it is done, and the request with its fds in a forked child."""
    children: dict[int, int] = {}  # pidfd -> pid
    poller = select.poll()
    poller.register(channel, select.POLLIN)
    try:
        while True:
            for fd, _ in poller.poll():
                if fd in children:  # a child exited: reap it, report its status
                    pid = children.pop(fd)
                    poller.unregister(fd)
                    os.close(fd)
                    _, status = os.waitpid(pid, 0)
                    _send(channel, {"exited": pid, "returncode": os.waitstatus_to_exitcode(status)})
                    continue
                message, fds, _, _ = socket.recv_fds(channel, MESSAGE_BYTES, 3)
                if not message:
                    _stop(children)
                    return None
                if len(fds) != 3:
                    for received in fds:
                        os.close(received)
                    _send(channel, {"error": f"a spawn request takes 3 fds, not {len(fds)}"})
                    continue
                sys.stderr.flush()
                try:
                    pid = os.fork()
                except OSError as exc:
                    pid = -1
                    _send(channel, {"error": str(exc)})
                if pid == 0:
                    return json.loads(message), fds
                for received in fds:
                    os.close(received)
                if pid > 0:
                    pidfd = os.pidfd_open(pid)
                    children[pidfd] = pid
                    poller.register(pidfd, select.POLLIN)
                    _send(channel, {"pid": pid}, [pidfd])
    except (OSError, KeyboardInterrupt):  # the cloud is gone, or the terminal's Ctrl-C
        _stop(children)
        return None
    except BaseException:  # no child outlives the template
        _stop(children)
        raise


def _stop(children: dict[int, int]) -> None:
    for pidfd in children:
        try:
            signal.pidfd_send_signal(pidfd, signal.SIGKILL)
        except ProcessLookupError:
            pass
    for pidfd, pid in children.items():
        os.waitpid(pid, 0)
        os.close(pidfd)
    children.clear()


def _become(request: dict[str, Any], fds: list[int]) -> None:
    """In the forked child: become the environment ``python -I _worker.py`` would have started."""
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
    os.closerange(3, os.sysconf("SC_OPEN_MAX"))  # as subprocess's close_fds: the pipes and nothing else
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    time.tzset()  # the C library read TZ when the template started
    sys.argv = [str(WORKER)]


def _template(fd: int) -> None:
    worker = _load_worker()
    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except ImportError as exc:  # a missing package is not preloaded, and not shadowed either
            print(f"not preloaded: {name}: {exc}", file=sys.stderr, flush=True)
    channel = socket.socket(fileno=fd)
    modules = sorted({name.partition(".")[0] for name in sys.modules})
    _send(channel, {"ready": True, "modules": modules})
    spawned = _serve(channel)
    if spawned is None:
        channel.close()
        return
    channel.detach()  # its fd closes with the others: the object must not close a number reused later
    _become(*spawned)
    worker.main()  # and the interpreter ends as a worker's does: threads joined, atexit run


if __name__ == "__main__":
    _template(int(sys.argv[1]))
