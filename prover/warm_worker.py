"""The Python side of the warm snarkjs worker (prover/js/worker.js).

One Node process keeps the curve, the witness calculators and the zkeys loaded and answers
JSON-lines requests. `WarmWorker` starts it on first use, serialises requests from any number of
threads, restarts it after it dies, and stops it on close() or at interpreter exit (the worker
also exits by itself when its stdin closes, so even a killed Python leaves nothing behind).
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import itertools
import json
import queue
import subprocess
import threading
import weakref
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Literal, Self

from .errors import WorkerCrashed
from .signals import Signals, signals_json
from .toolchain import find_node_modules, node

SCRIPT = Path(__file__).resolve().parent / "js" / "worker.js"
Threads = Literal["single", "multi"]
#: ffjavascript's thread pool (one thread per core) proves Health(16) ~25 % faster than a single
#: thread on 2 cores (0.70-1.17 s vs 0.91-1.36 s, busy machine) for ~60 MB more memory.
DEFAULT_THREADS: Threads = "multi"
_STDERR_LINES = 40  # kept to explain a crash


class WorkerRequestFailed(Exception):
    """The worker answered with an error: `kind` is "input", "witness" or "internal"."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


class _Process:
    """One running worker and the threads that read its stdout (replies) and stderr (tail)."""

    def __init__(self, threads: Threads) -> None:
        self.popen = subprocess.Popen(
            [str(node()), str(SCRIPT), str(find_node_modules()), f"--threads={threads}"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )
        self.replies: queue.Queue[str | None] = queue.Queue()
        self.stderr: collections.deque[str] = collections.deque(maxlen=_STDERR_LINES)
        assert self.popen.stdout is not None and self.popen.stderr is not None
        self._pumps = [
            self._pump(self.popen.stdout, self.replies.put, lambda: self.replies.put(None)),
            self._pump(self.popen.stderr, lambda line: self.stderr.append(line.rstrip())),
        ]

    @staticmethod
    def _pump(
        stream: IO[str], sink: Callable[[str], None], at_eof: Callable[[], None] = lambda: None
    ) -> threading.Thread:
        """Read `stream` to its end in a thread; the thread closes it (no one else reads it)."""

        def run() -> None:
            try:
                for line in stream:
                    sink(line)
            except (OSError, ValueError):  # the pipe broke with the process: same as EOF
                pass
            finally:
                at_eof()
                stream.close()

        thread = threading.Thread(target=run, name="zkrisk-worker-pipe", daemon=True)
        thread.start()
        return thread

    def alive(self) -> bool:
        return self.popen.poll() is None

    def why_dead(self) -> str:
        self.popen.wait(timeout=5)
        self._pumps[1].join(timeout=2)  # let the stderr tail arrive
        tail = "\n".join(list(self.stderr)[-8:])
        return f"exit status {self.popen.returncode}" + (f"; stderr:\n{tail}" if tail else "")

    def stop(self, grace: float = 5.0) -> None:
        stdin = self.popen.stdin
        if stdin is not None and not stdin.closed:
            with contextlib.suppress(OSError):  # already gone: its pipe is broken
                stdin.close()  # the worker answers what it was asked, then exits
        try:
            self.popen.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()
        for pump in self._pumps:
            pump.join(timeout=5)


_LIVE: weakref.WeakSet[WarmWorker] = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    for worker in list(_LIVE):
        worker.close()


class WarmWorker:
    """Thread-safe client of one warm Node prover process; a context manager."""

    def __init__(self, *, threads: Threads = DEFAULT_THREADS, timeout: float = 900.0) -> None:
        self.threads = threads
        self.timeout = timeout
        self._lock = threading.Lock()
        self._process: _Process | None = None
        self._ids = itertools.count(1)
        self._in_flight = False
        _LIVE.add(self)

    @property
    def pid(self) -> int | None:
        """The Node process id, or None before the first request / after close()."""
        process = self._process
        return process.popen.pid if process is not None and process.alive() else None

    @property
    def in_flight(self) -> bool:
        """True while a request has been sent and its answer has not arrived."""
        return self._in_flight

    def prove(self, wasm: Path, zkey: Path, signals: Signals) -> dict[str, Any]:
        """Witness (in-process WASM) + Groth16 proof; the reply has proof and publicSignals."""
        return self.request(
            {"op": "prove", "wasm": str(wasm), "zkey": str(zkey), "input": signals_json(signals)}
        )

    def witness(self, wasm: Path, signals: Signals, out: Path) -> Path:
        """Write the .wtns for `signals` to `out` (the worker's WASM calculator stays warm)."""
        self.request(
            {"op": "witness", "wasm": str(wasm), "input": signals_json(signals), "out": str(out)}
        )
        return out

    def ping(self) -> dict[str, Any]:
        """Start the worker if needed and build its curve; answers pid, threads and RSS."""
        return self.request({"op": "ping"})

    def request(self, message: dict[str, Any]) -> dict[str, Any]:
        """Send one request and wait for its answer.

        Raises WorkerRequestFailed when the worker reports an error and WorkerCrashed when it
        dies or times out mid-request (the next request starts a fresh worker).
        """
        with self._lock:
            process, request_id = self._ensure_started(), next(self._ids)
            line = json.dumps({**message, "id": request_id}) + "\n"
            try:
                self._send(process, line)
            except OSError:  # died while idle: the request never arrived, so retry once
                process = self._restart()
                try:
                    self._send(process, line)
                except OSError:
                    reason = process.why_dead()
                    self._discard(process)
                    raise WorkerCrashed(f"the prover worker does not start ({reason})") from None
            self._in_flight = True
            try:
                reply = process.replies.get(timeout=self.timeout)
            except queue.Empty:
                self._discard(process)
                raise WorkerCrashed(
                    f"the prover worker gave no answer within {self.timeout:.0f} s; it was "
                    "stopped and the next request starts a new one"
                ) from None
            finally:
                self._in_flight = False
            if reply is None:
                reason = process.why_dead()
                self._discard(process)
                raise WorkerCrashed(
                    f"the prover worker died during a {message.get('op')} request ({reason}); "
                    "the next request starts a new one"
                )
            try:
                data: dict[str, Any] = json.loads(reply)
            except json.JSONDecodeError:
                data = {}
            if data.get("id") != request_id:  # out of step: no later answer can be trusted
                self._discard(process)
                raise WorkerCrashed(
                    f"the prover worker answered {reply[:200]!r} to request {request_id}; it "
                    "was stopped and the next request starts a new one"
                )
        if not data.get("ok"):
            raise WorkerRequestFailed(str(data.get("kind")), str(data.get("message")))
        return data

    @staticmethod
    def _send(process: _Process, line: str) -> None:
        stdin = process.popen.stdin
        assert stdin is not None
        stdin.write(line)
        stdin.flush()

    def _ensure_started(self) -> _Process:
        if self._process is None or not self._process.alive():
            return self._restart()
        return self._process

    def _restart(self) -> _Process:
        if self._process is not None:
            self._process.stop(grace=0)
        self._process = _Process(self.threads)
        return self._process

    def _discard(self, process: _Process) -> None:
        process.stop(grace=0)
        if self._process is process:
            self._process = None

    def close(self) -> None:
        """Stop the Node process (a later request would start a new one)."""
        process, self._process = self._process, None
        if process is not None:
            process.stop()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def rss_bytes(pid: int) -> tuple[int, int]:
    """(current, peak) resident memory of a process, from /proc (Linux); (0, 0) elsewhere."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0, 0
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)

    def kib(name: str) -> int:
        return int(fields.get(name, "0 kB").split()[0]) * 1024

    return kib("VmRSS"), kib("VmHWM")
