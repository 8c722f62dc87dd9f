// A real VS Code debugs the seed Dockerfile through the packaged extension: code-server
// (installed by scripts/code-server.sh) in Debian's Chromium, driven by playwright-core
// as a person would: gutter click, F5, the Variables view, the Debug Console; then the
// language server's lint squiggle, a breakpoint moved to a step and "Debug to here". Each
// state is saved as a screenshot. tests/dap/test_vscode_extension.py prepares the
// builder, the registry cache and the workspace, and passes them in.

import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';

import type { Browser, Locator, Page } from 'playwright-core';
import { chromium } from 'playwright-core';

function required(name: string): string {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set: run this through tests/dap/test_vscode_extension.py`);
  }
  return value;
}

const CODE_SERVER = required('BUILDG_DAP_CODE_SERVER');
const VSIX = required('BUILDG_DAP_VSIX');
const WORKSPACE = required('BUILDG_DAP_WORKSPACE');
const BUILDER = required('BUILDG_DAP_BUILDER');
const CACHE = required('BUILDG_DAP_CACHE');
const ARTIFACTS = required('BUILDG_DAP_ARTIFACTS');
const STATE = required('BUILDG_DAP_STATE');
// VS Code's server takes PATH from the user's login shell, not from its own environment.
const ADAPTER = required('BUILDG_DAP_ADAPTER_COMMAND');
const CHROMIUM = process.env.BUILDG_DAP_CHROMIUM ?? '/usr/bin/chromium';
// A stop can wait on a solve and on pulling cache layers.
const STOP_WAIT = 180_000;
const UI_WAIT = 60_000;

const userData = path.join(STATE, 'user-data');
const extensions = path.join(STATE, 'extensions');
let shots = 0;

async function shot(page: Page, name: string): Promise<string> {
  shots += 1;
  const file = path.join(ARTIFACTS, `${String(shots).padStart(2, '0')}-${name}.png`);
  await page.screenshot({ path: file });
  return file;
}

function writeSettings(adapter: string): void {
  // A quiet, trusted workbench: no trust dialog, welcome page, tips or update checks.
  fs.writeFileSync(path.join(userData, 'User', 'settings.json'), JSON.stringify({
    'security.workspace.trust.enabled': false,
    'workbench.startupEditor': 'none',
    'workbench.tips.enabled': false,
    'workbench.enableExperiments': false,
    'telemetry.telemetryLevel': 'off',
    'update.mode': 'none',
    'extensions.autoCheckUpdates': false,
    'extensions.autoUpdate': false,
    'editor.minimap.enabled': false,
    // The DOM renderer: the terminal's text is then in the page for the test to read.
    'terminal.integrated.gpuAcceleration': 'off',
  }, null, 2));
  // The extension's settings are per machine: in code-server, the server's own settings
  // (VS Code's "Remote" settings), as for any remote window.
  fs.writeFileSync(path.join(userData, 'Machine', 'settings.json'), JSON.stringify({
    'buildgDap.builder': BUILDER,
    'buildgDap.adapter.command': adapter,
    // The DAP traffic lands in the exthost logs, for when this test fails.
    'buildgDap.trace': true,
  }, null, 2));
}

function prepare(): void {
  fs.mkdirSync(path.join(userData, 'User'), { recursive: true });
  fs.mkdirSync(path.join(userData, 'Machine'), { recursive: true });
  fs.mkdirSync(extensions, { recursive: true });
  writeSettings(path.join(STATE, 'not-installed', 'buildg-dap'));
  fs.writeFileSync(path.join(STATE, 'config.yaml'), 'auth: none\n');
  // As a user installs a .vsix: the CLI of the same VS Code.
  execFileSync(CODE_SERVER, ['--config', path.join(STATE, 'config.yaml'), '--user-data-dir', userData,
    '--extensions-dir', extensions, '--install-extension', VSIX], { stdio: 'pipe', timeout: 120_000 });
}

function startCodeServer(): Promise<{ child: ChildProcess; url: string; log: string[] }> {
  const log: string[] = [];
  // Its own process group, so that stopping it stops its extension host and the adapter.
  const child = spawn(CODE_SERVER, [
    '--config', path.join(STATE, 'config.yaml'), '--auth', 'none', '--bind-addr', '127.0.0.1:0',
    '--disable-telemetry', '--disable-update-check', '--user-data-dir', userData,
    '--extensions-dir', extensions, WORKSPACE,
  ], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`code-server did not start:\n${log.join('')}`)), UI_WAIT);
    const read = (chunk: Buffer): void => {
      const text = chunk.toString();
      log.push(text);
      const match = /HTTP server listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(log.join(''));
      if (match) {
        clearTimeout(timer);
        resolve({ child, url: match[1], log });
      }
    };
    child.stdout?.on('data', read);
    child.stderr?.on('data', read);
    child.on('exit', (code) => reject(new Error(`code-server exited (${code}):\n${log.join('')}`)));
  });
}

/** Polls `probe` until it returns something, or fails after `timeout` ms saying what it waited for. */
async function until<T>(probe: () => Promise<T | undefined>, timeout: number, what: string): Promise<T> {
  const deadline = Date.now() + timeout;
  for (;;) {
    const value = await probe();
    if (value !== undefined) {
      return value;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

function stop(child: ChildProcess): void {
  if (child.pid !== undefined && child.exitCode === null) {
    try {
      process.kill(-child.pid, 'SIGTERM');
    } catch {
      // already gone
    }
  }
}

test('VS Code debugs the seed Dockerfile: gutter breakpoint, F5, Variables, exec in the Debug Console, to the end; lint, Debug to here', { timeout: 900_000 }, async (t) => {
  prepare();
  const server = await startCodeServer();
  t.after(() => stop(server.child));
  const browser: Browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      ...(process.getuid?.() === 0 ? ['--no-sandbox'] : []),
      '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync',
    ],
  });
  t.after(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  page.setDefaultTimeout(UI_WAIT);
  try {
    await debugTheSeed(page, server.url);
    await languageFeatures(page);
  } catch (error) {
    await shot(page, 'failure');
    throw error;
  }
});

const BREAKPOINT = '.glyph-margin-widgets .codicon-debug-breakpoint';
// Any breakpoint icon: also the one of a breakpoint the debugger is paused at.
const ANY_BREAKPOINT = '.glyph-margin-widgets [class*="codicon-debug-breakpoint"]';
const STACK_FRAME = '.glyph-margin-widgets .codicon-debug-stackframe';

/** The vertical middle of a line of the editor, by its line number. */
async function lineMiddle(editor: Locator, line: number): Promise<number> {
  const box = await editor.locator('.margin-view-overlays .line-numbers', { hasText: new RegExp(`^${line}$`) }).boundingBox();
  assert.ok(box, `line ${line} is not on screen`);
  return box.y + box.height / 2;
}

/** The lines (1-based) that show a glyph margin icon. */
async function glyphLines(editor: Locator, selector: string): Promise<number[]> {
  const numbers = editor.locator('.margin-view-overlays .line-numbers');
  const lines: { line: number; top: number; bottom: number }[] = [];
  for (const n of await numbers.all()) {
    const box = await n.boundingBox();
    if (box) {
      lines.push({ line: Number((await n.innerText()).trim()), top: box.y, bottom: box.y + box.height });
    }
  }
  const found: number[] = [];
  for (const glyph of await editor.locator(selector).all()) {
    const box = await glyph.boundingBox();
    const middle = box ? box.y + box.height / 2 : -1;
    const at = lines.find((l) => l.top <= middle && middle < l.bottom);
    if (at) {
      found.push(at.line);
    }
  }
  return found.sort((a, b) => a - b);
}

/** A click in the glyph margin of `line`: sets a breakpoint there (the editor may move it). */
async function gutterClick(page: Page, editor: Locator, line: number): Promise<void> {
  const glyphBox = await editor.locator('.margin .glyph-margin').boundingBox();
  assert.ok(glyphBox);
  const before = (await glyphLines(editor, BREAKPOINT)).length;
  // The editor takes gutter clicks only once its debug contribution is up: click again
  // until a breakpoint shows (a second click on a set one would clear it).
  for (let attempt = 0; (await glyphLines(editor, BREAKPOINT)).length === before; attempt++) {
    assert.ok(attempt < 20, 'no breakpoint after 20 gutter clicks');
    const y = await lineMiddle(editor, line);
    await page.mouse.move(glyphBox.x + glyphBox.width / 2, y);
    await page.mouse.click(glyphBox.x + glyphBox.width / 2, y);
    await until(async () => ((await glyphLines(editor, BREAKPOINT)).length > before ? true : undefined), 3000, 'a breakpoint')
      .catch(() => undefined);
  }
}

async function debugTheSeed(page: Page, url: string): Promise<void> {
  await page.goto(`${url}/?folder=${encodeURIComponent(WORKSPACE)}`);
  await page.locator('.monaco-workbench').waitFor();

  // Open the Dockerfile from the explorer.
  await page.getByRole('treeitem', { name: 'Dockerfile', exact: true }).click();
  const editor = page.locator('.editor-instance .monaco-editor').first();
  await editor.locator('.view-line', { hasText: 'RUN echo hi > /hi' }).waitFor();

  // The language server starts as the adapter does, so with no adapter installed it
  // cannot: one warning, and debugging goes on without it.
  const noServer = page.locator('.notification-toast', { hasText: 'The Dockerfile language server' });
  await noServer.getByRole('button', { name: 'Show Log' }).waitFor();
  assert.match(await noServer.innerText(), /not-installed\/buildg-dap was not found/);
  await shot(page, 'no-language-server');
  await noServer.locator('.codicon-notifications-clear').click();
  await noServer.waitFor({ state: 'hidden' });

  // A gutter click on line 5 sets a breakpoint there.
  await gutterClick(page, editor, 5);
  await shot(page, 'breakpoint');

  // F5 runs launch.json's configuration (the registry cache). First with no adapter
  // installed: one notification says what to run, and no session starts.
  await editor.locator('.view-line', { hasText: 'RUN echo hi > /hi' }).click();
  await page.keyboard.press('F5');
  const missing = page.locator('.notification-toast', { hasText: `buildg-dap was not found: ${path.join(STATE, 'not-installed', 'buildg-dap')} does not exist` });
  await missing.waitFor();
  await page.keyboard.press('F5');
  await page.waitForTimeout(2000);
  assert.equal(await missing.count(), 1, 'one notification, however often F5 is pressed');
  assert.equal(await noServer.count(), 0, 'the language server warning is not repeated');
  assert.equal(await page.locator('.debug-toolbar').isVisible(), false);
  await shot(page, 'adapter-missing');
  await missing.locator('.codicon-notifications-clear').click();
  await missing.waitFor({ state: 'hidden' });

  // With the adapter where the setting says, F5 again.
  writeSettings(ADAPTER);
  await page.waitForTimeout(2000); // VS Code picks up the settings file
  await editor.locator('.view-line', { hasText: 'RUN echo hi > /hi' }).click();
  await page.keyboard.press('F5');
  // A build that takes a while shows its progress; one that reaches the breakpoint at
  // once shows none.
  const progress = page.locator('.notification-toast', { hasText: 'Building: Show build log' });
  const paused = editor.locator('.codicon-debug-stackframe');
  const first = await Promise.race([
    progress.waitFor({ timeout: STOP_WAIT }).then(() => 'progress'),
    paused.waitFor({ timeout: STOP_WAIT }).then(() => 'paused'),
  ]);
  if (first === 'progress') {
    await shot(page, 'building');
  }

  // Paused on line 5: the editor's stack frame decoration and the toolbar's Continue.
  await paused.waitFor({ timeout: STOP_WAIT });
  await progress.waitFor({ state: 'hidden' });
  await page.locator('.debug-toolbar .codicon-debug-continue').waitFor();
  await shot(page, 'paused');

  // The Variables view: the step's scope expanded.
  const variables = page.locator('.pane', { has: page.locator('.pane-header', { hasText: /^variables$/i }) });
  await variables.locator('.monaco-list-row', { hasText: 'instruction' }).waitFor();
  const seen = await variables.locator('.monaco-list-row').allInnerTexts();
  await shot(page, 'variables');
  assert.ok(seen.some((r) => /instruction\s*=\s*RUN echo hi > \/hi/.test(r)), seen.join('\n'));
  assert.ok(seen.some((r) => r.includes(`from imported cache ${CACHE}`)), seen.join('\n'));

  // The Debug Console: exec runs in the step's container.
  await page.keyboard.press('Control+Shift+Y');
  const input = page.locator('.repl-input-wrapper .monaco-editor textarea');
  await input.waitFor();
  await input.focus();
  await page.keyboard.type('exec cat /hi');
  await page.keyboard.press('Enter');
  const replRows = page.locator('.repl .monaco-list-row');
  const lines = await until(async () => {
    const texts = (await replRows.allInnerTexts()).map((text) => text.trim());
    const at = texts.lastIndexOf('exec cat /hi');
    return at >= 0 && texts.slice(at).includes('hi') && texts.slice(at).some((text) => text.endsWith('exit code 0'))
      ? texts : undefined;
  }, STOP_WAIT, 'the output of exec cat /hi in the Debug Console');
  assert.equal(lines[lines.lastIndexOf('exec cat /hi') + 1], 'hi', lines.join('\n'));
  await shot(page, 'console');

  // `exec` alone: an interactive shell in the integrated terminal (the adapter's
  // runInTerminal request, through the extension to VS Code and back).
  await input.focus();
  await page.keyboard.type('exec');
  await page.keyboard.press('Enter');
  const terminal = page.locator('.terminal-wrapper.active .xterm-rows');
  // The container's busybox shell, not the terminal's own shell that runs the attach command.
  await until(async () => (/BusyBox[\s\S]*\/ #\s*$/.test(await terminal.innerText().catch(() => '')) ? true : undefined),
    STOP_WAIT, "the step container's shell prompt in the terminal");
  // (VS Code's widget layer lies over the text; the click is for the terminal below it.)
  await page.locator('.terminal-wrapper.active .xterm-screen').click({ force: true });
  await page.keyboard.type('cat /hi');
  await page.keyboard.press('Enter');
  await until(async () => (/cat \/hi\s*\n\s*hi\s*\n/.test(await terminal.innerText()) ? true : undefined),
    UI_WAIT, '"hi" in the terminal');
  await shot(page, 'terminal');
  await page.keyboard.type('exit');
  await page.keyboard.press('Enter');

  // Continue to the end of the build: the session ends.
  await page.locator('.debug-toolbar .codicon-debug-continue').click();
  await page.locator('.debug-toolbar').waitFor({ state: 'hidden', timeout: STOP_WAIT });
  const callStack = page.locator('.pane', { has: page.locator('.pane-header', { hasText: /^call stack/i }) });
  await until(async () => ((await callStack.locator('.monaco-list-row').count()) === 0 ? true : undefined),
    UI_WAIT, 'an empty call stack');
  await shot(page, 'ended');

  // "Debug Dockerfile" in the editor title, on a Dockerfile with a slow step and no
  // launch.json entry: the progress notification names the step, its link opens the log.
  await page.locator('.activitybar').getByRole('tab', { name: /^Explorer/ }).click();
  await page.getByRole('treeitem', { name: 'slow.Dockerfile', exact: true }).click();
  await editor.locator('.view-line', { hasText: 'sleep' }).waitFor();
  await page.locator('.editor-actions').getByRole('button', { name: 'Debug Dockerfile' }).click();
  const building = page.locator('.notification-toast', { hasText: 'Building: Show build log' });
  await building.locator('a', { hasText: 'Show build log' }).waitFor({ timeout: STOP_WAIT });
  await until(async () => ((await building.innerText()).includes('(line 1)') ? true : undefined),
    STOP_WAIT, 'the progress notification to name a step');
  await shot(page, 'building');
  await building.locator('a', { hasText: 'Show build log' }).click();
  // The Output panel, showing the build log channel.
  await until(async () => {
    const shown = await page.locator('.panel select').evaluateAll((all) => all.map((e) => (e as unknown as { value: string }).value));
    return shown.includes('buildg-dap build log') ? true : undefined;
  }, UI_WAIT, 'the Output panel to show the build log');
  await page.locator('.debug-toolbar').waitFor({ state: 'hidden', timeout: STOP_WAIT });
  await building.waitFor({ state: 'hidden' });
  await page.locator('.output-view .view-lines', { hasText: 'RUN echo building && sleep' }).waitFor();
  await shot(page, 'build-log');
}

async function runCommand(page: Page, title: string): Promise<void> {
  await page.keyboard.press('F1');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor();
  await input.fill(`>${title}`);
  await page.locator('.quick-input-widget .monaco-list-row', { hasText: title }).first().waitFor();
  await page.keyboard.press('Enter');
  await page.locator('.quick-input-widget').waitFor({ state: 'hidden' });
}

/** The language server, started by the extension as the adapter is: BuildKit's checks
 * as problems, the last session's record beside the steps, a breakpoint between steps
 * moved to the next step, and the "Debug to here" code lens. */
async function languageFeatures(page: Page): Promise<void> {
  const editor = page.locator('.editor-instance .monaco-editor').first();
  // "Show Explorer": a click on its tab would close the side bar when it is already open.
  const explorer = { click: () => page.keyboard.press('Control+Shift+E') };

  // `FROM busybox as base`: BuildKit's FromAsCasing check, a squiggle and a problem.
  await explorer.click();
  await page.getByRole('treeitem', { name: 'lint.Dockerfile', exact: true }).click();
  await editor.locator('.view-line', { hasText: 'FROM busybox as base' }).waitFor();
  await editor.locator('.squiggly-warning').first().waitFor({ timeout: STOP_WAIT });
  await page.keyboard.press('Control+Shift+M');
  const problem = page.locator('.markers-panel .monaco-list-row', { hasText: 'FromAsCasing' });
  await problem.waitFor();
  assert.match(await problem.innerText(), /buildkit/, await problem.innerText());
  await shot(page, 'lint');

  // The seed Dockerfile: its steps came from the registry cache in the first session.
  await explorer.click();
  await page.getByRole('treeitem', { name: 'Dockerfile', exact: true }).click();
  await editor.locator('.view-line', { hasText: 'RUN echo hi > /hi' }).waitFor();
  // (The editor renders spaces as no-break spaces.)
  const stepLine = editor.locator('.view-line', { hasText: 'RUN echo hi > /hi' });
  await until(async () => (/\/hi\s*cached$/.test((await stepLine.innerText()).replace(/\s+/g, ' ').trim()) ? true : undefined),
    UI_WAIT, '"cached" beside RUN echo hi > /hi');
  await shot(page, 'step-record');

  // A breakpoint on the blank line between two stages goes to the next step.
  await runCommand(page, 'Remove All Breakpoints');
  await until(async () => ((await glyphLines(editor, ANY_BREAKPOINT)).length === 0 ? true : undefined), UI_WAIT, 'no breakpoints');
  await gutterClick(page, editor, 3);
  await until(async () => {
    const lines = await glyphLines(editor, BREAKPOINT);
    return lines.length === 1 && lines[0] === 4 ? true : undefined;
  }, UI_WAIT, 'the breakpoint set on line 3 to move to line 4');
  await shot(page, 'breakpoint-moved');
  await runCommand(page, 'Remove All Breakpoints');
  await until(async () => ((await glyphLines(editor, ANY_BREAKPOINT)).length === 0 ? true : undefined), UI_WAIT, 'no breakpoints');

  // "Debug to here" above line 10: launch.json's configuration (the registry cache), run
  // to that step through a breakpoint that goes when the session ends.
  const line10 = editor.locator('.margin-view-overlays .line-numbers', { hasText: /^10$/ });
  const top = (await line10.boundingBox())?.y;
  assert.ok(top !== undefined);
  const lenses = editor.locator('.codelens-decoration', { hasText: 'Debug to here' });
  await lenses.first().waitFor();
  let lens: Locator | undefined;
  let lensTop = -Infinity;
  for (const candidate of await lenses.all()) {
    const box = await candidate.boundingBox();
    if (box && box.y < top && box.y > lensTop) {
      lens = candidate;
      lensTop = box.y;
    }
  }
  assert.ok(lens, 'no "Debug to here" above line 10');
  await lens.getByText('Debug to here').click();
  await until(async () => {
    const lines = await glyphLines(editor, STACK_FRAME);
    return lines.length === 1 && lines[0] === 10 ? true : undefined;
  }, STOP_WAIT, 'the debugger to stop at line 10');
  assert.deepEqual(await glyphLines(editor, ANY_BREAKPOINT), [10]);
  const variables = page.locator('.pane', { has: page.locator('.pane-header', { hasText: /^variables$/i }) });
  await variables.locator('.monaco-list-row', { hasText: 'instruction' }).waitFor();
  const seen = await variables.locator('.monaco-list-row').allInnerTexts();
  await shot(page, 'debug-to-here');
  assert.ok(seen.some((r) => /instruction\s*=\s*RUN cat \/hello \/hi/.test(r)), seen.join('\n'));
  // Where the step's result comes from is not checked here: after the first session this
  // builder holds results of its own, and whether BuildKit matches the registry cache's
  // keys or its own content-based ones for the COPY --from steps decides whether this RUN
  // is found or runs again. The launch's fields (the cache included) are checked by the
  // unit tests of runToLaunch.

  // To the end: the breakpoint "Debug to here" added is gone with the session.
  await page.locator('.debug-toolbar .codicon-debug-continue').click();
  await page.locator('.debug-toolbar').waitFor({ state: 'hidden', timeout: STOP_WAIT });
  await until(async () => ((await glyphLines(editor, ANY_BREAKPOINT)).length === 0 ? true : undefined),
    UI_WAIT, 'the temporary breakpoint to go');
  await shot(page, 'debug-to-here-ended');
}
