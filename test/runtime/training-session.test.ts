/**
 * TrainingSession through the public Node API: schedules, gradient accumulation, checkpoints,
 * parameter access, evaluation, feed checks, disposal, and independent sessions. References are
 * computed in the test: the Lion rule's |Δp| = lr, a full-batch step for accumulation, argmax
 * and cross-entropy in float64 over eval.onnx's logits for evaluate().
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { DataError, TrainingSession, UsageError, buildFromFile, readNpy, type TypedArray } from '../../src/index.js';
import type { Batch } from '../../src/runtime/batch.js';
import { REPO } from '../helpers/cli.js';
import { rng } from '../helpers/graphs.js';
import { tempDir } from '../helpers/tmp.js';

const FIX = join(REPO, 'test/fixtures/torch/mlp');
const root = tempDir('lion-onnx-session-');
const art = join(root, 'art');
const manifest = buildFromFile(join(FIX, 'model.onnx'), art, { loss: 'cross-entropy' });
const PARAMS = manifest.parameters.map((p) => p.name);
const TOTAL = manifest.parameters.reduce((s, p) => s + p.shape.reduce((a, b) => a * b, 1), 0);

const X = readNpy(join(FIX, 'x.npy')).data as Float32Array; // [32, 64]
const Y = readNpy(join(FIX, 'target.npy')).data as BigInt64Array; // [32], classes 0..9
const ROWS = 32;

/** The given rows of the fixture as a batch (copies). */
function rowsBatch(rows: number[]): Batch {
  const x = new Float32Array(rows.length * 64);
  const t = new BigInt64Array(rows.length);
  rows.forEach((r, i) => {
    x.set(X.subarray(r * 64, (r + 1) * 64), i * 64);
    t[i] = Y[r];
  });
  return { x: { data: x, dims: [rows.length, 64] }, target: { data: t, dims: [rows.length] } };
}

const range = (a: number, b: number) => Array.from({ length: b - a }, (_, i) => a + i);
const ALL = rowsBatch(range(0, ROWS));

/** A seeded shuffle of all 32 rows, so successive steps see different micro-batches. */
function shuffled(seed: number): Batch {
  const r = rng(seed);
  const rows = range(0, ROWS);
  for (let i = rows.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [rows[i], rows[j]] = [rows[j], rows[i]];
  }
  return rowsBatch(rows);
}

function params(s: TrainingSession): Map<string, Float32Array> {
  return new Map(PARAMS.map((p) => [p, s.getParameter(p).data as Float32Array]));
}

function momenta(s: TrainingSession): Map<string, Float32Array> {
  return new Map(PARAMS.map((p) => [p, s.getState(p)[0].data as Float32Array]));
}

function sameBits(a: TypedArray, b: TypedArray): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}

/** Elements of two parameter sets that differ by more than float32 rounding of their size. */
function differing(a: Map<string, Float32Array>, b: Map<string, Float32Array>): number {
  let n = 0;
  for (const [name, x] of a) {
    const y = b.get(name)!;
    for (let i = 0; i < x.length; i++) if (Math.abs(x[i] - y[i]) > 4 * 2 ** -24 * Math.max(Math.abs(x[i]), Math.abs(y[i]))) n++;
  }
  return n;
}

/**
 * Momenta after one step from zero are (1−β2)·g: compare them elementwise, relative 1e-5, with
 * an absolute floor at 1e-6 of the tensor's largest entry (summation order moves near-zero
 * entries by more than 1e-5 of themselves). Returns the worst relative error seen.
 */
function expectMomentaClose(a: Map<string, Float32Array>, b: Map<string, Float32Array>): void {
  for (const [name, x] of a) {
    const y = b.get(name)!;
    let scale = 0;
    for (const v of x) scale = Math.max(scale, Math.abs(v));
    expect(scale, `momentum of ${name} is all zeros`).toBeGreaterThan(0);
    for (let i = 0; i < x.length; i++) {
      const tol = 1e-5 * Math.max(Math.abs(x[i]), Math.abs(y[i])) + 1e-6 * scale;
      if (!(Math.abs(x[i] - y[i]) <= tol)) expect.fail(`${name}[${i}]: ${x[i]} vs ${y[i]} (tolerance ${tol})`);
    }
  }
}

