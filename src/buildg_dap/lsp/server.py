"""The Dockerfile language server: pygls for LSP, our builder host for BuildKit's answers.

Lints run on open and save, the latest one per document winning (a newer request
cancels one in flight). Everything else is answered from the document as typed, except
hover values, which the frontend computes for the line (memoized per cut Dockerfile).
"""

from __future__ import annotations

import inspect
import logging
from collections import OrderedDict
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import anyio
from anyio.abc import TaskGroup
from lsprotocol import types as lsp
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path

from buildg_dap import __version__
from buildg_dap.buildkit.errors import SolveError
from buildg_dap.debugger.errors import EngineError
from buildg_dap.debugger.stepconfig import StepConfig, cut_dockerfile
from buildg_dap.lsp import features
from buildg_dap.lsp.dockerfile import Dockerfile, parse
from buildg_dap.lsp.frontend import BuilderUnavailable, FrontendHost
from buildg_dap.lsp.launches import LaunchEntries
from buildg_dap.lsp.records import Records

log = logging.getLogger(__name__)

BREAKABLE_LINES = "buildg-dap/breakableLines"
LAUNCH_CONFIGURATIONS = "buildg-dap/launchConfigurations"
RECORDS_CHANGED = "buildg-dap/recordsChanged"
# Saves in quick succession (format-on-save, "save all") make one lint.
_QUIET = 0.05
_MEMO_SIZE = 128


