// Before a session starts: is the adapter there, and new enough to have `dap`? One quick
// `buildg-dap dap --help` answers both and lets the extension say exactly what to run,
// instead of a session that dies with a spawn error.

import type { ExecFileException } from 'node:child_process';
import { execFile } from 'node:child_process';

import type { AdapterSettings, CommandLine } from './adapter';
import { adapterCommand, display } from './adapter';

export type Problem = 'missing' | 'too-old' | 'broken';

export interface Verdict {
  ok: boolean;
  problem?: Problem;
  /** What is wrong and what to run, for a notification. */
  message?: string;
  /** The command that fixes it, for a "Copy command" button. */
  fix?: string;
}

interface Run {
  error: ExecFileException | null;
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(line: CommandLine, cwd: string | undefined, timeout: number): Promise<Run> {
  return new Promise((resolve) => {
    execFile(line.command, [...line.args, '--help'], { cwd, timeout, encoding: 'utf8' },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
        resolve({ error, code, stdout, stderr });
      });
  });
}

export async function checkAdapter(settings: AdapterSettings, cwd?: string, timeout = 60_000): Promise<Verdict> {
  const line = adapterCommand(settings);
  const python = settings.python.trim();
  const where = python ? `the Python interpreter ${python}` : `"${line.command}"`;
  const install = python ? `${python} -m pip install buildg-dap` : 'pip install buildg-dap';
  const upgrade = python ? `${python} -m pip install -U buildg-dap` : 'pip install -U buildg-dap';
  const result = await run(line, cwd, timeout);
  const spawnError = result.error?.code;
  if (spawnError === 'ENOENT' || spawnError === 'EACCES') {
    const what = python
      ? `The Python interpreter ${python} (setting buildgDap.adapter.python) was not found.`
      : line.command.includes('/')
        ? `buildg-dap was not found: ${line.command} does not exist.`
        : `buildg-dap was not found: there is no "${line.command}" on PATH.`;
    return {
      ok: false, problem: 'missing', fix: install,
      message: `${what} Install it with "${install}", or point the setting buildgDap.adapter.${python ? 'python' : 'command'} at it.`,
    };
  }
  if (python && /No module named buildg_dap/.test(result.stderr)) {
    return {
      ok: false, problem: 'missing', fix: install,
      message: `buildg-dap is not installed for ${python}: run "${install}".`,
    };
  }
  if (/invalid choice: 'dap'/.test(result.stderr)) {
    return {
      ok: false, problem: 'too-old', fix: upgrade,
      message: `The buildg-dap of ${where} is too old: it has no Debug Adapter Protocol server ("dap"). Run "${upgrade}".`,
    };
  }
  if (result.code !== 0 || !/--listen/.test(result.stdout)) {
    const said = (result.stderr || result.stdout).trim().split('\n').slice(-3).join(' ');
    const how = result.error?.killed ? `did not answer within ${timeout / 1000} s` : `failed (${said || `exit code ${result.code}`})`;
    return {
      ok: false, problem: 'broken', fix: upgrade,
      message: `"${display(line)} --help" ${how}. Reinstall with "${upgrade}".`,
    };
  }
  return { ok: true };
}
