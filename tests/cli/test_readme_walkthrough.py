"""Every shell session in README.md, replayed in a fresh copy of the repository, must still run
and print what the README shows. The convention a session follows is in
tests/cli/readme_sessions.py (its docstring); in short:

- ```text blocks with `$ ` command lines are run, in README order, in ONE fresh copy of the
  repository (tracked + untracked-not-ignored files, node_modules linked, the circuit build
  cache copied), with the venv's `zkrisk` first on PATH; exports and `cd` carry over.
- A command's exit code must be 0, or what a following `$ echo $?` shows.
- Each README output line must appear, in order, in the real output after normalising
  addresses, hashes, durations, times, dates, ports, gas and absolute paths.
- Anvil: the README starts it with `npx anvil --port 8545 … &`; the walkthrough replaces the
  port 8545 everywhere with a free one, so a node the reader runs on 8545 does not matter.
- The ptau comes from ../shared/ptau beside this checkout (passed as $ZKRISK_PTAU_DIRS, since
  the copy has no ../shared), the cache is the test run's own ($ZKRISK_CACHE), COLUMNS=120.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from zkrisk.engine.chain.anvil import free_port

from .readme_sessions import Session, Shell, fresh_copy, missing_lines, sessions

REPO = Path(__file__).resolve().parents[2]
SESSIONS = sessions((REPO / "README.md").read_text())
COMMAND_TIMEOUT = 180.0


@pytest.fixture(scope="module")
def shell(tmp_path_factory: pytest.TempPathFactory, session_cache: Path) -> Iterator[Shell]:
    clone = fresh_copy(REPO, tmp_path_factory.mktemp("readme") / "zkrisk")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ZKRISK_", "PYTEST_"))}
    env.update(
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        ZKRISK_CACHE=str(session_cache),
        COLUMNS="120",
        NO_COLOR="1",
        TERM="dumb",
    )
    shared = REPO.parent / "shared" / "ptau"
    if shared.is_dir():
        env["ZKRISK_PTAU_DIRS"] = str(shared)
    made = Shell(clone, env, substitutions={"8545": str(free_port())})
    try:
        yield made
    finally:
        made.close()


SAMPLE = """\
## Demo

```text
$ zkrisk chain deploy --rpc-url http://127.0.0.1:8545 \\
    --dev-account 0
RiskVault: 0x0B306BF915C4d645ff596e518fAf3F9669b97016
$ zkrisk check --order-file nope.toml
error: nope.toml: file not found
$ echo $?
2
$ zkrisk verify out/proof.json
error: INVALID proof
(exit 1)
$ zkrisk setup nope
error: unknown circuit          # exit 2
```

```text
no commands here
```

```bash
make demo
```
"""


def test_sessions_are_read_with_continuations_and_expected_exit_codes() -> None:
    (session,) = sessions(SAMPLE)
    assert session.heading == "Demo" and session.name == "L3-demo"
    got = [(c.text, c.exit_code, c.output) for c in session.commands]
    assert got == [
        ("zkrisk chain deploy --rpc-url http://127.0.0.1:8545 --dev-account 0", 0,
         ("RiskVault: 0x0B306BF915C4d645ff596e518fAf3F9669b97016",)),
        ("zkrisk check --order-file nope.toml", 2, ("error: nope.toml: file not found",)),
        ("zkrisk verify out/proof.json", 1, ("error: INVALID proof",)),
        ("zkrisk setup nope", 2, ("error: unknown circuit",)),
    ]  # fmt: skip


def test_output_matches_in_order_after_normalising_what_changes_between_runs() -> None:
    promised = (
        "anvil on http://127.0.0.1:35443: RiskVault 0x0B306BF915C4d645ff596e518fAf3F9669b97016",
        "proved in 0.14s → commitment 0x186cf47f8b4b300f…, gas 294,972",
        "prove_seconds: 0.133",
        "wrote /work/shared/ptau/dev_pot14.ptau at 2026-11-21 20:28:16",
    )
    actual = (
        "anvil on http://127.0.0.1:40001: RiskVault 0x5FbDB2315678afecb367f032d93F642f64180aa3\n"
        "a warning the README leaves out\n"
        "proved in 1.2s → commitment 0xdeadbeefdeadbeef…, gas 295,010\n"
        "prove_seconds:   1.084\n"
        "wrote /tmp/x/shared/ptau/dev_pot14.ptau at 2027-01-02 03:04:05\n"
    )
    assert missing_lines(promised, actual) == []
    assert missing_lines(("prove_seconds: 0.133", "anvil on"), actual) == ["anvil on"]
    assert missing_lines(("health_factor: 2.4500",), "health_factor: 2.4501") != []


def test_a_line_may_come_from_either_stream_but_each_stream_keeps_its_order() -> None:
    stdout, stderr = "proved\nbundle written\n", "warning: DEV ptau\n"
    assert missing_lines(("warning: DEV ptau", "proved", "bundle written"), stdout, stderr) == []
    assert missing_lines(("bundle written", "proved"), stdout, stderr) == ["proved"]


def test_the_readme_has_sessions_to_replay() -> None:
    assert len(SESSIONS) >= 3, "README.md lost its shell sessions (```text blocks with `$ `)"


@pytest.mark.parametrize("session", SESSIONS, ids=lambda s: s.name)
def test_readme_session_runs_as_shown(session: Session, shell: Shell) -> None:
    commands = list(session.commands)
    for i, command in enumerate(commands):
        where = f"README.md:{command.line} ({session.heading}): $ {command.text}"
        if "…" in command.text:
            pytest.fail(f"{where}\n  abbreviated with '…': write the command out in full")
        # The command after a background start waits for the ports the rest will use (waiting
        # before every command would time out on ports a later background start opens).
        if i and commands[i - 1].text.rstrip().endswith("&") and shell.background:
            shell.wait_for_ports([c.text for c in commands[i:]])
        code, stdout, stderr = shell.run(command.text, COMMAND_TIMEOUT)
        output = stdout + stderr
        problems = []
        if code != command.exit_code:
            problems.append(f"exit {code}, the README shows {command.exit_code}")
        missing = missing_lines(command.output, stdout, stderr)
        if missing:
            problems.append("lines the README shows but the command did not print:")
            problems += [f"    {line}" for line in missing]
        if problems:
            shown = "\n".join(f"    {line}" for line in output.splitlines()[:60])
            pytest.fail(f"{where}\n  " + "\n  ".join(problems) + f"\n  real output:\n{shown}")
