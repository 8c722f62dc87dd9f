// The check before a session: missing, too old, broken or fine, each with what to run.

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';

import { checkAdapter } from '../../src/preflight';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'buildg-dap-preflight-'));
after(() => fs.rmSync(dir, { recursive: true }));

function script(name: string, body: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  return file;
}

test('a buildg-dap with a dap command is fine', async () => {
  const ok = script('ok', 'echo "usage: buildg-dap dap [-h] [--listen [HOST:]PORT] [--log LOG]"');
  assert.deepEqual(await checkAdapter({ command: ok, python: '' }), { ok: true });
});

test('nothing on PATH by that name: install it', async () => {
  const verdict = await checkAdapter({ command: 'buildg-dap-that-is-not-there', python: '' });
  assert.equal(verdict.problem, 'missing');
  assert.match(verdict.message ?? '', /no "buildg-dap-that-is-not-there" on PATH/);
  assert.equal(verdict.fix, 'pip install buildg-dap');
});

test('an absolute path that is not there', async () => {
  const verdict = await checkAdapter({ command: path.join(dir, 'nowhere', 'buildg-dap'), python: '' });
  assert.equal(verdict.problem, 'missing');
  assert.match(verdict.message ?? '', /buildg-dap was not found: \/.*\/nowhere\/buildg-dap does not exist\./);
});

test('a Python without the module: install it for that interpreter', async () => {
  const python = script('python', 'echo "$0: No module named buildg_dap" >&2; exit 1');
  const verdict = await checkAdapter({ command: 'buildg-dap', python });
  assert.equal(verdict.problem, 'missing');
  assert.equal(verdict.fix, `${python} -m pip install buildg-dap`);
  assert.match(verdict.message ?? '', /not installed for .*python: run ".*python -m pip install buildg-dap"/);
});

test('a buildg-dap without the dap command is too old: upgrade it', async () => {
  const old = script('old', `echo "buildg-dap: error: argument COMMAND: invalid choice: 'dap' (choose from 'build', 'debug')" >&2; exit 2`);
  const verdict = await checkAdapter({ command: old, python: '' });
  assert.equal(verdict.problem, 'too-old');
  assert.equal(verdict.fix, 'pip install -U buildg-dap');
  assert.match(verdict.message ?? '', /too old: it has no Debug Adapter Protocol server/);
});

test('anything else that fails says what it printed', async () => {
  const broken = script('broken', 'echo "ImportError: cannot import name grpc" >&2; exit 1');
  const verdict = await checkAdapter({ command: broken, python: '' });
  assert.equal(verdict.problem, 'broken');
  assert.match(verdict.message ?? '', /ImportError: cannot import name grpc/);
});

test('an adapter that hangs is reported, not waited on forever', async () => {
  const hang = script('hang', 'exec sleep 30');
  const verdict = await checkAdapter({ command: hang, python: '' }, undefined, 500);
  assert.equal(verdict.problem, 'broken');
  assert.match(verdict.message ?? '', /did not answer within 0.5 s/);
});
