/**
 * The loss builders against hand computations in float64 TypeScript: the loss value and its
 * gradient with respect to the model output (through buildBackward), for cross-entropy with
 * leading dims [B, T, C], mse and bce; and the messages for outputs a loss cannot apply to.
 */
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { GraphError } from '../../src/errors.js';
import { buildBackward } from '../../src/grad/backward.js';
import { appendLoss, type LossKind, type LossOptions } from '../../src/grad/losses.js';
import { GraphBuilder } from '../../src/ir/builder.js';
import { Graph } from '../../src/ir/graph.js';
import { tensorType, shapeOf, type Dim } from '../../src/ir/value-type.js';
import { DataType } from '../../src/onnx/data-types.js';
import { rng, session } from './check-vjp.js';

/** A model whose output `y` is Identity(p), p a parameter, with the loss and its backward appended. */
function lossGraph(kind: LossKind, shape: Dim[], type: number, extra: Partial<LossOptions> = {}, opset = 17) {
  const graph = new Graph();
  graph.inputs = [{ name: 'p', type: tensorType(type, shape) }];
  const b = new GraphBuilder(graph);
  const y = b.op('Identity', ['p'], {}, 'y');
  graph.outputs = [{ name: y, type: tensorType(type, shape) }];
  const { loss, target } = appendLoss(graph, { kind, output: y, opset, ...extra });
  const grads = buildBackward(graph, { loss, params: ['p'], opset });
  graph.outputs = [{ name: loss }, { name: grads.get('p')! }];
  return { graph, loss, target, grad: grads.get('p')!, opset };
}

async function run(g: ReturnType<typeof lossGraph>, p: ort.Tensor, t: ort.Tensor): Promise<{ loss: number; grad: number[] }> {
  const s = await session({ irVersion: 8, opsetImports: [{ domain: '', version: g.opset }], graph: g.graph });
  const out = await s.run({ p, [g.target]: t });
  await s.release();
  return { loss: Number(out[g.loss].data[0]), grad: Array.from(out[g.grad].data as Float32Array | Float64Array) };
}

const floats = (type: number, values: number[], dims: number[]) =>
  type === DataType.DOUBLE ? new ort.Tensor('float64', Float64Array.from(values), dims) : new ort.Tensor('float32', Float32Array.from(values), dims);

function expectClose(actual: number[], expected: number[], tol: number): void {
  expect(actual.length).toBe(expected.length);
  const err = Math.max(...actual.map((a, i) => Math.abs(a - expected[i]) / Math.max(1, Math.abs(expected[i]))));
  expect(err).toBeLessThan(tol);
}

/** Reference cross-entropy over rows of C logits: mean of logsumexp(x) - x[t], gradient (softmax - onehot) / N. */
function crossEntropyRef(x: number[], t: number[], C: number): { loss: number; grad: number[] } {
  const N = t.length;
  let loss = 0;
  const grad = new Array<number>(x.length);
  for (let n = 0; n < N; n++) {
    const row = x.slice(n * C, n * C + C);
    const m = Math.max(...row);
    const z = row.reduce((s, v) => s + Math.exp(v - m), 0);
    loss += m + Math.log(z) - row[t[n]];
    row.forEach((v, c) => (grad[n * C + c] = (Math.exp(v - m) / z - (c === t[n] ? 1 : 0)) / N));
  }
  return { loss: loss / N, grad };
}

describe('cross-entropy', () => {
  for (const [type, tol] of [
    [DataType.FLOAT, 1e-5],
    [DataType.DOUBLE, 1e-12],
  ] as const)
    it(`matches a float64 reference on [B,T,C] logits (${type === DataType.FLOAT ? 'float32' : 'float64'})`, async () => {
      const [B, T, C] = [2, 3, 5];
      const rand = rng(7);
      const x = Array.from({ length: B * T * C }, () => 4 * rand() - 2);
      const t = Array.from({ length: B * T }, () => Math.floor(rand() * C));
      const g = lossGraph('cross-entropy', [B, T, C], type);
      const r = await run(g, floats(type, x, [B, T, C]), new ort.Tensor('int64', BigInt64Array.from(t.map(BigInt)), [B, T]));
      const ref = crossEntropyRef(x, t, C);
      expectClose([r.loss], [ref.loss], tol);
      expectClose(r.grad, ref.grad, tol);
    });

  it('declares the target input [leading dims] int64, keeping symbolic dims', () => {
    const g = lossGraph('cross-entropy', ['batch', 'seq', 7], DataType.FLOAT);
    const target = g.graph.input(g.target)!;
    expect(g.target).toBe('target');
    expect(target.type?.tensor_type?.elem_type).toBe(DataType.INT64);
    expect(shapeOf(target.type)).toEqual(['batch', 'seq']);
  });

  it('takes int32 targets, a custom target name and symbolic dims, and stays finite for large logits', async () => {
    const [N, C] = [4, 3];
    const x = [100, -100, 0, 50, 50, 50, -30, 80, -80, 1e3, -1e3, 0];
    const t = [1, 2, 1, 0];
    const g = lossGraph('cross-entropy', ['n', C], DataType.FLOAT, { targetType: 'int32', targetName: 'labels' });
    expect(g.target).toBe('labels');
    const r = await run(g, floats(DataType.FLOAT, x, [N, C]), new ort.Tensor('int32', Int32Array.from(t), [N]));
    const ref = crossEntropyRef(x, t, C);
    expectClose([r.loss], [ref.loss], 1e-5);
    expectClose(r.grad, ref.grad, 1e-5);
  });

  it('takes 1-D logits with a scalar target', async () => {
    const g = lossGraph('cross-entropy', [4], DataType.DOUBLE);
    const x = [0.5, -1, 2, 0];
    const r = await run(g, floats(DataType.DOUBLE, x, [4]), new ort.Tensor('int64', BigInt64Array.from([2n]), []));
    const ref = crossEntropyRef(x, [2], 4);
    expectClose([r.loss, ...r.grad], [ref.loss, ...ref.grad], 1e-12);
  });
});

