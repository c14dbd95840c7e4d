/**
 * The emitted Lion subgraph against an independent Float64 Lion, with random gradients fed as
 * inputs: every step of ≥ 20 agrees to float32 rounding; covers c exactly 0, the first step
 * (m = 0), weight decay on and off per group, frozen parameters untouched; and the golden
 * vector from the issue.
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { insertLion } from '../../src/passes/optimizer/insert-optimizer.js';
import { writeArtifacts } from '../../src/artifacts/write.js';
import { runtimeGraphs } from '../../src/passes/pipeline.js';
import { TrainingSession } from '../../src/runtime/training-session.js';
import { gradientsAsInputs, normals, rng } from '../helpers/graphs.js';
import { tempDir } from '../helpers/tmp.js';
import { lion64Step, ulpsApart } from '../reference/lion64.js';

const dir = tempDir();

async function runnerFor(params: Record<string, { dims: number[]; values: number[] }>, opts: Parameters<typeof insertLion>[1], name: string) {
  const program = insertLion(gradientsAsInputs(params), opts);
  const out = join(dir, name);
  writeArtifacts(out, runtimeGraphs(program), { command: 'test' });
  // The learning rate of each step comes from a schedule function reading `lrs`.
  const lrs: number[] = [];
  const session = await TrainingSession.create(out, { schedule: (step) => lrs[step] });
  const state = (name: string) => {
    const p = session.manifest.parameters.find((x) => x.name === name || x.state?.[0].name === name)!;
    return name === p.name ? session.getParameter(name) : session.getState(p.name)[0];
  };
  return {
    manifest: session.manifest,
    tensor: state,
    step: (batch: Record<string, ort.Tensor>, lr: number) => {
      lrs[session.stepCount] = lr;
      return session.step(batch);
    },
    dispose: () => session.dispose(),
  };
}

const f32 = (v: number[]) => new ort.Tensor('float32', Float32Array.from(v), [v.length]);

describe('Lion step graph vs Float64 reference', () => {
  it('agrees to float32 rounding for 25 steps: c = 0, first step, decay groups, frozen', async () => {
    const r = rng(42);
    const shapes = { 'lin.weight': 12, 'lin.bias': 5, 'emb.frozen': 4 } as const;
    const params = Object.fromEntries(Object.entries(shapes).map(([k, n]) => [k, { dims: [n], values: normals(r, n) }]));
    const hyper = { beta1: 0.9, beta2: 0.99, weightDecay: 0.5 };
    const runner = await runnerFor(params, { hyperparameters: hyper, groups: { noDecay: 'bias', frozen: 'frozen' } }, 'groups');
    expect(runner.manifest.parameters.map((p) => p.group)).toEqual(['decay', 'no_decay', 'frozen']);

    // Reference state, started from the same float32 values.
    const ref = {
      'lin.weight': { p: Float64Array.from(Float32Array.from(params['lin.weight'].values)), m: new Float64Array(12) },
      'lin.bias': { p: Float64Array.from(Float32Array.from(params['lin.bias'].values)), m: new Float64Array(5) },
    };
    const frozen0 = Float32Array.from(params['emb.frozen'].values);
    let sawZeroC = 0;
    let worstStepUlps = 0;
    for (let step = 0; step < 25; step++) {
      const lr = 0.01 * (1 + step / 10); // a schedule: lr changes every step without rebuilding
      const grads: Record<string, number[]> = {};
      for (const [k, n] of Object.entries(shapes)) {
        const g = normals(r, n).map(Math.fround);
        if (k === 'lin.weight') g[0] = 0; // element 0 always has g = 0 and m = 0, so c is exactly 0
        grads[k] = g;
      }
      const before = {
        'lin.weight': runner.tensor('lin.weight').data as Float32Array,
        'lin.weight.lion_m': runner.tensor('lin.weight.lion_m').data as Float32Array,
        'lin.bias': runner.tensor('lin.bias').data as Float32Array,
        'lin.bias.lion_m': runner.tensor('lin.bias.lion_m').data as Float32Array,
      };
      await runner.step({ 'g:lin.weight': f32(grads['lin.weight']), 'g:lin.bias': f32(grads['lin.bias']), 'g:emb.frozen': f32(grads['emb.frozen']) }, lr);
      for (const [k, wd] of [['lin.weight', hyper.weightDecay], ['lin.bias', 0]] as const) {
        const h = { lr, beta1: hyper.beta1, beta2: hyper.beta2, weightDecay: wd };
        // One step from exactly the graph's float32 state: must match to rounding.
        const one = lion64Step({ p: Float64Array.from(before[k]), m: Float64Array.from(before[`${k}.lion_m`]) }, grads[k], h);
        const p = runner.tensor(k).data as Float32Array;
        const m = runner.tensor(`${k}.lion_m`).data as Float32Array;
        for (let i = 0; i < p.length; i++) {
          if (one.c[i] === 0) sawZeroC++;
          const pScale = Math.max(Math.abs(before[k][i]), lr);
          const mScale = Math.max(Math.abs(h.beta2 * before[`${k}.lion_m`][i]), Math.abs((1 - h.beta2) * grads[k][i]));
          worstStepUlps = Math.max(worstStepUlps, ulpsApart(p[i], one.p[i], pScale), ulpsApart(m[i], one.m[i], mScale));
        }
        // The independent float64 trajectory: same signs, so only rounding separates them.
        const next = lion64Step(ref[k], grads[k], h);
        ref[k] = { p: next.p, m: next.m };
        for (let i = 0; i < p.length; i++) expect(Math.abs(p[i] - ref[k].p[i])).toBeLessThan(1e-6 * (step + 1));
      }
      expect(Array.from(runner.tensor('emb.frozen').data as Float32Array)).toEqual(Array.from(frozen0));
      if (step === 0) {
        // First step: m was 0, so c = (1-β1)·g and m' = (1-β2)·g.
        const m = runner.tensor('lin.bias.lion_m').data as Float32Array;
        for (let i = 0; i < 5; i++) expect(ulpsApart(m[i], 0.01 * grads['lin.bias'][i])).toBeLessThanOrEqual(2);
      }
    }
    // Weight decay only: element 0 of the weight is p0·Π(1 − lr·wd) and its momentum stays 0.
    expect((runner.tensor('lin.weight.lion_m').data as Float32Array)[0]).toBe(0);
    expect(sawZeroC).toBe(25);
    expect(worstStepUlps).toBeLessThanOrEqual(2);
    await runner.dispose();
  });

  it('reproduces the golden vector: lr 1e-3, x = ones(10), g = 0.01, 0.1 … 1.0', async () => {
    const runner = await runnerFor({ x: { dims: [10], values: Array(10).fill(1) } }, {}, 'golden');
    const gs = [0.01, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0];
    let expected = Math.fround(1);
    for (let k = 0; k < gs.length; k++) {
      await runner.step({ 'g:x': f32(Array(10).fill(gs[k])) }, 1e-3);
      expected = Math.fround(expected + Math.fround(-1e-3));
      const x = Array.from(runner.tensor('x').data as Float32Array);
      expect(x).toEqual(Array(10).fill(expected));
      expect(x[0]).toBeCloseTo(1 - 0.001 * (k + 1), 6);
    }
    await runner.dispose();
  });
});
