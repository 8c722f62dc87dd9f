// The configuration provider driven as VS Code drives it: resolveDebugConfiguration, then
// resolveDebugConfigurationWithSubstitutedVariables, against a fake host.

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';

import type { ActiveDocument, Host } from '../../src/configuration';
import { DockerfileConfigurationProvider } from '../../src/configuration';
import type { JsonSchema } from '../../src/schema';
import { validateLaunch } from '../../src/schema';

interface Manifest {
  contributes: {
    debuggers: {
      configurationAttributes: { launch: { properties: Record<string, JsonSchema> } };
      initialConfigurations: Record<string, unknown>[];
      configurationSnippets: { label: string; body: Record<string, unknown> }[];
    }[];
  };
}

const MANIFEST = JSON.parse(
  fs.readFileSync(path.join(__dirname, '..', '..', '..', 'package.json'), 'utf8'),
) as Manifest;
const DEBUGGER = MANIFEST.contributes.debuggers[0];
const PROPERTIES = DEBUGGER.configurationAttributes.launch.properties;
const WS = '/work/space';
const FOLDER = { uri: { fsPath: WS } } as never;

class FakeHost implements Host {
  refusals: string[] = [];
  readyAsked: (string | undefined)[] = [];
  ready = true;
  builder = '';
  constructor(public document?: ActiveDocument) {}
  activeDocument(): ActiveDocument | undefined { return this.document; }
  folderOf(fileName: string): string | undefined {
    return fileName.startsWith(`${WS}/`) ? WS : undefined;
  }
  defaultBuilder(): string { return this.builder; }
  refuse(message: string): void { this.refusals.push(message); }
  adapterReady(folder: string | undefined): Promise<boolean> {
    this.readyAsked.push(folder);
    return Promise.resolve(this.ready);
  }
}

// null stands for "no workspace folder" (undefined would take the default).
async function resolve(host: FakeHost, config: Record<string, unknown>, given: unknown = FOLDER) {
  const folder = given === null ? undefined : given;
  const provider = new DockerfileConfigurationProvider(host, PROPERTIES);
  const first = provider.resolveDebugConfiguration(folder as never, config as never);
  if (!first) {
    return undefined;
  }
  return provider.resolveDebugConfigurationWithSubstitutedVariables(folder as never, first);
}

const launch = (fields: Record<string, unknown>) => ({ type: 'buildg-dap', request: 'launch', name: 'Debug', ...fields });

describe('no launch.json', () => {
  test('F5 resolves to the Dockerfile in the editor', async () => {
    const host = new FakeHost({ fileName: `${WS}/app/Dockerfile`, languageId: 'dockerfile' });
    const config = await resolve(host, {});
    assert.deepEqual(config, {
      type: 'buildg-dap', request: 'launch', name: 'Debug Dockerfile', dockerfile: `${WS}/app/Dockerfile`,
    });
    assert.deepEqual(host.refusals, []);
    assert.deepEqual(host.readyAsked, [WS]);
  });

  test('a Dockerfile known only by its name counts', async () => {
    const host = new FakeHost({ fileName: `${WS}/api.Dockerfile`, languageId: 'plaintext' });
    const config = await resolve(host, {});
    assert.equal(config?.dockerfile, `${WS}/api.Dockerfile`);
  });

  test('with no folder open, the adapter runs beside the Dockerfile', async () => {
    const host = new FakeHost({ fileName: '/elsewhere/Dockerfile', languageId: 'dockerfile' });
    const config = await resolve(host, {}, null);
    assert.equal(config?.dockerfile, '/elsewhere/Dockerfile');
    assert.deepEqual(host.readyAsked, ['/elsewhere']);
  });

  test('another file in the editor is refused with what to do', async () => {
    const host = new FakeHost({ fileName: `${WS}/main.go`, languageId: 'go' });
    assert.equal(await resolve(host, {}), undefined);
    assert.equal(host.refusals.length, 1);
    assert.match(host.refusals[0], /Open a Dockerfile/);
    assert.deepEqual(host.readyAsked, []);
  });

  test('no editor at all is refused too', async () => {
    const host = new FakeHost();
    assert.equal(await resolve(host, {}), undefined);
    assert.match(host.refusals[0], /Open a Dockerfile/);
  });

  test('the builder setting fills in the builder', async () => {
    const host = new FakeHost({ fileName: `${WS}/Dockerfile`, languageId: 'dockerfile' });
    host.builder = 'tcp://127.0.0.1:1234';
    assert.equal((await resolve(host, {}))?.builder, 'tcp://127.0.0.1:1234');
    assert.equal((await resolve(host, launch({ builder: 'unix:///b.sock' })))?.builder, 'unix:///b.sock');
  });
});

