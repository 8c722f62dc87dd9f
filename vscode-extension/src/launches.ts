// The workspace's buildg-dap launch configurations as the language server sees them (the
// Dockerfile each builds, with its build arguments and target, for hover values), and the
// configuration a code lens starts from. Pure: VS Code hands in what launch.json holds.

import * as os from 'node:os';
import * as path from 'node:path';

import { ConfigurationError } from './schema';
import { resolvePaths } from './configuration';
import { DEBUG_TYPE } from './dockerfile';

/** One folder's `launch.configurations`, as `getConfiguration('launch', folder)` gives it. */
export interface LaunchSource {
  /** The workspace folder's path; undefined when no folder is open. */
  folder: string | undefined;
  configurations: unknown;
}

/** An entry of the `buildg-dap/launchConfigurations` notification. */
export interface LaunchEntry {
  /** Absolute; null when it cannot be resolved without running the configuration. */
  dockerfile: string | null;
  buildArgs: Record<string, string>;
  target: string;
}

export interface Variables {
  env: NodeJS.ProcessEnv;
  home: string;
}

const DEFAULT_VARIABLES: Variables = { env: process.env, home: os.homedir() };

/** The configurations of our debug type in one folder's launch.json. */
export function buildgConfigurations(configurations: unknown): Record<string, unknown>[] {
  if (!Array.isArray(configurations)) {
    return [];
  }
  return configurations.filter((c): c is Record<string, unknown> =>
    typeof c === 'object' && c !== null && !Array.isArray(c)
    && (c as Record<string, unknown>).type === DEBUG_TYPE
    && ((c as Record<string, unknown>).request ?? 'launch') === 'launch');
}

/**
 * VS Code's variables that do not depend on the editor's state: `${workspaceFolder}`,
 * `${workspaceFolderBasename}`, `${userHome}`, `${env:NAME}`, `${pathSeparator}`.
 * Undefined when another (`${file}`, `${input:…}`, `${command:…}`) or a folder variable
 * without a folder remains: only a running launch knows those.
 */
export function substitute(value: string, folder: string | undefined, vars: Variables = DEFAULT_VARIABLES): string | undefined {
  let unresolved = false;
  const out = value.replace(/\$\{([^}]*)\}/g, (whole, name: string) => {
    let found: string | undefined;
    if (name === 'workspaceFolder' || name === 'workspaceRoot') {
      found = folder;
    } else if (name === 'workspaceFolderBasename') {
      found = folder === undefined ? undefined : path.basename(folder);
    } else if (name === 'userHome') {
      found = vars.home;
    } else if (name === 'pathSeparator' || name === '/') {
      found = path.sep;
    } else if (name.startsWith('env:')) {
      found = vars.env[name.slice(4)] ?? '';
    }
    if (found === undefined) {
      unresolved = true;
      return whole;
    }
    return found;
  });
  return unresolved ? undefined : out;
}

/** The absolute Dockerfile a configuration builds, resolved as a launch resolves it;
 * null when a path is relative with no folder, or holds a variable only a launch knows. */
export function launchDockerfile(config: Record<string, unknown>, folder: string | undefined,
  vars: Variables = DEFAULT_VARIABLES): string | null {
  const fields: Record<string, unknown> = {};
  for (const key of ['cwd', 'contextPath', 'dockerfile']) {
    const value = config[key];
    if (value === undefined) {
      continue;
    }
    if (typeof value !== 'string') {
      return null;
    }
    const substituted = substitute(value, folder, vars);
    if (substituted === undefined) {
      return null;
    }
    fields[key] = substituted;
  }
  try {
    return resolvePaths(folder, fields).dockerfile;
  } catch (error) {
    if (error instanceof ConfigurationError) {
      return null;
    }
    throw error;
  }
}

function buildArgs(config: Record<string, unknown>, folder: string | undefined, vars: Variables): Record<string, string> {
  const given = config.buildArgs;
  const out: Record<string, string> = {};
  if (typeof given !== 'object' || given === null || Array.isArray(given)) {
    return out;
  }
  for (const [name, value] of Object.entries(given as Record<string, unknown>)) {
    if (typeof value === 'string') {
      // A value with a variable only a launch knows is shown as written.
      out[name] = substitute(value, folder, vars) ?? value;
    }
  }
  return out;
}

/** The notification's entries: every buildg-dap launch configuration of every folder,
 * once each. */
export function launchEntries(sources: readonly LaunchSource[], vars: Variables = DEFAULT_VARIABLES): LaunchEntry[] {
  const seen = new Set<string>();
  const out: LaunchEntry[] = [];
  for (const source of sources) {
    for (const config of buildgConfigurations(source.configurations)) {
      const entry: LaunchEntry = {
        dockerfile: launchDockerfile(config, source.folder, vars),
        buildArgs: buildArgs(config, source.folder, vars),
        target: typeof config.target === 'string' ? config.target : '',
      };
      // A multi-root workspace's own configurations show up under every folder.
      const key = JSON.stringify(entry);
      if (!seen.has(key)) {
        seen.add(key);
        out.push(entry);
      }
    }
  }
  return out;
}

export interface BaseConfiguration {
  /** The folder the configuration belongs to, for startDebugging. */
  folder: string | undefined;
  /** A copy of the launch.json configuration, variables as written. */
  config: Record<string, unknown>;
}

/**
 * The workspace configuration a code lens on `dockerfile` starts from: the first one that
 * builds that file, one with the same target first when `target` is given. Undefined
 * when none does.
 */
export function baseConfiguration(sources: readonly LaunchSource[], dockerfile: string, target?: string,
  vars: Variables = DEFAULT_VARIABLES): BaseConfiguration | undefined {
  const wanted = path.normalize(dockerfile);
  const matching: BaseConfiguration[] = [];
  for (const source of sources) {
    for (const config of buildgConfigurations(source.configurations)) {
      if (launchDockerfile(config, source.folder, vars) === wanted) {
        matching.push({ folder: source.folder, config: { ...config } });
      }
    }
  }
  const sameTarget = target === undefined ? undefined
    : matching.find((m) => ((m.config.target as string | undefined) ?? '') === target);
  return sameTarget ?? matching[0];
}

/** A debug configuration as startDebugging takes it. */
export interface Launch {
  type: string;
  request: string;
  name: string;
  [field: string]: unknown;
}

/** The launch of the "Debug stage" code lens. */
export function stageLaunch(base: BaseConfiguration | undefined, dockerfile: string, target: string): Launch {
  return {
    ...(base?.config ?? {}),
    type: DEBUG_TYPE,
    request: 'launch',
    name: target ? `Debug stage ${target}` : `Debug ${path.basename(dockerfile)}`,
    // Absolute, so it stays this file whatever contextPath the base names.
    dockerfile,
    target,
  };
}

/** The launch of the "Debug to here" code lens; `line` is 0-based. `token` marks the
 * session, so its temporary breakpoint goes when it ends. */
export function runToLaunch(base: BaseConfiguration | undefined, dockerfile: string, line: number,
  token: string): Launch {
  return {
    ...(base?.config ?? {}),
    type: DEBUG_TYPE,
    request: 'launch',
    name: `Debug ${path.basename(dockerfile)} to line ${line + 1}`,
    dockerfile,
    stopOnEntry: false,
    [RUN_TO_TOKEN]: token,
  };
}

/** A field VS Code and the adapter pass over (a leading `__`), naming a "Debug to here" session. */
export const RUN_TO_TOKEN = '__buildgDapRunTo';
