import * as path from 'node:path';

export const DEBUG_TYPE = 'buildg-dap';

/** Whether a document is a Dockerfile: by VS Code's language id, or by its name when no
 * extension gave it that language. */
export function isDockerfile(fileName: string, languageId?: string): boolean {
  if (languageId === 'dockerfile') {
    return true;
  }
  const base = path.basename(fileName).toLowerCase();
  return base === 'dockerfile' || base === 'containerfile'
    || base.startsWith('dockerfile.') || base.endsWith('.dockerfile');
}

/** A progress message of the adapter ("Dockerfile:5 executed") with the instruction on
 * that line spelled out, which says more than a line number in a notification. */
export function describeStep(message: string, lines: readonly string[]): string {
  const match = /^(\S+?):(\d+)\b(.*)$/s.exec(message);
  if (!match) {
    return message;
  }
  const instruction = lines[Number(match[2]) - 1]?.trim();
  if (!instruction) {
    return message;
  }
  const short = instruction.length > 40 ? `${instruction.slice(0, 39)}…` : instruction;
  return `${short} (line ${match[2]})${match[3]}`;
}

/** A step's lines, 0-based and inclusive, as the language server's
 * `buildg-dap/breakableLines` gives them. */
export interface StepRange {
  start: number;
  end: number;
}

/**
 * Where a breakpoint set on `line` (0-based) belongs: the first line of the next step,
 * else of the last one before it. Undefined when the line is in a step already (or there
 * are no steps): the breakpoint stays.
 */
export function breakpointTarget(line: number, ranges: readonly StepRange[]): number | undefined {
  if (ranges.some((r) => r.start <= line && line <= r.end)) {
    return undefined;
  }
  const sorted = [...ranges].sort((a, b) => a.start - b.start);
  const next = sorted.find((r) => r.start > line);
  if (next) {
    return next.start;
  }
  return sorted.at(-1)?.start;
}
