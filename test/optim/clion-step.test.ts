/**
 * C-Lion (`--cautious`, an option of Lion; arXiv 2411.16085) against an independent Float64
 * C-Lion (test/reference/lion64.ts): 25 steps with random gradients — c exactly 0, gradients of
 * 0, and signs that disagree — agree to float32 rounding, per step; the masked elements get
 * only weight decay; and one step from a hand-worked vector.
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { insertOptimizer } from '../../src/passes/optimizer/insert-optimizer.js';
import { runtimeGraphs } from '../../src/passes/pipeline.js';
import { writeArtifacts } from '../../src/artifacts/write.js';
import { TrainingSession } from '../../src/runtime/training-session.js';
import { gradientsAsInputs, normals, rng } from '../helpers/graphs.js';
import { tempDir } from '../helpers/tmp.js';
import { clion64Step, ulpsApart } from '../reference/lion64.js';

const dir = tempDir();
const f32 = (v: number[]) => new ort.Tensor('float32', Float32Array.from(v), [v.length]);

async function session(name: string, params: Record<string, { dims: number[]; values: number[] }>, hyper: Record<string, number>, lrs: number[]) {
  const program = insertOptimizer(gradientsAsInputs(params), { optimizer: 'lion', optimizerOptions: { cautious: true }, hyperparameters: hyper, groups: { noDecay: 'bias' } });
  const out = join(dir, name);
  writeArtifacts(out, runtimeGraphs(program), { command: 'test' });
  return TrainingSession.create(out, { schedule: (step) => lrs[step] });
}

describe('C-Lion (lion --cautious) vs Float64 reference', () => {
  it('agrees to float32 rounding for 25 steps, with c = 0, g = 0 and disagreeing signs', async () => {
    const r = rng(9);
    const n = { 'lin.weight': 16, 'lin.bias': 5 } as const;
    const params = Object.fromEntries(Object.entries(n).map(([k, len]) => [k, { dims: [len], values: normals(r, len) }]));
    const hyper = { beta1: 0.9, beta2: 0.99, weightDecay: 0.3 };
    const lrs: number[] = [];
    const s = await session('clion', params, hyper, lrs);
    expect(s.manifest.optimizer).toMatchObject({ name: 'lion', options: { cautious: true } });
    let worst = 0;
    let masked = 0;
    let zeroC = 0;
    for (let step = 0; step < 25; step++) {
      lrs[step] = 0.01 * (1 + step / 7);
      const grads: Record<string, number[]> = {};
      for (const [k, len] of Object.entries(n)) {
        const g = normals(r, len).map(Math.fround);
        g[0] = 0; // element 0: g = 0 and m = 0, so c = 0
        if (step % 3 === 1) g[1] = 0; // g = 0 with m ≠ 0: c ≠ 0 but masked out
        grads[k] = g;
      }
      const before = Object.fromEntries(Object.keys(n).map((k) => [k, { p: s.getParameter(k).data as Float32Array, m: s.getState(k)[0].data as Float32Array }]));
      await s.step({ 'g:lin.weight': f32(grads['lin.weight']), 'g:lin.bias': f32(grads['lin.bias']) });
      for (const k of Object.keys(n)) {
        const h = { lr: lrs[step], ...hyper, weightDecay: k === 'lin.bias' ? 0 : hyper.weightDecay };
        const ref = clion64Step({ p: Float64Array.from(before[k].p), m: Float64Array.from(before[k].m) }, grads[k], h);
        const p = s.getParameter(k).data as Float32Array;
        const m = s.getState(k)[0].data as Float32Array;
        const scale = ref.p.length / (ref.kept + 1);
        for (let i = 0; i < p.length; i++) {
          if (ref.c[i] === 0) zeroC++;
          const kept = Math.sign(ref.c[i]) * grads[k][i] > 0;
          if (!kept) {
            masked++;
            // Masked: weight decay alone, exactly as Lion's sign(0) = 0 gives it.
            expect(p[i]).toBe(Math.fround(before[k].p[i] * Math.fround(1 - h.lr * h.weightDecay)));
          }
          const pScale = Math.max(Math.abs(before[k].p[i]), h.lr * scale);
          const mScale = Math.max(Math.abs(h.beta2 * before[k].m[i]), Math.abs((1 - h.beta2) * grads[k][i]));
          worst = Math.max(worst, ulpsApart(p[i], ref.p[i], pScale), ulpsApart(m[i], ref.m[i], mScale));
        }
      }
    }
    expect(zeroC).toBe(50);
    // Both kinds occur often: 98 of the 525 element-steps are masked with this seed.
    expect(masked).toBeGreaterThan(50);
    expect(525 - masked).toBeGreaterThan(300);
    expect(worst).toBeLessThanOrEqual(2);
    await s.dispose();
  });

  it('one hand-worked step: the kept elements move by lr·n/(kept+1), the others stay', async () => {
    // m = 0, so c = (1−β1)·g: sign(c) = sign(g) for every nonzero g, and g = 0 is masked.
    const lrs = [0.1];
    const s = await session('hand', { w: { dims: [4], values: [1, 1, 1, 1] } }, { beta1: 0.9, beta2: 0.99, weightDecay: 0 }, lrs);
    await s.step({ 'g:w': f32([2, -3, 0, 0]) });
    // 2 of 4 kept: scale 4 / (2 + 1) = 4/3; p = 1 ∓ 0.1·4/3.
    const step = Math.fround(Math.fround(0.1) * Math.fround(4 / 3));
    expect(Array.from(s.getParameter('w').data as Float32Array)).toEqual([Math.fround(1 - step), Math.fround(1 + step), 1, 1]);
    await s.dispose();
  });
});
