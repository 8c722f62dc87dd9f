"""The VS Code extension in vscode-extension/ against the real daemon: its launch schema
against the adapter's fields; the adapter started exactly as the extension starts it and
driven by VS Code's DebugClient (test/e2e); and a real VS Code, code-server in headless
Chromium, debugging the seed Dockerfile through the installed .vsix and using its
language server, `buildg-dap lsp` (test/ui), with a screenshot of each state under
test-artifacts/vscode/. This prepares the builder, the registry cache and the workspace,
and runs the node tests."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import anyio
import pytest

from buildg_dap.dap.launch import BuilderTLS, LaunchArguments
from tests.dap.dapclient import dap_session, launch
from tests.integration.cliutil import write_context
from tests.lab import Buildkitd, Registry, buildctl_build
from tests.lab.service import clean_env

ROOT = Path(__file__).resolve().parents[2]
EXT = ROOT / "vscode-extension"
SEED = ROOT / "examples" / "seed" / "Dockerfile"
ARTIFACTS = ROOT / "test-artifacts" / "vscode"
MANIFEST = json.loads((EXT / "package.json").read_text())
SLOW = """\
FROM busybox
RUN echo building && sleep 8 && echo done > /done
"""
# BuildKit's FromAsCasing check: `as` in lower case after an upper-case FROM.
LINT = """\
FROM busybox as base
RUN echo linted
"""


def _launch_schema() -> dict[str, dict[str, object]]:
    debugger = MANIFEST["contributes"]["debuggers"][0]
    properties: dict[str, dict[str, object]] = debugger["configurationAttributes"]["launch"][
        "properties"
    ]
    return properties


def test_launch_schema_is_the_adapters() -> None:
    properties = _launch_schema()
    # `trace` is one of the fields every client may send; the extension acts on it.
    assert set(properties) == set(LaunchArguments.model_fields) | {"trace"}
    tls = properties["builderTLS"]["properties"]
    assert isinstance(tls, dict)
    assert set(tls) == set(BuilderTLS.model_fields)
    fields = LaunchArguments.model_fields
    for name, schema in properties.items():
        assert schema.get("description"), f"{name} has no description"
        default = fields[name].default if name in fields else None
        if isinstance(default, bool):
            assert schema.get("default") is default, name


def _node() -> str:
    node = shutil.which("node")
    assert node is not None, "node is not installed: run scripts/setup.sh"
    assert (EXT / "node_modules" / "typescript").is_dir(), (
        "the extension's npm packages are not installed: run scripts/setup.sh"
    )
    return node


@pytest.fixture(scope="module")
def vsix() -> Path:
    """The extension compiled (out/) and packaged, from the sources as they are now."""
    _node()
    run = subprocess.run(
        ["npm", "run", "package"], cwd=EXT, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, f"npm run package failed\n{run.stdout}\n{run.stderr}"
    return EXT / "buildg-dap.vsix"


def _env(**extra: str) -> dict[str, str]:
    # The extension's default adapter command is `buildg-dap` from PATH: this venv's.
    venv_bin = str(Path(sys.executable).parent)
    env = clean_env()
    env["PATH"] = f"{venv_bin}:{env.get('PATH', '')}"
    return env | extra


def _cache(builder: Buildkitd, registry: Registry, context: Path, tag: str) -> str:
    cache = f"{registry.host}/cache:{tag}"
    buildctl_build(builder, context, "--export-cache", f"type=registry,ref={cache},mode=max")
    return cache


def _run_node(tests: str, env: dict[str, str], timeout: float) -> str:
    run = subprocess.run(
        [_node(), "--test", "--test-force-exit", "--test-reporter=spec", tests],
        cwd=EXT, env=env, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip
    report = f"{run.stdout}\n{run.stderr}"
    print(report)  # pytest shows it with -s, or on failure
    assert run.returncode == 0, f"node --test {tests} exited {run.returncode}\n{report}"
    return report


def test_adapter_as_the_extension_starts_it(
    tmp_path: Path, vsix: Path, builder_a: Buildkitd, fresh_builder: Buildkitd, registry: Registry
) -> None:
    context = write_context(tmp_path / "ctx", SEED.read_text())
    cache = _cache(builder_a, registry, context, "vscode-e2e")
    env = _env(
        BUILDG_DAP_PYTHON=sys.executable,
        BUILDG_DAP_BUILDER=fresh_builder.address,
        BUILDG_DAP_CACHE=cache,
        BUILDG_DAP_CONTEXT=str(context),
    )
    _run_node("out/test/e2e/", env, timeout=600)


@pytest.mark.timeout(1500)
def test_vs_code_debugs_the_seed_dockerfile(
    tmp_path: Path, vsix: Path, builder_a: Buildkitd, fresh_builder: Buildkitd, registry: Registry
) -> None:
    # Missing tools are a broken setup, not a reason to skip.
    installed = subprocess.run(
        ["bash", str(ROOT / "scripts" / "code-server.sh")],
        capture_output=True, text=True, timeout=1200,
    )  # fmt: skip
    assert installed.returncode == 0, f"scripts/code-server.sh failed\n{installed.stderr}"
    code_server = Path(installed.stdout.strip().splitlines()[-1]) / "node_modules/.bin/code-server"
    assert Path("/usr/bin/chromium").exists(), "chromium is not installed: run scripts/setup.sh"

    workspace = tmp_path / "seed"
    workspace.mkdir()
    shutil.copy(SEED, workspace / "Dockerfile")
    cache = _cache(builder_a, registry, workspace, "vscode-ui")
    # A step slow enough for the progress notification.
    (workspace / "slow.Dockerfile").write_text(SLOW)
    (workspace / "lint.Dockerfile").write_text(LINT)
    (workspace / ".vscode").mkdir()
    launch = {
        "version": "0.2.0",
        "configurations": [
            {
                "type": "buildg-dap",
                "request": "launch",
                "name": "Debug from the registry cache",
                "contextPath": "${workspaceFolder}",
                "cacheFrom": [cache],
            }
        ],
    }
    (workspace / ".vscode" / "launch.json").write_text(json.dumps(launch, indent=2))
    if ARTIFACTS.exists():
        shutil.rmtree(ARTIFACTS)
    ARTIFACTS.mkdir(parents=True)
    env = _env(
        BUILDG_DAP_CODE_SERVER=str(code_server),
        BUILDG_DAP_VSIX=str(vsix),
        BUILDG_DAP_WORKSPACE=str(workspace),
        BUILDG_DAP_BUILDER=fresh_builder.address,
        BUILDG_DAP_CACHE=cache,
        BUILDG_DAP_ARTIFACTS=str(ARTIFACTS),
        BUILDG_DAP_STATE=str(tmp_path / "code-server"),
        BUILDG_DAP_ADAPTER_COMMAND=str(Path(sys.executable).parent / "buildg-dap"),
        # The step records the language server shows: this test's own, none from before.
        XDG_STATE_HOME=str(tmp_path / "state"),
    )
    _run_node("out/test/ui/", env, timeout=1200)
    shots = ["paused", "variables", "console", "terminal", "ended", "building", "build-log"]
    shots += ["no-language-server", "lint", "step-record", "breakpoint-moved", "debug-to-here"]
    for shot in shots:
        assert any(ARTIFACTS.glob(f"*-{shot}.png")), f"no {shot} screenshot in {ARTIFACTS}"


def test_a_workspace_opened_through_a_symlink_stops_at_its_breakpoints(
    tmp_path: Path, builder_a: Buildkitd
) -> None:
    # Editors keep the path a folder was opened by; the adapter resolves symlinks.
    real = write_context(tmp_path / "real", SEED.read_text())
    link = tmp_path / "link"
    link.symlink_to(real)

    async def main() -> None:
        async with dap_session(cwd=link) as client:
            answer = await launch(
                client, {"contextPath": str(link), "builder": builder_a.address}, [5]
            )
            breakpoints = answer["breakpoints"]
            assert [(b["verified"], b["line"]) for b in breakpoints] == [(True, 5)], breakpoints
            stop = await client.stopped(within=180)
            assert stop["reason"] == "breakpoint"
            assert (await client.top_frame())["line"] == 5

    anyio.run(main)
