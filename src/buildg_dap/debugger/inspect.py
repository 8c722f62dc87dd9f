"""What a stop shows without running anything: the step's state, and its files.

Files are read from the step's result ref when there is one; a failed step has no
result, so its files are read through a container over what the failure left behind.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field

from buildg_dap._proto.buildkit import gateway_pb2, ops_pb2
from buildg_dap._proto.fsutil import types_pb2
from buildg_dap.buildkit.control import platform_name
from buildg_dap.buildkit.gateway import Gateway
from buildg_dap.buildkit.session.fswalk import GO_DIR, GO_SYMLINK
from buildg_dap.debugger.engine import Engine, EngineError, Stop
from buildg_dap.debugger.mounts import Where, step_container
from buildg_dap.debugger.process import container
from buildg_dap.debugger.program import Step
from buildg_dap.debugger.stepconfig import StepConfig

READ_CAP = 1024 * 1024
_MOUNT_TYPES = {v: k.lower() for k, v in ops_pb2.MountType.items()}
_NET = {ops_pb2.UNSET: "default", ops_pb2.HOST: "host", ops_pb2.NONE: "none"}
_SECURITY = {v: k.lower() for k, v in ops_pb2.SecurityMode.items()}


@dataclass
class MountInfo:
    type: str
    target: str
    source: str = ""
    readonly: bool = False
    cache_id: str = ""
    secret_id: str = ""

    def details(self) -> list[str]:
        """Where it comes from and how it is mounted, for any front end to show."""
        extra = [
            f"{k}={v}"
            for k, v in (("source", self.source), ("cache id", self.cache_id),
                         ("secret id", self.secret_id))
            if v
        ]  # fmt: skip
        return [*extra, "readonly"] if self.readonly else extra


@dataclass
class StepInfo:
    """Everything ``info`` and the DAP Step scope show for a stop."""

    location: str
    instruction: str
    stage: str
    kind: str
    status: str  # cached / executed / failed / not run
    args: list[str] = field(default_factory=list)
    env: list[str] = field(default_factory=list)
    workdir: str = ""
    user: str = ""
    shell: list[str] = field(default_factory=list)
    build_args: dict[str, str] = field(default_factory=dict)
    network: str = ""
    security: str = ""
    mounts: list[MountInfo] = field(default_factory=list)
    platform: str = ""
    duration: float | None = None
    origin: str = ""
    error: str = ""
    exit_code: int | None = None

    def lines(self) -> list[str]:
        out = [
            f"Location:    {self.location}",
            f"Instruction: {self.instruction}",
            f"Stage:       {self.stage}",
            f"Kind:        {self.kind}",
            f"Status:      {self.status}",
        ]
        if self.origin:
            out.append(f"Result:      {self.origin}")
        if self.duration is not None:
            out.append(f"Duration:    {self.duration:.2f}s")
        if self.args:
            out.append(f"Command:     {shlex.join(self.args)}")
        if self.workdir:
            out.append(f"Workdir:     {self.workdir}")
        out.append(f"User:        {self.user or 'root'}")
        if self.shell:
            out.append(f"Shell:       {shlex.join(self.shell)}")
        if self.network:
            out.append(f"Network:     {self.network}")
        if self.security:
            out.append(f"Security:    {self.security}")
        if self.platform:
            out.append(f"Platform:    {self.platform}")
        if self.env:
            out.append("Env:")
            out += [f"  {e}" for e in self.env]
        if self.build_args:
            out.append("Build args:")
            out += [f"  {k}={v}" for k, v in self.build_args.items()]
        if self.mounts:
            out.append("Mounts:")
            for m in self.mounts:
                extra = m.details()
                out.append(f"  {m.type} {m.target}" + (f" ({', '.join(extra)})" if extra else ""))
        if self.error:
            out.append(f"Error:       {self.error}")
        if self.exit_code is not None:
            out.append(f"Exit code:   {self.exit_code}")
        return out


def mode_string(mode: int) -> str:
    """``drwxr-xr-x`` for a Go ``os.FileMode`` (the mode fsutil reports)."""
    kind = "d" if mode & GO_DIR else "l" if mode & GO_SYMLINK else "-"
    return kind + "".join(
        flag if mode & (1 << (8 - i)) else "-" for i, flag in enumerate("rwxrwxrwx")
    )


def ls_line(mode: int, size: int, path: str, linkname: str) -> str:
    """One ``ls -l``-like line, as ``dir`` and ``stat`` show entries."""
    arrow = f" -> {linkname}" if linkname else ""
    return f"{mode_string(mode)} {size:>10} {path}{arrow}"


def _mount_source(step: Step, engine: Engine, mount: ops_pb2.Mount) -> str:
    if mount.input < 0 or mount.input >= len(step.node.op.inputs):
        return ""
    digest = step.node.op.inputs[mount.input].digest
    producers = engine.prog.steps_for_digest(digest)
    if producers:
        return f"{producers[0].stage.name} ({producers[0].label()})"
    node = engine.prog.graph.nodes.get(digest)
    if node is not None and node.kind == "source":
        return node.op.source.identifier
    return digest[:19]


def describe(engine: Engine, stop: Stop, config: StepConfig) -> StepInfo:
    """The stop's step; ``config`` is ``step_config`` of that step, which exec uses too."""
    if stop.step is None:
        raise EngineError("not stopped at a step yet (at entry): use next or continue")
    step = stop.step
    if stop.error is not None:
        status = "failed"
    elif stop.cached is None:
        status = "evaluated"
    else:
        status = "cached" if stop.cached else "executed"
    info = StepInfo(
        location=step.label(),
        instruction=step.text,
        stage=step.stage.name,
        kind=step.node.kind,
        status=status,
        duration=stop.duration,
        error=stop.error.message if stop.error is not None else "",
        exit_code=stop.exit_code,
    )
    info.env, info.workdir, info.user = list(config.env), config.workdir, config.user
    info.shell, info.build_args = list(config.shell), dict(config.build_args)
    origin = engine.origin(step)
    if origin is not None and stop.error is None:
        info.origin = origin.describe()
    op = step.node.op
    if op.HasField("platform"):
        info.platform = platform_name(op.platform)
    if step.node.kind == "exec":
        info.args = list(op.exec.meta.args)
        info.network = _NET.get(op.exec.network, "")
        info.security = _SECURITY.get(op.exec.security, "")
        for mount in op.exec.mounts:
            info.mounts.append(
                MountInfo(
                    type=_MOUNT_TYPES.get(mount.mountType, "bind"),
                    target=mount.dest,
                    source=_mount_source(step, engine, mount)
                    if mount.dest != "/" and mount.mountType == ops_pb2.BIND
                    else "",
                    readonly=mount.readonly,
                    cache_id=mount.cacheOpt.ID if mount.HasField("cacheOpt") else "",
                    secret_id=mount.secretOpt.ID if mount.HasField("secretOpt") else "",
                )
            )
    elif step.node.kind == "source":
        info.args = [op.source.identifier]
    return info


