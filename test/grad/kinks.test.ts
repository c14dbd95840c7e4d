/**
 * Gradients where finite differences cannot decide: at kinks and ties, central differences give
 * the average of the two one-sided slopes (and ½ to each of three tied inputs), while autograd
 * picks a side. These lines hold our rules to the side torch 1.13 picks; the expected numbers
 * were printed by torch (x.sum().backward() on the same inputs, float64):
 *   torch.amax(torch.tensor([2., 2., 2., 0.])), F.hardswish(torch.tensor([-3., 3., ...])), ...
 */
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { buildBackward } from '../../src/grad/backward.js';
import type { AttrInput } from '../../src/ir/attributes.js';
import { GraphBuilder } from '../../src/ir/builder.js';
import { Graph, type Model } from '../../src/ir/graph.js';
import { tensorType } from '../../src/ir/value-type.js';
import { DataType } from '../../src/onnx/data-types.js';
import { session } from './check-vjp.js';

interface Kink {
  op: string;
  attrs?: Record<string, AttrInput>;
  /** Float inputs (all differentiated); shape [] for a scalar. */
  inputs: { shape: number[]; values: number[] }[];
  /** int64 constants appended after the float inputs (axes). */
  consts?: number[][];
  opset?: number;
  /** torch's gradients of sum(Y), one array per float input. */
  torch: number[][];
}

/** dL/d(input) for L = ΣY, in float64 where onnxruntime has the kernels, else float32. */
async function gradients(k: Kink): Promise<{ grads: number[][]; dtype: string }> {
  for (const floatType of [DataType.DOUBLE, DataType.FLOAT]) {
    const graph = new Graph();
    graph.name = 'kink';
    const b = new GraphBuilder(graph);
    const names = k.inputs.map((inp, i) => {
      graph.inputs.push({ name: `x${i}`, type: tensorType(floatType, inp.shape) });
      return `x${i}`;
    });
    const consts = (k.consts ?? []).map((v, i) => b.constant(`c${i}`, DataType.INT64, [v.length], v));
    const [y] = b.add(k.op, [...names, ...consts], k.attrs ?? {}, { outputs: 1 });
    const L = b.op('ReduceSum', [y], { keepdims: 0 }, 'L');
    graph.outputs = [{ name: L, type: tensorType(floatType, []) }];
    const opset = k.opset ?? 17;
    const grads = buildBackward(graph, { loss: L, params: names, opset });
    for (const n of names) graph.outputs.push({ name: grads.get(n)! });
    const model: Model = { irVersion: opset >= 19 ? 9 : 8, opsetImports: [{ domain: '', version: opset }], producerName: 'kinks', graph };
    let s: ort.InferenceSession;
    try {
      s = await session(model);
    } catch (e) {
      if (floatType === DataType.DOUBLE) continue;
      throw e;
    }
    const Array_ = floatType === DataType.DOUBLE ? Float64Array : Float32Array;
    const feeds = Object.fromEntries(
      k.inputs.map((inp, i) => [names[i], new ort.Tensor(floatType === DataType.DOUBLE ? 'float64' : 'float32', Array_.from(inp.values), inp.shape)]),
    );
    const res = await s.run(feeds);
    await s.release();
    return { grads: names.map((n) => Array.from(res[grads.get(n)!].data as Float64Array)), dtype: floatType === DataType.DOUBLE ? 'float64' : 'float32' };
  }
  throw new Error('unreachable');
}

const v = (values: number[], shape = [values.length]) => ({ shape, values });
const s = (value: number) => ({ shape: [], values: [value] });

