// The DAP adapter driven by VS Code's own test client, DebugClient from
// @vscode/debugadapter-testsupport, against a real buildkitd. The pytest wrapper
// tests/dap/test_debugclient.py prepares the builder, the cache and the contexts and
// passes them in the environment.

import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';

import testsupport from '@vscode/debugadapter-testsupport';

const { DebugClient } = testsupport;

function required(name) {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set: run these tests through tests/dap/test_debugclient.py`);
  }
  return value;
}

const PYTHON = required('PYTHON');
const BUILDER = required('BUILDG_DAP_BUILDER');
const CACHE = required('BUILDG_DAP_CACHE');
const CONTEXT = required('BUILDG_DAP_CONTEXT');
const FAIL_CONTEXT = required('BUILDG_DAP_FAIL_CONTEXT');
const TRACE_DIR = process.env.BUILDG_DAP_TRACE_DIR;

// A stop can wait on a solve, pulling cache layers or busybox: far longer than
// DebugClient's default of 5 s.
const WAIT = 180_000;
const TEST = { timeout: 300_000 };
const THREAD = { threadId: 1 };
const quote = (word) => `'${word.replaceAll("'", "'\\''")}'`;

// DebugClient spawns `runtime executable`, with exactly one argument, so the three words
// `-m buildg_dap dap` go through the shell; `exec` makes the adapter itself the child
// that DebugClient talks to and kills.
async function adapter(t, label) {
  const args = ['-m', 'buildg_dap', 'dap'];
  if (TRACE_DIR) {
    args.push('--log', path.join(TRACE_DIR, `${label}.log`));
  }
  const dc = new DebugClient(
    `exec ${quote(PYTHON)}`, args.map(quote).join(' '), 'buildg-dap',
    { shell: true, cwd: CONTEXT, env: process.env }, true,
  );
  dc.defaultTimeout = WAIT;
  const events = [];
  for (const name of ['initialized', 'output', 'stopped', 'continued', 'exited', 'terminated',
    'breakpoint']) {
    dc.on(name, (event) => events.push(event));
  }
  await dc.start();
  t.after(async () => {
    // A hung adapter must not hang the suite: disconnect briefly, then kill.
    let timer;
    await Promise.race([dc.stop(), new Promise((resolve) => { timer = setTimeout(resolve, 10_000); })]);
    clearTimeout(timer);
    dc.stopAdapter();
  });
  return { dc, events };
}

function output(events, from, ...categories) {
  return events.slice(from)
    .filter((e) => e.event === 'output' && categories.includes(e.body.category))
    .map((e) => e.body.output).join('');
}

async function scopeValues(dc, ref) {
  const answer = await dc.variablesRequest({ variablesReference: ref });
  return Object.fromEntries(answer.body.variables.map((v) => [v.name, v.value]));
}

async function topFrame(dc) {
  return (await dc.stackTraceRequest(THREAD)).body.stackFrames[0];
}

// The adapter loads the program before it announces `initialized` and answers `launch`
// only after `configurationDone`, so breakpoints go in between, as an editor sends them.
async function launchWithBreakpoints(dc, args, dockerfile, lines) {
  const initialized = dc.waitForEvent('initialized', WAIT);
  const launched = dc.launch(args);
  await initialized;
  const set = await dc.setBreakpointsRequest({
    source: { path: dockerfile }, breakpoints: lines.map((line) => ({ line })),
  });
  await dc.configurationDoneRequest();
  await launched;
  return set.body.breakpoints;
}

test('a multi-stage build from an imported cache: breakpoints, scopes, console, stepping back and forth, restart', TEST, async (t) => {
  const { dc, events } = await adapter(t, 'walk');
  const dockerfile = path.join(CONTEXT, 'Dockerfile');

  const firstStop = dc.waitForEvent('stopped', WAIT);
  const bps = await launchWithBreakpoints(
    dc, { contextPath: CONTEXT, builder: BUILDER, cacheFrom: [CACHE] }, dockerfile, [5, 10],
  );
  assert.deepEqual(bps.map((b) => [b.verified, b.line]), [[true, 5], [true, 10]]);
  assert.equal(bps[0].source.path, dockerfile);
  const first = (await firstStop).body;
  assert.equal(first.reason, 'breakpoint');
  assert.deepEqual(first.hitBreakpointIds, [bps[0].id]);

  const threads = (await dc.threadsRequest()).body.threads;
  assert.deepEqual(threads.map((th) => th.id), [1]);

  const frame = await topFrame(dc);
  assert.equal(frame.line, 5);
  assert.equal(frame.source.path, dockerfile);
  const scopes = (await dc.scopesRequest({ frameId: frame.id })).body.scopes;
  assert.deepEqual(scopes.map((s) => s.name),
    ['Step', 'Environment', 'Mounts', 'Filesystem', 'Changes']);
  const ref = Object.fromEntries(scopes.map((s) => [s.name, s.variablesReference]));
  const step = await scopeValues(dc, ref.Step);
  assert.equal(step.instruction, 'RUN echo hi > /hi');
  assert.equal(step.result, `from imported cache ${CACHE}`);
  const env = await scopeValues(dc, ref.Environment);
  assert.match(env.PATH, /\/usr\/bin/);
  const mounts = await scopeValues(dc, ref.Mounts);
  assert.ok('/' in mounts, JSON.stringify(mounts));
  const files = await scopeValues(dc, ref.Filesystem);
  assert.match(files.hi, /^-rw.* 3 bytes$/);
  const changes = await scopeValues(dc, ref.Changes);
  assert.equal(changes['/hi'], 'added (3 bytes)');

  let mark = events.length;
  const exec = await dc.evaluateRequest({ expression: 'exec cat /hi', context: 'repl', frameId: frame.id });
  assert.equal(exec.body.result, 'exit code 0');
  assert.equal(output(events, mark, 'stdout'), 'hi\n');
  const details = await scopeValues(dc, exec.body.variablesReference);
  assert.deepEqual(details, { output: 'hi\n', 'exit code': '0' });

  // Steps go in the order the build evaluates them: after build2's RUN comes the COPY
  // that uses it.
  mark = events.length;
  await Promise.all([dc.assertStoppedLocation('step', { path: dockerfile, line: 9 }), dc.nextRequest(THREAD)]);
  assert.ok(events.slice(mark).some((e) => e.event === 'continued'));

  // Back and forth through the history: the stops as they were, without a solve.
  mark = events.length;
  await Promise.all([dc.assertStoppedLocation('breakpoint', { line: 5 }), dc.stepBackRequest(THREAD)]);
  await Promise.all([dc.assertStoppedLocation('step', { line: 9 }), dc.stepInRequest(THREAD)]);
  await Promise.all([dc.assertStoppedLocation('breakpoint', { line: 5 }), dc.reverseContinueRequest(THREAD)]);
  assert.deepEqual(events.slice(mark).filter((e) => e.event === 'continued'), []);
  mark = events.length;
  const again = await dc.evaluateRequest({ expression: 'exec cat /hi', context: 'repl' });
  assert.equal(again.body.result, 'exit code 0');
  assert.equal(output(events, mark, 'stdout'), 'hi\n');

  // Continuing from an earlier stop walks the history to the newest stop first…
  mark = events.length;
  await Promise.all([dc.assertStoppedLocation('step', { line: 9 }), dc.continueRequest(THREAD)]);
  assert.deepEqual(events.slice(mark).filter((e) => e.event === 'continued'), []);
  // …and only then moves the build on, to the next breakpoint.
  mark = events.length;
  const [atTen] = await Promise.all([dc.waitForEvent('stopped', WAIT), dc.continueRequest(THREAD)]);
  assert.equal(atTen.body.reason, 'breakpoint');
  assert.deepEqual(atTen.body.hitBreakpointIds, [bps[1].id]);
  assert.equal((await topFrame(dc)).line, 10);
  const moved = events.slice(mark).map((e) => e.event);
  assert.ok(moved.indexOf('continued') >= 0 && moved.indexOf('continued') < moved.indexOf('stopped'),
    moved.join(' '));

  // restart reloads the build, keeps the breakpoints and runs to the first one again.
  await Promise.all([dc.assertStoppedLocation('breakpoint', { line: 5 }), dc.restartRequest({})]);
  mark = events.length;
  await Promise.all([dc.assertStoppedLocation('step', { line: 9 }), dc.stepInRequest(THREAD)]);
  assert.ok(events.slice(mark).some((e) => e.event === 'continued'));

  await Promise.all([dc.waitForEvent('terminated', WAIT), dc.terminateRequest({})]);
});

test('a failing RUN stops as an exception, with its exit code and what it wrote', TEST, async (t) => {
  const { dc, events } = await adapter(t, 'fail');
  const dockerfile = path.join(FAIL_CONTEXT, 'Dockerfile');

  // No breakpoints: the default "Failed steps" exception filter stops there.
  await Promise.all([
    dc.configurationSequence(),
    dc.launch({ contextPath: FAIL_CONTEXT, builder: BUILDER }),
    dc.assertStoppedLocation('exception', { path: dockerfile, line: 3 }),
  ]);
  const failure = events.filter((e) => e.event === 'stopped').at(-1).body;
  assert.match(failure.description, /exit code: 3/);

  const info = (await dc.exceptionInfoRequest(THREAD)).body;
  assert.equal(info.exceptionId, 'exit code 3');
  assert.match(info.description, /exit code: 3/);
  assert.equal(info.breakMode, 'always');

  const frame = await topFrame(dc);
  const scopes = (await dc.scopesRequest({ frameId: frame.id })).body.scopes;
  const step = await scopeValues(dc, scopes.find((s) => s.name === 'Step').variablesReference);
  assert.equal(step['exit code'], '3');

  const mark = events.length;
  const exec = await dc.evaluateRequest({ expression: 'exec cat /p', context: 'repl', frameId: frame.id });
  assert.equal(exec.body.result, 'exit code 0');
  assert.equal(output(events, mark, 'stdout'), 'partial\n');

  const ended = Promise.all([dc.waitForEvent('exited', WAIT), dc.waitForEvent('terminated', WAIT)]);
  await dc.continueRequest(THREAD);
  const [exited] = await ended;
  assert.equal(exited.body.exitCode, 1);
});

test('mistakes get error responses that say what is wrong', TEST, async (t) => {
  const { dc } = await adapter(t, 'errors');
  await assert.rejects(
    dc.launch({ contextPath: CONTEXT, builder: BUILDER, colour: 'red' }),
    /unknown launch field 'colour'/,
  );
  await assert.rejects(dc.customRequest('frobnicate', {}), /unsupported request 'frobnicate'/);

  const { dc: stopped } = await adapter(t, 'console-errors');
  const dockerfile = path.join(CONTEXT, 'Dockerfile');
  await stopped.hitBreakpoint({ contextPath: CONTEXT, builder: BUILDER, cacheFrom: [CACHE] },
    { path: dockerfile, line: 5 });
  await assert.rejects(
    stopped.evaluateRequest({ expression: 'frobnicate now', context: 'repl' }),
    /unknown command "frobnicate"/,
  );
  await assert.rejects(
    stopped.evaluateRequest({ expression: 'next', context: 'repl' }),
    /moves the build: use the debug toolbar/,
  );
  // Nothing moved.
  assert.equal((await topFrame(stopped)).line, 5);
});