describe('paths', () => {
  test('contextPath resolves against the workspace folder, dockerfile against the context', async () => {
    const config = await resolve(new FakeHost(), launch({ contextPath: 'app', dockerfile: 'build/Dockerfile' }));
    assert.equal(config?.contextPath, `${WS}/app`);
    assert.equal(config?.dockerfile, `${WS}/app/build/Dockerfile`);
  });

  test('cwd resolves against the workspace folder, and relative paths then against cwd', async () => {
    const host = new FakeHost();
    const config = await resolve(host, launch({ cwd: 'services', contextPath: 'api' }));
    assert.equal(config?.cwd, `${WS}/services`);
    assert.equal(config?.contextPath, `${WS}/services/api`);
    assert.equal(config?.dockerfile, `${WS}/services/api/Dockerfile`);
    assert.deepEqual(host.readyAsked, [`${WS}/services`]);
  });

  test('a dockerfile alone resolves against the workspace folder', async () => {
    const config = await resolve(new FakeHost(), launch({ dockerfile: 'services/api/Dockerfile' }));
    assert.equal(config?.dockerfile, `${WS}/services/api/Dockerfile`);
    assert.equal(config?.contextPath, undefined);
  });

  test('no dockerfile means the Dockerfile of the folder or the context', async () => {
    assert.equal((await resolve(new FakeHost(), launch({})))?.dockerfile, `${WS}/Dockerfile`);
    assert.equal((await resolve(new FakeHost(), launch({ contextPath: '.' })))?.dockerfile, `${WS}/Dockerfile`);
  });

  test('absolute paths stay as they are', async () => {
    const config = await resolve(new FakeHost(), launch({ contextPath: '/src/x', dockerfile: '/src/x/ci/Dockerfile' }));
    assert.equal(config?.contextPath, '/src/x');
    assert.equal(config?.dockerfile, '/src/x/ci/Dockerfile');
  });

  test('builderTLS files resolve against the workspace folder; empty ones are dropped', async () => {
    const config = await resolve(new FakeHost(), launch({
      builder: 'tcp://b:1234', builderTLS: { ca: 'certs/ca.pem', cert: '/abs/cert.pem', key: '', serverName: 'b' },
    }));
    assert.deepEqual(config?.builderTLS, { ca: `${WS}/certs/ca.pem`, cert: '/abs/cert.pem', serverName: 'b' });
  });

  test('a relative path with nothing to resolve it against is refused, naming the field', async () => {
    const host = new FakeHost();
    assert.equal(await resolve(host, launch({ contextPath: 'app' }), null), undefined);
    assert.match(host.refusals[0], /"contextPath" is the relative path "app"/);
  });

  test('the other fields go to the adapter untouched', async () => {
    const fields = {
      target: 'build', buildArgs: { A: '1' }, cacheFrom: ['r/app:cache'], cacheTo: ['type=local,dest=c'],
      secrets: ['id=s,src=s.txt'], ssh: ['default'], platform: ['linux/amd64', 'linux/arm64'],
      image: 'busybox', stopOnEntry: true, noCache: false, trace: true,
      preLaunchTask: 'prepare', __sessionId: 'x',
    };
    const config = await resolve(new FakeHost(), launch(fields));
    assert.deepEqual({ ...config, contextPath: undefined, dockerfile: undefined },
      { ...launch(fields), contextPath: undefined, dockerfile: undefined });
  });
});

describe('invalid configurations are refused with a message naming the field', () => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ cacheFrom: 'registry/app:cache' }, /"cacheFrom" must be an array of strings, not a string/],
    [{ cacheFrom: ['ok', 3] }, /"cacheFrom\[1\]" must be a string, not a number/],
    [{ buildArgs: { VERSION: 2 } }, /"buildArgs\.VERSION" must be a string, not a number/],
    [{ buildArgs: ['A=1'] }, /"buildArgs" must be an object of strings, not an array/],
    [{ stopOnEntry: 'yes' }, /"stopOnEntry" must be true or false, not a string/],
    [{ platform: 64 }, /"platform" must be a string or an array of strings, not a number/],
    [{ cacheFrm: ['x'] }, /"cacheFrm" is not a buildg-dap launch field \(did you mean "cacheFrom"\?\)/],
    [{ colour: 'red' }, /"colour" is not a buildg-dap launch field \(allowed: cwd, dockerfile, contextPath/],
    [{ builderTLS: { cacert: 'ca.pem' } }, /"builderTLS\.cacert" is not a field of "builderTLS" \(did you mean "cert"\?\)|\(did you mean "ca"\?\)/],
    [{ builderTLS: 'certs' }, /"builderTLS" must be an object, not a string/],
  ];
  for (const [fields, message] of cases) {
    test(JSON.stringify(fields), async () => {
      const host = new FakeHost();
      assert.equal(await resolve(host, launch(fields)), undefined);
      assert.equal(host.refusals.length, 1);
      assert.match(host.refusals[0], message);
      assert.match(host.refusals[0], /^Debug: /, 'the message names the configuration');
      assert.deepEqual(host.readyAsked, [], 'no adapter check for a refused configuration');
    });
  }

  test('a request other than launch', async () => {
    const host = new FakeHost();
    assert.equal(await resolve(host, { type: 'buildg-dap', request: 'attach', name: 'x' }), undefined);
    assert.match(host.refusals[0], /"request" must be "launch"/);
  });
});

test('an adapter that cannot start ends the launch quietly (the host has said why)', async () => {
  const host = new FakeHost();
  host.ready = false;
  assert.equal(await resolve(host, launch({})), undefined);
  assert.deepEqual(host.refusals, []);
  assert.deepEqual(host.readyAsked, [WS]);
});

test('the configurations the extension offers pass its own checks', () => {
  for (const config of DEBUGGER.initialConfigurations) {
    validateLaunch(config, PROPERTIES);
  }
  for (const snippet of DEBUGGER.configurationSnippets) {
    validateLaunch(snippet.body, PROPERTIES);
    assert.equal(snippet.body.type, 'buildg-dap', snippet.label);
    assert.equal(snippet.body.request, 'launch', snippet.label);
  }
  assert.deepEqual(DEBUGGER.configurationSnippets.map((s) => s.label.replace(/^.*: /, '')),
    ['Debug Dockerfile', 'Debug with a remote cache', 'Debug a target stage', 'Debug on a remote builder']);
});
