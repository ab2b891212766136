"""Check many signal sets against one compiled circuit in one long-lived Node process.

Soundness and equivalence tests need thousands of "does the circuit accept this?" answers and
no proofs. `WitnessChecker` loads the circuit's wasm once (prover/js/witness-check.js) and
answers each check in milliseconds: accepted with the public signals the witness carries, or
rejected with the failing template and line from the witness calculator.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

from .artifacts import CompiledCircuit
from .signals import Signals, signals_json
from .toolchain import node

_SCRIPT = Path(__file__).with_name("js") / "witness-check.js"


@dataclass(frozen=True)
class WitnessCheck:
    """The circuit's answer for one signal set."""

    accepted: bool
    public: tuple[int, ...] = ()  # outputs, then public inputs, as the verifier orders them
    error: str = ""


class WitnessChecker:
    """`check(signals)` against one circuit; a context manager that stops its Node process."""

    def __init__(self, compiled: CompiledCircuit) -> None:
        self.compiled = compiled
        n_public = compiled.info.n_outputs + compiled.info.n_public_inputs
        self._process = subprocess.Popen(
            [node(), str(_SCRIPT), str(compiled.wasm.parent), str(n_public)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def check(self, signals: Signals) -> WitnessCheck:
        process = self._process
        assert process.stdin is not None and process.stdout is not None
        line = json.dumps(signals_json(signals))
        try:
            process.stdin.write(line + "\n")
            process.stdin.flush()
            reply = process.stdout.readline()
        except BrokenPipeError:
            reply = ""
        if not reply:
            stderr = process.stderr.read() if process.stderr else ""
            raise RuntimeError(
                f"witness checker for {self.compiled.spec.name} stopped: {stderr.strip()}"
            )
        data = json.loads(reply)
        if data["ok"]:
            return WitnessCheck(True, tuple(int(x) for x in data["public"]))
        return WitnessCheck(False, error=str(data["error"]).strip())

    def accepts(self, signals: Signals) -> bool:
        return self.check(signals).accepted

    def close(self) -> None:
        if self._process.poll() is None:
            assert self._process.stdin is not None
            self._process.stdin.close()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        for stream in (self._process.stdout, self._process.stderr):
            if stream is not None:
                stream.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
