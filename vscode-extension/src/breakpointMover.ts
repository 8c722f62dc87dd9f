// A breakpoint set between steps (a blank line, a comment, between stages) moves to the
// line where the build can stop: the next step, else the last one before it. A running
// session's adapter does this itself (it answers setBreakpoints with the step's line), so
// this is for the time before one starts.

import * as vscode from 'vscode';

import type { StepRange } from './dockerfile';
import { breakpointTarget, isDockerfile } from './dockerfile';

export interface BreakableLines {
  breakableLines(uri: vscode.Uri): Promise<StepRange[] | undefined>;
}

export class BreakpointMover implements vscode.Disposable {
  private readonly subscription: vscode.Disposable;

  constructor(private readonly server: BreakableLines, private readonly sessionRunning: () => boolean) {
    this.subscription = vscode.debug.onDidChangeBreakpoints((e) => {
      void this.move(e.added);
    });
  }

  dispose(): void {
    this.subscription.dispose();
  }

  private async move(added: readonly vscode.Breakpoint[]): Promise<void> {
    if (this.sessionRunning()) {
      return;
    }
    const byFile = new Map<string, vscode.SourceBreakpoint[]>();
    for (const bp of added) {
      if (bp instanceof vscode.SourceBreakpoint && bp.location.uri.scheme === 'file' && dockerfile(bp.location.uri)) {
        const key = bp.location.uri.toString();
        byFile.set(key, [...(byFile.get(key) ?? []), bp]);
      }
    }
    for (const breakpoints of byFile.values()) {
      const uri = breakpoints[0].location.uri;
      const ranges = await this.server.breakableLines(uri);
      // No answer (no server, or it failed): the breakpoint stays where the user put it.
      if (!ranges?.length || this.sessionRunning()) {
        continue;
      }
      for (const bp of breakpoints) {
        const target = breakpointTarget(bp.location.range.start.line, ranges);
        if (target === undefined || !stillThere(bp)) {
          continue;
        }
        vscode.debug.removeBreakpoints([bp]);
        if (!lineHasBreakpoint(uri, target)) {
          vscode.debug.addBreakpoints([new vscode.SourceBreakpoint(
            new vscode.Location(uri, new vscode.Position(target, 0)), bp.enabled, bp.condition, bp.hitCondition, bp.logMessage,
          )]);
        }
      }
    }
  }
}

function dockerfile(uri: vscode.Uri): boolean {
  const open = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString());
  return isDockerfile(uri.fsPath, open?.languageId);
}

function stillThere(bp: vscode.Breakpoint): boolean {
  return vscode.debug.breakpoints.some((b) => b.id === bp.id);
}

export function lineHasBreakpoint(uri: vscode.Uri, line: number): vscode.SourceBreakpoint | undefined {
  return vscode.debug.breakpoints.find((b): b is vscode.SourceBreakpoint => b instanceof vscode.SourceBreakpoint
    && b.location.uri.toString() === uri.toString() && b.location.range.start.line === line);
}
