/**
 * Fuzz cases through the real CLI (dist/cli/main.js): mutated models that the API refuses are
 * run as `inspect`, `build`, `rewrite`, `train` (an .onnx target built on the fly) and `export`
 * (the mutant as an artifacts directory's inference.onnx). Each must exit 2 with exactly the
 * API's message as its one `error:` line, no stack trace, within the timeout.
 */
import fc from 'fast-check';
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { inspectFile } from '../../src/api/inspect.js';
import { buildFromFile } from '../../src/api/build.js';
import { rewriteTrainingModel } from '../../src/api/rewrite.js';
import { exportTrained } from '../../src/api/export.js';
import { checkTyped, dataTemplate, mutateOnnx, onnxCaseArb, type FuzzContext } from './fuzz.js';
import { ONNX_SEEDS, SEED_DIR } from './fuzz-seeds.js';
import { runCli } from './cli.js';

const COMMANDS = ['inspect', 'build', 'rewrite', 'train', 'export'] as const;
type Command = (typeof COMMANDS)[number];

export interface CliCase {
  command: Command;
  args: string[];
  /** The API's refusal for the same input. */
  message: string;
}

/** What the API says about the input for `command`, or null when it accepts it. */
function refusal(f: () => unknown): string | null {
  try {
    f();
    return null;
  } catch (e) {
    return checkTyped(e, 'cli-case');
  }
}

/** `perCommand` refused cases for each command, from fast-check's seeded stream of mutations. */
export async function pickCliCases(ctx: FuzzContext, perCommand: number, seed: number): Promise<CliCase[]> {
  const template = await dataTemplate(ctx);
  const picked = new Map<Command, CliCase[]>(COMMANDS.map((c) => [c, []]));
  const dir = join(ctx.root, 'cli');
  mkdirSync(dir, { recursive: true });
  let k = 0;
  for (const c of fc.sample(onnxCaseArb, { numRuns: 4000, seed })) {
    if ([...picked.values()].every((l) => l.length >= perCommand)) break;
    const command = COMMANDS[k % COMMANDS.length];
    const list = picked.get(command)!;
    if (list.length >= perCommand) {
      k++;
      continue;
    }
    let bytes: Uint8Array;
    try {
      bytes = mutateOnnx(c);
    } catch {
      continue;
    }
    const seedInfo = ONNX_SEEDS[c.seed];
    const name = `c${k++}`;
    const file = join(dir, `${name}.onnx`);
    writeFileSync(file, bytes);
    const out = join(dir, `${name}-out`);
    let args: string[];
    let message: string | null;
    if (command === 'inspect') {
      args = ['inspect', file];
      message = refusal(() => inspectFile(file));
    } else if (command === 'build') {
      args = ['build', file, '--loss', seedInfo.loss, '--out', out];
      message = refusal(() => buildFromFile(file, `${out}-api`, { loss: seedInfo.loss }));
    } else if (command === 'rewrite') {
      args = ['rewrite', file, '--out', out];
      message = refusal(() => rewriteTrainingModel(file, `${out}-api`));
    } else if (command === 'train') {
      const data = Object.entries(seedInfo.data).flatMap(([n, f]) => ['--data', `${n}=${join(SEED_DIR, f)}`]);
      args = ['train', file, '--loss', seedInfo.loss, '--out', out, ...data, '--batch-size', '4', '--steps', '2'];
      message = refusal(() => buildFromFile(file, `${out}-api`, { loss: seedInfo.loss }));
    } else {
      const artifacts = join(dir, `${name}-artifacts`);
      cpSync(template, artifacts, { recursive: true });
      writeFileSync(join(artifacts, 'inference.onnx'), bytes);
      args = ['export', artifacts, '-o', join(dir, `${name}-exported.onnx`)];
      message = refusal(() => exportTrained(artifacts, join(dir, `${name}-api.onnx`)));
    }
    // The same path in both runs, so the messages must be equal; paths the API run wrote to differ.
    if (message !== null && !message.includes('-api')) list.push({ command, args, message });
  }
  return [...picked.values()].flat();
}

/** Runs one case through the CLI and checks the contract. */
export function expectCliRefusal(c: CliCase, timeoutMs = 30_000): void {
  const t0 = performance.now();
  const r = runCli(c.args, { timeout: timeoutMs });
  const what = `lion-onnx ${c.args.join(' ')}`;
  expect(performance.now() - t0, `${what}: seconds`).toBeLessThan(timeoutMs);
  expect(r.code, `${what}\n${r.stderr}`).toBe(2);
  expect(r.stderr, what).toBe(`error: ${c.message}\n`);
  expect(r.stderr, what).not.toMatch(/^\s+at /m);
}
