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
