// The debug configuration provider: F5 on a Dockerfile with no launch.json, defaults from
// the settings, paths made absolute, and a configuration refused with a message naming
// the field before any adapter starts. It talks to VS Code only through `Host`, so the
// unit tests drive it as VS Code would.

import * as path from 'node:path';

import type * as vscode from 'vscode';

import { DEBUG_TYPE, isDockerfile } from './dockerfile';
import type { JsonSchema } from './schema';
import { ConfigurationError, validateLaunch } from './schema';

export interface ActiveDocument {
  fileName: string;
  languageId: string;
}

export interface Host {
  activeDocument(): ActiveDocument | undefined;
  /** The workspace folder holding a file, if any. */
  folderOf(fileName: string): string | undefined;
  defaultBuilder(): string;
  /** Shows a configuration problem to the user. */
  refuse(message: string): void;
  /** Whether the adapter can start; says what to do when it cannot. */
  adapterReady(folder: string | undefined): Promise<boolean>;
}

type Config = vscode.DebugConfiguration;
type Folder = Pick<vscode.WorkspaceFolder, 'uri'> | undefined;

export const DEFAULT_NAME = 'Debug Dockerfile';

export class DockerfileConfigurationProvider implements vscode.DebugConfigurationProvider {
  constructor(private readonly host: Host, private readonly properties: Record<string, JsonSchema>) {}

  resolveDebugConfiguration(_folder: Folder, config: Config): Config | undefined {
    if (!config.type && !config.request && !config.name) {
      // F5 with no launch.json (or none for this type): debug the Dockerfile in the editor.
      const doc = this.host.activeDocument();
      if (!doc || !isDockerfile(doc.fileName, doc.languageId)) {
        this.host.refuse('Open a Dockerfile to debug it, or add a "buildg-dap" configuration to launch.json.');
        return undefined;
      }
      config = { type: DEBUG_TYPE, request: 'launch', name: DEFAULT_NAME, dockerfile: doc.fileName };
    }
    if (config.request !== 'launch') {
      this.host.refuse(`"request" must be "launch" for a ${DEBUG_TYPE} configuration, not ${JSON.stringify(config.request)}.`);
      return undefined;
    }
    if (config.builder === undefined && this.host.defaultBuilder()) {
      config.builder = this.host.defaultBuilder();
    }
    return config;
  }

  async resolveDebugConfigurationWithSubstitutedVariables(folder: Folder, config: Config): Promise<Config | undefined> {
    try {
      validateLaunch(config, this.properties);
    } catch (error) {
      if (error instanceof ConfigurationError) {
        this.host.refuse(`${config.name ?? DEBUG_TYPE}: ${error.message}.`);
        return undefined;
      }
      throw error;
    }
    let base = folder?.uri.fsPath ?? this.baseWithoutFolder(config);
    const resolved: Config = { ...config };
    try {
      const paths = resolvePaths(base, config);
      Object.assign(resolved, paths);
      base = paths.cwd ?? base;
      if (config.builderTLS) {
        const tls = { ...(config.builderTLS as Record<string, string>) };
        for (const key of ['ca', 'cert', 'key']) {
          if (tls[key]) {
            tls[key] = absolute(base, tls[key], `builderTLS.${key}`);
          } else {
            delete tls[key];
          }
        }
        resolved.builderTLS = tls;
      }
    } catch (error) {
      if (error instanceof ConfigurationError) {
        this.host.refuse(`${config.name ?? DEBUG_TYPE}: ${error.message}.`);
        return undefined;
      }
      throw error;
    }
    const cwd = (resolved.cwd as string | undefined) ?? folder?.uri.fsPath
      ?? this.host.folderOf(resolved.dockerfile as string) ?? path.dirname(resolved.dockerfile as string);
    if (!(await this.host.adapterReady(cwd))) {
      return undefined; // the host has said why; undefined ends the launch quietly
    }
    return resolved;
  }

  /** Where relative paths go when the configuration has no workspace folder: the folder
   * of the Dockerfile in the editor, if that is where the configuration came from. */
  private baseWithoutFolder(config: Config): string | undefined {
    const candidate = typeof config.dockerfile === 'string' && path.isAbsolute(config.dockerfile)
      ? config.dockerfile : this.host.activeDocument()?.fileName;
    if (!candidate) {
      return undefined;
    }
    return this.host.folderOf(candidate) ?? path.dirname(candidate);
  }
}

export interface ResolvedPaths {
  cwd?: string;
  contextPath?: string;
  dockerfile: string;
}

/** A configuration's cwd, contextPath and dockerfile as absolute paths, relative ones
 * taken from `base` (the workspace folder); throws a ConfigurationError naming the field
 * that cannot be resolved. */
export function resolvePaths(base: string | undefined, config: Record<string, unknown>): ResolvedPaths {
  const out: Partial<ResolvedPaths> = {};
  if (typeof config.cwd === 'string') {
    base = out.cwd = absolute(base, config.cwd, 'cwd');
  }
  const dockerfile = typeof config.dockerfile === 'string' ? config.dockerfile : 'Dockerfile';
  if (typeof config.contextPath === 'string') {
    out.contextPath = absolute(base, config.contextPath, 'contextPath');
    // The adapter reads the Dockerfile relative to the context, as `docker build` does.
    out.dockerfile = path.resolve(out.contextPath, dockerfile);
  } else {
    out.dockerfile = absolute(base, dockerfile, 'dockerfile');
  }
  return out as ResolvedPaths;
}

function absolute(base: string | undefined, value: string, field: string): string {
  if (path.isAbsolute(value)) {
    return path.normalize(value);
  }
  if (base === undefined) {
    throw new ConfigurationError(field, `"${field}" is the relative path ${JSON.stringify(value)}, and there is no workspace folder to resolve it against: open a folder or give an absolute path`);
  }
  return path.resolve(base, value);
}
