"""The embedded builder: a private buildkitd started on first use and left running.

Used when neither ``--addr`` nor ``BUILDKIT_HOST`` names a builder. Its state lives under
``$XDG_DATA_HOME/buildg-dap/buildkitd``; its socket and pid file under
``$XDG_RUNTIME_DIR/buildg-dap`` (``/run/buildg-dap`` for root, else ``/tmp/buildg-dap-UID``).
The pid file plus the process's own command line (``--root`` = our state) tell which
daemon is ours, so ``stop`` never signals anything else.

Concurrent commands share the daemon: ``start.lock`` lets one start it while the others
wait, and each command holds ``use.lock`` shared while it is connected, so ``stop``
knows whether anyone is still using the daemon. A stale socket or pid file (the daemon
crashed) and a daemon of ours that no longer answers are replaced by a fresh start.
"""

from __future__ import annotations

import fcntl
import itertools
import os
import shutil
import signal
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO

import anyio
from grpc import aio
from pydantic import BaseModel, ConfigDict

from buildg_dap._proto.buildkit import control_pb2, control_pb2_grpc
from buildg_dap.buildkit.connection import Address, BuilderError

CONFIG = """\
# Written by buildg-dap for its embedded builder.
[worker.oci]
  enabled = true
  # overlayfs where the kernel allows it, native otherwise.
  snapshotter = "auto"

[worker.containerd]
  enabled = false
"""
_START_TIMEOUT = 60.0
_STOP_GRACE = 20.0
_SOCKET_MAX = 107  # sun_path, less its terminating NUL


class EmbeddedBuilder(BaseModel):
    """Where the embedded builder keeps its state and where it listens."""

    model_config = ConfigDict(frozen=True)

    state_dir: Path
    runtime_dir: Path

    @classmethod
    def locate(
        cls, env: Mapping[str, str] | None = None, uid: int | None = None
    ) -> EmbeddedBuilder:
        env = os.environ if env is None else env
        uid = os.getuid() if uid is None else uid
        home = Path(env.get("HOME", "~")).expanduser()
        data = env.get("XDG_DATA_HOME") or str(home / ".local" / "share")
        if env.get("XDG_RUNTIME_DIR"):
            runtime = Path(env["XDG_RUNTIME_DIR"]) / "buildg-dap"
        elif uid == 0:
            runtime = Path("/run/buildg-dap")
        else:
            runtime = Path(f"/tmp/buildg-dap-{uid}")
        return cls(state_dir=Path(data) / "buildg-dap" / "buildkitd", runtime_dir=runtime)

    @property
    def root(self) -> Path:
        return self.state_dir / "root"

    @property
    def socket(self) -> Path:
        return self.runtime_dir / "buildkitd.sock"

    @property
    def pid_file(self) -> Path:
        return self.runtime_dir / "buildkitd.pid"

    @property
    def log_file(self) -> Path:
        return self.state_dir / "buildkitd.log"

    @property
    def config_file(self) -> Path:
        return self.state_dir / "buildkitd.toml"

    @property
    def address(self) -> Address:
        return Address(scheme="unix", path=str(self.socket))


def find_buildkitd(which: Callable[[str], str | None] = shutil.which) -> str:
    found = which("buildkitd")
    if found:
        return found
    fallback = Path.home() / "go" / "bin" / "buildkitd"
    if fallback.is_file() and os.access(fallback, os.X_OK):
        return str(fallback)
    raise BuilderError(
        "buildkitd not found on PATH or in ~/go/bin: install BuildKit "
        "(https://github.com/moby/buildkit/releases) or pass --addr"
    )


def daemon_command(
    builder: EmbeddedBuilder, uid: int, which: Callable[[str], str | None] = shutil.which
) -> list[str]:
    """buildkitd's command line: rootful for root, under rootlesskit otherwise."""
    args = [
        find_buildkitd(which),
        "--root", str(builder.root),
        "--addr", str(builder.address),
        "--config", str(builder.config_file),
    ]  # fmt: skip
    if uid == 0:
        return args
    rootlesskit = which("rootlesskit")
    if rootlesskit is None:
        raise BuilderError(
            "the embedded builder needs rootlesskit when not running as root: install it "
            "(e.g. apt-get install rootlesskit) or pass --addr to use a running buildkitd"
        )
    return [rootlesskit, args[0], "--oci-worker-no-process-sandbox", *args[1:]]


async def builder_version(address: Address, deadline: float = 5.0, *, wait: bool = False) -> str:
    """The daemon's version if it answers Info, else ""; ``wait`` waits for it to listen."""
    async with aio.insecure_channel(address.target()) as channel:
        stub = control_pb2_grpc.ControlStub(channel)
        try:
            info = await stub.Info(control_pb2.InfoRequest(), timeout=deadline, wait_for_ready=wait)
        except aio.AioRpcError:
            return ""
    return info.buildkitVersion.version or "unknown"


def _is_ours(builder: EmbeddedBuilder, pid: int) -> bool:
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    words = [a.decode(errors="replace") for a in argv]
    named = any(Path(w).name == "buildkitd" for w in words)
    root = str(builder.root)
    return named and any(a == "--root" and b == root for a, b in itertools.pairwise(words))


