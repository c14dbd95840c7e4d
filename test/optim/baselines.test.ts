/**
 * The baseline optimizers against independent Float64 references written from torch's
 * definitions (torch.optim.AdamW and torch.optim.SGD with momentum, dampening 0): 15 steps with
 * random gradients fed as inputs, every parameter and state tensor within float32 rounding of
 * the reference run from the same float32 state. Also: the loop graph gives the same numbers,
 * and flags of one optimizer are refused by another.
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { UsageError } from '../../src/errors.js';
import { insertOptimizer } from '../../src/passes/optimizer/insert-optimizer.js';
import { writeArtifacts } from '../../src/artifacts/write.js';
import { runtimeGraphs } from '../../src/passes/pipeline.js';
import { TrainingSession } from '../../src/runtime/training-session.js';
import { gradientsAsInputs, normals, rng } from '../helpers/graphs.js';
import { tempDir } from '../helpers/tmp.js';

const dir = tempDir();
const f32 = (v: number[]) => new ort.Tensor('float32', Float32Array.from(v), [v.length]);

/** torch.optim.AdamW, one step in float64 from the given state; t is 1-based. */
function adamw64(p: number[], m: number[], v: number[], g: number[], h: { lr: number; beta1: number; beta2: number; weightDecay: number; eps: number }, t: number, decay: boolean) {
  const bc1 = 1 - h.beta1 ** t;
  const bc2 = 1 - h.beta2 ** t;
  return p.map((pi, i) => {
    const p1 = decay ? pi * (1 - h.lr * h.weightDecay) : pi;
    const m1 = h.beta1 * m[i] + (1 - h.beta1) * g[i];
    const v1 = h.beta2 * v[i] + (1 - h.beta2) * g[i] * g[i];
    const denom = Math.sqrt(v1) / Math.sqrt(bc2) + h.eps;
    return { p: p1 - (h.lr / bc1) * (m1 / denom), m: m1, v: v1 };
  });
}

/** torch.optim.SGD(momentum=μ, weight_decay=wd), one step in float64 (buffer starts at 0). */
function sgd64(p: number[], buf: number[], g: number[], h: { lr: number; momentum: number; weightDecay: number }, decay: boolean) {
  return p.map((pi, i) => {
    const gi = decay ? g[i] + h.weightDecay * pi : g[i];
    const b = h.momentum * buf[i] + gi;
    return { p: pi - h.lr * b, buf: b };
  });
}

const close = (a: number, b: number, scale: number) => Math.abs(a - b) <= 4 * 2 ** -23 * Math.max(Math.abs(scale), 1e-30);

async function sessionFor(optimizer: 'adamw' | 'sgd', hyper: Record<string, number>, stepsPerRun = 1) {
  const r = rng(11);
  const params = { 'enc.weight': { dims: [6], values: normals(r, 6) }, 'enc.bias': { dims: [3], values: normals(r, 3) } };
  const program = insertOptimizer(gradientsAsInputs(params), { optimizer, hyperparameters: hyper, groups: { noDecay: 'bias' } });
  const out = join(dir, `${optimizer}-${stepsPerRun}`);
  writeArtifacts(out, runtimeGraphs(program), { command: 'test' });
  return TrainingSession.create(out, { lr: 0.01, stepsPerRun });
}

