"""What the client sees at a stop: the stack of steps and stages that led to the
current step, and the scopes Step, Environment, Mounts, Filesystem and Changes.

Variable references are handed out per stop and forgotten when the program moves, as
the protocol requires; the filesystem is read lazily, one folder per expansion. Each
thread (platform) has its inspector; frame ids and references carry the thread, so they
are unique across threads and a request finds its thread from them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from buildg_dap._dap.protocol import Scope, Source, StackFrame, Variable
from buildg_dap._proto.fsutil import types_pb2
from buildg_dap.buildkit.errors import SolveError
from buildg_dap.buildkit.session.fswalk import GO_DIR, GO_SYMLINK
from buildg_dap.debugger.changes import Change, step_changes
from buildg_dap.debugger.engine import Engine
from buildg_dap.debugger.errors import EngineError
from buildg_dap.debugger.events import Stop
from buildg_dap.debugger.inspect import Files, describe, mode_string
from buildg_dap.debugger.program import Step
from buildg_dap.debugger.stepconfig import step_config

# Small text files show their content in the Filesystem scope.
_PREVIEW = 4096
# Thread N numbers its frames and references (N - 1) * _STRIDE + 1, + 2, …: thread 1's
# are 1, 2, … as with one thread, and any id names its thread.
_STRIDE = 1 << 22
Provider = Callable[[], Awaitable[list[Variable]]]


def thread_base(thread_id: int) -> int:
    return (thread_id - 1) * _STRIDE


def thread_of(number: int) -> int:
    """The thread a frame id or variables reference belongs to."""
    return (number - 1) // _STRIDE + 1


def failure_frames(thread_id: int, error: SolveError, source: Source) -> list[StackFrame]:
    """The stack of a platform whose program did not load: the failure, at the line the
    error names if it names one."""
    line = next((r.start.line for s in error.sources for r in s.ranges), 0)
    return [
        StackFrame(
            id=thread_base(thread_id) + 1, name=f"(did not load) {error.message}",
            source=source if line else None, line=line, column=1 if line else 0,
        )
    ]  # fmt: skip


def step_name(engine: Engine, step: Step) -> str:
    i, n = engine.prog.stage_position(step)
    return f"[{step.stage.name} {i}/{n}] {step.text}"


def _leaf(name: str, value: str, kind: str = "property") -> Variable:
    return Variable(name=name, value=value, variablesReference=0, type=kind)


class Inspector:
    """Hands out frame ids and variable references for the current stop."""

    def __init__(self, engine: Engine, dockerfile: Path, thread_id: int = 1) -> None:
        self.engine = engine
        self.base = thread_base(thread_id)
        self.files = Files(engine)
        self.source = Source(name=dockerfile.name, path=str(dockerfile))
        self._refs: dict[int, Provider] = {}
        self._frames: dict[int, Step | None] = {}

    def forget(self) -> None:
        """The program moved: references of the last stop are no longer valid."""
        self._refs.clear()
        self._frames.clear()

    def hold(self, pairs: list[tuple[str, str]]) -> int:
        """A reference to fixed name/value pairs (an evaluate result's details)."""
        variables = [_leaf(name, value) for name, value in pairs]

        async def provide() -> list[Variable]:
            return variables

        return self._ref(provide)

    def _ref(self, provider: Provider) -> int:
        if len(self._refs) + 1 >= _STRIDE:
            raise EngineError("too many variables at this stop: step or continue")
        ref = self.base + len(self._refs) + 1
        self._refs[ref] = provider
        return ref

    # --- stack -------------------------------------------------------------------

    def _chain(self, step: Step) -> list[Step]:
        """The step, the earlier steps of its stage, then the last step this stage used
        from each other stage (a ``COPY --from`` or a mount), nearest first."""
        steps = self.engine.prog.steps
        same = [s for s in steps if s.stage == step.stage and s.index < step.index]
        chain = [step, *sorted(same, key=lambda s: -s.index)]
        for other in sorted({steps[i].stage for i in step.deps} - {step.stage},
                            key=lambda st: -st.index):
            used = [steps[i] for i in step.deps if steps[i].stage == other]
            chain.append(max(used, key=lambda s: s.index))
        return chain

    def stack(self, stop: Stop) -> list[StackFrame]:
        self._frames.clear()
        if stop.step is None:
            entry = [s for s in self.engine.prog.steps if not s.deps][:1]
            chain = entry
        else:
            chain = self._chain(stop.step)
        frames = []
        for number, step in enumerate(chain):
            frame_id = self.base + number + 1
            self._frames[frame_id] = step if stop.step is not None or number else None
            frames.append(
                StackFrame(
                    id=frame_id,
                    name=step_name(self.engine, step) if stop.step else f"(entry) {step.text}",
                    source=self.source,
                    line=step.line,
                    column=1,
                    endLine=step.range.end_line,
                    presentationHint="normal" if number == 0 else "subtle",
                )
            )
        return frames

    def frame_step(self, frame_id: int) -> Step | None:
        return self._frames.get(frame_id)

    # --- scopes ------------------------------------------------------------------

    def scopes(self, frame_id: int) -> list[Scope]:
        stop = self.engine.stop
        if stop is None:
            raise EngineError("the build has finished")
        if frame_id not in self._frames:
            raise EngineError(f"unknown frame {frame_id}: ask for the stack trace again")
        step = self._frames[frame_id]
        if step is None:
            return []
        current = frame_id == self.base + 1 and stop.step is not None

        def scope(name: str, provider: Provider, *, expensive: bool = False) -> Scope:
            return Scope(name=name, variablesReference=self._ref(provider), expensive=expensive)

        scopes = [
            scope("Step", lambda: self._step_vars(step, stop if current else None)),
            scope("Environment", lambda: self._env_vars(step)),
        ]
        if current:
            scopes += [
                scope("Mounts", lambda: self._mount_vars(stop)),
                scope("Filesystem", lambda: self._dir_vars("/"), expensive=True),
                scope("Changes", lambda: self._change_vars(stop), expensive=True),
            ]
        return scopes

    async def variables(self, ref: int) -> list[Variable]:
        provider = self._refs.get(ref)
        if provider is None:
            raise EngineError(f"unknown variables reference {ref}")
        return await provider()

    # --- providers ---------------------------------------------------------------

    async def _step_vars(self, step: Step, stop: Stop | None) -> list[Variable]:
        config = await step_config(self.engine, step)
        if stop is None:
            origin = self.engine.origin(step)
            return [
                _leaf("instruction", step.text),
                _leaf("stage", step.stage.name),
                _leaf("location", step.label()),
                _leaf("status", origin.describe() if origin else "not evaluated yet"),
            ]
        info = describe(self.engine, stop, config)
        out = [
            _leaf("instruction", info.instruction),
            _leaf("stage", info.stage),
            _leaf("location", info.location),
            _leaf("kind", info.kind),
            _leaf("status", info.status),
        ]
        pairs = [
            ("result", info.origin),
            ("duration", f"{info.duration:.2f}s" if info.duration is not None else ""),
            ("command", " ".join(info.args)),
            ("workdir", info.workdir),
            ("user", info.user or "root"),
            ("shell", " ".join(info.shell)),
            ("platform", info.platform),
            ("network", info.network),
            ("security", info.security),
            ("error", info.error),
            ("exit code", str(info.exit_code) if info.exit_code is not None else ""),
        ]
        out += [_leaf(name, value) for name, value in pairs if value]
        return out

    async def _env_vars(self, step: Step) -> list[Variable]:
        config = await step_config(self.engine, step)
        out = []
        for item in config.env:
            name, _, value = item.partition("=")
            out.append(
                Variable(name=name, value=value, variablesReference=0, evaluateName=name)
            )
        if config.build_args:
            args = sorted(config.build_args.items())

            async def build_args() -> list[Variable]:
                return [
                    Variable(name=k, value=v, variablesReference=0, evaluateName=k)
                    for k, v in args
                ]

            out.append(
                Variable(
                    name="build args",
                    value=", ".join(f"{k}={v}" for k, v in args),
                    variablesReference=self._ref(build_args),
                    namedVariables=len(args),
                )
            )
        return out

    async def _mount_vars(self, stop: Stop) -> list[Variable]:
        assert stop.step is not None
        config = await step_config(self.engine, stop.step)
        info = describe(self.engine, stop, config)
        out = []
        for mount in info.mounts:
            parts = [mount.type, *mount.details()]
            out.append(_leaf(mount.target, ", ".join(parts)))
        return out

    def _entry(self, folder: str, entry: types_pb2.Stat) -> Variable:
        path = folder.rstrip("/") + "/" + entry.path
        if entry.mode & GO_DIR:
            return Variable(
                name=entry.path + "/",
                value=mode_string(entry.mode),
                variablesReference=self._ref(lambda: self._dir_vars(path)),
                evaluateName=path,
            )
        value = f"{mode_string(entry.mode)} {entry.size} bytes"
        if entry.linkname:
            value += f" -> {entry.linkname}"
        elif entry.size <= _PREVIEW and entry.mode & GO_SYMLINK == 0:
            return Variable(
                name=entry.path,
                value=value,
                variablesReference=self._ref(lambda: self._file_vars(path)),
                evaluateName=path,
            )
        return Variable(name=entry.path, value=value, variablesReference=0, evaluateName=path)

    async def _dir_vars(self, path: str) -> list[Variable]:
        entries = await self.files.list(path)
        return [self._entry(path, e) for e in sorted(entries, key=lambda e: e.path)]

    async def _file_vars(self, path: str) -> list[Variable]:
        data, _ = await self.files.read(path, _PREVIEW)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            return [_leaf("content", f"(binary, {len(data)} bytes)")]
        return [_leaf("content", text, "string")]

    async def _change_vars(self, stop: Stop) -> list[Variable]:
        changes: list[Change] = await step_changes(self.engine, stop)
        if not changes:
            return [_leaf("(no changes)", "")]
        return [_leaf(c.path, c.describe()) for c in changes]
