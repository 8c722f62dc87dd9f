// How the adapter is started, framing, and what VS Code sees when the adapter is missing
// or dies; the real adapter is in test/e2e.

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';

import type { ProtocolMessage } from '../../src/adapter';
import {
  AdapterProcess, FrameReader, adapterCommand, buildCommand, commandLine, display, frame, languageServerCommand,
} from '../../src/adapter';
import { describeStep, isDockerfile } from '../../src/dockerfile';

test('the adapter command: buildg-dap dap from PATH by default, or PYTHON -m buildg_dap dap', () => {
  assert.deepEqual(adapterCommand({ command: 'buildg-dap', python: '' }), { command: 'buildg-dap', args: ['dap'] });
  assert.deepEqual(adapterCommand({ command: '', python: '' }), { command: 'buildg-dap', args: ['dap'] });
  assert.deepEqual(adapterCommand({ command: '/opt/bin/buildg-dap', python: '' }),
    { command: '/opt/bin/buildg-dap', args: ['dap'] });
  assert.deepEqual(adapterCommand({ command: 'buildg-dap', python: '/v/bin/python' }),
    { command: '/v/bin/python', args: ['-m', 'buildg_dap', 'dap'] });
  assert.deepEqual(commandLine({ command: 'b', python: '' }, 'build', '-f', 'D', '.'),
    { command: 'b', args: ['build', '-f', 'D', '.'] });
  assert.equal(display({ command: '/my venv/python', args: ['-m', 'buildg_dap', 'dap'] }),
    "'/my venv/python' -m buildg_dap dap");
});

test('the language server runs as the adapter does, with lsp and the builder setting', () => {
  assert.deepEqual(languageServerCommand({ command: 'buildg-dap', python: '' }, ''), { command: 'buildg-dap', args: ['lsp'] });
  assert.deepEqual(languageServerCommand({ command: 'x', python: '/v/bin/python' }, 'tcp://b:1234'),
    { command: '/v/bin/python', args: ['-m', 'buildg_dap', 'lsp', '--addr', 'tcp://b:1234'] });
});

test('"Build Dockerfile" runs buildg-dap build with the Dockerfile\'s folder as the context', () => {
  assert.deepEqual(buildCommand({ command: 'buildg-dap', python: '' }, '/ws/app/Dockerfile', ''),
    { command: 'buildg-dap', args: ['build', '-f', '/ws/app/Dockerfile', '/ws/app'] });
  assert.deepEqual(buildCommand({ command: '', python: '/v/bin/python' }, '/ws/api.Dockerfile', 'tcp://b:1234'),
    { command: '/v/bin/python', args: ['-m', 'buildg_dap', 'build', '-f', '/ws/api.Dockerfile', '--addr', 'tcp://b:1234', '/ws'] });
});

test('Dockerfiles by language or by name', () => {
  assert.ok(isDockerfile('/a/whatever', 'dockerfile'));
  for (const name of ['Dockerfile', 'dockerfile', 'Dockerfile.dev', 'api.Dockerfile', 'Containerfile']) {
    assert.ok(isDockerfile(`/a/${name}`, 'plaintext'), name);
  }
  assert.ok(!isDockerfile('/a/Dockerfile.md.txt/x.go', 'go'));
  assert.ok(!isDockerfile('/a/docker-compose.yml', 'yaml'));
});

test('progress messages name the instruction of their line', () => {
  const lines = ['FROM busybox AS build1', 'RUN echo hello > /hello', '', `RUN ${'x'.repeat(80)}`];
  assert.equal(describeStep('Dockerfile:2 from imported cache r/c:1', lines),
    'RUN echo hello > /hello (line 2) from imported cache r/c:1');
  assert.equal(describeStep('Dockerfile:4 executed', lines), `RUN ${'x'.repeat(35)}… (line 4) executed`);
  assert.equal(describeStep('Dockerfile:3 executed', lines), 'Dockerfile:3 executed');
  assert.equal(describeStep('Dockerfile:40 executed', lines), 'Dockerfile:40 executed');
  assert.equal(describeStep('loading', lines), 'loading');
});

test('frames split anywhere are read whole, and multi-byte text survives', () => {
  const messages = [{ seq: 1, type: 'event', event: 'output', body: { output: 'héllo ✓\n' } },
    { seq: 2, type: 'response', request_seq: 1, success: true }];
  const bytes = Buffer.concat(messages.map(frame));
  for (let cut = 1; cut < bytes.length; cut += 7) {
    const reader = new FrameReader();
    const got = [...reader.push(bytes.subarray(0, cut)), ...reader.push(bytes.subarray(cut))];
    assert.deepEqual(got, messages);
  }
});