describe('mse and bce', () => {
  it('mse: mean((y - t)²) with gradient 2(y - t)/N', async () => {
    const rand = rng(3);
    const y = Array.from({ length: 6 }, () => rand() * 2 - 1);
    const t = Array.from({ length: 6 }, () => rand() * 2 - 1);
    const r = await run(lossGraph('mse', [2, 3], DataType.DOUBLE), floats(DataType.DOUBLE, y, [2, 3]), floats(DataType.DOUBLE, t, [2, 3]));
    expectClose([r.loss], [y.reduce((s, v, i) => s + (v - t[i]) ** 2, 0) / 6], 1e-12);
    expectClose(r.grad, y.map((v, i) => (2 * (v - t[i])) / 6), 1e-12);
  });

  for (const type of [DataType.FLOAT, DataType.DOUBLE])
    it(`bce on logits: stable for large |x|, gradient (σ(x) - t)/N, also at x = 0 exactly (${type === DataType.FLOAT ? 'float32' : 'float64'})`, async () => {
      const x = [0, 0, 100, -100, 2.5, -0.7, 0, 30];
      const t = [0, 1, 0, 1, 0.3, 1, 0.25, 1];
      const r = await run(lossGraph('bce', [2, 4], type), floats(type, x, [2, 4]), floats(type, t, [2, 4]));
      const N = x.length;
      const loss = x.reduce((s, v, i) => s + Math.max(v, 0) - v * t[i] + Math.log1p(Math.exp(-Math.abs(v))), 0) / N;
      const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));
      const tol = type === DataType.FLOAT ? 1e-6 : 1e-12;
      expectClose([r.loss], [loss], tol);
      expectClose(r.grad, x.map((v, i) => (sigmoid(v) - t[i]) / N), tol);
    });
});

describe('appendLoss refuses outputs the loss cannot apply to', () => {
  function refusal(kind: LossKind, setup: (g: Graph, b: GraphBuilder) => string, opts: Partial<LossOptions> = {}): string {
    const graph = new Graph();
    const b = new GraphBuilder(graph);
    const output = setup(graph, b);
    try {
      appendLoss(graph, { kind, output, opset: 17, ...opts });
    } catch (e) {
      expect(e).toBeInstanceOf(GraphError);
      expect((e as Error).message).not.toContain('\n');
      return (e as Error).message;
    }
    throw new Error('expected a GraphError');
  }
  const input = (shape: Dim[] | undefined, type: number = DataType.FLOAT) => (g: Graph) => {
    g.inputs.push({ name: 'y', type: tensorType(type, shape) });
    return 'y';
  };

  it('a name that is not in the graph', () => {
    expect(refusal('mse', () => 'logits')).toMatch(/'logits' is not a value of the graph/);
  });
  it('an integer output', () => {
    expect(refusal('cross-entropy', input([2, 3], DataType.INT64))).toMatch(/the output is int64; a loss needs floating-point scores/);
  });
  it('cross-entropy on one class, a scalar, or an output of unknown rank', () => {
    expect(refusal('cross-entropy', input([8, 1]))).toMatch(/1 class on its last axis \(shape \[8, 1\]\).*use the bce loss/);
    expect(refusal('cross-entropy', input([]))).toMatch(/the output is a scalar/);
    expect(refusal('cross-entropy', input(undefined))).toMatch(/rank is unknown/);
  });
  it('a target name that is taken', () => {
    expect(refusal('bce', input([4]), { targetName: 'y' })).toMatch(/named 'y'/);
  });
});
