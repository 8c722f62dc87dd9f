// The extension's entry point: wires the configuration provider, the adapter factory,
// the commands and the settings to VS Code.

import * as path from 'node:path';

import * as vscode from 'vscode';

import type { AdapterSettings, ProtocolMessage } from './adapter';
import { adapterCommand, buildCommand, display, startAdapter } from './adapter';
import { BreakpointMover } from './breakpointMover';
import type { Host } from './configuration';
import { DEFAULT_NAME, DockerfileConfigurationProvider } from './configuration';
import { DEBUG_TYPE } from './dockerfile';
import { DockerfileLanguageServer } from './languageServer';
import type { LaunchSource } from './launches';
import { launchEntries } from './launches';
import { LensCommands } from './lensCommands';
import type { Verdict } from './preflight';
import { checkAdapter } from './preflight';
import type { JsonSchema } from './schema';
import { BuildStatus, SHOW_BUILD_LOG } from './status';

function settings(scope?: vscode.ConfigurationScope): AdapterSettings & { builder: string; trace: boolean; languageServer: boolean } {
  const config = vscode.workspace.getConfiguration('buildgDap', scope);
  return {
    command: config.get<string>('adapter.command', 'buildg-dap'),
    python: config.get<string>('adapter.python', ''),
    builder: config.get<string>('builder', ''),
    trace: config.get<boolean>('trace', false),
    languageServer: config.get<boolean>('languageServer.enable', true),
  };
}

/** Every folder's launch configurations (the window's own when no folder is open). */
function launchSources(): LaunchSource[] {
  const folders = vscode.workspace.workspaceFolders ?? [];
  if (!folders.length) {
    return [{ folder: undefined, configurations: vscode.workspace.getConfiguration('launch').get('configurations') }];
  }
  return folders.map((f) => ({
    folder: f.uri.fsPath,
    configurations: vscode.workspace.getConfiguration('launch', f.uri).get('configurations'),
  }));
}

function stamp(): string {
  return new Date().toISOString().slice(11, 23);
}

class Extension implements Host {
  private readonly trace = vscode.window.createOutputChannel('buildg-dap trace');
  private readonly log = vscode.window.createOutputChannel('buildg-dap build log');
  private readonly status = new BuildStatus(this.log);
  // Command lines known to start, so a session does not wait on the check each time.
  private readonly checked = new Set<string>();
  private notifying = false;
  // buildg-dap sessions that have started and not ended.
  private readonly sessions = new Set<string>();
  readonly server = new DockerfileLanguageServer({
    settings: () => {
      const current = settings();
      return { command: current.command, python: current.python, builder: current.builder, enable: current.languageServer };
    },
    launchEntries: () => launchEntries(launchSources()),
    cwd: () => vscode.workspace.workspaceFolders?.[0]?.uri.fsPath,
  });

  constructor(private readonly context: vscode.ExtensionContext) {}

