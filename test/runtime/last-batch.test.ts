/**
 * --last-batch (issue 15): rows that are not a multiple of the batch size. 'drop' (the default)
 * leaves the shorter last batch out, so every step — and every stacked run of the Loop — has one
 * shape; 'keep' runs it as a step of its own size (its own specialized session), so every row is
 * used every epoch. Both are checked step by step against an independent Float64 Lion training
 * of the same linear model on the batches each mode should see: a kept batch trained as a padded
 * or dropped one, or rows stacked across the ragged boundary, would give other losses.
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { ArrayDataset } from '../../src/data/dataset.js';
import { DataType } from '../../src/onnx/data-types.js';
import { makeTensor, type Tensor } from '../../src/onnx/tensor.js';
import { Graph } from '../../src/ir/graph.js';
import { tensorType } from '../../src/ir/value-type.js';
import { saveModel } from '../../src/ir/model-io.js';
import { writeNpy } from '../../src/data/npy.js';
import { buildFromFile } from '../../src/api/build.js';
import { train } from '../../src/api/train.js';
import { model, normals, rng } from '../helpers/graphs.js';
import { tempDir } from '../helpers/tmp.js';
import { lion64Step } from '../reference/lion64.js';

const F = DataType.FLOAT;
const dir = tempDir('lion-onnx-last-batch-');
const ROWS = 10;
const BATCH = 4;
const IN = 3;
const HYPER = { lr: 0.01, beta1: 0.9, beta2: 0.99, weightDecay: 0 };

const r = rng(5);
const W0 = normals(r, IN).map(Math.fround);
const B0 = Math.fround(0.1);
const X = normals(r, ROWS * IN).map(Math.fround);
const T = normals(r, ROWS).map(Math.fround);

/** y = x·W + b, x [N, 3], W [3, 1]. */
function linearModel(path: string, batch: number | string): void {
  const g = new Graph();
  g.inputs.push({ name: 'x', type: tensorType(F, [batch, IN]) });
  g.outputs.push({ name: 'y', type: tensorType(F, [batch, 1]) });
  g.initializers.push(makeTensor('W', F, [IN, 1], W0), makeTensor('b', F, [1], [B0]));
  g.nodes.push({ opType: 'MatMul', inputs: ['x', 'W'], outputs: ['xw'], attributes: [], name: 'mm' });
  g.nodes.push({ opType: 'Add', inputs: ['xw', 'b'], outputs: ['y'], attributes: [], name: 'add' });
  saveModel(model(g), path);
}

/** MSE losses of Float64 Lion on the given batches of row indices, in order. */
function reference(batches: number[][]): number[] {
  let s = { p: Float64Array.from([...W0, B0]), m: new Float64Array(IN + 1) };
  const losses: number[] = [];
  for (const rows of batches) {
    const g = new Float64Array(IN + 1);
    let loss = 0;
    for (const i of rows) {
      let y = s.p[IN];
      for (let j = 0; j < IN; j++) y += X[i * IN + j] * s.p[j];
      const e = y - T[i];
      loss += (e * e) / rows.length;
      for (let j = 0; j < IN; j++) g[j] += (2 * e * X[i * IN + j]) / rows.length;
      g[IN] += (2 * e) / rows.length;
    }
    losses.push(loss);
    s = lion64Step(s, g, HYPER);
  }
  return losses;
}

const range = (a: number, b: number) => Array.from({ length: b - a }, (_, i) => a + i);

function setup(name: string, batch: number | string = 'N'): { art: string; data: Record<string, string> } {
  const modelPath = join(dir, `${name}.onnx`);
  linearModel(modelPath, batch);
  const art = join(dir, name);
  buildFromFile(modelPath, art, { loss: 'mse', optimizer: 'lion', hyperparameters: { beta1: HYPER.beta1, beta2: HYPER.beta2, weightDecay: 0 } });
  const x = join(dir, `${name}-x.npy`);
  const t = join(dir, `${name}-t.npy`);
  writeNpy(x, { name: 'x', dataType: F, dims: [ROWS, IN], data: Float32Array.from(X) });
  writeNpy(t, { name: 'target', dataType: F, dims: [ROWS, 1], data: Float32Array.from(T) });
  return { art, data: { x, target: t } };
}

async function losses(name: string, opts: { lastBatch?: 'drop' | 'keep'; steps: number; stepsPerRun?: number }): Promise<number[]> {
  const { art, data } = setup(name);
  const got: number[] = [];
  await train(art, { data, batchSize: BATCH, steps: opts.steps, lr: HYPER.lr, shuffle: false, lastBatch: opts.lastBatch, stepsPerRun: opts.stepsPerRun, onStep: (s) => got.push(s.loss) });
  return got;
}

