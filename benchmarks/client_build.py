"""A plain build through our client library, for benchmarks while the CLI has no `build`.

    python benchmarks/client_build.py --addr ADDR CONTEXT

Does what a `build --no-cache` does: one session (context upload via FileSync), the
Dockerfile frontend solve, an evaluating solve of the whole definition, Return, and the
wait for Control.Solve to end. Prints each vertex's duration as buildkitd reported it
(`vertex<TAB>seconds<TAB>name`). Imports only the product package, so the process's peak
RSS is the client's own.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import anyio

# Same as the product CLI: gRPC core logs nothing of its own.
os.environ.setdefault("GRPC_VERBOSITY", "NONE")

from buildg_dap.buildkit.build import BuildRequest, running_build
from buildg_dap.buildkit.connection import Address, connect
from buildg_dap.buildkit.progress import Progress


async def build(addr: str, context: Path) -> None:
    request = BuildRequest(context=context, dockerfile=context / "Dockerfile", no_cache=True)
    progress = Progress()
    conn = await connect(Address.parse(addr))
    async with conn, running_build(conn, request, progress=progress) as running:
        frontend = await running.solve_frontend()
        definition = getattr(frontend.ref, "def")
        await running.gateway.solve_definition(definition, request.cache_imports)
        await running.finish(frontend)
    # The daemon's own timing of each vertex, as `buildctl --progress=plain` shows it.
    for vertex in progress.vertices.values():
        duration = vertex.duration
        if duration is not None:
            print(f"vertex\t{duration:.3f}\t{vertex.name}")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--addr", required=True)
    parser.add_argument("context", type=Path)
    ns = parser.parse_args()
    anyio.run(build, ns.addr, ns.context.resolve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
