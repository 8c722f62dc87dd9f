"""Language server: diagnostics latency after a save, on a warm builder.

    .venv/bin/python benchmarks/lsp.py [--runs 20] [--lines 200]

Starts `python -m buildg_dap lsp --addr ADDR` on a lab buildkitd, driven by pygls's own
client (tests/lsp/lspclient.py), and opens a Dockerfile of --lines lines (three stages,
RUN/COPY/ENV/ARG lines, two check violations). After the first diagnostics (the warm-up:
connecting and opening the held build) each run changes one line, sends didChange and
didSave, and times from didSave to the publishDiagnostics that answers it. The time
includes the server's 50 ms quiet period, which merges saves in quick succession.
Reported: median and max over --runs.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import anyio
from common import Lab, median, print_header, print_table, report_ratio, scratch_dir
from lsprotocol import types as lsp

from tests.lsp.lspclient import Client, lsp_client, server_command

TARGET_SECONDS = 0.300


def dockerfile(lines: int) -> str:
    head = ["FROM busybox as base", "MAINTAINER bench@example.com", "ARG N=1", "ENV A=1"]
    body = [f"RUN echo step {i} $N > /tmp/f{i % 7}" for i in range(lines)]
    stages = [*head, *body[: lines // 2 - 4], "FROM base AS mid", *body[lines // 2 - 4 : -6]]
    stages += ["FROM busybox", "COPY --from=mid /tmp /out", *body[-4:]]
    return "\n".join(stages[:lines]) + "\n"


async def measure(client: Client, path: Path, dockerfile_text: str, runs: int) -> list[float]:
    uri = path.as_uri()
    first = await client.opened_diagnostics(path)
    print(f"  warm-up: {len(first)} diagnostics: {sorted(str(d.code) for d in first)}")
    times = []
    lines = dockerfile_text.split("\n")
    for run in range(1, runs + 1):
        lines[3] = f"ENV A{run}=1"  # an edit, so that each save lints a new document
        text = "\n".join(lines)  # the buffer's text is what the server lints
        client.lsp.text_document_did_change(
            lsp.DidChangeTextDocumentParams(
                text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=run + 1),
                content_changes=[lsp.TextDocumentContentChangeWholeDocument(text=text)],
            )
        )
        client.diagnostics.pop(uri, None)
        started = time.perf_counter()
        client.save(uri)
        await client.until(lambda: uri in client.diagnostics, within=30)
        times.append(time.perf_counter() - started)
    return times


async def bench(address: str, path: Path, text: str, runs: int) -> list[float]:
    async with lsp_client("--addr", address) as client:
        return await measure(client, path, text, runs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--lines", type=int, default=200)
    ns = parser.parse_args()
    print_header("language server")
    with scratch_dir("bench-lsp-") as tmp, Lab() as lab:
        builder = lab.fresh_builder()
        path = tmp / "Dockerfile"
        text = dockerfile(ns.lines)
        path.write_text(text)
        print(f"  server: {' '.join(server_command('--addr', builder.address))}")
        print(f"  Dockerfile: {ns.lines} lines")
        times = anyio.run(bench, builder.address, path, text, ns.runs)
    print_table(["run", "save → diagnostics ms"], [[i + 1, f"{t * 1000:.1f}"] for i, t in
                                                   enumerate(times)])  # fmt: skip
    print(f"median {median(times) * 1000:.1f} ms, max {max(times) * 1000:.1f} ms")
    report_ratio("save → diagnostics, median", median(times), TARGET_SECONDS, " s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
