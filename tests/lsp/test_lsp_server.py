"""``buildg-dap lsp`` on the real daemon, driven by pygls's own client: BuildKit's checks
as diagnostics, the stage outline, debug lenses, breakable lines, hover values and the
last build's step record as inlay hints."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest
from lsprotocol import types as lsp

from tests.integration.cliutil import run_cli, write_context
from tests.lab import Buildkitd
from tests.lab.service import clean_env
from tests.lsp.lspclient import Client, lsp_client, server_command

# Two checks BuildKit names FromAsCasing and MaintainerDeprecated, on lines 1 and 2.
VIOLATIONS = """\
FROM busybox as base
MAINTAINER someone@example.com
RUN echo hi
"""
THREE_STAGES = """\
# syntax-free: the builtin frontend reads it
ARG BASE=busybox

FROM ${BASE} AS deps
ARG GREETING=hello
ENV WHO=world
RUN echo "$GREETING" \\
    > /greeting

FROM deps AS build
WORKDIR /src
COPY --from=deps /greeting /src/greeting
RUN cat /src/greeting && echo "$GREETING"

FROM busybox
COPY --from=build /src/greeting /g
CMD ["echo", "$WHO"]
"""
# 0-based first lines of the steps (FROM, RUN, COPY, ADD, WORKDIR) in THREE_STAGES.
THREE_STAGE_STEPS = [3, 6, 9, 10, 11, 12, 14, 15]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def client(builder_a: Buildkitd) -> AsyncIterator[Client]:
    async with lsp_client("--addr", builder_a.address) as started:
        yield started


def doc_id(uri: str) -> lsp.TextDocumentIdentifier:
    return lsp.TextDocumentIdentifier(uri=uri)


@pytest.mark.anyio
async def test_checks_become_diagnostics_with_buildkits_rule_names(
    client: Client, tmp_path: Path
) -> None:
    path = write_context(tmp_path, VIOLATIONS) / "Dockerfile"
    found = await client.opened_diagnostics(path)
    by_rule = {d.code: d for d in found}
    assert set(by_rule) == {"FromAsCasing", "MaintainerDeprecated"}, found
    casing = by_rule["FromAsCasing"]
    assert casing.source == "buildkit"
    assert casing.severity == lsp.DiagnosticSeverity.Warning
    assert casing.range.start.line == 0 and casing.range.end.line == 0
    assert casing.range.end.character == len("FROM busybox as base")
    assert casing.code_description is not None
    assert "from-as-casing" in casing.code_description.href
    assert by_rule["MaintainerDeprecated"].range.start.line == 1


@pytest.mark.anyio
async def test_save_lints_again_and_parse_errors_are_diagnostics(
    client: Client, tmp_path: Path
) -> None:
    path = write_context(tmp_path, "FROM busybox\nRUN true\n") / "Dockerfile"
    assert not await client.opened_diagnostics(path)
    uri = path.as_uri()
    path.write_text("FROM busybox\nRUN true\nFOO bar\n")
    client.lsp.text_document_did_change(
        lsp.DidChangeTextDocumentParams(
            text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[lsp.TextDocumentContentChangeWholeDocument(text=path.read_text())],
        )
    )
    del client.diagnostics[uri]
    client.save(uri)
    await client.until(lambda: uri in client.diagnostics)
    (error,) = client.diagnostics[uri]
    assert error.severity == lsp.DiagnosticSeverity.Error
    assert "unknown instruction: FOO" in error.message
    assert error.range.start.line == 2


@pytest.mark.anyio
async def test_outline_lenses_and_breakable_lines(client: Client, tmp_path: Path) -> None:
    path = write_context(tmp_path, THREE_STAGES) / "Dockerfile"
    uri = client.open(path)
    symbols = await client.lsp.text_document_document_symbol_async(
        lsp.DocumentSymbolParams(text_document=doc_id(uri))
    )
    assert symbols is not None
    stages = [s for s in symbols if isinstance(s, lsp.DocumentSymbol) and s.children]
    assert [(s.name, s.detail) for s in stages] == [
        ("deps", "FROM ${BASE}"), ("build", "FROM deps"), ("stage-2", "FROM busybox"),
    ]  # fmt: skip
    assert [c.name for c in stages[0].children or []] == [
        "ARG GREETING=hello", 'ENV WHO=world', 'RUN echo "$GREETING" > /greeting',
    ]  # fmt: skip
    assert stages[0].children and stages[0].children[2].range.end.line == 7
    assert symbols[0].name == "ARG BASE=busybox"

    lenses = await client.lsp.text_document_code_lens_async(
        lsp.CodeLensParams(text_document=doc_id(uri))
    )
    assert lenses is not None
    to_here = [lens for lens in lenses if lens.command and lens.command.title == "Debug to here"]
    assert [lens.range.start.line for lens in to_here] == THREE_STAGE_STEPS
    assert all(
        lens.command and lens.command.command == "buildg-dap.debugToHere" for lens in to_here
    )
    assert to_here[1].command and list(to_here[1].command.arguments or []) == [uri, 6]
    stage_lenses = [
        (lens.range.start.line, list(lens.command.arguments or []))
        for lens in lenses
        if lens.command and lens.command.command == "buildg-dap.debugStage"
    ]
    assert stage_lenses == [(3, [uri, "deps"]), (9, [uri, "build"]), (14, [uri, ""])]

    answer = await client.request("buildg-dap/breakableLines", {"uri": uri})
    ranges = [(r.start, r.end) for r in answer.ranges]
    assert ranges[:2] == [(3, 3), (6, 7)]
    assert [start for start, _ in ranges] == THREE_STAGE_STEPS


@pytest.mark.anyio
async def test_hover_shows_the_value_the_frontend_resolves(client: Client, tmp_path: Path) -> None:
    path = write_context(tmp_path, THREE_STAGES) / "Dockerfile"
    uri = client.open(path)

    async def hover(line: int, character: int) -> str:
        answer = await client.lsp.text_document_hover_async(
            lsp.HoverParams(text_document=doc_id(uri), position=lsp.Position(line, character))
        )
        assert answer is not None and isinstance(answer.contents, lsp.MarkupContent)
        return answer.contents.value

    assert (await hover(3, 8)).startswith("`BASE` = `busybox`")  # FROM ${BASE}: a global ARG
    assert (await hover(6, 12)).startswith("`GREETING` = `hello`")
    assert "build argument" in await hover(6, 12)
    # "build" is FROM deps and so sees its ARG; the last stage, FROM busybox, does not.
    assert (await hover(12, 32)).startswith("`GREETING` = `hello`")
    assert (await hover(16, 15)).startswith("`WHO` is not set at line 17")
    # The launch configuration's build args win over the default.
    client.lsp.protocol.notify(
        "buildg-dap/launchConfigurations",
        {
            "entries": [
                {"dockerfile": str(path), "buildArgs": {"GREETING": "hi", "BASE": "busybox:latest"}}
            ]
        },
    )
    assert (await hover(6, 12)).startswith("`GREETING` = `hi`")
    assert (await hover(3, 8)).startswith("`BASE` = `busybox:latest`")
    # What the frontend cannot resolve is said in the hover.
    client.lsp.protocol.notify(
        "buildg-dap/launchConfigurations", {"entries": [{"buildArgs": {"BASE": "no-such-image"}}]}
    )
    failed = await hover(6, 12)
    assert failed.startswith("`GREETING`: cannot ask BuildKit") and "no-such-image" in failed
    no_hover = await client.lsp.text_document_hover_async(
        lsp.HoverParams(text_document=doc_id(uri), position=lsp.Position(9, 2))
    )
    assert no_hover is None  # not on a variable


@pytest.mark.anyio
async def test_hints_show_the_last_builds_record(
    client: Client, builder_a: Buildkitd, tmp_path: Path
) -> None:
    context = write_context(tmp_path, "FROM busybox\nRUN echo one > /one\nRUN sleep 1\n")
    built = run_cli("build", "--addr", builder_a.address, context)
    assert built.returncode == 0, built.stderr
    path = context / "Dockerfile"
    uri = client.open(path)
    client.lsp.protocol.notify("buildg-dap/recordsChanged", {})
    await client.until(lambda: client.refreshes == 1)

    async def labels() -> dict[int, str]:
        hints = await client.lsp.text_document_inlay_hint_async(
            lsp.InlayHintParams(
                text_document=doc_id(uri),
                range=lsp.Range(lsp.Position(0, 0), lsp.Position(10, 0)),
            )
        )
        return {h.position.line: str(h.label) for h in hints or []}

    first = await labels()
    assert set(first) >= {1, 2}, first
    assert first[2].endswith(" s") and float(first[2].split()[0]) >= 1.0
    again = run_cli("build", "--addr", builder_a.address, context)
    assert again.returncode == 0, again.stderr
    second = await labels()
    assert second[1] == "cached" and second[2] == "cached", second
    # A line edited since the build shows nothing for that step.
    path.write_text("FROM busybox\nRUN echo two > /one\nRUN sleep 1\n")
    client.lsp.text_document_did_change(
        lsp.DidChangeTextDocumentParams(
            text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[lsp.TextDocumentContentChangeWholeDocument(text=path.read_text())],
        )
    )
    assert 1 not in await labels()


@pytest.mark.anyio
async def test_no_builder_gives_one_warning_not_a_diagnostic_per_save(tmp_path: Path) -> None:
    gone = f"unix://{tmp_path / 'no-such.sock'}"
    path = write_context(tmp_path, VIOLATIONS) / "Dockerfile"
    async with lsp_client("--addr", gone) as client:
        uri = client.open(path)
        await client.until(lambda: len(client.messages) == 1)
        for _ in range(3):
            client.save(uri)
        await no_second_message(client)
        # Still answered without a builder: the outline, from the document itself.
        symbols = await client.lsp.text_document_document_symbol_async(
            lsp.DocumentSymbolParams(text_document=doc_id(uri))
        )
        assert symbols
        (message,) = client.messages
        assert message.type == lsp.MessageType.Warning
        assert "no builder reachable" in message.message and "no-such.sock" in message.message
        assert uri not in client.diagnostics


@pytest.mark.anyio
async def test_bad_requests_are_refused_and_the_server_goes_on(
    client: Client, tmp_path: Path
) -> None:
    path = write_context(tmp_path, VIOLATIONS) / "Dockerfile"
    with pytest.raises(Exception, match="needs a document uri"):
        await client.request("buildg-dap/breakableLines", {})
    client.lsp.protocol.notify("buildg-dap/launchConfigurations", {"entries": "not a list"})
    found = await client.opened_diagnostics(path)
    assert {d.code for d in found} == {"FromAsCasing", "MaintainerDeprecated"}


@pytest.mark.anyio
async def test_a_builder_that_goes_away_is_one_warning(
    fresh_builder: Buildkitd, tmp_path: Path
) -> None:
    path = write_context(tmp_path, VIOLATIONS) / "Dockerfile"
    async with lsp_client("--addr", fresh_builder.address) as client:
        assert len(await client.opened_diagnostics(path)) == 2
        fresh_builder.crash()
        uri = path.as_uri()
        client.save(uri)
        await client.until(lambda: len(client.messages) == 1)
        client.save(uri)
        await no_second_message(client)
        symbols = await client.lsp.text_document_document_symbol_async(
            lsp.DocumentSymbolParams(text_document=doc_id(uri))
        )
        assert symbols
        assert "no builder reachable" in client.messages[0].message


async def no_second_message(client: Client) -> None:
    """A later save's lint fails the same way and says nothing new (a bounded wait: what
    is checked is that nothing arrives)."""
    with anyio.move_on_after(3):
        await client.until(lambda: len(client.messages) > 1)
    assert len(client.messages) == 1, client.messages


def _frame(message: dict[str, object]) -> bytes:
    body = json.dumps(message).encode()
    return b"Content-Length: %d\r\n\r\n%s" % (len(body), body)


@pytest.mark.anyio
async def test_an_editor_that_goes_away_ends_the_server(
    builder_a: Buildkitd, tmp_path: Path
) -> None:
    """stdin closing without shutdown/exit (an editor killed) ends the server, and with
    it the build it held open on the builder."""
    path = write_context(tmp_path, VIOLATIONS) / "Dockerfile"
    command = server_command("--addr", builder_a.address)
    async with await anyio.open_process(command, env=clean_env()) as server:
        assert server.stdin is not None and server.stdout is not None
        await server.stdin.send(
            _frame({"jsonrpc": "2.0", "id": 1, "method": "initialize",
                    "params": {"capabilities": {}}})
            + _frame({"jsonrpc": "2.0", "method": "initialized", "params": {}})
            + _frame({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {
                "textDocument": {"uri": path.as_uri(), "languageId": "dockerfile",
                                 "version": 1, "text": VIOLATIONS}}})
        )  # fmt: skip
        received = b""
        with anyio.fail_after(60):
            while b"FromAsCasing" not in received:  # the held build answered a lint
                received += await server.stdout.receive()
        await server.stdin.aclose()
        with anyio.fail_after(10):
            assert await server.wait() == 0
