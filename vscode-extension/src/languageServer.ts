// The Dockerfile language server, `buildg-dap lsp`: BuildKit's lint checks as
// diagnostics, hovers, code lenses and the step records as inlay hints. It is an extra:
// when it cannot start, one warning says so and debugging goes on without it.

import * as vscode from 'vscode';
import type { CloseHandlerResult, ErrorHandlerResult, LanguageClientOptions, ServerOptions } from 'vscode-languageclient/node';
import { CloseAction, ErrorAction, LanguageClient, RevealOutputChannelOn } from 'vscode-languageclient/node';

import type { AdapterSettings, CommandLine } from './adapter';
import { display, languageServerCommand } from './adapter';
import type { StepRange } from './dockerfile';
import type { LaunchEntry } from './launches';

export const LAUNCH_CONFIGURATIONS = 'buildg-dap/launchConfigurations';
export const RECORDS_CHANGED = 'buildg-dap/recordsChanged';
export const BREAKABLE_LINES = 'buildg-dap/breakableLines';

export interface ServerSettings extends AdapterSettings {
  builder: string;
  enable: boolean;
}

// A server that keeps crashing is given up on after this many restarts in this window.
const MAX_RESTARTS = 3;
const RESTART_WINDOW_MS = 180_000;
// What a request to the server may take before the editor goes on without its answer.
const REQUEST_TIMEOUT_MS = 5_000;

/** The client's own error notifications (one per failed request or restart) become
 * lines in its output channel; the one warning about the server is ours. */
class QuietClient extends LanguageClient {
  override error(message: string, data?: unknown): void {
    super.error(message, data, false);
  }

  // After a failed initialize the client stops itself without waiting, and throws when it
  // is still starting; that is logged here rather than left unhandled.
  override stop(timeout?: number): Promise<void> {
    return super.stop(timeout).catch((error: unknown) => {
      this.outputChannel.appendLine(`stopping: ${String(error)}`);
    });
  }
}

export interface ServerHost {
  settings(): ServerSettings;
  /** The workspace's buildg-dap launch configurations, as the notification sends them. */
  launchEntries(): LaunchEntry[];
  /** Where the server runs. */
  cwd(): string | undefined;
}

export class DockerfileLanguageServer implements vscode.Disposable {
  private readonly output = vscode.window.createOutputChannel('buildg-dap language server');
  private client: QuietClient | undefined;
  private starting: Promise<void> = Promise.resolve();
  private warned = false;
  private restarts: number[] = [];

  constructor(private readonly host: ServerHost) {}

  /** Starts the server unless the setting turns it off; never throws. */
  start(): Promise<void> {
    this.starting = this.starting.then(() => this.startNow()).catch((error: unknown) => {
      this.output.appendLine(`the language server did not start: ${String(error)}`);
    });
    return this.starting;
  }

  /** After a change of the settings it runs under: stop, forget the old warning, start. */
  async restart(): Promise<void> {
    await this.stop();
    this.warned = false;
    await this.start();
  }

  async stop(): Promise<void> {
    await this.starting;
    const client = this.client;
    this.client = undefined;
    if (client?.isRunning()) {
      await client.dispose().catch(() => undefined);
    }
  }

  dispose(): void {
    void this.stop();
    this.output.dispose();
  }

  sendLaunchConfigurations(): void {
    this.notify(LAUNCH_CONFIGURATIONS, { entries: this.host.launchEntries() });
  }

  /** A debug session has ended: the adapter has written the step record. */
  recordsChanged(): void {
    this.notify(RECORDS_CHANGED, {});
  }

  /** The step line ranges of a Dockerfile; undefined when the server cannot say. */
  async breakableLines(uri: vscode.Uri): Promise<StepRange[] | undefined> {
    const client = this.client;
    if (!client?.isRunning()) {
      return undefined;
    }
    const source = new vscode.CancellationTokenSource();
    const timer = setTimeout(() => source.cancel(), REQUEST_TIMEOUT_MS);
    try {
      const result = await client.sendRequest<{ ranges?: unknown }>(BREAKABLE_LINES, { uri: uri.toString() }, source.token);
      return Array.isArray(result?.ranges) ? result.ranges.filter(isRange) : undefined;
    } catch (error) {
      this.output.appendLine(`${BREAKABLE_LINES} failed: ${String(error)}`);
      return undefined;
    } finally {
      clearTimeout(timer);
      source.dispose();
    }
  }

