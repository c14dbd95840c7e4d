/**
 * sign(0) = 0 in the compiled Lion step (insertLion's step graph, run directly on onnxruntime
 * with chosen p, m, g): where c = β1·m + (1−β1)·g is exactly ±0 — m = g = 0, signed zeros, and
 * nonzero m, g whose two products cancel exactly — the update is weight decay alone,
 * p' = p·(1 − lr·wd) bit for bit, in float32 and float64. Controls: c of the smallest
 * subnormal magnitude moves p by exactly ∓lr. References: an explicit float32 emulation of the
 * rule (each operation rounded with Math.fround, scalars computed in float64 and rounded once,
 * as DESIGN.md specifies) and the Float64 Lion of test/reference/lion64.ts.
 */
import { describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import { DataType } from '../../src/onnx/data-types.js';
import { modelToBytes } from '../../src/ir/model-io.js';
import { insertLion } from '../../src/passes/optimizer/insert-optimizer.js';
import { gradientsAsInputs } from '../helpers/graphs.js';
import { lion64Step } from '../reference/lion64.js';

interface Hyper {
  lr: number;
  beta1: number;
  beta2: number;
  weightDecay: number;
}

const DTYPES = [
  { name: 'float32', type: DataType.FLOAT, ort: 'float32', round: Math.fround, tiny: 2 ** -149 },
  { name: 'float64', type: DataType.DOUBLE, ort: 'float64', round: (x: number) => x, tiny: 2 ** -1074 },
] as const;
type Dtype = (typeof DTYPES)[number];

const HYPERS: Hyper[] = [
  { lr: 0.01, beta1: 0.9, beta2: 0.99, weightDecay: 0.5 },
  { lr: 3e-4, beta1: 0.95, beta2: 0.98, weightDecay: 0 },
  // β1 = 1 − β1: m = −g cancels for any value, not only for the scaled pairs below.
  { lr: 1e-3, beta1: 0.5, beta2: 0.9, weightDecay: 0.1 },
];

interface Case {
  what: string;
  p: number;
  m: number;
  g: number;
  /** Whether c is exactly ±0. */
  zero: boolean;
}

/** m and g per element, in the parameter's type; β1 and 1−β1 as the graph rounds them. */
function cases(d: Dtype, h: Hyper): Case[] {
  const b1 = d.round(h.beta1);
  const omb1 = d.round(1 - h.beta1);
  // With s a power of two, β1·m and (1−β1)·g are the same product of the same two numbers
  // (scaled exactly), of opposite signs: c = +0.
  const cancel = (s: number) => ({ m: s * omb1, g: -s * b1 });
  const halves: Case[] = b1 === omb1 ? [{ what: 'β1 = 1/2, m = −g = 0.3', p: 0.8, m: 0.3, g: -0.3, zero: true }, { what: 'β1 = 1/2, m = −g = −1e-7', p: -0.8, m: -1e-7, g: 1e-7, zero: true }] : [];
  // Values as the parameter's type holds them (the graph is fed typed arrays).
  const typed = (c: Case): Case => ({ ...c, p: d.round(c.p), m: d.round(c.m), g: d.round(c.g) });
  return [
    ...halves,
    { what: 'm = g = +0', p: 1.25, m: 0, g: 0, zero: true },
    { what: 'm = g = −0 (c = −0)', p: -0.75, m: -0, g: -0, zero: true },
    { what: 'm = +0, g = −0', p: 3.5, m: 0, g: -0, zero: true },
    { what: 'm = −0, g = +0', p: -2.125, m: -0, g: 0, zero: true },
    { what: 'p = +0, c = +0', p: 0, m: 0, g: 0, zero: true },
    { what: 'p = −0, c = +0', p: -0, m: 0, g: 0, zero: true },
    { what: 'm = 1−β1, g = −β1', p: 0.3, ...cancel(1), zero: true },
    { what: 'm = −2⁻¹⁰·(1−β1), g = 2⁻¹⁰·β1', p: -0.6, ...cancel(-(2 ** -10)), zero: true },
    { what: 'm, g ~ 2⁻¹⁰⁰', p: 0.01, ...cancel(2 ** -100), zero: true },
    { what: 'm, g ~ 2¹⁰⁰', p: -17, ...cancel(2 ** 100), zero: true },
    // Controls: the smallest nonzero c still takes a full ±lr step.
    { what: 'c = a few subnormals > 0', p: 0.5, m: 0, g: 40 * d.tiny, zero: false },
    { what: 'c = a few subnormals < 0', p: 0.5, m: 0, g: -40 * d.tiny, zero: false },
  ].map(typed);
}

/** The rule in the parameter's precision: every operation rounded, scalars from float64 once. */
function lionRounded(d: Dtype, h: Hyper, { p, m, g }: Case): { c: number; p: number; m: number } {
  const r = d.round;
  const c = r(r(r(h.beta1) * m) + r(r(1 - h.beta1) * g));
  const decayed = r(p * r(1 - h.lr * h.weightDecay));
  const step = c > 0 ? r(h.lr) : c < 0 ? -r(h.lr) : 0;
  return { c, p: r(decayed - step), m: r(r(r(h.beta2) * m) + r(r(1 - h.beta2) * g)) };
}

async function runStep(d: Dtype, h: Hyper, cs: Case[], cautious = false): Promise<{ p: ArrayLike<number>; m: ArrayLike<number>; nonfinite: boolean }> {
  const n = cs.length;
  const program = insertLion(gradientsAsInputs({ w: { dims: [n], values: cs.map((c) => c.p) } }, d.type), {
    hyperparameters: { beta1: h.beta1, beta2: h.beta2, weightDecay: h.weightDecay },
    optimizerOptions: { cautious },
  });
  expect(program.parameters.map((p) => [p.name, p.dtype, p.group])).toEqual([['w', d.name, 'decay']]);
  const session = await ort.InferenceSession.create(modelToBytes(program.model));
  try {
    const vec = (xs: number[]) => new ort.Tensor(d.ort, d.type === DataType.FLOAT ? Float32Array.from(xs) : Float64Array.from(xs), [n]);
    const scalar = (v: number) => new ort.Tensor('float64', Float64Array.from([v]), []);
    const hi = program.hyperparameterInputs;
    const feeds: Record<string, ort.Tensor> = {
      'g:w': vec(cs.map((c) => c.g)),
      w: vec(cs.map((c) => c.p)),
      'w.lion_m': vec(cs.map((c) => c.m)),
      [hi.lr]: scalar(h.lr),
      [hi.beta1]: scalar(h.beta1),
      [hi.beta2]: scalar(h.beta2),
      [hi.weightDecay]: scalar(h.weightDecay),
    };
    // Every feed is a graph input (onnxruntime ignores the others silently).
    expect(Object.keys(feeds).sort()).toEqual([...session.inputNames].sort());
    const out = await session.run(feeds);
    const flag = program.outputs.find((o) => o.role === 'nonfinite')!.name;
    return { p: out['w.out'].data as Float32Array, m: out['w.lion_m.out'].data as Float32Array, nonfinite: Boolean((out[flag].data as Uint8Array)[0]) };
  } finally {
    await session.release();
  }
}

const bits = (x: number) => (Object.is(x, -0) ? '-0' : String(x));

describe.each(DTYPES)('Lion step with c exactly 0: sign(0) = 0, $name', (d) => {
  it.each(HYPERS.map((h) => [`lr ${h.lr}, β1 ${h.beta1}, wd ${h.weightDecay}`, h] as const))('%s: p’ = p·(1 − lr·wd) bit for bit; m’ by the rule', async (_, h) => {
    const cs = cases(d, h);
    const got = await runStep(d, h, cs);
    expect(got.nonfinite).toBe(false);
    const decay = d.round(1 - h.lr * h.weightDecay);
    cs.forEach((c, i) => {
      const want = lionRounded(d, h, c);
      // The case is what it says: c is ±0 exactly, or (controls) not.
      expect(want.c === 0, `${c.what}: c = ${want.c}`).toBe(c.zero);
      if (c.zero) expect(bits(want.p), c.what).toBe(bits(d.round(c.p * decay)));
      else {
        // p·decay ∓ lr, rounded once: within half an ulp of p of the exact ∓lr step.
        const moved = want.p - d.round(c.p * decay);
        expect(Math.abs(moved + Math.sign(want.c) * h.lr), c.what).toBeLessThanOrEqual(Math.abs(c.p) * (d.type === DataType.FLOAT ? 2 ** -23 : 2 ** -52));
      }
      expect(bits(got.p[i]), `p' for ${c.what}`).toBe(bits(want.p));
      expect(bits(got.m[i]), `m' for ${c.what}`).toBe(bits(want.m));
      if (d.type === DataType.DOUBLE) {
        // In float64 the graph is the Float64 reference itself, bit for bit.
        const ref = lion64Step({ p: Float64Array.of(c.p), m: Float64Array.of(c.m) }, [c.g], h);
        expect(ref.c[0] === 0, c.what).toBe(c.zero);
        expect(bits(got.p[i]), `p' for ${c.what} vs lion64`).toBe(bits(ref.p[0]));
        expect(bits(got.m[i]), `m' for ${c.what} vs lion64`).toBe(bits(ref.m[0]));
      }
    });
  });
});

// C-Lion (lion --cautious) masks and rescales sign(c): where c is ±0 the update is still weight
// decay alone, bit for bit (the kept elements' rescaling is checked in clion-step.test.ts).
describe.each(DTYPES)('C-Lion step with c exactly 0: sign(0) = 0, $name', (d) => {
  it.each(HYPERS.map((h) => [`lr ${h.lr}, β1 ${h.beta1}, wd ${h.weightDecay}`, h] as const))('%s: p’ = p·(1 − lr·wd) bit for bit where c = ±0', async (_, h) => {
    const cs = cases(d, h);
    const got = await runStep(d, h, cs, true);
    expect(got.nonfinite).toBe(false);
    const decay = d.round(1 - h.lr * h.weightDecay);
    cs.forEach((c, i) => {
      const want = lionRounded(d, h, c);
      if (c.zero) expect(bits(got.p[i]), `p' for ${c.what}`).toBe(bits(d.round(c.p * decay)));
      else expect(Math.abs(got.p[i] - d.round(c.p * decay)), `p' for ${c.what} moved`).toBeGreaterThan(0);
      expect(bits(got.m[i]), `m' for ${c.what}`).toBe(bits(want.m));
    });
  });
});