describe('baseline optimizers', () => {
  it('AdamW matches torch.optim.AdamW in float64 to float32 rounding, per step, with bias correction', async () => {
    const h = { beta1: 0.9, beta2: 0.999, weightDecay: 0.1, eps: 1e-8 };
    const s = await sessionFor('adamw', h);
    expect(s.manifest.parameters[0].state!.map((x) => x.name)).toEqual(['enc.weight.adamw_m', 'enc.weight.adamw_v']);
    const r = rng(5);
    for (let t = 1; t <= 15; t++) {
      const grads = { 'enc.weight': normals(r, 6).map(Math.fround), 'enc.bias': normals(r, 3).map(Math.fround) };
      const before = Object.fromEntries(['enc.weight', 'enc.bias'].map((n) => [n, { p: [...(s.getParameter(n).data as Float32Array)], st: s.getState(n).map((x) => [...(x.data as Float32Array)]) }]));
      const info = await s.step({ 'g:enc.weight': f32(grads['enc.weight']), 'g:enc.bias': f32(grads['enc.bias']) });
      expect(info.step).toBe(t);
      for (const n of ['enc.weight', 'enc.bias']) {
        const ref = adamw64(before[n].p, before[n].st[0], before[n].st[1], grads[n as keyof typeof grads], { lr: 0.01, ...h }, t, n === 'enc.weight');
        const p = s.getParameter(n).data as Float32Array;
        const [m, v] = s.getState(n).map((x) => x.data as Float32Array);
        ref.forEach((e, i) => {
          expect(close(m[i], e.m, Math.max(Math.abs(before[n].st[0][i]), Math.abs(grads[n as keyof typeof grads][i])))).toBe(true);
          expect(close(v[i], e.v, Math.max(before[n].st[1][i], grads[n as keyof typeof grads][i] ** 2))).toBe(true);
          // The step is lr-sized; its rounding error is relative to it, on top of p's own.
          expect(Math.abs(p[i] - e.p)).toBeLessThanOrEqual(4 * 2 ** -23 * (Math.abs(before[n].p[i]) + 0.01 / (1 - 0.9 ** t) * 4));
        });
      }
    }
    await s.dispose();
  });

  it('SGD with momentum matches torch.optim.SGD in float64 to float32 rounding', async () => {
    const h = { momentum: 0.9, weightDecay: 0.05 };
    const s = await sessionFor('sgd', h);
    const r = rng(6);
    for (let t = 1; t <= 15; t++) {
      const grads = { 'enc.weight': normals(r, 6).map(Math.fround), 'enc.bias': normals(r, 3).map(Math.fround) };
      const before = Object.fromEntries(['enc.weight', 'enc.bias'].map((n) => [n, { p: [...(s.getParameter(n).data as Float32Array)], buf: [...(s.getState(n)[0].data as Float32Array)] }]));
      await s.step({ 'g:enc.weight': f32(grads['enc.weight']), 'g:enc.bias': f32(grads['enc.bias']) });
      for (const n of ['enc.weight', 'enc.bias']) {
        const ref = sgd64(before[n].p, before[n].buf, grads[n as keyof typeof grads], { lr: 0.01, ...h }, n === 'enc.weight');
        const p = s.getParameter(n).data as Float32Array;
        const buf = s.getState(n)[0].data as Float32Array;
        ref.forEach((e, i) => {
          const bscale = Math.abs(before[n].buf[i]) + Math.abs(grads[n as keyof typeof grads][i]) + Math.abs(before[n].p[i]);
          expect(close(buf[i], e.buf, bscale)).toBe(true);
          expect(close(p[i], e.p, Math.abs(before[n].p[i]) + 0.01 * bscale)).toBe(true);
        });
      }
    }
    await s.dispose();
  });

  it('AdamW in the loop graph equals single steps bitwise (the step count is per step too)', async () => {
    const h = { beta1: 0.9, beta2: 0.999, weightDecay: 0.1, eps: 1e-8 };
    const single = await sessionFor('adamw', h, 1);
    const looped = await sessionFor('adamw', h, 5);
    const r = rng(8);
    const batches = Array.from({ length: 10 }, () => ({ 'g:enc.weight': f32(normals(r, 6)), 'g:enc.bias': f32(normals(r, 3)) }));
    const a = [];
    for (const b of batches) a.push(await single.step(b));
    expect(await looped.stepMany(batches)).toEqual(a);
    for (const n of ['enc.weight', 'enc.bias']) {
      expect(looped.getParameter(n).data).toEqual(single.getParameter(n).data);
      expect(looped.getState(n).map((x) => x.data)).toEqual(single.getState(n).map((x) => x.data));
    }
    await single.dispose();
    await looped.dispose();
  });

  it('refuses hyperparameters the optimizer does not take', () => {
    const m = gradientsAsInputs({ w: { dims: [2], values: [1, 2] } });
    expect(() => insertOptimizer(m, { optimizer: 'lion', hyperparameters: { momentum: 0.9 } })).toThrow(UsageError);
    expect(() => insertOptimizer(m, { optimizer: 'sgd', hyperparameters: { beta2: 0.9 } })).toThrow(/--beta2 does not apply to sgd/);
    expect(() => insertOptimizer(m, { optimizer: 'adamw', hyperparameters: { beta1: 1.5 } })).toThrow(/--beta1 must be in \[0, 1\)/);
  });
});
