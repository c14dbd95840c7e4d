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
import { FIXTURES, fixtureDir, trajectory, FIRST_STEPS, FIRST_TOL, ALL_TOL, maxRelError, type Trajectory } from './fixtures.js';


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
