// The adapter as the extension starts it (startAdapter, the descriptor factory's own
// function, after the configuration provider resolved the configuration), driven by VS
// Code's DebugClient against a real buildkitd. tests/dap/test_vscode_extension.py
// prepares the builder, a registry cache and the context, and passes them in.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as net from 'node:net';
import * as path from 'node:path';
import { test } from 'node:test';

import { DebugClient } from '@vscode/debugadapter-testsupport';
import type { DebugProtocol } from '@vscode/debugprotocol';

import type { AdapterProcess, ProtocolMessage } from '../../src/adapter';
import { FrameReader, buildCommand, frame, startAdapter } from '../../src/adapter';
import { DockerfileConfigurationProvider } from '../../src/configuration';
import { checkAdapter } from '../../src/preflight';
import type { JsonSchema } from '../../src/schema';

function required(name: string): string {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set: run this through tests/dap/test_vscode_extension.py`);
  }
  return value;
}

const PYTHON = required('BUILDG_DAP_PYTHON');
const BUILDER = required('BUILDG_DAP_BUILDER');
const CACHE = required('BUILDG_DAP_CACHE');
const CONTEXT = required('BUILDG_DAP_CONTEXT');
const WAIT = 180_000;
const THREAD = { threadId: 1 };
// eslint-disable-next-line @typescript-eslint/no-require-imports
const MANIFEST = require('../../../package.json') as {
  contributes: { debuggers: { configurationAttributes: { launch: { properties: Record<string, JsonSchema> } } }[] };
};
const PROPERTIES = MANIFEST.contributes.debuggers[0].configurationAttributes.launch.properties;
// The extension's defaults: `buildg-dap dap` from PATH.
const SETTINGS = { command: 'buildg-dap', python: '' };

/** Serves one AdapterProcess on a loopback port, framed as VS Code frames it in memory. */
function serve(adapter: AdapterProcess): Promise<{ port: number; server: net.Server }> {
  return new Promise((resolve) => {
    const server = net.createServer((socket) => {
      const reader = new FrameReader();
      socket.on('data', (chunk: Buffer) => {
        for (const message of reader.push(chunk)) {
          adapter.handleMessage(message);
        }
      });
      adapter.onDidSendMessage((message) => socket.write(frame(message)));
      socket.on('close', () => adapter.dispose());
    });
    server.listen(0, '127.0.0.1', () => resolve({ port: (server.address() as net.AddressInfo).port, server }));
  });
}

async function scopeValues(dc: DebugClient, ref: number): Promise<Record<string, string>> {
  const answer = await dc.variablesRequest({ variablesReference: ref });
  return Object.fromEntries(answer.body.variables.map((v) => [v.name, v.value]));
}

test('the adapter as the extension starts it: F5 config, gutter breakpoint, Variables, exec in the console, stop', { timeout: Number(process.env.BUILDG_DAP_TEST_TIMEOUT ?? 300_000) }, async (t) => {
  // Both ways of naming the adapter pass the check the extension runs first.
  assert.deepEqual(await checkAdapter(SETTINGS, CONTEXT), { ok: true });
  assert.deepEqual(await checkAdapter({ command: '', python: PYTHON }, CONTEXT), { ok: true });

  // What VS Code resolves from a launch.json entry, with the workspace folder = CONTEXT.
  const refusals: string[] = [];
  const provider = new DockerfileConfigurationProvider({
    activeDocument: () => ({ fileName: path.join(CONTEXT, 'Dockerfile'), languageId: 'dockerfile' }),
    folderOf: () => CONTEXT,
    defaultBuilder: () => BUILDER,
    refuse: (message) => refusals.push(message),
    adapterReady: () => Promise.resolve(true),
  }, PROPERTIES);
  const folder = { uri: { fsPath: CONTEXT } } as never;
  const first = provider.resolveDebugConfiguration(folder, {
    type: 'buildg-dap', request: 'launch', name: 'Debug from the registry cache', contextPath: '.', cacheFrom: [CACHE],
  });
  assert.ok(first);
  const config = await provider.resolveDebugConfigurationWithSubstitutedVariables(folder, first);
  assert.deepEqual(refusals, []);
  assert.ok(config);
  assert.equal(config.builder, BUILDER);
  const dockerfile = path.join(CONTEXT, 'Dockerfile');
  assert.equal(config.dockerfile, dockerfile);

  const traffic: string[] = [];
  const stderr: string[] = [];
  t.after(() => { if (stderr.length) { console.log(`--- adapter stderr ---\n${stderr.join('\n')}`); } });
  const heldBack: ProtocolMessage[] = [];
  const adapter = startAdapter(SETTINGS, { configuration: config, folder: CONTEXT }, {
    message: (direction, m) => traffic.push(`${direction} ${m.type} ${m.command ?? m.event}`),
    stderr: (line) => stderr.push(`${new Date().toISOString()} ${line}`),
    // As the extension's build status does: progress is shown by the extension.
    intercept: (m) => {
      const progress = m.type === 'event' && /^progress/.test(m.event ?? '');
      if (progress) {
        heldBack.push(m);
      }
      return progress;
    },
  });
  const { port, server } = await serve(adapter);
  t.after(() => { server.close(); adapter.dispose(); });

  const dc = new DebugClient('unused', 'unused', 'buildg-dap');
  dc.defaultTimeout = WAIT;
  const outputs: DebugProtocol.OutputEvent[] = [];
  dc.on('output', (e: DebugProtocol.OutputEvent) => outputs.push(e));
  await dc.start(port);

  // As VS Code initializes an adapter.
  await dc.initializeRequest({
    clientID: 'vscode', clientName: 'Visual Studio Code', adapterID: 'buildg-dap', pathFormat: 'path',
    linesStartAt1: true, columnsStartAt1: true, supportsVariableType: true, supportsVariablePaging: true,
    supportsRunInTerminalRequest: true, locale: 'en', supportsProgressReporting: true,
    supportsInvalidatedEvent: true, supportsMemoryReferences: true, supportsArgsCanBeInterpretedByShell: true,
    supportsMemoryEvent: true, supportsStartDebuggingRequest: true,
  });
  const initialized = dc.waitForEvent('initialized', WAIT);
  const stopped = dc.waitForEvent('stopped', WAIT);
  // launchRequest, not launch(): that one sends its own initialize first.
  const launched = dc.launchRequest(config as DebugProtocol.LaunchRequestArguments);
  await initialized;
  const set = await dc.setBreakpointsRequest({ source: { path: dockerfile }, breakpoints: [{ line: 5 }] });
  assert.deepEqual(set.body.breakpoints.map((b) => [b.verified, b.line]), [[true, 5]]);
  await dc.setExceptionBreakpointsRequest({ filters: ['on-fail'] });
  await dc.configurationDoneRequest();
  await launched;

  const stop = (await stopped) as DebugProtocol.StoppedEvent;
  assert.equal(stop.body.reason, 'breakpoint');
  const frame0 = (await dc.stackTraceRequest(THREAD)).body.stackFrames[0];
  assert.equal(frame0.line, 5);
  assert.equal(frame0.source?.path, dockerfile);

  const scopes = (await dc.scopesRequest({ frameId: frame0.id })).body.scopes;
  const step = await scopeValues(dc, scopes[0].variablesReference);
  assert.equal(scopes[0].name, 'Step');
  assert.equal(step.instruction, 'RUN echo hi > /hi');
  assert.equal(step.result, `from imported cache ${CACHE}`);
  const files = await scopeValues(dc, scopes.find((s) => s.name === 'Filesystem')!.variablesReference);
  assert.match(files.hi, / 3 bytes$/);

  const mark = outputs.length;
  const exec = await dc.evaluateRequest({ expression: 'exec cat /hi', context: 'repl', frameId: frame0.id });
  assert.equal(exec.body.result, 'exit code 0');
  assert.equal(outputs.slice(mark).filter((e) => e.body.category === 'stdout').map((e) => e.body.output).join(''), 'hi\n');

  // The build moved from launch to the breakpoint: its progress reached the extension
  // (with the steps it evaluated) and not the client.
  const events = heldBack.map((m) => m.event);
  assert.ok(events.includes('progressStart') && events.includes('progressEnd'), events.join(' '));
  const steps = heldBack.filter((m) => m.event === 'progressUpdate').map((m) => (m.body as { message: string }).message);
  assert.ok(steps.includes(`Dockerfile:5 from imported cache ${CACHE}`), steps.join(' | '));
  assert.ok(traffic.includes('to request launch') && traffic.includes('from event stopped'));

  // Stop, as the toolbar's Stop button does: the adapter ends and nothing is reported as a crash.
  await dc.disconnectRequest({ restart: false, terminateDebuggee: true });
  stderr.push(`${new Date().toISOString()} (test) disconnect answered`);
  let timer: NodeJS.Timeout | undefined;
  const code = await Promise.race([adapter.exited,
    new Promise<string>((resolve) => { timer = setTimeout(() => resolve('still running 30 s after disconnect'), 30_000); })]);
  clearTimeout(timer);
  assert.equal(code, 0);
  assert.ok(!outputs.some((e) => e.body.category === 'important' && /exited with code|killed/.test(e.body.output)),
    JSON.stringify(outputs.filter((e) => e.body.category === 'important')));
  await dc.stop().catch(() => undefined);
});

test('"Build Dockerfile" builds the Dockerfile on the builder of the settings', { timeout: 300_000 }, async () => {
  const line = buildCommand(SETTINGS, path.join(CONTEXT, 'Dockerfile'), BUILDER);
  const output = await new Promise<string>((resolve, reject) => {
    execFile(line.command, line.args, { cwd: CONTEXT, timeout: 240_000 }, (error, stdout, stderr) => {
      if (error) {
        reject(new Error(`${line.command} ${line.args.join(' ')}: ${error.message}\n${stdout}\n${stderr}`));
      } else {
        resolve(stdout + stderr);
      }
    });
  });
  assert.match(output, /RUN cat \/hello \/hi/);
});
