"""A small pool of long-lived worker processes: a time limit per job, a chosen environment, a memory cap.

Stages hand untrusted input (PDFs) to code that may hang, blow up memory or be subverted by it; only a separate
process can be stopped, so such work runs here. A round trip to a warm worker costs ~0.1 ms; a worker that
overruns its job's time limit or dies is killed and replaced by a fresh one on the next job.

Why our own pool rather than a library's: pebble's `ProcessPool` has per-job timeouts and loky reuses its
workers, but both start workers through multiprocessing, which hands a child the parent's whole environment
(API keys included) and has no way to choose it; checked with pebble 5.2.3: a worker's /proc/self/environ holds
the parent's OPENAI_API_KEY under both spawn and forkserver. Editing os.environ around a start is no fix in a
threaded process (Prefect's runner, the LLM clients read it). Their spawn also re-imports the caller's
`__main__` (slow for `python -m prefect.engine`, wrong for a script without a main guard), fork is unsafe in a
threaded caller, and results come back pickled: unpickling lets the sender run code in the receiver, so a worker
subverted by its input could reach the parent that holds the keys. Here a worker is `python -I -c …` started
with exactly the environment it is given (by default `clean_env()`: a few harmless variables), and replies come
back as JSON. Jobs go to the worker pickled: that direction is trusted.

The pool knows nothing of what its workers do: a job is `target(*args)`, with `target` named as
"module:function" and imported in the worker, and must return JSON-able data. A job may name another target than
the pool's own (`run(..., target=...)`): one warm pool serves related work (a PDF's text and its picture) without a
second set of processes.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Mapping
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

# Variables a worker may see: locale, time zone, temp dir, search path. Everything else (keys, tokens,
# passwords, connection URLs with credentials, cloud profiles) stays in the parent.
SAFE_ENV = ("PATH", "HOME", "LANG", "LANGUAGE", "TZ", "TMPDIR", "TEMP", "TMP", "SYSTEMROOT")
SECRET_MARKERS = ("KEY", "TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL", "AUTH", "COOKIE", "SESSION")
_ROOT = str(Path(__file__).resolve().parents[1])  # where the `tasks` package lives, for the worker's first import
_MAX_REPLY = 256 * 2**20  # a reply larger than this is a misbehaving worker, not a result


class PoolError(Exception):
    """Base of the pool's errors: the job did not give a result."""


class JobTimeout(PoolError):
    """The job ran past its time limit; its worker was killed."""

    def __init__(self, timeout: float) -> None:
        super().__init__(f"job exceeded {timeout:g} s")
        self.timeout = timeout


class WorkerCrashed(PoolError):
    """The worker died during the job (killed by the OS, out of memory in C code, a segfault)."""

    def __init__(self, exit_code: int | None) -> None:
        super().__init__(f"worker crashed (exit code {exit_code})")
        self.exit_code = exit_code


class WorkerStartError(PoolError):
    """A worker did not come up: the machine's trouble (no memory, no processes), not the job's."""


class JobFailed(PoolError):
    """The target raised; the message is `Type: message` as the worker saw it."""


def clean_env(environ: Mapping[str, str] | None = None, keep: Iterable[str] = SAFE_ENV) -> dict[str, str]:
    """The variables of `environ` (default os.environ) named in `keep` or `LC_*`, never one that looks secret."""
    source = os.environ if environ is None else environ
    wanted = set(keep)
    return {
        name: value
        for name, value in source.items()
        if (name in wanted or name.startswith("LC_")) and not any(m in name.upper() for m in SECRET_MARKERS)
    }


class _Worker:
    """One worker process and the parent's end of its socket."""

    def __init__(self, config: dict[str, Any], env: Mapping[str, str], start_timeout: float) -> None:
        ours, theirs = socket.socketpair()
        code = f"import sys; sys.path.insert(0, {_ROOT!r}); import tasks.procpool as p; p._child({theirs.fileno()})"
        with theirs:
            # -I: the worker ignores PYTHON* variables and the current directory; its sys.path comes from config.
            self.process = subprocess.Popen(
                [sys.executable, "-I", "-c", code],
                pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL, env=dict(env),
            )
        self.conn = Connection(ours.detach())
        try:
            self.conn.send(config)
            ready = self.conn.poll(start_timeout) and json.loads(self.conn.recv_bytes(_MAX_REPLY)) == "ready"
        except (EOFError, OSError, ValueError):
            ready = False
        if not ready:
            self.stop()
            raise WorkerStartError(f"worker for {config['target']} failed to start")

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def call(self, args: tuple[Any, ...], timeout: float, target: str | None = None) -> Any:
        try:
            self.conn.send((target, args))
            if not self.conn.poll(timeout):
                raise JobTimeout(timeout)
            raw = self.conn.recv_bytes(_MAX_REPLY)
        except (EOFError, OSError) as exc:
            try:
                code = self.process.wait(1)
            except subprocess.TimeoutExpired:
                code = None
            raise WorkerCrashed(code) from exc
        try:
            reply = json.loads(raw)
        except ValueError:
            reply = None
        if isinstance(reply, dict) and "ok" in reply:
            return reply["ok"]
        if isinstance(reply, dict) and isinstance(reply.get("error"), str):
            raise JobFailed(reply["error"])
        raise PoolError(f"worker sent a malformed reply ({len(raw)} bytes)")

    def stop(self) -> None:
        self.process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):  # unkillable (D state): leave it to the OS
            self.process.wait(5)
        self.conn.close()


