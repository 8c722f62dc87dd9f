"""``buildg-dap builder ls|status|stop|du|prune``: look after the builder itself."""

from __future__ import annotations

import argparse
import functools
import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from buildg_dap.cli_common import add_builder_flags, builder_options, fail

# What an action needs is imported when it runs, so that --help is quick.
if TYPE_CHECKING:
    from buildg_dap.buildkit.connection import Connection
    from buildg_dap.command import BuilderOptions

    Action = Callable[[BuilderOptions, argparse.Namespace], Awaitable[int]]

_TOP = 10
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNIT_NS = {"ns": 1, "us": 10**3, "µs": 10**3, "ms": 10**6, "s": 10**9, "m": 60 * 10**9}
_UNIT_NS["h"] = 60 * _UNIT_NS["m"]


def parse_duration(text: str) -> int:
    """A Go-style duration (``24h``, ``1h30m``, ``90s``) in nanoseconds."""
    if not text or _DURATION.sub("", text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration like 24h, 30m or 90s")
    return sum(int(float(n) * _UNIT_NS[unit]) for n, unit in _DURATION.findall(text))


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("builder", help="manage the builder")
    actions = parser.add_subparsers(required=True, metavar="ACTION")
    commands: tuple[tuple[str, Action, str], ...] = (
        ("ls", list_all, "list the builders: embedded, BUILDKIT_HOST, buildx's"),
        ("status", status, "show the builder: address, version, workers"),
        ("stop", stop, "stop the embedded builder"),
        ("du", disk_usage, "show the builder's disk usage"),
        ("prune", prune, "remove build cache"),
    )
    for name, func, help_text in commands:
        action = actions.add_parser(name, help=help_text)
        add_builder_flags(action)
        action.set_defaults(run=functools.partial(_run, func))
        if name == "stop":
            action.add_argument("--force", action="store_true",
                                help="stop it even while other commands use it")  # fmt: skip
        if name == "prune":
            action.add_argument("--all", action="store_true", help="also remove internal cache")
            action.add_argument(
                "--keep-duration", type=parse_duration, default=0, metavar="DURATION",
                help="keep cache used within this long (e.g. 24h)",
            )  # fmt: skip


def _run(func: Action, ns: argparse.Namespace) -> int:
    import anyio

    from buildg_dap.buildkit.connection import BuilderError

    async def main() -> int:
        try:
            return await func(builder_options(ns), ns)
        except BuilderError as exc:
            return fail(exc)

    return anyio.run(main)


async def _workers(conn: Connection) -> None:
    from grpc import aio

    from buildg_dap._proto.buildkit import control_pb2
    from buildg_dap.buildkit.connection import BuilderError
    from buildg_dap.buildkit.control import platform_name
    from buildg_dap.buildkit.errors import from_rpc

    try:
        workers = await conn.control.ListWorkers(control_pb2.ListWorkersRequest())
    except aio.AioRpcError as exc:
        raise BuilderError(f"listing workers failed: {from_rpc(exc)}") from None
    for worker in workers.record:
        platforms = ", ".join(platform_name(p) for p in worker.platforms)
        snapshotter = worker.Labels.get("org.mobyproject.buildkit.worker.snapshotter", "?")
        print(f"worker:   {worker.ID} (snapshotter {snapshotter})")
        print(f"  platforms: {platforms}")


async def status(options: BuilderOptions, ns: argparse.Namespace) -> int:
    from buildg_dap.buildkit import embedded
    from buildg_dap.buildkit.connection import connect

    address = options.address
    if address is None:
        builder = embedded.EmbeddedBuilder.locate()
        pid = embedded.daemon_pid(builder)
        print(f"builder:  embedded (state {builder.state_dir})")
        if pid is None or not await embedded.builder_version(builder.address):
            print("running:  no")
            return 0
        print(f"running:  yes (pid {pid})")
        address = builder.address
    async with await connect(address, options.tls, require=None) as conn:
        print(f"address:  {address}")
        print(f"version:  {conn.version or 'older than v0.11 (no Control.Info)'}")
        if conn.engine:
            print(f"engine:   Docker Engine {conn.engine.get('Version', '?')}")
        await _workers(conn)
    return 0


async def list_all(options: BuilderOptions, ns: argparse.Namespace) -> int:
    from buildg_dap.buildkit.listing import format_entries, list_builders

    print(format_entries(await list_builders()), end="")
    return 0


async def stop(options: BuilderOptions, ns: argparse.Namespace) -> int:
    from buildg_dap.buildkit import embedded

    if options.address is not None:
        return fail("builder stop only stops the embedded builder; unset --addr/BUILDKIT_HOST")
    pid = await embedded.stop(embedded.EmbeddedBuilder.locate(), force=ns.force)
    print("embedded builder is not running" if pid is None else f"stopped buildkitd (pid {pid})")
    return 0


async def disk_usage(options: BuilderOptions, ns: argparse.Namespace) -> int:
    from grpc import aio

    from buildg_dap._proto.buildkit import control_pb2
    from buildg_dap.buildkit.errors import from_rpc
    from buildg_dap.buildkit.progress import human_size

    async with await options.connect() as conn:
        try:
            usage = await conn.control.DiskUsage(control_pb2.DiskUsageRequest())
        except aio.AioRpcError as exc:
            return fail(from_rpc(exc))
    records = list(usage.record)
    total = sum(r.Size for r in records if r.Size > 0)
    reclaimable = sum(r.Size for r in records if r.Size > 0 and not r.InUse)
    biggest = sorted(records, key=lambda r: r.Size, reverse=True)[:_TOP]
    if biggest:
        print(f"{'ID':<27} {'SIZE':>10}  DESCRIPTION")
    for r in biggest:
        flag = "*" if r.InUse else " "
        print(f"{r.ID[:25]:<25}{flag}  {human_size(r.Size):>10}  {r.Description[:60]}")
    print(f"Entries:      {len(records)}")
    print(f"Reclaimable:  {human_size(reclaimable)}")
    print(f"Total:        {human_size(total)}")
    return 0


async def prune(options: BuilderOptions, ns: argparse.Namespace) -> int:
    from grpc import aio

    from buildg_dap._proto.buildkit import control_pb2
    from buildg_dap.buildkit.errors import from_rpc
    from buildg_dap.buildkit.progress import human_size

    request = control_pb2.PruneRequest(all=ns.all, keepDuration=ns.keep_duration)
    freed = count = 0
    async with await options.connect() as conn:
        try:
            async for record in conn.control.Prune(request):
                freed += max(record.Size, 0)
                count += 1
        except aio.AioRpcError as exc:
            return fail(from_rpc(exc))
    print(f"removed {count} entries, freed {human_size(freed)}")
    return 0
