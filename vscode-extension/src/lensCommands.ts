// The commands behind the language server's code lenses: "Debug stage" builds one stage,
// "Debug to here" runs the build to one step. Both start from the workspace's launch
// configuration for that Dockerfile when there is one (its context, build args, caches).

import { randomUUID } from 'node:crypto';

import * as vscode from 'vscode';

import { lineHasBreakpoint } from './breakpointMover';
import type { LaunchSource } from './launches';
import { RUN_TO_TOKEN, baseConfiguration, runToLaunch, stageLaunch } from './launches';

export const DEBUG_STAGE = 'buildg-dap.debugStage';
export const DEBUG_TO_HERE = 'buildg-dap.debugToHere';

export class LensCommands implements vscode.Disposable {
  // Breakpoints "Debug to here" added, by the token of the session they are for.
  private readonly temporary = new Map<string, vscode.SourceBreakpoint>();
  private readonly subscriptions: vscode.Disposable[];

  constructor(private readonly sources: () => LaunchSource[]) {
    this.subscriptions = [
      vscode.commands.registerCommand(DEBUG_STAGE, (uri: string, target: string) => this.debugStage(uri, target)),
      vscode.commands.registerCommand(DEBUG_TO_HERE, (uri: string, line: number) => this.debugToHere(uri, line)),
      vscode.debug.onDidTerminateDebugSession((session) => {
        const token = (session.configuration as Record<string, unknown>)[RUN_TO_TOKEN];
        if (typeof token === 'string') {
          this.release(token);
        }
      }),
    ];
  }

  dispose(): void {
    for (const token of [...this.temporary.keys()]) {
      this.release(token);
    }
    for (const s of this.subscriptions) {
      s.dispose();
    }
  }

  private async debugStage(uriText: string, target: string): Promise<boolean> {
    const file = vscode.Uri.parse(uriText);
    const base = baseConfiguration(this.sources(), file.fsPath, target ?? '');
    return vscode.debug.startDebugging(folder(base?.folder, file), stageLaunch(base, file.fsPath, target ?? ''));
  }

  private async debugToHere(uriText: string, line: number): Promise<boolean> {
    const file = vscode.Uri.parse(uriText);
    const base = baseConfiguration(this.sources(), file.fsPath);
    const token = randomUUID();
    // A breakpoint the user already has there stays theirs: only one added here goes.
    if (!lineHasBreakpoint(file, line)) {
      const bp = new vscode.SourceBreakpoint(new vscode.Location(file, new vscode.Position(line, 0)));
      vscode.debug.addBreakpoints([bp]);
      this.temporary.set(token, bp);
    }
    let started = false;
    try {
      started = await vscode.debug.startDebugging(folder(base?.folder, file), runToLaunch(base, file.fsPath, line, token));
    } finally {
      if (!started) {
        this.release(token);
      }
    }
    return started;
  }

  private release(token: string): void {
    const bp = this.temporary.get(token);
    if (bp) {
      this.temporary.delete(token);
      vscode.debug.removeBreakpoints([bp]);
    }
  }
}

function folder(path: string | undefined, file: vscode.Uri): vscode.WorkspaceFolder | undefined {
  return (path === undefined ? undefined : vscode.workspace.workspaceFolders?.find((f) => f.uri.fsPath === path))
    ?? vscode.workspace.getWorkspaceFolder(file);
}