class Files:
    """Read-only access to the filesystem of the current stop."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def _stop(self) -> Stop:
        stop = self._engine.stop
        if stop is None or stop.step is None:
            raise EngineError("not stopped at a step yet (at entry): use next or continue")
        return stop

    @property
    def _gateway(self) -> Gateway:
        return self._engine.build.gateway

    async def _container_request(self, stop: Stop) -> gateway_pb2.NewContainerRequest:
        assert stop.step is not None
        return await step_container(
            stop.step,
            Where.RESULT,
            root_result=stop.result_id,
            resolve=self._engine.resolve,
            failure=stop.error.solve if stop.error is not None else None,
        )

    async def read(self, path: str, limit: int = READ_CAP) -> tuple[bytes, bool]:
        """The file's first ``limit`` bytes and whether it was cut short."""
        stop = self._stop()
        if stop.result_id:
            data = await self._gateway.read_file(stop.result_id, path, length=limit + 1)
        else:
            request = gateway_pb2.ReadFileRequest(FilePath=path)
            request.Range.Length = limit + 1
            async with container(self._gateway, await self._container_request(stop)) as cid:
                request.Ref = cid
                data = await self._gateway.read_file_container(request)
        return data[:limit], len(data) > limit

    async def list(self, path: str) -> list[types_pb2.Stat]:
        stop = self._stop()
        if stop.result_id:
            return await self._gateway.read_dir(stop.result_id, path)
        async with container(self._gateway, await self._container_request(stop)) as cid:
            return await self._gateway.read_dir_container(
                gateway_pb2.ReadDirRequest(Ref=cid, DirPath=path)
            )

    async def stat(self, path: str) -> types_pb2.Stat:
        stop = self._stop()
        if stop.result_id:
            return await self._gateway.stat_file(stop.result_id, path)
        async with container(self._gateway, await self._container_request(stop)) as cid:
            return await self._gateway.stat_file_container(
                gateway_pb2.StatFileRequest(Ref=cid, Path=path)
            )
