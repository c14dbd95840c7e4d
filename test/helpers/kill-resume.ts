/**
 * Crash-safe checkpoints, tested the hard way: `lion-onnx train` on the torch MLP fixture
 * (60 steps, a checkpoint after every step, seeded shuffle, --log) is killed with SIGKILL at a
 * seeded random moment, then `train --resume` runs it to the end (or, when no checkpoint was
 * saved yet, a fresh run does). Afterwards the log must hold steps 1..60 once each with the
 * uninterrupted run's losses and learning rates, bit for bit; the final checkpoint's tensors
 * must equal the uninterrupted run's bit for bit; every checkpoint the killed run left must
 * read back whole (a partial file is never taken for a checkpoint); and once the run is done
 * nothing stray is left: the run folder holds exactly its newest three checkpoints.
 */
import { spawn } from 'node:child_process';
import { cpSync, existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { listCheckpoints, readCheckpoint } from '../../src/artifacts/checkpoint.js';
import type { TypedArray } from '../../src/onnx/data-types.js';
import { CLI, REPO, runCli } from './cli.js';
import { rng } from './graphs.js';

const FIXTURE = join(REPO, 'test/fixtures/torch/mlp');
export const STEPS = 60;

export interface KillResumeSetup {
  root: string;
  template: string;
  /** The uninterrupted run's log lines: step, loss and lr as written. */
  reference: string[];
  /** Seconds from spawn to exit, and from the first logged step to the last, of the uninterrupted run. */
  total: number;
  training: number;
  /** The uninterrupted run's final checkpoint. */
  final: ReturnType<typeof readCheckpoint>;
}

const RUN = join('checkpoints', 'run-0001');

function trainArgs(dir: string, log: string, resume: boolean): string[] {
  return [
    'train', dir,
    '--data', `x=${join(FIXTURE, 'x.npy')}`,
    '--data', `target=${join(FIXTURE, 'target.npy')}`,
    '--batch-size', '8', '--steps', String(STEPS), '--lr', '1e-3', '--seed', '7',
    '--checkpoint-every', '1', '--log', log, '--threads', '1',
    ...(resume ? ['--resume'] : []),
  ];
}

/** Step, loss and lr of each log line (time differs between runs). */
export function logLines(path: string): string[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => {
      const { step, loss, lr, skipped } = JSON.parse(l);
      // JSON numbers round-trip doubles exactly, so equal strings are equal bits.
      return JSON.stringify({ step, loss, lr, skipped });
    });
}

/** Spawns train; resolves when it exits, or kills it `delayMs` after spawn, or after the log's first line. */
function trainKilled(dir: string, log: string, delayMs: number, from: 'spawn' | 'first-step'): Promise<{ code: number | null; signal: string | null; seconds: number; firstStep: number | null }> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [CLI, ...trainArgs(dir, log, false)], { cwd: REPO, stdio: 'ignore' });
    let firstStep: number | null = null;
    let timer: NodeJS.Timeout | undefined;
    const arm = () => (timer = setTimeout(() => child.kill('SIGKILL'), delayMs));
    let poll: NodeJS.Timeout | undefined;
    if (from === 'spawn') arm();
    else
      poll = setInterval(() => {
        if (existsSync(log) && statSync(log).size > 0) {
          clearInterval(poll);
          firstStep = (performance.now() - t0) / 1000;
          arm();
        }
      }, 1);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      clearInterval(poll);
      resolve({ code, signal, seconds: (performance.now() - t0) / 1000, firstStep });
    });
  });
}

/** Builds the fixture once and runs it uninterrupted for the reference losses and timings. */
export async function setup(root: string): Promise<KillResumeSetup> {
  const template = join(root, 'template');
  const b = runCli(['build', join(FIXTURE, 'model.onnx'), '--loss', 'cross-entropy', '--out', template]);
  expect(b.code, b.stderr).toBe(0);
  const dir = join(root, 'reference');
  cpSync(template, dir, { recursive: true });
  const r = await trainKilled(dir, join(dir, 'run.jsonl'), 600_000, 'spawn');
  expect(r.code).toBe(0);
  const reference = logLines(join(dir, 'run.jsonl'));
  expect(reference.length).toBe(STEPS);
  expect(reference.map((l) => JSON.parse(l).step)).toEqual(Array.from({ length: STEPS }, (_, i) => i + 1));
  // The log's own clock: from the first step's line to the last one is where checkpoints happen.
  const times = readFileSync(join(dir, 'run.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).time as number);
  return { root, template, reference, total: r.seconds, training: times[times.length - 1] - times[0], final: readCheckpoint(join(dir, RUN, 'checkpoint-0000060.json')) };
}

/**
 * One trial: kill at a seeded random moment (even trials: anywhere from spawn to the end;
 * odd trials: within the training steps, where checkpoints are written), check what is on
 * disk, resume, compare with the reference. Returns where the kill landed.
 */
export async function trial(s: KillResumeSetup, i: number, seed: number): Promise<string> {
  const r = rng(seed * 1000 + i);
  const dir = join(s.root, `trial-${i}`);
  cpSync(s.template, dir, { recursive: true });
  const log = join(dir, 'run.jsonl');
  const from = i % 2 === 0 ? 'spawn' : 'first-step';
  const delay = 1000 * r() * (from === 'spawn' ? s.total : s.training);
  const killed = await trainKilled(dir, log, delay, from);

  // Whatever the kill interrupted, every checkpoint on disk is whole.
  const checkpoints = listCheckpoints(join(dir, RUN));
  for (const c of checkpoints) {
    const read = readCheckpoint(c);
    expect(read.info.run).toBe('run-0001');
    expect(read.tensors.size).toBeGreaterThan(0);
  }
  const before = logLines(log);
  // Logged steps are the reference's, up to where the kill came.
  expect(before).toEqual(s.reference.slice(0, before.length));

  const newest = checkpoints.length ? readCheckpoint(checkpoints.at(-1)!).info.step : 0;
  const resume = runCli(trainArgs(dir, log, checkpoints.length > 0), { timeout: 120_000 });
  expect(resume.code, resume.stderr).toBe(0);
  if (checkpoints.length) expect(resume.stderr).toMatch(new RegExp(`resuming run-0001 from step ${newest} `));
  expect(logLines(log)).toEqual(s.reference);
  // The final state is the uninterrupted run's, bit for bit.
  const final = readCheckpoint(join(dir, RUN, 'checkpoint-0000060.json'));
  expect([...final.tensors.keys()].sort()).toEqual([...s.final.tensors.keys()].sort());
  for (const [name, t] of s.final.tensors) expect(Buffer.compare(bytes(final.tensors.get(name)!.data as TypedArray), bytes(t.data as TypedArray)), name).toBe(0);
  // Nothing stray: one run, holding exactly its newest three checkpoints; no lock left.
  expect(readdirSync(join(dir, 'checkpoints'))).toEqual(['run-0001']);
  expect(readdirSync(join(dir, RUN)).sort()).toEqual([58, 59, 60].flatMap((k) => [`checkpoint-00000${k}.json`, `checkpoint-00000${k}.safetensors`]));
  expect(existsSync(join(dir, 'train.lock'))).toBe(false);
  const landed = killed.signal === 'SIGKILL' ? `killed after ${killed.seconds.toFixed(2)} s (${before.length} steps logged, ${checkpoints.length} checkpoints)` : `finished before the kill (${killed.seconds.toFixed(2)} s)`;
  return landed;
}

function bytes(a: TypedArray): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}