def daemon_pid(builder: EmbeddedBuilder) -> int | None:
    """The pid of our running daemon, or None (a stale pid file does not count)."""
    try:
        pid = int(builder.pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if _is_ours(builder, pid) else None


def _log_tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _spawn(builder: EmbeddedBuilder, argv: list[str]) -> int:
    """Start the daemon in its own session, output to the log; it outlives us."""
    builder.state_dir.mkdir(parents=True, exist_ok=True)
    builder.config_file.write_text(CONFIG)
    builder.socket.unlink(missing_ok=True)
    with builder.log_file.open("ab") as log:
        pid = os.posix_spawn(
            argv[0],
            argv,
            dict(os.environ),
            file_actions=[
                (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                (os.POSIX_SPAWN_DUP2, log.fileno(), 1),
                (os.POSIX_SPAWN_DUP2, log.fileno(), 2),
            ],
            setsid=True,
        )
    builder.pid_file.write_text(f"{pid}\n")
    return pid


async def _wait_exit(pid: int) -> None:
    """Returns when process ``pid`` has ended (watched through a pidfd, no polling)."""
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        await anyio.wait_readable(pidfd)
    finally:
        os.close(pidfd)


def _reap(pid: int) -> None:
    """Collect ``pid``'s exit status if it is our child (never blocks)."""
    with suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


async def _await_ready(builder: EmbeddedBuilder, pid: int) -> None:
    version = ""
    exited = False
    async with anyio.create_task_group() as tg:

        async def ready() -> None:
            nonlocal version
            version = await builder_version(builder.address, _START_TIMEOUT, wait=True)
            tg.cancel_scope.cancel()

        async def died() -> None:
            nonlocal exited
            await _wait_exit(pid)
            exited = True
            tg.cancel_scope.cancel()

        tg.start_soon(ready)
        tg.start_soon(died)
    if exited:
        _reap(pid)
        builder.pid_file.unlink(missing_ok=True)
        raise BuilderError(
            f"the embedded buildkitd exited during startup; its log {builder.log_file} "
            f"ends with:\n{_log_tail(builder.log_file)}"
        )
    if not version:
        raise BuilderError(
            f"the embedded buildkitd (pid {pid}) did not answer within {_START_TIMEOUT:.0f}s; "
            f"see {builder.log_file}"
        )


def _lock_file(builder: EmbeddedBuilder, name: str) -> IO[str]:
    builder.runtime_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    return (builder.runtime_dir / name).open("w")


@contextmanager
def _locked(builder: EmbeddedBuilder, name: str, mode: int) -> Iterator[IO[str]]:
    """An open lock file under the runtime dir, flock'ed with ``mode`` (non-blocking
    modes only: this runs on the event loop)."""
    with _lock_file(builder, name) as lock:
        fcntl.flock(lock.fileno(), mode)
        yield lock


async def _lock(builder: EmbeddedBuilder, name: str, mode: int) -> IO[str]:
    """Like ``_locked``, waiting in a worker thread; the caller closes the file."""
    lock = _lock_file(builder, name)
    try:
        await anyio.to_thread.run_sync(fcntl.flock, lock.fileno(), mode)
    except BaseException:
        lock.close()
        raise
    return lock


async def ensure_started(builder: EmbeddedBuilder) -> Address:
    """The embedded builder's address, starting the daemon unless it already answers."""
    if len(str(builder.socket)) > _SOCKET_MAX:
        raise BuilderError(f"socket path {builder.socket} is too long; set XDG_RUNTIME_DIR")
    # One starter at a time: a second command waits, then finds the daemon running.
    with await _lock(builder, "start.lock", fcntl.LOCK_EX):
        if builder.socket.exists() and await builder_version(builder.address):
            return builder.address
        running = daemon_pid(builder)
        if running is not None:
            # Ours, yet silent past the deadline: hung or half-dead. Start afresh.
            await _terminate(builder, running)
        argv = daemon_command(builder, os.getuid())
        pid = await anyio.to_thread.run_sync(_spawn, builder, argv)
        await _await_ready(builder, pid)
    return builder.address


async def use(builder: EmbeddedBuilder) -> IO[str]:
    """A shared hold on the daemon for one command; close the file to let go."""
    return await _lock(builder, "use.lock", fcntl.LOCK_SH)


def in_use(builder: EmbeddedBuilder) -> bool:
    """Whether a command holds the daemon (``use``)."""
    try:
        with _locked(builder, "use.lock", fcntl.LOCK_EX | fcntl.LOCK_NB):
            return False
    except BlockingIOError:
        return True


async def _terminate(builder: EmbeddedBuilder, pid: int) -> None:
    """SIGTERM, then SIGKILL to its group after the grace; returns once it has exited."""
    with suppress(ProcessLookupError):
        os.kill(pid, signal.SIGCONT)  # a stopped process cannot act on SIGTERM
        os.kill(pid, signal.SIGTERM)
    with anyio.move_on_after(_STOP_GRACE) as grace:
        await _wait_exit(pid)
    if grace.cancelled_caught:
        # setsid made the daemon a group leader: the group is its and its children's.
        with suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
        with anyio.fail_after(_STOP_GRACE):
            await _wait_exit(pid)
    _reap(pid)
    builder.pid_file.unlink(missing_ok=True)
    builder.socket.unlink(missing_ok=True)


async def stop(builder: EmbeddedBuilder, *, force: bool = False) -> int | None:
    """Stop our daemon and wait for it to exit; returns its pid, or None when it was not
    running. Refuses while a command uses it, unless ``force``."""
    with await _lock(builder, "start.lock", fcntl.LOCK_EX):
        pid = daemon_pid(builder)
        if pid is None:
            builder.pid_file.unlink(missing_ok=True)
            return None
        if not force and in_use(builder):
            raise BuilderError(
                f"the embedded buildkitd (pid {pid}) is in use by another buildg-dap "
                "command: stop it once that ends, or pass --force"
            )
        await _terminate(builder, pid)
    return pid