  private notify(method: string, params: object): void {
    const client = this.client;
    if (client?.isRunning()) {
      client.sendNotification(method, params).catch((error: unknown) => {
        this.output.appendLine(`${method} failed: ${String(error)}`);
      });
    }
  }

  private async startNow(): Promise<void> {
    const settings = this.host.settings();
    if (!settings.enable || this.client) {
      return;
    }
    const line = languageServerCommand(settings, settings.builder);
    const serverOptions: ServerOptions = {
      command: line.command, args: line.args, options: { cwd: this.host.cwd(), env: { ...process.env } },
    };
    let running = false;
    const clientOptions: LanguageClientOptions = {
      documentSelector: [{ language: 'dockerfile', scheme: 'file' }],
      outputChannel: this.output,
      revealOutputChannelOn: RevealOutputChannelOn.Never,
      // A server that fails its initialize is not asked again.
      initializationFailedHandler: () => false,
      errorHandler: {
        error: (): ErrorHandlerResult => ({ action: ErrorAction.Continue, handled: true }),
        closed: (): CloseHandlerResult => {
          if (!running) {
            return { action: CloseAction.DoNotRestart, handled: true }; // start() says why
          }
          const now = Date.now();
          this.restarts = this.restarts.filter((t) => now - t < RESTART_WINDOW_MS);
          if (this.restarts.length < MAX_RESTARTS) {
            this.restarts.push(now);
            return { action: CloseAction.Restart, handled: true };
          }
          this.warn(line, `it stopped ${MAX_RESTARTS + 1} times in ${RESTART_WINDOW_MS / 60_000} minutes`);
          return { action: CloseAction.DoNotRestart, handled: true };
        },
      },
    };
    this.output.appendLine(`starting ${display(line)}`);
    let client: QuietClient | undefined;
    try {
      // (The constructor throws on a VS Code the client does not support.)
      client = new QuietClient('buildgDapLanguageServer', 'buildg-dap language server', serverOptions, clientOptions);
      this.client = client;
      await client.start();
      // A server that exits during initialize leaves start() resolved, not rejected.
      if (!client.isRunning()) {
        throw new Error('it exited as it started');
      }
      running = true;
    } catch (error) {
      this.client = undefined;
      this.warn(line, startFailure(line, error));
      return;
    }
    this.sendLaunchConfigurations();
  }

  /** One warning until the settings change: the server is an extra, debugging is not. */
  private warn(line: CommandLine, reason: string): void {
    this.output.appendLine(`${display(line)}: ${reason}`);
    if (this.warned) {
      return;
    }
    this.warned = true;
    // The command line is in the log; the reason names the executable when it is missing.
    const message = `The Dockerfile language server is not running: ${reason}. `
      + 'Lint checks, hovers and code lenses are off; debugging works without them.';
    void vscode.window.showWarningMessage(message, 'Show Log', 'Open Settings').then(async (choice) => {
      if (choice === 'Show Log') {
        this.output.show(true);
      } else if (choice === 'Open Settings') {
        await vscode.commands.executeCommand('workbench.action.openSettings', 'buildgDap.languageServer');
      }
    });
  }
}

/** Why the server did not start, in a few words (the details are in its log). */
export function startFailure(line: CommandLine, error: unknown): string {
  // The client rejects with strings as well as Errors.
  const text = error instanceof Error ? error.message : String(error);
  if (text.includes('ENOENT')) {
    return `${line.command} was not found`;
  }
  if (text.includes('EACCES')) {
    return `${line.command} cannot be run`;
  }
  return text.split('\n')[0];
}

function isRange(value: unknown): value is StepRange {
  const r = value as StepRange;
  return typeof r === 'object' && r !== null && Number.isInteger(r.start) && Number.isInteger(r.end);
}
