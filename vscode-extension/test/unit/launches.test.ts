// The language server's side of launch.json: which Dockerfile each buildg-dap
// configuration builds (as a launch resolves it), the configuration the code lenses
// start from, and where a breakpoint between steps belongs.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { breakpointTarget } from '../../src/dockerfile';
import type { LaunchSource } from '../../src/launches';
import { RUN_TO_TOKEN, baseConfiguration, launchDockerfile, launchEntries, runToLaunch, stageLaunch, substitute } from '../../src/launches';

const WS = '/work/space';
const VARS = { env: { CACHE: 'reg/c:1' }, home: '/home/u' };
const launch = (fields: Record<string, unknown>) => ({ type: 'buildg-dap', request: 'launch', name: 'Debug', ...fields });

describe('launch configurations → entries', () => {
  test('the Dockerfile resolves as a launch resolves it', () => {
    const at = (fields: Record<string, unknown>) => launchDockerfile(launch(fields), WS, VARS);
    assert.equal(at({}), `${WS}/Dockerfile`);
    assert.equal(at({ dockerfile: 'app/Dockerfile' }), `${WS}/app/Dockerfile`);
    assert.equal(at({ dockerfile: '${workspaceFolder}/app/Dockerfile' }), `${WS}/app/Dockerfile`);
    // dockerfile is relative to contextPath when that is set, and contextPath to cwd.
    assert.equal(at({ contextPath: '${workspaceFolder}/ctx', dockerfile: 'Dockerfile.dev' }), `${WS}/ctx/Dockerfile.dev`);
    assert.equal(at({ cwd: 'sub', contextPath: 'ctx' }), `${WS}/sub/ctx/Dockerfile`);
    assert.equal(at({ cwd: 'sub', dockerfile: '../x.Dockerfile' }), `${WS}/x.Dockerfile`);
    assert.equal(at({ dockerfile: '/abs//d/./Dockerfile' }), '/abs/d/Dockerfile');
    assert.equal(at({ dockerfile: '${userHome}/d/Dockerfile' }), '/home/u/d/Dockerfile');
    assert.equal(at({ dockerfile: '${workspaceFolderBasename}.Dockerfile' }), `${WS}/space.Dockerfile`);
  });

  test('null when only a running launch could say', () => {
    // null for "no folder" (undefined would take the default).
    const at = (fields: Record<string, unknown>, folder: string | null = WS) => launchDockerfile(launch(fields), folder ?? undefined, VARS);
    assert.equal(at({ dockerfile: '${file}' }), null);
    assert.equal(at({ dockerfile: '${input:pick}' }), null);
    assert.equal(at({ contextPath: '${command:x}' }), null);
    // Relative with no folder open, and folder variables with none.
    assert.equal(at({ dockerfile: 'Dockerfile' }, null), null);
    assert.equal(at({ dockerfile: '${workspaceFolder}/Dockerfile' }, null), null);
    assert.equal(at({ dockerfile: '/abs/Dockerfile' }, null), '/abs/Dockerfile');
    assert.equal(at({ dockerfile: 7 }), null);
  });

  test('variables', () => {
    assert.equal(substitute('${env:CACHE}/${env:NOPE}x', WS, VARS), 'reg/c:1/x');
    assert.equal(substitute('a${pathSeparator}b', WS, VARS), 'a/b');
    assert.equal(substitute('${workspaceRoot}', WS, VARS), WS);
    assert.equal(substitute('${config:foo}', WS, VARS), undefined);
    assert.equal(substitute('no variables', undefined, VARS), 'no variables');
  });

  test('every buildg-dap launch of every folder, once, with its build args and target', () => {
    const sources: LaunchSource[] = [
      {
        folder: WS,
        configurations: [
          launch({ contextPath: '${workspaceFolder}', buildArgs: { A: '1', B: '${env:CACHE}', C: '${file}', N: 3 }, target: 'build' }),
          { type: 'node', request: 'launch', name: 'not ours', program: 'x.js' },
          launch({ request: 'attach' }),
          launch({ dockerfile: '${file}' }),
          'junk',
          null,
        ],
      },
      // A workspace-level configuration is seen under every folder of a multi-root workspace.
      { folder: '/other', configurations: [launch({ dockerfile: '/abs/Dockerfile' })] },
      { folder: '/third', configurations: [launch({ dockerfile: '/abs/Dockerfile' })] },
      { folder: '/none', configurations: undefined },
    ];
    assert.deepEqual(launchEntries(sources, VARS), [
      { dockerfile: `${WS}/Dockerfile`, buildArgs: { A: '1', B: 'reg/c:1', C: '${file}' }, target: 'build' },
      { dockerfile: null, buildArgs: {}, target: '' },
      { dockerfile: '/abs/Dockerfile', buildArgs: {}, target: '' },
    ]);
    assert.deepEqual(launchEntries([], VARS), []);
    assert.deepEqual(launchEntries([{ folder: WS, configurations: { not: 'an array' } }], VARS), []);
  });
});

