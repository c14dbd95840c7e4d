/**
 * Parity with PyTorch through the CLI: `lion-onnx train model.onnx --loss cross-entropy` (built
 * on the fly) and `lion-onnx build` + `lion-onnx train DIR`, with the fixture's hyperparameters,
 * file order (--no-shuffle) and batches of 8; the losses in --log reproduce PyTorch's
 * (tolerances as in torch-build.test.ts). Runs the built CLI: `npx tsc -p .` first.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

/** Same reference data and tolerances as torch-build.test.ts (kept in step by hand). */
interface Trajectory {
  input: string;
  target: string;
  batch_size: number;
  steps: number;
  lr: number;
  beta1: number;
  beta2: number;
  weight_decay: number;
  /** losses[i]: loss of the forward pass whose gradients drive update i. */
  losses: number[];
  final_param_l2: Record<string, number>;
  initial_param_l2: Record<string, number>;
  /** model.named_parameters() order. */
  params: string[];
  non_param_initializers: string[];
}

const FIXTURES = ['mlp', 'cnn', 'transformer'] as const;
const fixtureDir = (name: string): string => join(REPO, 'test/fixtures/torch', name);
const trajectory = (name: string): Trajectory => JSON.parse(readFileSync(join(fixtureDir(name), 'trajectory.json'), 'utf8')) as Trajectory;

/** Acceptance: the first 5 losses within 1e-4 relative of PyTorch's, all of them within 1e-2. */
const FIRST_STEPS = 5;
const FIRST_TOL = 1e-4;
const ALL_TOL = 1e-2;

/** Largest |got - want| / |want| over the first `n` entries. */
function maxRelError(got: number[], want: number[], n = want.length): number {
  let worst = 0;
  for (let i = 0; i < n; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]) / Math.abs(want[i]));
  return worst;
}

const dir = tempDir('lion-onnx-parity-cli-');

function loggedLosses(log: string): { step: number; loss: number; lr: number }[] {
  return readFileSync(log, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as { step: number; loss: number; lr: number });
}

describe.each(FIXTURES)('PyTorch parity, lion-onnx train: %s', (name) => {
  const t = trajectory(name);
  const fx = fixtureDir(name);
  const trainFlags = [
    '--data', `${t.input}=${join(fx, `${t.input}.npy`)}`,
    '--data', `${t.target}=${join(fx, `${t.target}.npy`)}`,
    '--no-shuffle',
    '--batch-size', String(t.batch_size),
    '--steps', String(t.steps),
    '--lr', String(t.lr),
    '--beta1', String(t.beta1),
    '--beta2', String(t.beta2),
    '--weight-decay', String(t.weight_decay),
  ];

  function check(log: string, how: string): void {
    const rows = loggedLosses(log);
    expect(rows.map((r) => r.step)).toEqual(Array.from({ length: t.steps }, (_, i) => i + 1));
    expect(rows.every((r) => r.lr === t.lr)).toBe(true);
    const losses = rows.map((r) => r.loss);
    const e5 = maxRelError(losses, t.losses, FIRST_STEPS);
    const eAll = maxRelError(losses, t.losses);
    console.log(`${name} (${how}): loss max rel error, first ${FIRST_STEPS}: ${e5.toExponential(2)}, all ${t.steps}: ${eAll.toExponential(2)}`);
    expect(e5).toBeLessThan(FIRST_TOL);
    expect(eAll).toBeLessThan(ALL_TOL);
  }

  it('train model.onnx --loss cross-entropy: the logged losses reproduce the reference', () => {
    const out = join(dir, `${name}-onthefly`);
    const log = join(out, 'run.jsonl');
    const r = runCli(['train', join(fx, 'model.onnx'), '--loss', 'cross-entropy', '--out', out, ...trainFlags, '--log', log]);
    expect(r.code, r.stderr).toBe(0);
    check(log, 'train model.onnx');
  });

  it('build, then train DIR: the logged losses reproduce the reference', () => {
    const out = join(dir, `${name}-built`);
    const log = join(out, 'run.jsonl');
    const b = runCli(['build', join(fx, 'model.onnx'), '--loss', 'cross-entropy', '--out', out, '--beta1', String(t.beta1), '--beta2', String(t.beta2), '--weight-decay', String(t.weight_decay)]);
    expect(b.code, b.stderr).toBe(0);
    expect(b.stdout).toContain(`${t.params.length} parameter tensors`);
    const r = runCli(['train', out, ...trainFlags, '--log', log]);
    expect(r.code, r.stderr).toBe(0);
    check(log, 'build + train DIR');
  });
});
