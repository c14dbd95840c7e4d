/**
 * Models as npm packages publish them (test/fixtures/published/<model>/: the file byte for byte,
 * its SOURCE.md and licence), fine-tuned as a user would through the CLI: build; 20 Lion steps on
 * one fixed batch with the loss falling; the exported model's outputs give the trained forward
 * pass's loss (train's --eval-data on the same rows, computed here in float64 from the exported
 * outputs). A model that outputs probabilities (a final Sigmoid) is trained with BCE on those
 * probabilities — the loss takes the Sigmoid's input as logits — not BCE-with-logits applied to
 * probabilities. Where the model was exported with a batch of 1, the build frees it: the rewritten
 * inference model on 8 rows equals the original run one row at a time.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { DataType } from '../../src/onnx/data-types.js';
import { makeTensor } from '../../src/onnx/tensor.js';
import { writeNpy } from '../../src/data/npy.js';
import { normals, rng } from '../helpers/graphs.js';
import { REPO, runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

const ROOT = join(REPO, 'test/fixtures/published');
const dir = tempDir('lion-onnx-published-');

interface Case {
  name: string;
  input: string;
  /** One row's shape (the batch comes first). */
  row: number[];
  output: string;
  loss: 'bce' | 'mse';
  lr: number;
  batchFreed: boolean;
  /** The activation whose input the loss takes as logits (the model outputs probabilities). */
  logitsOf?: string;
}

const CASES: Case[] = [{ name: 'hello_deepa', input: 'onnx::Flatten_0', row: [25, 96], output: '39', loss: 'bce', lr: 1e-3, batchFreed: true, logitsOf: 'Sigmoid' }];
const ROWS = 8;

function bce(p: Float32Array, t: Float32Array): number {
  let s = 0;
  for (let i = 0; i < p.length; i++) {
    const q = Math.min(Math.max(p[i], 1e-12), 1 - 1e-12);
    s -= t[i] * Math.log(q) + (1 - t[i]) * Math.log(1 - q);
  }
  return s / p.length;
}

describe.each(CASES)('published model $name', { timeout: 120_000 }, (c) => {
  const model = join(ROOT, c.name, 'model.onnx');
  const art = join(dir, c.name);
  const per = c.row.reduce((a, b) => a * b, 1);
  const x = Float32Array.from(normals(rng(21), ROWS * per));
  const t = Float32Array.from({ length: ROWS }, (_, i) => (i % 2 === 0 ? 1 : 0));
  const xFile = join(dir, `${c.name}.x.npy`);
  const tFile = join(dir, `${c.name}.t.npy`);
  writeNpy(xFile, makeTensor(c.input, DataType.FLOAT, [ROWS, ...c.row], x));
  writeNpy(tFile, makeTensor('target', DataType.FLOAT, [ROWS, 1], t));

  it('builds', () => {
    const r = runCli(['build', model, '--loss', c.loss, '--out', art]);
    expect(r.code, r.stderr).toBe(0);
    if (c.batchFreed) expect(r.stdout).toContain(`batch: exported as 1, now any size (${c.input})`);
    if (c.logitsOf) expect(r.stdout).toContain(`(a ${c.logitsOf} output: the loss takes its input`);
  });

  it.runIf(c.batchFreed)('its freed batch: 8 rows at once equal the original run one row at a time', async () => {
    const original = await ort.InferenceSession.create(model);
    const freed = await ort.InferenceSession.create(join(art, 'inference.onnx'));
    const all = (await freed.run({ [c.input]: new ort.Tensor('float32', x, [ROWS, ...c.row]) }))[c.output].data as Float32Array;
    const out = all.length / ROWS;
    for (let i = 0; i < ROWS; i++) {
      const one = (await original.run({ [c.input]: new ort.Tensor('float32', x.slice(i * per, (i + 1) * per), [1, ...c.row]) }))[c.output].data as Float32Array;
      for (let j = 0; j < out; j++) expect(Math.abs(all[i * out + j] - one[j])).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(one[j])));
    }
    await original.release();
    await freed.release();
  });

  it('fine-tunes 20 Lion steps on a fixed batch, the loss falling; the export gives the trained forward pass', async () => {
    const log = join(dir, `${c.name}.jsonl`);
    const exported = join(dir, `${c.name}.trained.onnx`);
    const r = runCli(['train', art, '--data', `${c.input}=${xFile}`, '--data', `target=${tFile}`, '--eval-data', `${c.input}=${xFile}`, '--eval-data', `target=${tFile}`,
      '--batch-size', String(ROWS), '--steps', '20', '--lr', String(c.lr), '--log', log, '--export', exported]);
    expect(r.code, r.stderr).toBe(0);
    const losses = readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((e) => typeof e.loss === 'number' && e.step !== undefined).map((e) => e.loss as number);
    expect(losses).toHaveLength(20);
    console.log(`${c.name}: loss ${losses[0].toFixed(4)} -> ${losses.at(-1)!.toFixed(4)} in 20 steps`);
    expect(losses.at(-1)!).toBeLessThan(0.75 * losses[0]);
    // train prints the held-out loss to 4 decimals.
    const evalLoss = Number(/held-out: loss ([0-9.]+)/.exec(r.stdout)?.[1]);
    expect(Number.isFinite(evalLoss), r.stdout).toBe(true);
    const s = await ort.InferenceSession.create(exported);
    const p = (await s.run({ [c.input]: new ort.Tensor('float32', x, [ROWS, ...c.row]) }))[c.output].data as Float32Array;
    await s.release();
    expect(Math.abs(bce(p, t) - evalLoss)).toBeLessThanOrEqual(5.1e-5);
  });
});