describe('--last-batch', () => {
  it('keep: the 2 leftover rows are a step of their own, every epoch (Loop runs of 2, then 1)', async () => {
    const got = await losses('keep', { lastBatch: 'keep', steps: 7 });
    const want = reference([range(0, 4), range(4, 8), range(8, 10), range(0, 4), range(4, 8), range(8, 10), range(0, 4)]);
    expect(got).toHaveLength(7);
    for (let i = 0; i < 7; i++) expect(Math.abs(got[i] - want[i])).toBeLessThan(1e-5 * Math.max(1, want[i]));
  });

  it('keep with one step per run gives the same losses', async () => {
    const a = await losses('keep-k1', { lastBatch: 'keep', steps: 6, stepsPerRun: 1 });
    const want = reference([range(0, 4), range(4, 8), range(8, 10), range(0, 4), range(4, 8), range(8, 10)]);
    for (let i = 0; i < 6; i++) expect(Math.abs(a[i] - want[i])).toBeLessThan(1e-5 * Math.max(1, want[i]));
  });

  it('drop (the default): the leftover rows are never seen', async () => {
    const got = await losses('drop', { steps: 5 });
    const want = reference([range(0, 4), range(4, 8), range(0, 4), range(4, 8), range(0, 4)]);
    for (let i = 0; i < 5; i++) expect(Math.abs(got[i] - want[i])).toBeLessThan(1e-5 * Math.max(1, want[i]));
    // The keep trajectory differs from step 3 on: the two modes are not the same run.
    const keep = reference([range(0, 4), range(4, 8), range(8, 10)]);
    expect(Math.abs(keep[2] - want[2])).toBeGreaterThan(1e-3);
  });

  it('--epochs counts the kept batch: 2 epochs of 10 rows in batches of 4 are 6 steps', async () => {
    const { art, data } = setup('epochs');
    const res = await train(art, { data, batchSize: BATCH, epochs: 2, lr: HYPER.lr, lastBatch: 'keep' });
    expect(res.steps).toBe(6);
  });

  it('refuses keep before any work where the model fixes the batch', async () => {
    const { art, data } = setup('fixed', BATCH);
    await expect(train(art, { data, batchSize: BATCH, steps: 3, lr: HYPER.lr, lastBatch: 'keep' })).rejects.toThrow(/--last-batch keep: the data's last batch has 2 rows, and the model's batch is fixed at 4/);
  });

  it('refuses keep before any work where the last batch cannot be split into the --grad-accum micro-batches', async () => {
    const { art, data } = setup('accum');
    await expect(train(art, { data, batchSize: BATCH, steps: 3, lr: HYPER.lr, lastBatch: 'keep', gradientAccumulation: 3 })).rejects.toThrow(
      /--last-batch keep: the data's last batch has 2 rows, too few to split into --grad-accum 3 micro-batches/,
    );
  });

  it('a resumed run must keep the same --last-batch (the data position means another batch)', async () => {
    const { art, data } = setup('resume');
    await train(art, { data, batchSize: BATCH, steps: 2, lr: HYPER.lr, lastBatch: 'keep' });
    await expect(train(art, { data, batchSize: BATCH, steps: 4, lr: HYPER.lr, resume: true })).rejects.toThrow(/--last-batch keep, this run has --batch-size 4 --seed 0;/);
    const res = await train(art, { data, batchSize: BATCH, steps: 4, lr: HYPER.lr, resume: true, lastBatch: 'keep' });
    expect(res.steps).toBe(4);
  });
});

describe('ArrayDataset lastBatch keep', () => {
  const arrays = () => new Map<string, Tensor>([['v', { name: 'v', dataType: DataType.INT64, dims: [ROWS], data: BigInt64Array.from(range(0, ROWS), BigInt) }]]);
  it('shuffled: every row once per epoch, the last batch short; stacking across it is refused', () => {
    const d = new ArrayDataset(arrays(), { batchSize: BATCH, shuffle: true, seed: 3, lastBatch: 'keep' });
    expect(d.batchesPerEpoch).toBe(3);
    for (let epoch = 0; epoch < 2; epoch++) {
      expect(d.fullBatchesAhead()).toBe(2);
      expect(() => d.nextSteps(3)).toThrow(/cross the shorter last batch \(2 rows\)/);
      const two = d.nextSteps(2);
      expect(two.v.dims).toEqual([2, 4]);
      const seen = [...(two.v.data as BigInt64Array)].map(Number);
      expect(d.fullBatchesAhead()).toBe(0);
      const last = d.nextSteps(1);
      expect(last.v.dims).toEqual([1, 2]);
      seen.push(...[...(last.v.data as BigInt64Array)].map(Number));
      expect(seen.sort((a, b) => a - b)).toEqual(range(0, ROWS));
    }
  });
  it('drop: no short batch, stacking runs across epochs', () => {
    const d = new ArrayDataset(arrays(), { batchSize: BATCH, shuffle: false });
    expect(d.batchesPerEpoch).toBe(2);
    expect(d.fullBatchesAhead()).toBe(Infinity);
    expect(d.nextSteps(5).v.dims).toEqual([5, 4]);
  });
});