describe('the configuration a code lens starts from', () => {
  const sources: LaunchSource[] = [{
    folder: WS,
    configurations: [
      launch({ name: 'other file', dockerfile: 'other/Dockerfile' }),
      launch({ name: 'cache', contextPath: '${workspaceFolder}', cacheFrom: ['reg/c:1'], buildArgs: { A: '1' } }),
      launch({ name: 'build stage', contextPath: '${workspaceFolder}', target: 'build' }),
    ],
  }];

  test('the first configuration of that Dockerfile; for a stage, one with that target first', () => {
    assert.equal(baseConfiguration(sources, `${WS}/Dockerfile`, undefined, VARS)?.config.name, 'cache');
    assert.equal(baseConfiguration(sources, `${WS}/Dockerfile`, 'build', VARS)?.config.name, 'build stage');
    assert.equal(baseConfiguration(sources, `${WS}/Dockerfile`, 'test', VARS)?.config.name, 'cache');
    assert.equal(baseConfiguration(sources, `${WS}/other/Dockerfile`, '', VARS)?.config.name, 'other file');
    assert.equal(baseConfiguration(sources, `${WS}/nowhere/Dockerfile`, undefined, VARS), undefined);
  });

  test('"Debug stage" keeps the configuration\'s fields, with this file and the stage', () => {
    const base = baseConfiguration(sources, `${WS}/Dockerfile`, 'test', VARS);
    assert.deepEqual(stageLaunch(base, `${WS}/Dockerfile`, 'test'), {
      type: 'buildg-dap', request: 'launch', name: 'Debug stage test', contextPath: '${workspaceFolder}',
      cacheFrom: ['reg/c:1'], buildArgs: { A: '1' }, dockerfile: `${WS}/Dockerfile`, target: 'test',
    });
    // No configuration for the file: the file alone; no target is the last stage.
    assert.deepEqual(stageLaunch(undefined, '/a/api.Dockerfile', ''), {
      type: 'buildg-dap', request: 'launch', name: 'Debug api.Dockerfile', dockerfile: '/a/api.Dockerfile', target: '',
    });
    // The base is copied, not changed.
    assert.equal(base?.config.name, 'cache');
    assert.equal((sources[0].configurations as Record<string, unknown>[])[1].target, undefined);
  });

  test('"Debug to here" keeps the target, runs without stopping on entry, and is marked', () => {
    const base = baseConfiguration(sources, `${WS}/Dockerfile`, undefined, VARS);
    const given = { ...base, config: { ...base?.config, target: 'build', stopOnEntry: true } };
    assert.deepEqual(runToLaunch(given as never, `${WS}/Dockerfile`, 4, 'tok'), {
      type: 'buildg-dap', request: 'launch', name: 'Debug Dockerfile to line 5', contextPath: '${workspaceFolder}',
      cacheFrom: ['reg/c:1'], buildArgs: { A: '1' }, dockerfile: `${WS}/Dockerfile`, target: 'build',
      stopOnEntry: false, [RUN_TO_TOKEN]: 'tok',
    });
    assert.ok(RUN_TO_TOKEN.startsWith('__'), 'VS Code and the adapter pass over fields that start with __');
  });
});

describe('where a breakpoint between steps goes', () => {
  const ranges = [{ start: 0, end: 0 }, { start: 2, end: 4 }, { start: 8, end: 8 }];

  test('a step line keeps it', () => {
    for (const line of [0, 2, 3, 4, 8]) {
      assert.equal(breakpointTarget(line, ranges), undefined, String(line));
    }
  });

  test('else the first line of the next step, or of the last one when none follows', () => {
    assert.equal(breakpointTarget(1, ranges), 2);
    assert.equal(breakpointTarget(5, ranges), 8);
    assert.equal(breakpointTarget(7, ranges), 8);
    assert.equal(breakpointTarget(9, ranges), 8);
    assert.equal(breakpointTarget(40, [{ start: 2, end: 4 }, { start: 0, end: 0 }]), 2);
  });

  test('no steps: it stays', () => {
    assert.equal(breakpointTarget(3, []), undefined);
  });
});