const kinks: [string, Kink][] = [
  ['ReduceMax, a tie of three: ⅓ each (torch.amax)', { op: 'ReduceMax', attrs: { keepdims: 0 }, inputs: [v([2, 2, 2, 0])], opset: 18, torch: [[1 / 3, 1 / 3, 1 / 3, 0]] }],
  [
    'ReduceMin rows, ties of two (torch.amin keepdim)',
    { op: 'ReduceMin', attrs: { keepdims: 1 }, inputs: [v([1, 1, 3, 0, 5, 0], [2, 3])], consts: [[1]], opset: 18, torch: [[0.5, 0.5, 0, 0.5, 0, 0.5]] },
  ],
  // torch has no n-ary maximum (chained torch.maximum gives ¼, ¼, ½); ⅓ each is torch.amax's choice over the three.
  ['Max of three tied inputs: ⅓ each', { op: 'Max', inputs: [v([1, 2]), v([1, 0]), v([1, 2])], torch: [[1 / 3, 0.5], [1 / 3, 0], [1 / 3, 0.5]] }],
  ['Min ties of two (torch.minimum)', { op: 'Min', inputs: [v([1, 2, 3]), v([1, 0, 3])], torch: [[0.5, 0, 0.5], [0.5, 1, 0.5]] }],
  ['Clip at its bounds (torch.clamp)', { op: 'Clip', inputs: [v([-1, -0.5, 0, 0.5, 1]), s(-0.5), s(0.5)], torch: [[0, 1, 1, 1, 0], [1], [1]] }],
  ['Clip min only, at the bound', { op: 'Clip', inputs: [v([-1, -0.5, 0, 0.5, 1]), s(-0.5)], torch: [[0, 1, 1, 1, 1], [1]] }],
  ['Clip min = max', { op: 'Clip', inputs: [v([-1, 0, 1]), s(0), s(0)], torch: [[0, 1, 0], [0], [1]] }],
  ['Clip min > max', { op: 'Clip', inputs: [v([-1, 0, 0.5, 1]), s(1), s(0.5)], torch: [[0, 0, 0, 0], [0], [4]] }],
  ['Clip opset 11 at its bounds', { op: 'Clip', inputs: [v([-1, -0.5, 0, 0.5, 1]), s(-0.5), s(0.5)], opset: 11, torch: [[0, 1, 1, 1, 0], [1], [1]] }],
  [
    'HardSigmoid ⅙, ½ at -3, 3 (torch.hardsigmoid)',
    { op: 'HardSigmoid', attrs: { alpha: { float: 1 / 6 }, beta: { float: 0.5 } }, inputs: [v([-3, 3, 0, -4, 4])], torch: [[0, 0, 0.1666666716337204, 0, 0]] },
  ],
  ['HardSwish at -3, 3', { op: 'HardSwish', inputs: [v([-3, 3, 0, -4, 4])], opset: 14, torch: [[-0.5, 1.5, 0.5, 0, 1]] }],
  ['Elu alpha 2 at 0', { op: 'Elu', attrs: { alpha: { float: 2 } }, inputs: [v([0, -1, 1])], torch: [[2, 0.7357588823428847, 1]] }],
  ['Selu at 0', { op: 'Selu', inputs: [v([0, -1, 1])], torch: [[1.7580993408473766, 0.646768603034814, 1.0507009873554805]] }],
  ['Celu alpha 2 at 0', { op: 'Celu', attrs: { alpha: { float: 2 } }, inputs: [v([0, -1, 1])], torch: [[1, 0.6065306597126334, 1]] }],
  ['PRelu at 0', { op: 'PRelu', inputs: [v([0, -1, 2]), v([0.25])], torch: [[0.25, 0.25, 1], [-1]] }],
  ['Mish at 0', { op: 'Mish', inputs: [v([0, -1, 1])], opset: 18, torch: [[0.6, 0.059216755877395014, 1.0490362200997922]] }],
  [
    'ReduceProd with zeros (torch.prod)',
    { op: 'ReduceProd', attrs: { keepdims: 0 }, inputs: [v([2, 0, 3, 0, 0, 4, 1, 2, 3], [3, 3])], consts: [[1]], opset: 18, torch: [[0, 6, 0, 0, 0, 0, 6, 3, 2]] },
  ],
  ['ReduceL2 of a zero row (torch.linalg.vector_norm)', { op: 'ReduceL2', attrs: { keepdims: 0 }, inputs: [v([0, 0, 3, 4], [2, 2])], consts: [[1]], opset: 18, torch: [[0, 0, 0.6, 0.8]] }],
  ['ReduceL1 at 0', { op: 'ReduceL1', attrs: { keepdims: 0 }, inputs: [v([0, -1, 3, 4], [2, 2])], consts: [[1]], opset: 18, torch: [[0, -1, 1, 1]] }],
];

describe("gradients at kinks and ties match torch's", () => {
  for (const [name, k] of kinks)
    it(name, async () => {
      const { grads, dtype } = await gradients(k);
      const digits = dtype === 'float64' ? 12 : 6;
      grads.forEach((g, i) => {
        expect(g.length).toBe(k.torch[i].length);
        g.forEach((gv, j) => expect(gv, `input ${i} element ${j}`).toBeCloseTo(k.torch[i][j], digits));
      });
    });
});