  activate(): void {
    const properties = (this.context.extension.packageJSON as {
      contributes: { debuggers: { configurationAttributes: { launch: { properties: Record<string, JsonSchema> } } }[] };
    }).contributes.debuggers[0].configurationAttributes.launch.properties;
    const provider = new DockerfileConfigurationProvider(this, properties);
    this.context.subscriptions.push(
      this.trace, this.log, this.status,
      vscode.debug.registerDebugConfigurationProvider(DEBUG_TYPE, provider),
      vscode.debug.registerDebugAdapterDescriptorFactory(DEBUG_TYPE, {
        createDebugAdapterDescriptor: (session) => this.createAdapter(session),
      }),
      vscode.commands.registerCommand('buildgDap.debugDockerfile', (uri?: vscode.Uri) => this.debug(uri)),
      vscode.commands.registerCommand('buildgDap.buildDockerfile', (uri?: vscode.Uri) => this.build(uri)),
      vscode.commands.registerCommand(SHOW_BUILD_LOG, () => this.log.show(true)),
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration('buildgDap.adapter')) {
          this.checked.clear();
        }
        if (['buildgDap.adapter', 'buildgDap.builder', 'buildgDap.languageServer'].some((s) => e.affectsConfiguration(s))) {
          void this.server.restart();
        } else if (e.affectsConfiguration('launch')) {
          this.server.sendLaunchConfigurations();
        }
      }),
      vscode.workspace.onDidChangeWorkspaceFolders(() => this.server.sendLaunchConfigurations()),
      vscode.debug.onDidStartDebugSession((session) => {
        if (session.type === DEBUG_TYPE) {
          this.sessions.add(session.id);
        }
      }),
      vscode.debug.onDidTerminateDebugSession((session) => {
        if (session.type === DEBUG_TYPE) {
          this.sessions.delete(session.id);
          // The adapter wrote the session's step record as it ended.
          this.server.recordsChanged();
        }
      }),
      this.server,
      new LensCommands(launchSources),
      new BreakpointMover(this.server, () => this.sessions.size > 0),
    );
    // In the background: debugging never waits on the language server.
    void this.server.start();
  }

  // --- Host, for the configuration provider ---------------------------------------

  activeDocument(): { fileName: string; languageId: string } | undefined {
    const doc = vscode.window.activeTextEditor?.document;
    return doc && doc.uri.scheme === 'file' ? { fileName: doc.fileName, languageId: doc.languageId } : undefined;
  }

  folderOf(fileName: string): string | undefined {
    return vscode.workspace.getWorkspaceFolder(vscode.Uri.file(fileName))?.uri.fsPath;
  }

  defaultBuilder(): string {
    return settings().builder;
  }

  refuse(message: string): void {
    void vscode.window.showErrorMessage(message, 'Open launch.json').then((choice) => {
      if (choice) {
        void vscode.commands.executeCommand('workbench.action.debug.configure');
      }
    });
  }

  async adapterReady(folder: string | undefined): Promise<boolean> {
    const scope = folder ? vscode.Uri.file(folder) : undefined;
    const current = settings(scope);
    const key = display(adapterCommand(current));
    if (this.checked.has(key)) {
      return true;
    }
    const verdict = await checkAdapter(current, folder);
    if (verdict.ok) {
      this.checked.add(key);
      return true;
    }
    this.notify(verdict);
    return false;
  }

  /** One notification for an adapter that cannot start, however often F5 is pressed. */
  private notify(verdict: Verdict): void {
    if (this.notifying) {
      return;
    }
    this.notifying = true;
    const copy = verdict.fix ? `Copy "${verdict.fix}"` : undefined;
    const buttons = ['Open Settings', ...(copy ? [copy] : [])];
    void vscode.window.showErrorMessage(verdict.message ?? 'buildg-dap cannot start', ...buttons).then(async (choice) => {
      this.notifying = false;
      if (choice === 'Open Settings') {
        await vscode.commands.executeCommand('workbench.action.openSettings', 'buildgDap.adapter');
      } else if (choice === copy && verdict.fix) {
        await vscode.env.clipboard.writeText(verdict.fix);
      }
    });
  }

  // --- the adapter --------------------------------------------------------------------

  private createAdapter(session: vscode.DebugSession): vscode.DebugAdapterDescriptor {
    const config = session.configuration;
    const current = settings(session.workspaceFolder);
    const tracing = current.trace || config.trace === true;
    const dockerfile = typeof config.dockerfile === 'string' ? config.dockerfile : '';
    this.status.begin(session.name, dockerfile);
    const adapter = startAdapter(current, { configuration: config, folder: session.workspaceFolder?.uri.fsPath }, {
      message: tracing ? (direction, message: ProtocolMessage) => {
        this.trace.appendLine(`[${stamp()}] ${direction === 'to' ? '→' : '←'} ${JSON.stringify(message)}`);
      } : undefined,
      stderr: (text) => {
        if (tracing) {
          this.trace.appendLine(`[${stamp()}] adapter: ${text}`);
        }
      },
      intercept: (message) => this.status.observe(message),
    });
    if (tracing) {
      this.trace.appendLine(`[${stamp()}] ${session.name}: ${display(adapterCommand(current))} (pid ${adapter.pid ?? '?'})`);
    }
    return new vscode.DebugAdapterInlineImplementation(adapter);
  }

  // --- commands -----------------------------------------------------------------------

  private target(uri?: vscode.Uri): vscode.Uri | undefined {
    const candidate = uri ?? vscode.window.activeTextEditor?.document.uri;
    if (!candidate || candidate.scheme !== 'file') {
      void vscode.window.showErrorMessage('Open a Dockerfile first.');
      return undefined;
    }
    return candidate;
  }

  private async debug(uri?: vscode.Uri): Promise<void> {
    const file = this.target(uri);
    if (!file) {
      return;
    }
    await vscode.debug.startDebugging(vscode.workspace.getWorkspaceFolder(file), {
      type: DEBUG_TYPE, request: 'launch', name: DEFAULT_NAME, dockerfile: file.fsPath,
    });
  }

  private async build(uri?: vscode.Uri): Promise<void> {
    const file = this.target(uri);
    if (!file) {
      return;
    }
    const folder = vscode.workspace.getWorkspaceFolder(file);
    const current = settings(folder);
    if (!(await this.adapterReady(folder?.uri.fsPath ?? path.dirname(file.fsPath)))) {
      return;
    }
    const line = buildCommand(current, file.fsPath, current.builder);
    const name = `Build ${vscode.workspace.asRelativePath(file)}`;
    const task = new vscode.Task(
      { type: DEBUG_TYPE, dockerfile: file.fsPath }, folder ?? vscode.TaskScope.Workspace, name, DEBUG_TYPE,
      new vscode.ProcessExecution(line.command, line.args, { cwd: path.dirname(file.fsPath) }),
    );
    task.presentationOptions = { reveal: vscode.TaskRevealKind.Always, clear: true };
    await vscode.tasks.executeTask(task);
  }
}

let extension: Extension | undefined;

export function activate(context: vscode.ExtensionContext): void {
  extension = new Extension(context);
  extension.activate();
}

export function deactivate(): Promise<void> | undefined {
  // Sessions end with their adapters; the language server is asked to exit.
  return extension?.server.stop();
}
