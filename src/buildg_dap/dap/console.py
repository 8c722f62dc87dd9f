"""The debug console: the REPL's inspection commands, typed into ``evaluate``.

``exec CMD…`` runs in the step's container with its output streamed as output events
while it runs, and answers with the output and the exit code; ``exec`` alone or with
``-t`` opens an interactive shell in the editor's terminal. A bare ``VAR`` or ``$VAR``
(hover, watch) is its value at the step.
"""

from __future__ import annotations

import argparse
import shlex
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from buildg_dap.debugger.commands import COMMANDS, UsageError, help_text, lookup
from buildg_dap.debugger.engine import Engine
from buildg_dap.debugger.errors import EngineError
from buildg_dap.debugger.execution import ExecRequest, run_exec
from buildg_dap.debugger.inspect import Files, describe, ls_line
from buildg_dap.debugger.process import ProcessIO
from buildg_dap.debugger.program import Step
from buildg_dap.debugger.stepconfig import step_config

# Commands that move the program belong to the toolbar, not the console.
_CONSOLE = ("exec", "info", "cat", "dir", "stat", "log", "help", "breakpoints")
# (category, text) → an output event
Output = Callable[[str, str], Awaitable[None]]
Terminal = Callable[[ExecRequest], Awaitable[str]]
# Keeps (name, value) pairs as an expandable result; returns its variables reference.
Hold = Callable[[list[tuple[str, str]]], int]


class ConsoleError(Exception):
    pass


@dataclass
class Answer:
    result: str
    variables_reference: int = 0


class Console:
    def __init__(
        self, engine: Engine, output: Output, terminal: Terminal | None, image: str,
        log: Callable[[], list[str]], hold: Hold,
    ) -> None:  # fmt: skip
        self.engine = engine
        self.files = Files(engine)
        self._output = output
        self._terminal = terminal
        self._image = image
        self._log_lines = log
        self._hold = hold

    async def value(self, step: Step, expression: str) -> str:
        """A variable's value at ``step`` (hover and watch)."""
        name = expression.strip().removeprefix("$").strip("{}")
        values = await self.engine.variables(step)
        if name not in values:
            raise ConsoleError(f"{name} is not set at line {step.line}")
        return values[name]

    async def run(self, text: str, step: Step | None) -> Answer:
        try:
            words = shlex.split(text)
        except ValueError as exc:
            raise ConsoleError(f"cannot parse: {exc}") from None
        if not words:
            return Answer("")
        name = words[0]
        try:
            command = lookup(name)
        except UsageError:
            if step is not None and len(words) == 1:
                return Answer(await self.value(step, name))
            raise ConsoleError(
                f'unknown command "{name}": type "help" for the console commands'
            ) from None
        if command.name not in _CONSOLE:
            raise ConsoleError(f'"{command.name}" moves the build: use the debug toolbar')
        try:
            ns = command.parse(words[1:])
        except UsageError as exc:
            raise ConsoleError(str(exc)) from None
        handler = getattr(self, f"_{command.name}")
        answer: Answer = await handler(ns)
        return answer

    async def _exec(self, ns: argparse.Namespace) -> Answer:
        args = list(ns.args)
        request = ExecRequest.from_command(ns, self._image)
        if not args or ns.tty:
            if self._terminal is None:
                raise ConsoleError(
                    "this editor cannot open a terminal for an interactive shell "
                    "(no runInTerminal support): run exec with a command, e.g. exec ls /"
                )
            return Answer(await self._terminal(request))
        collected: list[bytes] = []

        async def stdout(data: bytes) -> None:
            collected.append(data)
            await self._output("stdout", data.decode("utf-8", "replace"))

        async def stderr(data: bytes) -> None:
            collected.append(data)
            await self._output("stderr", data.decode("utf-8", "replace"))

        code = await run_exec(self.engine, request, ProcessIO(stdout=stdout, stderr=stderr))
        # The output has reached the console as it came; the answer carries it again
        # (expandable) with the exit code, for clients that read the result.
        output = b"".join(collected).decode("utf-8", "replace")
        details = [("output", output), ("exit code", str(code))]
        return Answer(f"exit code {code}", self._hold(details))

    def _stop_step(self) -> Step:
        stop = self.engine.stop
        if stop is None or stop.step is None:
            raise EngineError("not stopped at a step yet (at entry): use next or continue")
        return stop.step

    async def _info(self, ns: argparse.Namespace) -> Answer:
        step = self._stop_step()
        stop = self.engine.stop
        assert stop is not None
        info = describe(self.engine, stop, await step_config(self.engine, step))
        return Answer("\n".join(info.lines()))

    async def _cat(self, ns: argparse.Namespace) -> Answer:
        data, cut = await self.files.read(ns.path)
        text = data.decode("utf-8", "replace")
        return Answer(text + (f"\n(output cut at {len(data)} bytes)" if cut else ""))

    async def _dir(self, ns: argparse.Namespace) -> Answer:
        entries = await self.files.list(ns.path)
        return Answer("\n".join(ls_line(e.mode, e.size, e.path, e.linkname) for e in entries))

    async def _stat(self, ns: argparse.Namespace) -> Answer:
        path = ns.path
        st = await self.files.stat(path)
        return Answer(
            ls_line(st.mode, st.size, st.path or path, st.linkname)
            + f"\nuid={st.uid} gid={st.gid} mtime_ns={st.modTime}"
        )

    async def _log(self, ns: argparse.Namespace) -> Answer:
        lines = self._log_lines()
        count = None if ns.all else ns.n
        return Answer("\n".join(lines if count is None else lines[-count:]))

    async def _breakpoints(self, ns: argparse.Namespace) -> Answer:
        bps = self.engine.breakpoints
        lines = ["on-fail\tbreaks on fail"] if bps.on_fail else []
        for bp in bps.items():
            where = f"line {bp.line}" if bp.line else f"unverified: {bp.problem}"
            lines.append(f"{bp.key}\t{where}")
        return Answer("\n".join(lines))

    async def _help(self, ns: argparse.Namespace) -> Answer:
        wanted = ns.command
        if wanted:
            return Answer("\n".join(help_text(wanted)))
        width = max(len(c.name) for c in COMMANDS)
        lines = ["Debug console commands:"] + [
            f"  {c.name.ljust(width)}  {c.summary}" for c in COMMANDS if c.name in _CONSOLE
        ]
        lines.append("  VAR / $VAR  the value of an ARG or ENV variable at this step")
        return Answer("\n".join(lines))

    @staticmethod
    def completions(text: str) -> list[str]:
        word = text.strip()
        return [name for name in _CONSOLE if name.startswith(word)]