class DockerfileServer:
    """One client's server: the pygls protocol object plus our state."""

    def __init__(self, host: FrontendHost, group: TaskGroup) -> None:
        self.host = host
        self.group = group
        self.lsp = LanguageServer("buildg-dap", __version__)
        self.launches = LaunchEntries()
        self.records = Records()
        self._parsed_memo: dict[str, tuple[int, Dockerfile]] = {}
        self._linting: dict[str, anyio.CancelScope] = {}
        self._warned: set[str] = set()
        self._configs: OrderedDict[tuple[bytes, tuple[tuple[str, str], ...]], StepConfig] = (
            OrderedDict()
        )
        self._register()

    def _register(self) -> None:
        handlers: list[tuple[str, Any, Callable[[Any], Any]]] = [
            (lsp.INITIALIZE, None, self.initialize),
            (lsp.TEXT_DOCUMENT_DID_OPEN, None, self.did_open),
            (lsp.TEXT_DOCUMENT_DID_SAVE, lsp.SaveOptions(include_text=False), self.did_save),
            (lsp.TEXT_DOCUMENT_DID_CLOSE, None, self.did_close),
            (lsp.TEXT_DOCUMENT_DOCUMENT_SYMBOL, None, self.document_symbol),
            (lsp.TEXT_DOCUMENT_CODE_LENS, None, self.code_lens),
            (lsp.TEXT_DOCUMENT_INLAY_HINT, None, self.inlay_hint),
            (lsp.TEXT_DOCUMENT_HOVER, None, self.hover),
            (BREAKABLE_LINES, None, self.breakable_lines),
            (LAUNCH_CONFIGURATIONS, None, self.launch_configurations),
            (RECORDS_CHANGED, None, self.records_changed),
        ]
        for method, options, handler in handlers:
            self.lsp.feature(method, options)(_plain(handler))

    # --- documents and diagnostics ---------------------------------------------------

    def initialize(self, params: lsp.InitializeParams) -> None:
        self.launches.set_defaults(params.initialization_options)

    def did_open(self, params: lsp.DidOpenTextDocumentParams) -> None:
        self._schedule_lint(params.text_document.uri)

    def did_save(self, params: lsp.DidSaveTextDocumentParams) -> None:
        self._schedule_lint(params.text_document.uri)

    def did_close(self, params: lsp.DidCloseTextDocumentParams) -> None:
        uri = params.text_document.uri
        self._parsed_memo.pop(uri, None)
        scope = self._linting.pop(uri, None)
        if scope is not None:
            scope.cancel()
        self._publish(uri, [], None)

    def _schedule_lint(self, uri: str) -> None:
        previous = self._linting.pop(uri, None)
        if previous is not None:
            previous.cancel()
        scope = anyio.CancelScope()
        self._linting[uri] = scope
        self.group.start_soon(self._lint, uri, scope)

    async def _lint(self, uri: str, scope: anyio.CancelScope) -> None:
        with scope:
            await anyio.sleep(_QUIET)
            document = self.lsp.workspace.get_text_document(uri)
            text, version = document.source, document.version
            path = _path(uri)
            try:
                results = await self.host.lint(
                    path.name, text.encode(), self.launches.build_args(path)
                )
            except BuilderUnavailable as exc:
                self._warn_once(
                    "builder",
                    f"buildg-dap: no builder reachable, so BuildKit's Dockerfile checks are "
                    f"off until one is: {exc}",
                )
                return
            except SolveError as exc:
                self._warn_once(
                    str(exc), f"buildg-dap: BuildKit could not check {path.name}: {exc}"
                )
                return
            except Exception as exc:
                # It runs in the server's task group: one failed lint must not end the
                # server. pygls answers a failing request handler with an error the same way.
                log.exception("linting %s failed", uri)
                self._warn_once(repr(exc), f"buildg-dap: checking {path.name} failed: {exc!r}")
                return
            self._warned.discard("builder")
            # The ranges are the linted text's, which may be older than the document now.
            self._publish(uri, features.diagnostics(results, parse(text)), version)
        if self._linting.get(uri) is scope:
            del self._linting[uri]

    def _publish(self, uri: str, found: list[lsp.Diagnostic], version: int | None) -> None:
        self.lsp.text_document_publish_diagnostics(
            lsp.PublishDiagnosticsParams(uri=uri, diagnostics=found, version=version)
        )

    def _warn_once(self, key: str, message: str) -> None:
        """One message per distinct trouble, not one per save."""
        log.warning("%s", message)
        if key in self._warned:
            return
        self._warned.add(key)
        self.lsp.window_show_message(
            lsp.ShowMessageParams(type=lsp.MessageType.Warning, message=message)
        )

    # --- the document as typed -----------------------------------------------------

    def _parsed(self, uri: str) -> Dockerfile:
        """The document's layout, parsed once per version (symbols, lenses, hints and
        hover all ask for it after each edit)."""
        document = self.lsp.workspace.get_text_document(uri)
        version = document.version if document.version is not None else -1
        known = self._parsed_memo.get(uri)
        if known is None or known[0] != version or version < 0:
            known = (version, parse(document.source))
            self._parsed_memo[uri] = known
        return known[1]

    def document_symbol(self, params: lsp.DocumentSymbolParams) -> list[lsp.DocumentSymbol]:
        return features.symbols(self._parsed(params.text_document.uri))

    def code_lens(self, params: lsp.CodeLensParams) -> list[lsp.CodeLens]:
        uri = params.text_document.uri
        return features.code_lenses(self._parsed(uri), uri)

    async def inlay_hint(self, params: lsp.InlayHintParams) -> list[lsp.InlayHint]:
        uri = params.text_document.uri
        record = await self.records.get(_path(uri))
        lines = range(params.range.start.line, params.range.end.line + 1)
        return features.inlay_hints(self._parsed(uri), record, lines)

    def breakable_lines(self, params: Any) -> dict[str, list[dict[str, int]]]:
        uri = _field(params, "uri")
        if not isinstance(uri, str):
            raise ValueError(f"{BREAKABLE_LINES} needs a document uri")
        return {"ranges": features.breakable_ranges(self._parsed(uri))}

    def launch_configurations(self, params: Any) -> None:
        self.launches.set_entries(_field(params, "entries"))

    def records_changed(self, params: Any) -> None:
        workspace = self.lsp.client_capabilities.workspace
        hints = workspace.inlay_hint if workspace is not None else None
        if hints is not None and hints.refresh_support:
            self.lsp.workspace_inlay_hint_refresh(None)

    # --- hover -----------------------------------------------------------------------

    async def hover(self, params: lsp.HoverParams) -> lsp.Hover | None:
        uri = params.text_document.uri
        doc = self._parsed(uri)
        at = params.position
        reference = doc.reference_at(at.line, at.character)
        instruction = doc.instruction_at(at.line)
        if reference is None or instruction is None:
            return None
        path = _path(uri)
        first_stage = doc.stages[0].start if doc.stages else len(doc.lines)
        # A FROM line (and a global ARG) sees the global ARGs only: declaring the name in
        # a scratch stage makes the probe see the global value.
        between = b""
        if instruction.keyword == "FROM" or instruction.start < first_stage:
            between = f"FROM scratch\nARG {reference.name}\n".encode()
        cut = cut_dockerfile("\n".join(doc.lines).encode(), instruction.start, between)
        where = f"line {instruction.start + 1}"
        try:
            config = await self._config(path.name, cut, where, self.launches.build_args(path))
        except (BuilderUnavailable, EngineError) as exc:
            value = f"`{reference.name}`: cannot ask BuildKit ({exc})"
        else:
            env = dict(item.partition("=")[::2] for item in config.env)
            value = features.hover_text(reference.name, env, config.build_args, where)
        span = lsp.Range(
            lsp.Position(at.line, reference.start), lsp.Position(at.line, reference.end)
        )
        return lsp.Hover(
            contents=lsp.MarkupContent(kind=lsp.MarkupKind.Markdown, value=value), range=span
        )

    async def _config(
        self, filename: str, cut: bytes, where: str, build_args: Mapping[str, str]
    ) -> StepConfig:
        key = (cut, tuple(sorted(build_args.items())))
        if key not in self._configs:
            self._configs[key] = await self.host.config(filename, cut, where, build_args)
            while len(self._configs) > _MEMO_SIZE:
                self._configs.popitem(last=False)
        return self._configs[key]


def _path(uri: str) -> Path:
    return Path(to_fs_path(uri) or uri)


def _plain(method: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """A function calling ``method``: pygls marks its handlers with attributes, which a
    bound method cannot take."""
    if inspect.iscoroutinefunction(method):

        async def handler_async(params: Any) -> Any:
            return await method(params)

        return handler_async

    def handler(params: Any) -> Any:
        return method(params)

    return handler


def _field(params: Any, name: str) -> Any:
    """A field of a custom message's params, as plain JSON data (pygls gives objects of
    its own, namedtuples, for messages it has no type for)."""
    data = _json(params)
    return data.get(name) if isinstance(data, dict) else None


def _json(value: Any) -> Any:
    if hasattr(value, "_asdict"):
        return {key: _json(item) for key, item in value._asdict().items()}
    if isinstance(value, Mapping):
        return {key: _json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json(item) for item in value]
    return value
