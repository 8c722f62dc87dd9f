"""The interactive debug shell: reads commands, drives the engine, prints like buildg."""

from __future__ import annotations

import shlex
import sys
from collections.abc import Awaitable, Callable
from typing import BinaryIO, TextIO

from buildg_dap.buildkit.errors import SolveError
from buildg_dap.debugger import commands
from buildg_dap.debugger.breakpoints import ON_FAIL, BreakpointError
from buildg_dap.debugger.commands import UsageError
from buildg_dap.debugger.engine import Engine, EngineError, Exited, Reason, Stop
from buildg_dap.debugger.errors import BuilderGone
from buildg_dap.debugger.execution import ExecRequest
from buildg_dap.debugger.inspect import Files, describe, ls_line
from buildg_dap.debugger.mounts import LayoutError
from buildg_dap.debugger.process import ExecFailed
from buildg_dap.debugger.stepconfig import step_config
from buildg_dap.repl import listing
from buildg_dap.repl.exec import run_exec
from buildg_dap.repl.output import DebugProgress, LogBuffer, info_line
from buildg_dap.repl.terminal import Input

DEFAULT_PROMPT = "(buildg) "
Handler = Callable[[list[str]], Awaitable[bool]]


class Quit(Exception):
    pass


class Shell:
    def __init__(
        self,
        engine: Engine,
        stdin: Input,
        out: TextIO,
        log: LogBuffer,
        progress_view: DebugProgress,
        *,
        image: str = "",
        prompt: str = DEFAULT_PROMPT,
        raw_out: BinaryIO | None = None,
    ) -> None:
        self.engine = engine
        self.stdin = stdin
        self.out = out
        self.raw_out = raw_out or sys.stdout.buffer
        self.log = log
        self.progress_view = progress_view
        self.image = image
        self.prompt = prompt
        self.files = Files(engine)
        self.exit_code = 0
        self._handlers: dict[str, Handler] = {
            "break": self._break,
            "breakpoints": self._breakpoints,
            "clear": self._clear,
            "clearall": self._clearall,
            "next": self._next,
            "continue": self._continue,
            "exec": self._exec,
            "list": self._list,
            "log": self._log,
            "info": self._info,
            "cat": self._cat,
            "dir": self._dir,
            "stat": self._stat,
            "reload": self._reload,
            "exit": self._exit,
            "help": self._help,
        }

    def say(self, *lines: str) -> None:
        for line in lines:
            self.out.write(line + "\n")
        self.out.flush()

    # --- the loop ------------------------------------------------------------

    async def run(self) -> int:
        self.progress_view.started = True
        started = 'debug session started. type "help" for command reference.'
        self.log.write(info_line(started) + "\n")
        self._show_entry()
        while True:
            self.out.write(self.prompt)
            self.out.flush()
            line = await self.stdin.readline()
            if line is None:
                self.say("")
                return self._quit_code()
            if not self.stdin.is_terminal:
                # A scripted session reads like a typed one.
                self.say(line)
            try:
                if not await self.dispatch(line):
                    return self.exit_code
            except Quit:
                return self._quit_code()

    def _quit_code(self) -> int:
        """Leaving while stopped at a failed step is leaving a failed build."""
        stop = self.engine.stop
        return 1 if stop is not None and stop.error is not None else self.exit_code

    async def dispatch(self, line: str) -> bool:
        """Run one command line; False when the session is over."""
        try:
            words = shlex.split(line)
        except ValueError as exc:
            self.say(f"error: cannot parse command: {exc}")
            return True
        if not words:
            return True
        try:
            command = commands.lookup(words[0])
            return await self._handlers[command.name](words[1:])
        except Exited as done:
            self._show_finished(done)
            return False
        except BuilderGone as gone:
            self.exit_code = 1
            self.log.write(info_line(f"error: {gone.message}; the session is over") + "\n")
            return False
        except (UsageError, EngineError, BreakpointError, LayoutError, ExecFailed) as exc:
            self.say(f"error: {exc}")
        except SolveError as exc:
            self.say(f"error: {exc.message}")
        return True

    # --- stops -----------------------------------------------------------------

    def _breakpoint_lines(self) -> set[int]:
        return {bp.line for bp in self.engine.breakpoints.items() if bp.line is not None}

    def _show_entry(self, before: int = 3, after: int = 3, show_all: bool = False) -> None:
        program = self.engine.prog
        ranges = [s.range for s in program.steps if s.line in program.entry_lines()]
        self.say(
            *listing.render(
                program.filename, program.source.lines(), ranges, self._breakpoint_lines(),
                before=before, after=after, show_all=show_all,
            )
        )

    def _show_stop(
        self, stop: Stop, before: int = 3, after: int = 3, show_all: bool = False
    ) -> None:
        if stop.step is None:
            self._show_entry(before, after, show_all)
            return
        program = self.engine.prog
        self.say(
            *listing.render(
                program.filename, program.source.lines(), [stop.step.range],
                self._breakpoint_lines(), before=before, after=after, show_all=show_all,
            )
        )

    def _announce(self, stop: Stop) -> None:
        if stop.reason is Reason.FAILED and stop.error is not None:
            self.say(f"Breakpoint[{ON_FAIL}]: caught error {stop.error.message}")
        elif stop.breakpoint is not None and stop.step is not None:
            self.say(f"Breakpoint[{stop.breakpoint.key}]: reached line: {stop.step.label()}")
        self._show_stop(stop)

    def tally(self) -> str:
        return self.engine.tally().summary()

    def _show_finished(self, done: Exited) -> None:
        error = done.finished.error
        if error is not None:
            self.exit_code = 1
            self.log.write(info_line(f"build failed: {error.message}") + "\n")
        else:
            self.log.write(info_line("build finished") + "\n")

    # --- commands --------------------------------------------------------------

    async def _break(self, args: list[str]) -> bool:
        ns = commands.lookup("break").parse(args)
        if ns.breakpoint == ON_FAIL:
            self.engine.breakpoints.on_fail = True
            return True
        try:
            line = int(ns.breakpoint)
        except ValueError:
            raise UsageError(
                f'cannot parse breakpoint "{ns.breakpoint}": give a line number or on-fail'
            ) from None
        bp = self.engine.breakpoints.add(self.engine.prog, line)
        if not bp.verified:
            self.say(f"Breakpoint[{bp.key}]: line {line} has no step after it; it will not be hit")
        elif bp.moved:
            self.say(f"Breakpoint[{bp.key}]: no step at line {line}; moved to line {bp.line}")
        return True

    async def _breakpoints(self, args: list[str]) -> bool:
        commands.lookup("breakpoints").parse(args)
        if self.engine.breakpoints.on_fail:
            self.say(f"{ON_FAIL}\tbreaks on fail")
        for bp in self.engine.breakpoints.items():
            where = f"line: {self.engine.prog.filename}:{bp.line}" if bp.line else "unverified"
            moved = f" (requested line {bp.requested_line})" if bp.moved or not bp.verified else ""
            self.say(f"{bp.key}\t{where}{moved}")
        return True

    async def _clear(self, args: list[str]) -> bool:
        self.engine.breakpoints.clear(commands.lookup("clear").parse(args).key)
        return True

    async def _clearall(self, args: list[str]) -> bool:
        commands.lookup("clearall").parse(args)
        self.engine.breakpoints.clear_all()
        return True

    async def _next(self, args: list[str]) -> bool:
        commands.lookup("next").parse(args)
        self._announce(await self.engine.next())
        return True

    async def _continue(self, args: list[str]) -> bool:
        ns = commands.lookup("continue").parse(args)
        self._announce(await self.engine.continue_(ns.key))
        return True

    async def _exec(self, args: list[str]) -> bool:
        ns = commands.lookup("exec").parse(args)
        request = ExecRequest.from_command(ns, self.image)
        code = await run_exec(
            self.engine, request, self.stdin, self.raw_out,
            tty=self.stdin.is_terminal if ns.tty is None else ns.tty,
            interactive=self.stdin.is_terminal if ns.interactive is None else ns.interactive,
        )  # fmt: skip
        if code != 0:
            self.say(f"exit code: {code}")
        return True

    async def _list(self, args: list[str]) -> bool:
        ns = commands.lookup("list").parse(args)
        stop = self.engine.stop
        before = ns.B if ns.B is not None else ns.range
        after = ns.A if ns.A is not None else ns.range
        if stop is None:
            raise EngineError("the build has finished")
        self._show_stop(stop, before, after, ns.all)
        return True

    async def _log(self, args: list[str]) -> bool:
        ns = commands.lookup("log").parse(args)
        lines = self.log.unread() if ns.more else self.log.tail(None if ns.all else ns.n)
        self.say(*lines)
        return True

    def _current(self) -> Stop:
        stop = self.engine.stop
        if stop is None or stop.step is None:
            raise EngineError("not stopped at a step yet (at entry): use next or continue")
        return stop

    async def _info(self, args: list[str]) -> bool:
        commands.lookup("info").parse(args)
        stop = self._current()
        assert stop.step is not None
        config = await step_config(self.engine, stop.step)
        self.say(*describe(self.engine, stop, config).lines())
        return True

    async def _cat(self, args: list[str]) -> bool:
        ns = commands.lookup("cat").parse(args)
        data, cut = await self.files.read(ns.path)
        self.raw_out.write(data)
        self.raw_out.flush()
        if cut:
            self.say("", f"(output cut at {len(data)} bytes)")
        return True

    async def _dir(self, args: list[str]) -> bool:
        ns = commands.lookup("dir").parse(args)
        for entry in await self.files.list(ns.path):
            self.say(ls_line(entry.mode, entry.size, entry.path, entry.linkname))
        return True

    async def _stat(self, args: list[str]) -> bool:
        ns = commands.lookup("stat").parse(args)
        st = await self.files.stat(ns.path)
        self.say(ls_line(st.mode, st.size, st.path or ns.path, st.linkname),
                 f"uid={st.uid} gid={st.gid} mtime_ns={st.modTime}")
        return True

    async def _reload(self, args: list[str]) -> bool:
        commands.lookup("reload").parse(args)
        await self.engine.reload()
        self._show_entry()
        return True

    async def _exit(self, args: list[str]) -> bool:
        raise Quit

    async def _help(self, args: list[str]) -> bool:
        ns = commands.lookup("help").parse(args)
        self.say(*commands.help_text(ns.command))
        return True