function collect(adapter: AdapterProcess): { messages: ProtocolMessage[]; until: (p: (m: ProtocolMessage) => boolean) => Promise<void> } {
  const messages: ProtocolMessage[] = [];
  const waiters: [(m: ProtocolMessage) => boolean, () => void][] = [];
  adapter.onDidSendMessage((m) => {
    messages.push(m);
    for (const w of [...waiters]) {
      if (w[0](m)) {
        waiters.splice(waiters.indexOf(w), 1);
        w[1]();
      }
    }
  });
  return {
    messages,
    until: (p) => (messages.some(p) ? Promise.resolve() : new Promise((resolve) => { waiters.push([p, resolve]); })),
  };
}

const terminated = (m: ProtocolMessage) => m.type === 'event' && m.event === 'terminated';

test('a missing adapter: the pending request fails with the reason and the session ends', async () => {
  const adapter = new AdapterProcess({ command: '/nonexistent/buildg-dap', args: ['dap'] }, {});
  const seen = collect(adapter);
  adapter.handleMessage({ seq: 1, type: 'request', command: 'initialize', arguments: {} });
  await seen.until(terminated);
  const failed = seen.messages.find((m) => m.type === 'response');
  assert.equal(failed?.request_seq, 1);
  assert.equal(failed?.success, false);
  assert.match(failed?.message ?? '', /cannot start \/nonexistent\/buildg-dap dap: spawn \/nonexistent\/buildg-dap ENOENT/);
  adapter.dispose();
});

test('an adapter that dies: its last stderr lines are in the error', async () => {
  const script = 'process.stderr.write("Traceback: boom\\n"); process.exit(3)';
  const adapter = new AdapterProcess({ command: process.execPath, args: ['-e', script] }, {});
  const seen = collect(adapter);
  adapter.handleMessage({ seq: 1, type: 'request', command: 'initialize', arguments: {} });
  await seen.until(terminated);
  const important = seen.messages.find((m) => m.event === 'output');
  assert.match(JSON.stringify(important?.body), /exited with code 3:\\nTraceback: boom/);
  adapter.dispose();
});

test('messages pass both ways; observers see them; intercepted ones stay back', async () => {
  // A stand-in adapter: answers each request and sends a progress event before it.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'buildg-dap-ext-'));
  const echo = path.join(dir, 'echo.js');
  fs.writeFileSync(echo, `
    let buf = Buffer.alloc(0); let seq = 1;
    const send = (m) => { const b = Buffer.from(JSON.stringify({ seq: seq++, ...m })); process.stdout.write('Content-Length: ' + b.length + '\\r\\n\\r\\n'); process.stdout.write(b); };
    process.stdin.on('data', (c) => {
      buf = Buffer.concat([buf, c]);
      for (;;) {
        const i = buf.indexOf('\\r\\n\\r\\n'); if (i < 0) return;
        const n = Number(/Content-Length: (\\d+)/.exec(buf.subarray(0, i).toString())[1]);
        if (buf.length < i + 4 + n) return;
        const req = JSON.parse(buf.subarray(i + 4, i + 4 + n)); buf = buf.subarray(i + 4 + n);
        send({ type: 'event', event: 'progressStart', body: { progressId: 'p', title: 'Building' } });
        send({ type: 'response', request_seq: req.seq, command: req.command, success: true, body: { echo: req.arguments } });
        if (req.command === 'disconnect') process.exit(0);
      }
    });`);
  const traced: string[] = [];
  const adapter = new AdapterProcess({ command: process.execPath, args: [echo] }, {}, {
    message: (direction, m) => traced.push(`${direction} ${m.type} ${m.command ?? m.event}`),
    intercept: (m) => m.event === 'progressStart',
  });
  const seen = collect(adapter);
  adapter.handleMessage({ seq: 1, type: 'request', command: 'initialize', arguments: { adapterID: 'buildg-dap' } });
  await seen.until((m) => m.type === 'response');
  assert.deepEqual(seen.messages.map((m) => [m.type, m.command, m.body]),
    [['response', 'initialize', { echo: { adapterID: 'buildg-dap' } }]]);
  assert.deepEqual(traced, ['to request initialize', 'from event progressStart', 'from response initialize']);
  // A disconnect ends the adapter by design: no error, no extra terminated event.
  adapter.handleMessage({ seq: 2, type: 'request', command: 'disconnect', arguments: {} });
  await seen.until((m) => m.command === 'disconnect');
  assert.equal(await adapter.exited, 0);
  assert.deepEqual(seen.messages.filter((m) => m.type === 'event'), []);
  // A request after the adapter ended is answered, not left waiting.
  adapter.handleMessage({ seq: 3, type: 'request', command: 'threads', arguments: {} });
  const late = seen.messages.find((m) => m.request_seq === 3);
  assert.equal(late?.success, false);
  assert.match(late?.message ?? '', /no longer running/);
  adapter.dispose();
  fs.rmSync(dir, { recursive: true });
});
