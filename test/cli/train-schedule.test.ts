/**
 * `lion-onnx train --schedule … --warmup N --log F`: the lr column of the log, step by step,
 * equals torch.optim.lr_scheduler's learning rate for the same schedule
 * (test/fixtures/torch/schedules.json, scripts/torch/make_schedule_fixture.py). The log's step
 * is 1-based (steps done), the fixture's 0-based (step about to be taken): log line s+1 holds
 * the lr of step s. Runs the built CLI (`npm run build` first).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

const FIX = join(REPO, 'test/fixtures/torch/mlp');
const root = tempDir('lion-onnx-schedule-');
const art = join(root, 'art');

interface TorchCase {
  kind: string;
  base_lr: number;
  warmup: number;
  total_steps: number;
  final_lr: number;
  torch: string;
  lrs: number[];
}
const cases = (JSON.parse(readFileSync(join(REPO, 'test/fixtures/torch/schedules.json'), 'utf8')) as { cases: TorchCase[] }).cases;
const RUNS = [
  cases.find((c) => c.kind === 'cosine' && c.warmup === 5 && c.total_steps === 20 && c.final_lr === 0)!,
  cases.find((c) => c.kind === 'linear' && c.warmup === 4 && c.total_steps === 12 && c.final_lr === 0)!,
];

describe('lion-onnx train --schedule --warmup', () => {
  beforeAll(() => {
    const r = runCli(['build', join(FIX, 'model.onnx'), '--loss', 'cross-entropy', '--out', art], { cwd: root });
    if (r.code !== 0) throw new Error(`build failed: ${r.stderr}`);
  });

  it.each(RUNS.map((c) => [c.kind, c.warmup, c.total_steps, c] as const))('--schedule %s --warmup %d --steps %d logs torch’s lr per step', (kind, warmup, steps, c) => {
    const log = join(root, `${kind}.jsonl`);
    const r = runCli(
      ['train', art, '--data', `x=${join(FIX, 'x.npy')}`, '--data', `target=${join(FIX, 'target.npy')}`, '--batch-size', '8', '--steps', String(steps),
        '--lr', String(c.base_lr), '--schedule', kind, '--warmup', String(warmup), '--log', log],
      { cwd: root },
    );
    expect(r.code, r.stderr).toBe(0);
    const rows = readFileSync(log, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as { step: number; lr: number; loss: number });
    expect(rows.map((l) => l.step)).toEqual(Array.from({ length: steps }, (_, i) => i + 1));
    rows.forEach((row, i) => {
      const want = c.lrs[i];
      expect(Math.abs(row.lr - want), `log step ${row.step} (0-based ${i}): lr ${row.lr}, torch ${want} (${c.torch})`).toBeLessThanOrEqual(1e-12 * c.base_lr);
      expect(Number.isFinite(row.loss)).toBe(true);
    });
    // The shape the user asked for: base/W first, base at the end of warmup, > 0 on the last step.
    expect(rows[0].lr).toBeCloseTo(c.base_lr / warmup, 15);
    expect(rows[warmup - 1].lr).toBe(c.base_lr);
    expect(rows[steps - 1].lr).toBeGreaterThan(0);
    expect(rows[steps - 1].lr).toBeLessThan(rows[warmup].lr);
  });
});