async function withSessions<T>(opts: Parameters<typeof TrainingSession.create>[1][], f: (...s: TrainingSession[]) => Promise<T>): Promise<T> {
  const sessions = await Promise.all(opts.map((o) => TrainingSession.create(art, o)));
  try {
    return await f(...sessions);
  } finally {
    for (const s of sessions) await s.dispose();
  }
}

describe('TrainingSession', () => {
  it('feeds a custom schedule function’s learning rate each step', async () => {
    const base = 1e-3;
    const schedule = (step: number, baseLr: number) => (baseLr * (step + 1)) / 2;
    await withSessions([{ lr: base, schedule }, { lr: base }], async (s, constant) => {
      const lossS: number[] = [];
      const lossC: number[] = [];
      for (let k = 0; k < 5; k++) {
        const want = schedule(k, base);
        expect(s.currentLr).toBe(want);
        const before = params(s);
        const info = await s.step(ALL);
        expect(info).toMatchObject({ step: k + 1, lr: want });
        // wd = 0, so Lion moves each parameter by exactly lr or not at all: the lr the graph
        // used is visible in the parameters, up to float32 rounding of the result.
        const after = params(s);
        let moved = 0;
        for (const [name, p0] of before) {
          const p1 = after.get(name)!;
          for (let i = 0; i < p0.length; i++) {
            const d = Math.abs(p1[i] - p0[i]);
            if (d === 0) continue;
            moved++;
            if (!(Math.abs(d - want) <= 2 ** -23 * (Math.abs(p1[i]) + want))) expect.fail(`${name}[${i}] moved by ${d}, lr ${want}`);
          }
        }
        expect(moved).toBeGreaterThan(TOTAL / 2);
        lossS.push(info.loss);
        lossC.push((await constant.step(ALL)).loss);
      }
      // The first loss is computed before any update; after that the trajectories part.
      expect(lossS[0]).toBe(lossC[0]);
      for (let k = 1; k < 5; k++) expect(lossS[k]).not.toBe(lossC[k]);
    });
  });

  it('rejects a schedule that returns a negative or non-finite learning rate', async () => {
    await withSessions([{ lr: 1e-3, schedule: () => -1 }, { lr: 1e-3, schedule: () => Number.NaN }], async (neg, nan) => {
      await expect(neg.step(ALL)).rejects.toThrow(UsageError);
      await expect(nan.step(ALL)).rejects.toThrow(UsageError);
      expect(neg.stepCount).toBe(0);
    });
  });

  it('gradient accumulation over 4 micro-batches matches one full-batch step to float32 rounding', async () => {
    await withSessions([{ lr: 1e-3 }, { lr: 1e-3, gradientAccumulation: 4 }], async (one, four) => {
      const a = await one.step(ALL);
      const b = await four.step(ALL);
      expect(b.step).toBe(1);
      expect(Math.abs(a.loss - b.loss)).toBeLessThan(1e-6 * a.loss);
      expectMomentaClose(momenta(one), momenta(four));
      // p' = p − lr·sign((1−β1)·g): only a gradient entry at rounding level could flip a sign.
      expect(differing(params(one), params(four))).toBeLessThanOrEqual(TOTAL / 100);
      for (let k = 0; k < 5; k++) {
        const batch = shuffled(100 + k);
        const la = (await one.step(batch)).loss;
        const lb = (await four.step(batch)).loss;
        expect(Math.abs(la - lb)).toBeLessThan(1e-4 * la);
      }
      expect(differing(params(one), params(four))).toBeLessThanOrEqual(TOTAL / 100);
    });
  });

  it('accumulate() on micro-batches of 12 and 20 rows equals one step on their 32 rows', async () => {
    await withSessions([{ lr: 1e-3 }, { lr: 1e-3 }], async (one, acc) => {
      await expect(acc.applyAccumulated()).rejects.toThrow(UsageError);
      const a = await one.step(ALL);
      const l12 = await acc.accumulate(rowsBatch(range(0, 12)));
      const l20 = await acc.accumulate(rowsBatch(range(12, 32)));
      expect(() => acc.saveCheckpoint(join(root, 'mid-accumulation'))).toThrow(UsageError);
      const b = await acc.applyAccumulated();
      expect(b.step).toBe(1);
      expect(acc.stepCount).toBe(1);
      // The step's loss is the row-weighted mean of the micro-batches' losses.
      expect(b.loss).toBeCloseTo((12 * l12 + 20 * l20) / 32, 12);
      expect(Math.abs(a.loss - b.loss)).toBeLessThan(1e-6 * a.loss);
      expectMomentaClose(momenta(one), momenta(acc));
      expect(differing(params(one), params(acc))).toBeLessThanOrEqual(TOTAL / 100);
    });
  });

  it('saveCheckpoint/loadCheckpoint restore parameters, momenta and step exactly; training continues identically', async () => {
    const dir = join(root, 'checkpoints');
    await withSessions([{ lr: 1e-3 }, { lr: 1e-3 }], async (a, b) => {
      for (let k = 0; k < 6; k++) await a.step(shuffled(k));
      const path = a.saveCheckpoint(dir, { note: 'six steps' });
      const [p6, m6] = [params(a), momenta(a)];
      const lossA: number[] = [];
      for (let k = 6; k < 12; k++) lossA.push((await a.step(shuffled(k))).loss);

      expect(b.stepCount).toBe(0);
      expect(b.loadCheckpoint(path)).toMatchObject({ note: 'six steps', baseLr: 1e-3 });
      expect(b.stepCount).toBe(6);
      for (const p of PARAMS) {
        expect(sameBits(b.getParameter(p).data as TypedArray, p6.get(p)!), p).toBe(true);
        expect(sameBits(b.getState(p)[0].data as TypedArray, m6.get(p)!), p).toBe(true);
      }
      const lossB: number[] = [];
      for (let k = 6; k < 12; k++) lossB.push((await b.step(shuffled(k))).loss);
      expect(lossB).toEqual(lossA);
      const [pa, pb] = [params(a), params(b)];
      for (const p of PARAMS) expect(sameBits(pa.get(p)!, pb.get(p)!), p).toBe(true);
    });
  });

  it('getParameter returns a copy; setParameter checks the size and type and takes effect', async () => {
    await withSessions([{ lr: 1e-3 }], async (s) => {
      expect(() => s.setParameter('fc1.bias', new Float32Array(31))).toThrow(DataError);
      expect(() => s.setParameter('fc1.bias', new Float64Array(32))).toThrow(DataError);
      expect(() => s.setParameter('nope', new Float32Array(32))).toThrow(UsageError);
      expect(() => s.getParameter('nope')).toThrow(UsageError);
      const w = s.getParameter('fc1.bias');
      expect(w.dims).toEqual([32]);
      (w.data as Float32Array).fill(123);
      expect((s.getParameter('fc1.bias').data as Float32Array)[0]).not.toBe(123);

      // Zero output layer: every logit is 0, so the loss is exactly ln 10 in float32.
      s.setParameter('fc2.weight', new Float32Array(320));
      s.setParameter('fc2.bias', new Float32Array(10));
      expect(sameBits(s.getParameter('fc2.weight').data as TypedArray, new Float32Array(320))).toBe(true);
      const { loss } = await s.step(ALL);
      expect(loss).toBeCloseTo(Math.log(10), 6);
    });
  });

  it('evaluate() reports the loss and the argmax accuracy computed independently from eval.onnx', async () => {
    const evalSession = await ort.InferenceSession.create(join(art, 'eval.onnx'));
    try {
      await withSessions([{ lr: 3e-3 }], async (s) => {
        for (let k = 0; k < 8; k++) await s.step(shuffled(k));
        const batches = [rowsBatch(range(0, 20)), rowsBatch(range(20, 32))];
        const r = await s.evaluate(batches);

        const feeds: Record<string, ort.Tensor> = {};
        for (const p of manifest.parameters) feeds[p.name] = new ort.Tensor('float32', s.getParameter(p.name).data as Float32Array, p.shape);
        const out = await evalSession.run({ ...feeds, x: new ort.Tensor('float32', X, [ROWS, 64]), target: new ort.Tensor('int64', Y, [ROWS]) });
        const logits = out[manifest.loss!.modelOutput!].data as Float32Array;
        let correct = 0;
        let nll = 0;
        for (let i = 0; i < ROWS; i++) {
          const row = Array.from(logits.subarray(i * 10, (i + 1) * 10));
          const best = row.indexOf(Math.max(...row));
          if (best === Number(Y[i])) correct++;
          const mx = Math.max(...row);
          nll += mx + Math.log(row.reduce((a, v) => a + Math.exp(v - mx), 0)) - row[Number(Y[i])];
        }
        expect(r.count).toBe(ROWS);
        expect(r.accuracy).toBe(correct / ROWS);
        expect(correct).toBeGreaterThan(0);
        expect(Math.abs(r.loss - nll / ROWS)).toBeLessThan(1e-5 * (nll / ROWS));
        // Evaluating changes nothing.
        expect(s.stepCount).toBe(8);
        await expect(s.evaluate([])).rejects.toThrow(DataError);
      });
    } finally {
      await evalSession.release();
    }
  });

  it('checkBatch rejects feeds that are not data inputs, missing inputs, wrong dtypes and shapes', async () => {
    await withSessions([{}], async (s) => {
      const { x, target } = ALL as Record<string, { data: TypedArray; dims: number[] }>;
      // onnxruntime-node would silently ignore an unknown feed name: the session must not.
      expect(() => s.checkBatch({ x, target, y: x })).toThrow(DataError);
      expect(() => s.checkBatch({ x, target, 'fc1.bias': { data: new Float32Array(32), dims: [32] } })).toThrow(/'fc1\.bias' is not a data input/);
      expect(() => s.checkBatch({ x })).toThrow(/missing data input 'target'/);
      expect(() => s.checkBatch({ x: { data: Float64Array.from(x.data as Float32Array), dims: x.dims }, target })).toThrow(/must be float32/);
      expect(() => s.checkBatch({ x: { data: (x.data as Float32Array).subarray(0, 32 * 63), dims: [32, 63] }, target })).toThrow(DataError);
      await expect(s.step({ x, target, y: x })).rejects.toThrow(DataError);
      expect(s.stepCount).toBe(0);
      expect(Object.keys(s.checkBatch({ x, target })).sort()).toEqual(['target', 'x']);
    });
  });

  it('a disposed session refuses to step, evaluate or checkpoint', async () => {
    const s = await TrainingSession.create(art, { lr: 1e-3 });
    await s.step(ALL);
    await s.dispose();
    await s.dispose();
    await expect(s.step(ALL)).rejects.toThrow(UsageError);
    await expect(s.accumulate(ALL)).rejects.toThrow(UsageError);
    await expect(s.evaluate([ALL])).rejects.toThrow(UsageError);
    expect(() => s.saveCheckpoint(join(root, 'disposed'))).toThrow(UsageError);
  });

  it('two sessions in one process train independently: interleaved, concurrent and sequential runs agree', async () => {
    const optsA = { lr: 1e-3 };
    const optsB = { lr: 3e-3, gradientAccumulation: 2 };
    const run = async (s: TrainingSession, k: number) => (await s.step(shuffled(k))).loss;

    const seq = await withSessions([optsA, optsB], async (a, b) => {
      const la: number[] = [];
      const lb: number[] = [];
      for (let k = 0; k < 6; k++) la.push(await run(a, k));
      for (let k = 0; k < 6; k++) lb.push(await run(b, 50 + k));
      return { la, lb, pa: params(a), pb: params(b) };
    });
    const inter = await withSessions([optsA, optsB], async (a, b) => {
      const la: number[] = [];
      const lb: number[] = [];
      for (let k = 0; k < 6; k++) {
        lb.push(await run(b, 50 + k));
        la.push(await run(a, k));
      }
      return { la, lb, pa: params(a), pb: params(b) };
    });
    const concurrent = await withSessions([optsA, optsB], async (a, b) => {
      const la: number[] = [];
      const lb: number[] = [];
      for (let k = 0; k < 6; k++) {
        const [x, y] = await Promise.all([run(a, k), run(b, 50 + k)]);
        la.push(x);
        lb.push(y);
      }
      return { la, lb, pa: params(a), pb: params(b) };
    });
    expect(seq.la).not.toEqual(seq.lb);
    for (const other of [inter, concurrent]) {
      expect(other.la).toEqual(seq.la);
      expect(other.lb).toEqual(seq.lb);
      for (const p of PARAMS) {
        expect(sameBits(other.pa.get(p)!, seq.pa.get(p)!), p).toBe(true);
        expect(sameBits(other.pb.get(p)!, seq.pb.get(p)!), p).toBe(true);
      }
    }
  });
});