class ProcessPool:
    """At most `size` workers running `target`, each serving one job at a time; safe to use from many threads.

    Workers start on demand (the first jobs pay ~0.07 s for the interpreter, plus the initializer) and stay
    until `close()`. `initializer` ("module:function") runs once in each new worker before it reports ready, so
    heavy imports are not billed to a job. `memory_limit` caps a worker's address space (RLIMIT_AS, where the
    OS allows).
    """

    def __init__(
        self,
        target: str,
        *,
        size: int,
        initializer: str | None = None,
        env: Mapping[str, str] | None = None,
        memory_limit: int | None = None,
        start_timeout: float = 60.0,
    ) -> None:
        self.pid = os.getpid()  # a forked child must not use its parent's workers: see `usable`
        self._config = {"target": target, "initializer": initializer, "memory_limit": memory_limit,
                        "sys_path": list(sys.path)}
        self._env = clean_env() if env is None else dict(env)
        self._start_timeout = start_timeout
        self._slots = threading.BoundedSemaphore(max(1, size))
        self._lock = threading.Lock()
        self._idle: list[_Worker] = []
        self._closed = False

    @property
    def usable(self) -> bool:
        """False once closed, or in a process forked from the one that made the pool."""
        return not self._closed and self.pid == os.getpid()

    def run(self, *args: Any, timeout: float, target: str | None = None) -> Any:
        """`target(*args)` in a worker (default: the pool's target): its result, or JobTimeout / WorkerCrashed /
        JobFailed / WorkerStartError."""
        with self._slots:
            worker = self._checkout()
            try:
                result = worker.call(args, timeout, target)
            except JobFailed:
                self._checkin(worker)  # the target raised and said so: the worker itself is fine
                raise
            except BaseException:
                worker.stop()  # timed out, crashed or interrupted mid-job: its state is unknown
                raise
            self._checkin(worker)
            return result

    def idle_pids(self) -> list[int]:
        """Process ids of the workers waiting for a job (diagnostics and tests)."""
        with self._lock:
            return [w.pid for w in self._idle]

    def _checkout(self) -> _Worker:
        with self._lock:
            if self._closed:
                raise PoolError("pool is closed")
            while self._idle:
                worker = self._idle.pop()
                if worker.alive():
                    return worker
                worker.stop()
        return _Worker(self._config, self._env, self._start_timeout)  # outside the lock: start-up takes a while

    def _checkin(self, worker: _Worker) -> None:
        with self._lock:
            closed = self._closed
            if not closed:
                self._idle.append(worker)
        if closed:
            worker.stop()

    def close(self) -> None:
        """Stop the idle workers; a busy one is stopped when its job ends."""
        with self._lock:
            idle, self._idle, self._closed = self._idle, [], True
        for worker in idle:
            worker.stop()

    def __enter__(self) -> ProcessPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ------------------------------------------------------------------------------------------ worker side


def _child(fd: int) -> None:
    """Worker entry point: set up from the parent's config, then one job in, one JSON reply out, until EOF."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the parent, which then stops us
    conn = Connection(fd)
    config = conn.recv()
    sys.path[:] = [*(p for p in config["sys_path"] if p), _ROOT]  # the parent's imports; never the cwd ('')
    _limit_memory(config["memory_limit"])
    # An idle worker sees EOF when the parent dies; a busy one (a job that never ends) needs this watchdog.
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()
    targets = {None: _resolve(config["target"])}
    if config["initializer"]:
        _resolve(config["initializer"])()
    conn.send_bytes(b'"ready"')
    while True:
        try:
            name, args = conn.recv()
        except (EOFError, OSError):
            return
        try:
            if name not in targets:
                targets[name] = _resolve(name)
            reply = json.dumps({"ok": targets[name](*args)})
        except Exception as exc:  # the parent turns it into JobFailed
            reply = json.dumps({"error": f"{type(exc).__name__}: {exc}"})
        conn.send_bytes(reply.encode())


def _resolve(name: str) -> Any:
    import importlib

    module, _, attr = name.partition(":")
    return getattr(importlib.import_module(module), attr)


def _limit_memory(limit: int | None) -> None:
    if not limit:
        return
    try:
        import resource

        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        soft = limit if hard == resource.RLIM_INFINITY else min(limit, hard)
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
    except (ImportError, ValueError, OSError):  # not on Linux, or not allowed: run without the cap
        pass


def _exit_with_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(1)
