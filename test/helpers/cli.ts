/** Runs the built CLI (dist/, built by `npm test` before vitest) as a user would. */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
export const REPO = fileURLToPath(new URL('../..', import.meta.url));

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[], opts: { cwd?: string; timeout?: number; env?: Record<string, string> } = {}): CliResult {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    cwd: opts.cwd ?? REPO,
    encoding: 'utf8',
    timeout: opts.timeout ?? 120_000,
    env: { ...process.env, ...opts.env },
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** The refusal contract: exit 2, exactly one stderr line starting "error: ", no stack trace, nothing on stdout. Returns the line. */
export function refusedLine(r: CliResult): string {
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  if (r.code !== 2 || lines.length !== 1 || !lines[0].startsWith('error: ') || /^\s+at /m.test(r.stderr) || r.stdout !== '')
    throw new Error(`expected a one-line refusal with exit 2, got exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return lines[0];
}
