"""pygls's own LSP client, driving a ``buildg-dap lsp`` process the way an editor does."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
from lsprotocol import types as lsp
from pygls.lsp.client import LanguageClient

from tests.lab.service import clean_env


class Client:
    """A started client with what the server pushed: diagnostics per uri, messages."""

    def __init__(self, client: LanguageClient) -> None:
        self.lsp = client
        self.diagnostics: dict[str, list[lsp.Diagnostic]] = {}
        self.messages: list[lsp.ShowMessageParams] = []
        self.refreshes = 0
        self._changed = anyio.Event()

        @client.feature(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        def diagnostics(params: lsp.PublishDiagnosticsParams) -> None:
            self.diagnostics[params.uri] = params.diagnostics
            self._wake()

        @client.feature(lsp.WINDOW_SHOW_MESSAGE)
        def message(params: lsp.ShowMessageParams) -> None:
            self.messages.append(params)
            self._wake()

        @client.feature(lsp.WORKSPACE_INLAY_HINT_REFRESH)
        def refresh(params: None) -> None:
            self.refreshes += 1
            self._wake()

    def _wake(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()

    async def until(self, done: Any, within: float = 60) -> None:
        """Wait until ``done()`` is true, re-checked on every push from the server."""
        with anyio.fail_after(within):
            while not done():
                await self._changed.wait()

    def open(self, path: Path, text: str | None = None) -> str:
        uri = path.as_uri()
        document = lsp.TextDocumentItem(
            uri=uri, language_id="dockerfile", version=1,
            text=path.read_text() if text is None else text,
        )  # fmt: skip
        self.lsp.text_document_did_open(lsp.DidOpenTextDocumentParams(text_document=document))
        return uri

    def save(self, uri: str) -> None:
        self.lsp.text_document_did_save(
            lsp.DidSaveTextDocumentParams(text_document=lsp.TextDocumentIdentifier(uri=uri))
        )

    async def opened_diagnostics(self, path: Path) -> list[lsp.Diagnostic]:
        self.diagnostics.pop(path.as_uri(), None)
        uri = self.open(path)
        await self.until(lambda: uri in self.diagnostics)
        return self.diagnostics[uri]

    async def request(self, method: str, params: Any) -> Any:
        return await self.lsp.protocol.send_request_async(method, params)


def server_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "buildg_dap", "lsp", *args]


@asynccontextmanager
async def lsp_client(
    *args: str, options: dict[str, Any] | None = None, hints_refresh: bool = True
) -> AsyncIterator[Client]:
    """A server started with ``args`` (e.g. ``--addr``), initialized; shut down on exit."""
    client = LanguageClient("buildg-dap-tests", "1")
    wrapped = Client(client)
    command = server_command(*args)
    await client.start_io(command[0], *command[1:], env=clean_env())
    capabilities = lsp.ClientCapabilities(
        workspace=lsp.WorkspaceClientCapabilities(
            inlay_hint=lsp.InlayHintWorkspaceClientCapabilities(refresh_support=hints_refresh)
        )
    )
    try:
        await client.initialize_async(
            lsp.InitializeParams(capabilities=capabilities, initialization_options=options)
        )
        client.initialized(lsp.InitializedParams())
        yield wrapped
        await client.shutdown_async(None)
        client.exit(None)
    finally:
        await client.stop()
