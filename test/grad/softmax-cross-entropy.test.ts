/**
 * Cross-entropy on logits (src/grad/losses.ts, rules/softmax-cross-entropy.ts): the loss picks
 * -log_softmax at the target with GatherElements, and its gradient is softmax − one-hot in one
 * expression. Both against float64 computed here, for [rows, C] and [batch, T, C] scores and a
 * single [C] row; the fused form is what is emitted (a ScatterElements without reduction, no
 * ReduceSum over the classes), and a LogSoftmax whose output is also read elsewhere keeps the
 * op-by-op gradient, which agrees.
 */
import { describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import { appendLoss } from '../../src/grad/losses.js';
import { buildBackward } from '../../src/grad/backward.js';
import { Graph } from '../../src/ir/graph.js';
import { modelToBytes } from '../../src/ir/model-io.js';
import { tensorType } from '../../src/ir/value-type.js';
import { DataType } from '../../src/onnx/data-types.js';
import { model, normals, rng } from '../helpers/graphs.js';

const F = DataType.FLOAT;

/** Mean cross-entropy and its gradient in float64. */
function reference(x: Float32Array, t: number[], C: number): { loss: number; grad: Float64Array } {
  const rows = t.length;
  const grad = new Float64Array(x.length);
  let loss = 0;
  for (let r = 0; r < rows; r++) {
    let max = -Infinity;
    for (let c = 0; c < C; c++) max = Math.max(max, x[r * C + c]);
    let z = 0;
    for (let c = 0; c < C; c++) z += Math.exp(x[r * C + c] - max);
    loss += (Math.log(z) + max - x[r * C + t[r]]) / rows;
    for (let c = 0; c < C; c++) grad[r * C + c] = (Math.exp(x[r * C + c] - max) / z - (c === t[r] ? 1 : 0)) / rows;
  }
  return { loss, grad };
}

async function run(shape: number[], opts: { alsoReadLogp?: boolean } = {}) {
  const C = shape.at(-1)!;
  const g = new Graph();
  g.inputs.push({ name: 'x', type: tensorType(F, shape) });
  g.nodes.push({ opType: 'Identity', inputs: ['x'], outputs: ['scores'], attributes: [], name: 'id' });
  g.outputs.push({ name: 'scores', type: tensorType(F, shape) });
  const { loss, target } = appendLoss(g, { kind: 'cross-entropy', output: 'scores', opset: 17 });
  g.outputs = [{ name: loss, type: tensorType(F, []) }];
  if (opts.alsoReadLogp) {
    const logp = g.nodes.find((n) => n.opType === 'LogSoftmax')!.outputs[0];
    g.outputs.push({ name: logp, type: tensorType(F, shape) });
  }
  const forward = g.nodes.length;
  const grads = buildBackward(g, { loss, params: ['x'], opset: 17 });
  const dx = grads.get('x')!;
  g.outputs.push({ name: dx, type: tensorType(F, shape) });
  const r = rng(9);
  const n = shape.reduce((a, b) => a * b, 1);
  const x = Float32Array.from(normals(r, n), (v) => 3 * v);
  const rows = n / C;
  const t = Array.from({ length: rows }, (_, i) => (i * 7 + 3) % C);
  const tShape = shape.slice(0, -1);
  const s = await ort.InferenceSession.create(modelToBytes(model(g, 17)));
  const out = await s.run({ x: new ort.Tensor('float32', x, shape), [target]: new ort.Tensor('int64', BigInt64Array.from(t, BigInt), tShape) });
  await s.release();
  return { loss: Number((out[loss].data as Float32Array)[0]), dx: out[dx].data as Float32Array, ref: reference(x, t, C), ops: g.nodes.slice(forward).map((n) => n.opType) };
}

describe('cross-entropy on logits', () => {
  for (const shape of [[6, 10], [2, 5, 37], [11]])
    it(`loss and fused gradient agree with float64 (${JSON.stringify(shape)})`, async () => {
      const r = await run(shape);
      expect(Math.abs(r.loss - r.ref.loss)).toBeLessThan(1e-6 * Math.max(1, r.ref.loss));
      for (let i = 0; i < r.dx.length; i++) expect(Math.abs(r.dx[i] - r.ref.grad[i])).toBeLessThan(1e-7);
      expect(r.ops).toContain('ScatterElements');
      expect(r.ops).not.toContain('ReduceSum');
    });

  it('keeps the op-by-op gradient when the log-probabilities are read elsewhere; it agrees', async () => {
    const plain = await run([6, 10], { alsoReadLogp: true });
    expect(plain.ops).toContain('ReduceSum');
    for (let i = 0; i < plain.dx.length; i++) expect(Math.abs(plain.dx[i] - plain.ref.grad[i])).toBeLessThan(1e-7);
  });
});
