// How the debug adapter starts, and the in-process end VS Code talks to. The adapter is
// the `buildg-dap dap` child process, speaking DAP on stdin/stdout; AdapterProcess frames
// its messages, lets the extension watch (trace, build status) and hold back messages it
// shows itself (progress), and turns a crash into an error VS Code can show.

import type { ChildProcessWithoutNullStreams, SpawnOptionsWithoutStdio } from 'node:child_process';
import { spawn } from 'node:child_process';
import * as path from 'node:path';

export interface AdapterSettings {
  /** The buildg-dap executable, on PATH or absolute. */
  command: string;
  /** A Python interpreter with buildg_dap installed; wins over `command` when set. */
  python: string;
}

export interface CommandLine {
  command: string;
  args: string[];
}

export const DEFAULT_COMMAND = 'buildg-dap';

/** The command line of a buildg-dap subcommand (`dap`, `build`, …) under these settings. */
export function commandLine(settings: AdapterSettings, ...subcommand: string[]): CommandLine {
  const python = settings.python.trim();
  if (python) {
    return { command: python, args: ['-m', 'buildg_dap', ...subcommand] };
  }
  return { command: settings.command.trim() || DEFAULT_COMMAND, args: subcommand };
}

export function adapterCommand(settings: AdapterSettings): CommandLine {
  return commandLine(settings, 'dap');
}

/** The Dockerfile language server: `buildg-dap lsp [--addr ADDR]`. */
export function languageServerCommand(settings: AdapterSettings, builder: string): CommandLine {
  return commandLine(settings, 'lsp', ...(builder ? ['--addr', builder] : []));
}

/** "Build Dockerfile": a plain `buildg-dap build` of a Dockerfile, its folder the context. */
export function buildCommand(settings: AdapterSettings, dockerfile: string, builder: string): CommandLine {
  const args = ['build', '-f', dockerfile];
  if (builder) {
    args.push('--addr', builder);
  }
  args.push(path.dirname(dockerfile));
  return commandLine(settings, ...args);
}

export function display(line: CommandLine): string {
  return [line.command, ...line.args].map((w) => (/^[\w@%+=:,./-]+$/.test(w) ? w : `'${w.replaceAll("'", "'\\''")}'`)).join(' ');
}

export interface ProtocolMessage {
  seq: number;
  type: string;
  command?: string;
  event?: string;
  request_seq?: number;
  success?: boolean;
  message?: string;
  body?: unknown;
  arguments?: unknown;
}

export interface Disposable {
  dispose(): unknown;
}

export interface Observers {
  /** Every message, both ways: 'to' the adapter or 'from' it. */
  message?(direction: 'to' | 'from', message: ProtocolMessage): void;
  /** The adapter's stderr, line by line (its log when no --log is given). */
  stderr?(line: string): void;
  /** True holds a message from the adapter back from VS Code (the extension shows it). */
  intercept?(message: ProtocolMessage): boolean;
}

const HEADER_END = Buffer.from('\r\n\r\n');

/** Splits a byte stream into Content-Length framed JSON messages. */
export class FrameReader {
  private buffer = Buffer.alloc(0);

  push(chunk: Buffer): ProtocolMessage[] {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    const out: ProtocolMessage[] = [];
    for (;;) {
      const end = this.buffer.indexOf(HEADER_END);
      if (end < 0) {
        return out;
      }
      const header = this.buffer.subarray(0, end).toString('ascii');
      const match = /Content-Length:\s*(\d+)/i.exec(header);
      if (!match) {
        throw new Error(`a DAP message header without Content-Length: ${JSON.stringify(header)}`);
      }
      const length = Number(match[1]);
      const start = end + HEADER_END.length;
      if (this.buffer.length < start + length) {
        return out;
      }
      out.push(JSON.parse(this.buffer.subarray(start, start + length).toString('utf8')) as ProtocolMessage);
      this.buffer = this.buffer.subarray(start + length);
    }
  }
}

export function frame(message: unknown): Buffer {
  const body = Buffer.from(JSON.stringify(message), 'utf8');
  return Buffer.concat([Buffer.from(`Content-Length: ${body.length}\r\n\r\n`, 'ascii'), body]);
}

// The last lines of stderr go into the error a crash is reported with.
const STDERR_TAIL = 20;

/**
 * The adapter as VS Code's `DebugAdapter` interface (what DebugAdapterInlineImplementation
 * takes): messages in through handleMessage, out through onDidSendMessage.
 */
export class AdapterProcess implements Disposable {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly listeners = new Set<(message: ProtocolMessage) => void>();
  private readonly backlog: ProtocolMessage[] = [];
  private readonly pending = new Map<number, string>();
  private readonly tail: string[] = [];
  private seq = 1_000_000; // our own messages must not collide with the adapter's seqs
  private ended = false;
  private terminatedSent = false;
  private disconnecting = false; // after a disconnect request the adapter exits by design

