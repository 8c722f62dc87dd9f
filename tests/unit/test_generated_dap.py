"""The generated DAP models match the pinned schema, and parse and dump real messages."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from buildg_dap._dap.protocol import (
    EVENTS,
    REQUESTS,
    RESPONSES,
    InitializeRequest,
    LaunchRequest,
    SetBreakpointsRequest,
    StoppedEvent,
    StoppedEventBody,
    dump,
)

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = Path("github.com/google/go-dap@v0.12.0/cmd/gentypes/debugProtocol.json")


def _run_check(script: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(script), "--check"],
        capture_output=True, text=True, check=False, env=env,
    )


def test_generated_code_is_fresh() -> None:
    done = _run_check(ROOT / "scripts" / "gen_dap.py")
    assert done.returncode == 0, done.stdout + done.stderr


def test_check_notices_a_stale_file(tmp_path: Path) -> None:
    # Same script against a copy with the generated module altered must fail.
    copy = tmp_path / "repo"
    copy.mkdir()
    for part in ("scripts", "src"):
        subprocess.run(["cp", "-r", str(ROOT / part), str(copy / part)], check=True)
    stale = copy / "src" / "buildg_dap" / "_dap" / "protocol.py"
    stale.write_text(stale.read_text() + "\n# edited\n")
    done = _run_check(copy / "scripts" / "gen_dap.py")
    assert done.returncode == 1
    assert "src/buildg_dap/_dap/protocol.py" in done.stdout


def test_a_schema_with_another_hash_is_refused(tmp_path: Path) -> None:
    # A module cache whose copy of the schema differs from the pinned one by a byte.
    real = subprocess.run(
        ["go", "env", "GOMODCACHE"], capture_output=True, text=True, check=True
    ).stdout.strip()
    fake = tmp_path / "modcache" / SCHEMA
    fake.parent.mkdir(parents=True)
    fake.write_bytes((Path(real) / SCHEMA).read_bytes() + b"\n")
    done = _run_check(ROOT / "scripts" / "gen_dap.py",
                      env={**os.environ, "GOMODCACHE": str(tmp_path / "modcache")})
    assert done.returncode != 0
    assert "sha256" in done.stderr and "refusing" in done.stderr


def test_an_initialize_request_from_vscode_parses() -> None:
    message: dict[str, Any] = {
        "command": "initialize",
        "arguments": {
            "clientID": "vscode",
            "clientName": "Visual Studio Code",
            "adapterID": "dockerfile",
            "pathFormat": "path",
            "linesStartAt1": True,
            "columnsStartAt1": True,
            "supportsVariableType": True,
            "supportsVariablePaging": True,
            "supportsRunInTerminalRequest": True,
            "locale": "en",
            "supportsProgressReporting": True,
            "supportsInvalidatedEvent": True,
            "supportsMemoryReferences": True,
            "supportsArgsCanBeInterpretedByShell": True,
            "supportsMemoryEvent": True,
            "supportsStartDebuggingRequest": True,
        },
        "type": "request",
        "seq": 1,
    }
    request = REQUESTS["initialize"].model_validate(message)
    assert isinstance(request, InitializeRequest)
    assert request.arguments.adapterID == "dockerfile"
    assert request.arguments.linesStartAt1 is True
    assert request.arguments.supportsStartDebuggingRequest is True
    assert dump(request) == message


def test_launch_keeps_arguments_the_schema_does_not_know() -> None:
    message: dict[str, Any] = {
        "seq": 2,
        "type": "request",
        "command": "launch",
        "arguments": {
            "noDebug": False,
            "__restart": {"step": 3},
            "program": "/src/Dockerfile",
            "stopOnEntry": True,
            "build": {"target": "final", "args": {"VERSION": "1"}},
        },
    }
    request = LaunchRequest.model_validate(message)
    assert request.arguments.noDebug is False
    assert request.arguments.restart_ == {"step": 3}
    extra = request.arguments.model_extra
    assert extra == {
        "program": "/src/Dockerfile",
        "stopOnEntry": True,
        "build": {"target": "final", "args": {"VERSION": "1"}},
    }
    assert dump(request) == message


def test_set_breakpoints_parses_nested_models() -> None:
    request = REQUESTS["setBreakpoints"].model_validate({
        "seq": 3,
        "type": "request",
        "command": "setBreakpoints",
        "arguments": {
            "source": {"name": "Dockerfile", "path": "/src/Dockerfile"},
            "lines": [4, 9],
            "breakpoints": [{"line": 4}, {"line": 9, "condition": "true"}],
            "sourceModified": False,
        },
    })
    assert isinstance(request, SetBreakpointsRequest)
    assert request.arguments.source.path == "/src/Dockerfile"
    assert request.arguments.breakpoints is not None
    assert [b.line for b in request.arguments.breakpoints] == [4, 9]
    assert request.arguments.breakpoints[1].condition == "true"
    assert request.arguments.breakpoints[0].hitCondition is None


def test_a_stopped_event_dumps_to_the_wire_form() -> None:
    event = StoppedEvent(
        seq=7,
        body=StoppedEventBody(reason="breakpoint", threadId=1, allThreadsStopped=True,
                              hitBreakpointIds=[2]),
    )
    assert dump(event) == {
        "seq": 7,
        "type": "event",
        "event": "stopped",
        "body": {
            "reason": "breakpoint",
            "threadId": 1,
            "allThreadsStopped": True,
            "hitBreakpointIds": [2],
        },
    }


def test_dispatch_tables_cover_the_protocol() -> None:
    assert set(REQUESTS) == set(RESPONSES)
    assert REQUESTS["continue"].model_fields["command"].default == "continue"
    assert RESPONSES["initialize"].__name__ == "InitializeResponse"
    assert EVENTS["stopped"] is StoppedEvent


@pytest.mark.parametrize(
    "message",
    [
        {"seq": "x", "type": "request", "command": "threads"},
        {"seq": 1, "type": "request", "command": "next"},  # `arguments` is required
        {"seq": 1, "type": "event", "command": "threads"},  # not a request
        {"seq": 1, "type": "request", "command": "pause", "arguments": {"threadId": "main"}},
    ],
)
def test_invalid_messages_are_rejected(message: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        REQUESTS[message["command"]].model_validate(message)
