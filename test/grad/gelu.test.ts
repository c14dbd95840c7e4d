/**
 * The exact GELU's fused gradient (src/grad/rules/gelu.ts) against a float64 GELU′ computed here
 * (erf by its Taylor series) and against the op-by-op gradient, for the forms torch.onnx.export
 * and other exporters write (operand orders, Div by √2 or Mul by 1/√2); the op-by-op path where
 * an inner value has another reader.
 */
import { describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import { buildBackward } from '../../src/grad/backward.js';
import { GraphBuilder } from '../../src/ir/builder.js';
import { Graph } from '../../src/ir/graph.js';
import { modelToBytes } from '../../src/ir/model-io.js';
import { tensorType } from '../../src/ir/value-type.js';
import { DataType } from '../../src/onnx/data-types.js';
import { makeTensor } from '../../src/onnx/tensor.js';
import { model, normals, rng } from '../helpers/graphs.js';

const F = DataType.FLOAT;
const N = 257;

/** erf in float64 by its Taylor series (|x| ≤ 4 here: 80 terms are plenty). */
function erf64(x: number): number {
  let term = x;
  let sum = x;
  for (let n = 1; n < 120; n++) {
    term *= (-x * x) / n;
    sum += term / (2 * n + 1);
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}
const geluPrime64 = (x: number) => 0.5 * (1 + erf64(x / Math.SQRT2)) + (x * Math.exp((-x * x) / 2)) / Math.sqrt(2 * Math.PI);

interface Form {
  divide: boolean;
  halfFirst: boolean;
  oneFirst: boolean;
  aFirst: boolean;
  /** Also output erf(d): the inner value has a second reader. */
  exposeErf?: boolean;
}

/** L = Σ gelu(x)·w, so dL/dx = w·GELU′(x). */
async function gradient(form: Form, x: Float32Array, w: Float32Array): Promise<{ g: Float32Array; ops: string[] }> {
  const g = new Graph();
  g.inputs.push({ name: 'x', type: tensorType(F, [N]) }, { name: 'w', type: tensorType(F, [N]) });
  g.initializers.push(
    makeTensor('s', F, [], [form.divide ? Math.SQRT2 : Math.SQRT1_2]),
    makeTensor('one', F, [], [1]),
    makeTensor('half', F, [], [0.5]),
  );
  const b = new GraphBuilder(g);
  const d = b.op(form.divide ? 'Div' : 'Mul', ['x', 's']);
  const e = b.op('Erf', [d]);
  const a = b.op('Add', form.oneFirst ? ['one', e] : [e, 'one']);
  const m = b.op('Mul', form.aFirst ? [a, 'x'] : ['x', a]);
  const y = b.op('Mul', form.halfFirst ? ['half', m] : [m, 'half']);
  const loss = b.op('ReduceSum', [b.op('Mul', [y, 'w'])], { keepdims: 0 });
  g.outputs.push({ name: loss, type: tensorType(F, []) });
  if (form.exposeErf) g.outputs.push({ name: e, type: tensorType(F, [N]) });
  const forward = g.nodes.length;
  const grads = buildBackward(g, { loss, params: ['x'], opset: 17 });
  g.outputs.push({ name: grads.get('x')!, type: tensorType(F, [N]) });
  const s = await ort.InferenceSession.create(modelToBytes(model(g, 17)));
  const out = await s.run({ x: new ort.Tensor('float32', x, [N]), w: new ort.Tensor('float32', w, [N]) });
  await s.release();
  return { g: out[grads.get('x')!].data as Float32Array, ops: g.nodes.slice(forward).map((n) => n.opType) };
}

const r = rng(3);
const x = Float32Array.from({ length: N }, (_, i) => (i === 0 ? 0 : i === 1 ? 1e-6 : 4 * Math.tanh(normals(r, 1)[0])));
const w = Float32Array.from(normals(r, N));

describe('exact GELU gradient', () => {
  const forms: Form[] = [
    { divide: true, halfFirst: false, oneFirst: false, aFirst: false }, // torch.onnx.export's
    { divide: false, halfFirst: true, oneFirst: true, aFirst: true },
    { divide: true, halfFirst: true, oneFirst: false, aFirst: true },
  ];
  for (const form of forms)
    it(`is fused and matches a float64 GELU′ (${JSON.stringify(form)})`, async () => {
      const { g, ops } = await gradient(form, x, w);
      // 7 passes: Mul(d,d), Sub, Exp, Mul(x,·), Add, Mul(h), Mul(g) — no Erf chain, no Neg, no Div.
      expect(ops.filter((o) => o === 'Exp')).toHaveLength(1);
      expect(ops).not.toContain('Neg');
      expect(ops).not.toContain('Div');
      let worst = 0;
      for (let i = 0; i < N; i++) worst = Math.max(worst, Math.abs(g[i] - w[i] * geluPrime64(x[i])) / Math.max(1, Math.abs(w[i])));
      expect(worst).toBeLessThan(1e-6);
    });

  it('keeps the op-by-op gradient where an inner value has another reader; both agree', async () => {
    const fused = await gradient(forms[0], x, w);
    const plain = await gradient({ ...forms[0], exposeErf: true }, x, w);
    expect(plain.ops).toContain('Neg');
    let worst = 0;
    for (let i = 0; i < N; i++) {
      worst = Math.max(worst, Math.abs(plain.g[i] - w[i] * geluPrime64(x[i])) / Math.max(1, Math.abs(w[i])));
      expect(Math.abs(fused.g[i] - plain.g[i])).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(w[i])));
    }
    expect(worst).toBeLessThan(1e-6);
  });
});
