// What a running build shows: one progress notification with the step being evaluated
// and a "Show build log" link, a status bar entry, and the build log channel. The adapter
// reports progress as DAP progress events; they are shown here instead of by VS Code,
// whose own notification cannot carry the link.

import * as fs from 'node:fs';

import * as vscode from 'vscode';

import type { ProtocolMessage } from './adapter';
import { describeStep } from './dockerfile';

export const SHOW_BUILD_LOG = 'buildgDap.showBuildLog';
const NOTIFY_AFTER_MS = 500;
const MIN_SHOWN_MS = 500;

interface Running {
  report(message: string): void;
  done(): void;
}

interface ProgressBody {
  progressId: string;
  title?: string;
  message?: string;
}

interface OutputBody {
  category?: string;
  output: string;
}

export class BuildStatus implements vscode.Disposable {
  private readonly running = new Map<string, Running>();
  private readonly item: vscode.StatusBarItem;
  private lines: string[] = [];

  constructor(private readonly log: vscode.OutputChannel) {
    this.item = vscode.window.createStatusBarItem('buildgDap.build', vscode.StatusBarAlignment.Left, 10);
    this.item.name = 'Dockerfile build';
    this.item.command = SHOW_BUILD_LOG;
  }

  /** A new session: its log replaces the last one's. */
  begin(name: string, dockerfile: string): void {
    this.log.clear();
    this.log.appendLine(`${name}: ${dockerfile}`);
    try {
      this.lines = fs.readFileSync(dockerfile, 'utf8').split('\n');
    } catch {
      this.lines = []; // the adapter reports a missing Dockerfile itself
    }
  }

  /** Watches one message from the adapter; true when it is shown here rather than by VS Code. */
  observe(message: ProtocolMessage): boolean {
    if (message.type !== 'event') {
      return false;
    }
    switch (message.event) {
      case 'progressStart': {
        const body = message.body as ProgressBody;
        this.start(body.progressId, body.title ?? 'Building');
        return true;
      }
      case 'progressUpdate': {
        const body = message.body as ProgressBody;
        if (body.message) {
          const step = describeStep(body.message, this.lines);
          this.running.get(body.progressId)?.report(step);
          this.item.text = `$(sync~spin) ${step}`;
        }
        return true;
      }
      case 'progressEnd':
        this.end((message.body as ProgressBody).progressId);
        return true;
      case 'output': {
        const body = message.body as OutputBody;
        // Everything but telemetry: build progress, RUN output, errors, exec output.
        if (body.category !== 'telemetry') {
          this.log.append(body.output);
        }
        return false;
      }
      case 'terminated':
        for (const id of [...this.running.keys()]) {
          this.end(id);
        }
        return false;
      default:
        return false;
    }
  }

  private start(id: string, title: string): void {
    if (this.running.has(id)) {
      return;
    }
    let last = 'starting';
    let reporter: vscode.Progress<{ message?: string }> | undefined;
    let endNow = (): void => undefined;
    const ended = new Promise<void>((resolve) => { endNow = resolve; });
    // First, so that a long step does not push it out of the one line a toast shows.
    const link = `[Show build log](command:${SHOW_BUILD_LOG})`;
    // Shown only for a build that takes a while (as VS Code's own debug progress is), so
    // a stop that comes at once does not flash a notification.
    const timer = setTimeout(() => {
      const shownAt = Date.now();
      void vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title },
        async (progress) => {
          reporter = progress;
          progress.report({ message: `${link} · ${last}` });
          await ended;
          // VS Code loses the end of a progress that ends right after it started (the
          // notification would stay): give it a moment.
          await new Promise((resolve) => setTimeout(resolve, Math.max(0, shownAt + MIN_SHOWN_MS - Date.now())));
        },
      );
    }, NOTIFY_AFTER_MS);
    this.running.set(id, {
      report: (message) => {
        last = message;
        reporter?.report({ message: `${link} · ${message}` });
      },
      done: () => {
        clearTimeout(timer);
        endNow();
      },
    });
    this.item.text = `$(sync~spin) ${title}`;
    this.item.tooltip = 'Dockerfile build running: show the build log';
    this.item.show();
  }

  private end(id: string): void {
    const running = this.running.get(id);
    if (running) {
      this.running.delete(id);
      running.done();
    }
    if (this.running.size === 0) {
      this.item.hide();
    }
  }

  dispose(): void {
    for (const id of [...this.running.keys()]) {
      this.end(id);
    }
    this.item.dispose();
  }
}