  constructor(line: CommandLine, options: SpawnOptionsWithoutStdio, private readonly observers: Observers = {}) {
    this.child = spawn(line.command, line.args, { ...options, stdio: 'pipe' });
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code) => resolve(code));
      this.child.once('error', () => resolve(null));
    });
    const reader = new FrameReader();
    this.child.stdout.on('data', (chunk: Buffer) => {
      let messages: ProtocolMessage[];
      try {
        messages = reader.push(chunk);
      } catch (error) {
        this.fail(`${display(line)} wrote something that is not DAP: ${String(error)}`);
        return;
      }
      for (const message of messages) {
        this.fromAdapter(message);
      }
    });
    let partial = '';
    this.child.stderr.setEncoding('utf8');
    this.child.stderr.on('data', (text: string) => {
      const lines = (partial + text).split('\n');
      partial = lines.pop() ?? '';
      for (const l of lines) {
        this.stderrLine(l);
      }
    });
    this.child.on('error', (error) => {
      this.fail(`cannot start ${display(line)}: ${error.message}`);
    });
    this.child.on('exit', (code, signal) => {
      if (partial) {
        this.stderrLine(partial);
      }
      if (!this.ended && !this.disconnecting) {
        const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
        const tail = this.tail.length ? `:\n${this.tail.join('\n')}` : '';
        this.fail(`the debug adapter ${display(line)} ${how}${tail}`);
      }
      // Whatever comes after this is answered here: nothing reads stdin any more.
      this.ended = true;
    });
    // stdin errors surface as the exit above; an unhandled one would crash the host.
    this.child.stdin.on('error', () => undefined);
  }

  /** Resolves with the exit code (null after a signal) when the adapter process ends. */
  readonly exited: Promise<number | null>;

  get pid(): number | undefined {
    return this.child.pid;
  }

  onDidSendMessage = (listener: (message: ProtocolMessage) => void): Disposable => {
    this.listeners.add(listener);
    // Messages sent before anyone listened are not lost.
    for (const message of this.backlog.splice(0)) {
      listener(message);
    }
    return { dispose: () => this.listeners.delete(listener) };
  };

  handleMessage(message: ProtocolMessage): void {
    this.observers.message?.('to', message);
    if (message.type === 'request' && message.command) {
      this.pending.set(message.seq, message.command);
      this.disconnecting ||= message.command === 'disconnect';
    }
    if (this.ended) {
      if (message.type === 'request') {
        this.respondError(message, 'the debug adapter is no longer running');
      }
      return;
    }
    this.child.stdin.write(frame(message));
  }

  dispose(): void {
    this.ended = true;
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.stdin.end();
      // A polite end first: closing stdin ends the adapter's session and its containers.
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
      timer.unref();
      this.child.once('exit', () => clearTimeout(timer));
      this.child.kill('SIGTERM');
    }
  }

  private stderrLine(line: string): void {
    this.tail.push(line);
    if (this.tail.length > STDERR_TAIL) {
      this.tail.shift();
    }
    this.observers.stderr?.(line);
  }

  private fromAdapter(message: ProtocolMessage): void {
    if (message.type === 'response' && message.request_seq !== undefined) {
      this.pending.delete(message.request_seq);
    }
    if (message.type === 'event' && message.event === 'terminated') {
      this.terminatedSent = true;
    }
    this.observers.message?.('from', message);
    if (this.observers.intercept?.(message)) {
      return;
    }
    this.send(message);
  }

  private send(message: ProtocolMessage): void {
    if (this.listeners.size === 0) {
      this.backlog.push(message);
      return;
    }
    for (const listener of this.listeners) {
      listener(message);
    }
  }

  private respondError(request: ProtocolMessage, text: string): void {
    this.pending.delete(request.seq);
    this.send({
      seq: this.seq++, type: 'response', request_seq: request.seq, command: request.command,
      success: false, message: text, body: { error: { id: 1, format: text, showUser: true } },
    });
  }

  /** The adapter is gone: fail what it left unanswered and end the session. */
  private fail(text: string): void {
    if (this.ended) {
      return;
    }
    this.ended = true;
    this.send({ seq: this.seq++, type: 'event', event: 'output', body: { category: 'important', output: `${text}\n` } });
    for (const [seq, command] of [...this.pending]) {
      this.respondError({ seq, type: 'request', command }, text);
    }
    if (!this.terminatedSent) {
      this.send({ seq: this.seq++, type: 'event', event: 'terminated', body: {} });
    }
  }
}

export interface SessionInfo {
  configuration: Record<string, unknown>;
  /** The session's workspace folder, if it has one. */
  folder?: string;
}

/** Starts the adapter for one debug session: what the extension's descriptor factory
 * hands VS Code (wrapped in a DebugAdapterInlineImplementation). */
export function startAdapter(settings: AdapterSettings, session: SessionInfo, observers: Observers = {},
  env: NodeJS.ProcessEnv = process.env): AdapterProcess {
  const { dockerfile, cwd: given } = session.configuration;
  // Relative paths left in the configuration (secrets, local caches) are the workspace's.
  const cwd = typeof given === 'string' ? given
    : session.folder ?? (typeof dockerfile === 'string' && dockerfile ? path.dirname(dockerfile) : undefined);
  return new AdapterProcess(adapterCommand(settings), { cwd, env: { ...env } }, observers);
}
