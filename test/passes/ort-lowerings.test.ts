/**
 * Each lowering of an ONNX Runtime training/contrib op (src/passes/import/ort-ops/) against an
 * independent reference: a gradient op against central finite differences of the forward op it
 * differentiates (run in onnxruntime, float64 where onnxruntime has the kernels), a forward
 * contrib op against onnxruntime's own kernel where onnxruntime-node has it (FastGelu, Gelu,
 * BiasGelu, FusedMatMul), shape plumbing against the rule written out in TypeScript.
 */
import { describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import { Graph, type Model, type Node } from '../../src/ir/graph.js';
import { makeAttribute, type AttrInput } from '../../src/ir/attributes.js';
import { tensorType } from '../../src/ir/value-type.js';
import { modelToBytes } from '../../src/ir/model-io.js';
import { DataType } from '../../src/onnx/data-types.js';
import { runPass } from '../../src/passes/pass.js';
import { lowerOrtTrainingPass } from '../../src/passes/import/lower-ort-training.js';
import { normals, rng } from '../helpers/graphs.js';

const D = DataType.DOUBLE;
const F = DataType.FLOAT;
const I64 = DataType.INT64;

interface Feed {
  name: string;
  type: number;
  dims: number[];
  data: number[];
}

function ortTensor(f: Feed): ort.Tensor {
  if (f.type === D) return new ort.Tensor('float64', Float64Array.from(f.data), f.dims);
  if (f.type === F) return new ort.Tensor('float32', Float32Array.from(f.data), f.dims);
  if (f.type === I64) return new ort.Tensor('int64', BigInt64Array.from(f.data.map(BigInt)), f.dims);
  if (f.type === DataType.INT32) return new ort.Tensor('int32', Int32Array.from(f.data), f.dims);
  throw new Error(`type ${f.type}`);
}

function node(opType: string, inputs: string[], outputs: string[], attrs: Record<string, AttrInput> = {}, domain?: string): Node {
  return { opType, inputs, outputs, attributes: Object.entries(attrs).map(([k, v]) => makeAttribute(k, v)), name: `${opType}_node`, ...(domain ? { domain } : {}) };
}

function oneNodeModel(n: Node | Node[], feeds: Feed[], outputs: string[], opset = 17): Model {
  const g = new Graph();
  for (const f of feeds) g.inputs.push({ name: f.name, type: tensorType(f.type, f.dims) });
  g.nodes.push(...(Array.isArray(n) ? n : [n]));
  for (const o of outputs) g.outputs.push({ name: o });
  return { irVersion: 8, opsetImports: [{ domain: '', version: opset }, { domain: 'com.microsoft', version: 1 }, { domain: 'org.pytorch.aten', version: 1 }], producerName: 'test', graph: g };
}

async function run(m: Model, feeds: Feed[]): Promise<Record<string, number[]>> {
  const s = await ort.InferenceSession.create(modelToBytes(m));
  const out = await s.run(Object.fromEntries(feeds.map((f) => [f.name, ortTensor(f)])));
  await s.release();
  return Object.fromEntries(Object.entries(out).map(([k, t]) => [k, Array.from(t.data as ArrayLike<number | bigint>, Number)]));
}

/** The model with its ORT ops lowered (the pass's contract checked), run. */
async function runLowered(m: Model, feeds: Feed[]): Promise<Record<string, number[]>> {
  return run(runPass(lowerOrtTrainingPass, m, undefined, { check: true }).model, feeds);
}

/** Central differences of Σ R·forward(x)[out] with respect to feed `wrt`. */
async function fd(forward: Model, feeds: Feed[], wrt: string, out: string, R: number[], h = 1e-5): Promise<number[]> {
  const s = await ort.InferenceSession.create(modelToBytes(forward));
  const at = async (fs: Feed[]) => {
    const y = Array.from((await s.run(Object.fromEntries(fs.map((f) => [f.name, ortTensor(f)]))))[out].data as Float64Array);
    return y.reduce((acc, v, i) => acc + v * R[i % R.length], 0);
  };
  const x = feeds.find((f) => f.name === wrt)!;
  const grad: number[] = [];
  for (let i = 0; i < x.data.length; i++) {
    const shifted = (d: number) => feeds.map((f) => (f === x ? { ...f, data: f.data.map((v, k) => (k === i ? v + d : v)) } : f));
    grad.push(((await at(shifted(h))) - (await at(shifted(-h)))) / (2 * h));
  }
  await s.release();
  return grad;
}

function expectClose(got: number[], want: number[], tol: number, what: string): void {
  expect(got.length, what).toBe(want.length);
  const scale = Math.max(1, ...want.map(Math.abs));
  const worst = Math.max(...got.map((g, i) => Math.abs(g - want[i])));
  expect(worst / scale, `${what}: max |got - want| = ${worst}`).toBeLessThanOrEqual(tol);
}

const count = (dims: number[]) => dims.reduce((a, b) => a * b, 1);
const r = rng(17);
const randn = (dims: number[], type = D, name = 'x'): Feed => ({ name, type, dims, data: normals(r, count(dims)) });

describe('activation gradients: against finite differences of the forward op', () => {
  it.each([
    ['ReluGrad', 'Relu', 'x'],
    ['ReluGrad (given the Relu output)', 'Relu', 'y'],
    ['SigmoidGrad', 'Sigmoid', 'y'],
    ['TanhGrad', 'Tanh', 'y'],
  ])('%s', async (label, fwdOp, second) => {
    const x = randn([3, 4]);
    const dY = randn([3, 4], D, 'dY');
    const fwd = oneNodeModel(node(fwdOp, ['x'], ['y']), [x], ['y']);
    const y = (await run(fwd, [x])).y;
    const feeds: Feed[] = [dY, second === 'x' ? x : { ...x, name: 'yv', data: y }];
    const grad = oneNodeModel(node(label.split(' ')[0], ['dY', second === 'x' ? 'x' : 'yv'], ['dx'], {}, 'com.microsoft'), feeds, ['dx']);
    expectClose((await runLowered(grad, feeds)).dx, await fd(fwd, [x], 'x', 'y', dY.data), 1e-7, label);
  });

  it.each([
    ['FastGelu', 'FastGeluGrad', false],
    ['FastGelu', 'BiasFastGeluGrad_dX', true],
    ['Gelu', 'GeluGrad', false],
    ['BiasGelu', 'BiasGeluGrad_dX', true],
  ])("%s: the lowering equals onnxruntime's kernel; %s equals finite differences of it", async (fwdOp, gradOp, withBias) => {
    // onnxruntime has these contrib kernels for float32 only: a coarser step and tolerance.
    const x = randn([3, 4], F);
    const bias = randn([4], F, 'b');
    const dY = randn([3, 4], F, 'dY');
    const feeds = withBias ? [x, bias] : [x];
    const fwd = oneNodeModel(node(fwdOp, withBias ? ['x', 'b'] : ['x'], ['y'], {}, 'com.microsoft'), feeds, ['y']);
    const kernel = (await run(fwd, feeds)).y;
    expectClose((await runLowered(fwd, feeds)).y, kernel, 1e-6, `${fwdOp} lowered vs kernel`);
    const gradFeeds = [dY, ...feeds];
    const grad = oneNodeModel(node(gradOp, withBias ? ['dY', 'x', 'b'] : ['dY', 'x'], ['dx'], {}, 'com.microsoft'), gradFeeds, ['dx']);
    expectClose((await runLowered(grad, gradFeeds)).dx, await fd(fwd, feeds, 'x', 'y', dY.data, 1e-2), 2e-3, gradOp);
  });
});

describe('softmax gradients', () => {
  it.each([
    ['SoftmaxGrad_13', 'Softmax', -1, 17],
    ['SoftmaxGrad_13', 'Softmax', 1, 17],
    ['LogSoftmaxGrad_13', 'LogSoftmax', -1, 17],
    ['LogSoftmaxGrad_13', 'LogSoftmax', 1, 17],
    ['SoftmaxGrad', 'Softmax', 1, 11],
    ['LogSoftmaxGrad', 'LogSoftmax', 1, 11],
  ])('%s from %s(axis %d) at opset %d', async (gradOp, fwdOp, axis, fwdOpset) => {
    const x = randn([2, 3, 4]);
    const dY = randn([2, 3, 4], D, 'dY');
    const fwd = oneNodeModel(node(fwdOp, ['x'], ['y'], { axis }), [x], ['y'], fwdOpset);
    const y = { ...x, name: 'yv', data: (await run(fwd, [x])).y };
    const grad = oneNodeModel(node(gradOp, ['dY', 'yv'], ['dx'], { axis }, 'com.microsoft'), [dY, y], ['dx']);
    expectClose((await runLowered(grad, [dY, y])).dx, await fd(fwd, [x], 'x', 'y', dY.data), 1e-7, gradOp);
  });
});

describe('softmax cross-entropy', () => {
  const labels = (n: number[], classes: number, name = 'labels'): Feed => ({ name, type: I64, dims: n, data: Array.from({ length: count(n) }, (_, i) => (i * 7 + 1) % classes) });
  it.each([
    ['mean', false, undefined, [4]],
    ['sum', false, undefined, [4]],
    ['none', false, undefined, [4]],
    ['mean', true, undefined, [4]],
    ['mean', true, 2, [4]],
    ['mean', false, undefined, [3, 2]],
  ] as const)('SoftmaxCrossEntropyLossGrad, reduction %s, weights %s, ignore_index %s, labels %j', async (reduction, weighted, ignore, labelDims) => {
    const C = 5;
    const scoreDims = [labelDims[0], C, ...labelDims.slice(1)];
    const scores = randn(scoreDims, D, 'scores');
    const lab = labels([...labelDims], C);
    const w: Feed = { name: 'w', type: D, dims: [C], data: [0.5, 1, 2, 1.5, 0.25] };
    const attrs = { reduction, ...(ignore !== undefined ? { ignore_index: ignore } : {}) };
    const feeds = [scores, lab, ...(weighted ? [w] : [])];
    const fwd = oneNodeModel(node('SoftmaxCrossEntropyLoss', ['scores', 'labels', ...(weighted ? ['w'] : [])], ['loss', 'log_prob'], attrs), feeds, ['loss', 'log_prob'], 17);
    const f = await run(fwd, feeds);
    const dY: Feed = reduction === 'none' ? { name: 'dY', type: D, dims: [...labelDims], data: normals(r, count([...labelDims])) } : { name: 'dY', type: D, dims: [], data: [0.7] };
    const lp: Feed = { name: 'lp', type: D, dims: scoreDims, data: f.log_prob };
    const gradFeeds = [dY, lp, lab, ...(weighted ? [w] : [])];
    const grad = oneNodeModel(node('SoftmaxCrossEntropyLossGrad', ['dY', 'lp', 'labels', ...(weighted ? ['w'] : [])], ['d'], attrs, 'com.microsoft'), gradFeeds, ['d']);
    expectClose((await runLowered(grad, gradFeeds)).d, await fd(fwd, feeds, 'scores', 'loss', dY.data), 1e-7, 'd_logits');
  });

  it('SoftmaxCrossEntropyLossInternal equals the standard op with ignore_index -1 (its kernel default), and its Grad its finite differences', async () => {
    const scores = randn([4, 5], D, 'scores');
    const lab: Feed = { name: 'labels', type: I64, dims: [4], data: [1, -1, 3, 0] };
    const internal = oneNodeModel(node('SoftmaxCrossEntropyLossInternal', ['scores', 'labels'], ['loss', 'log_prob'], { reduction: 'mean' }, 'com.microsoft'), [scores, lab], ['loss', 'log_prob']);
    const standard = oneNodeModel(node('SoftmaxCrossEntropyLoss', ['scores', 'labels'], ['loss', 'log_prob'], { reduction: 'mean', ignore_index: -1 }), [scores, lab], ['loss', 'log_prob']);
    const a = await runLowered(internal, [scores, lab]);
    const b = await run(standard, [scores, lab]);
    expectClose(a.loss, b.loss, 1e-12, 'loss');
    expectClose(a.log_prob, b.log_prob, 1e-12, 'log_prob');
    const dY: Feed = { name: 'dY', type: D, dims: [], data: [1.3] };
    const lp: Feed = { name: 'lp', type: D, dims: [4, 5], data: b.log_prob };
    const grad = oneNodeModel(node('SoftmaxCrossEntropyLossInternalGrad', ['dY', 'lp', 'labels'], ['d'], { reduction: 'mean' }, 'com.microsoft'), [dY, lp, lab], ['d']);
    expectClose((await runLowered(grad, [dY, lp, lab])).d, await fd(standard, [scores, lab], 'scores', 'loss', dY.data), 1e-7, 'd_logits');
  });
});

describe('LayerNormalizationGrad', () => {
  it.each([[-1], [1]])('axis %d: dX, dscale, dbias against finite differences of LayerNormalization', async (axis) => {
    const x = randn([2, 3, 4]);
    const normDims = axis === -1 ? [4] : [3, 4];
    const scale = { ...randn(normDims), name: 'scale' };
    const bias = { ...randn(normDims), name: 'bias' };
    const dY = randn([2, 3, 4], D, 'dY');
    const feeds = [x, scale, bias];
    const fwd = oneNodeModel(node('LayerNormalization', ['x', 'scale', 'bias'], ['y', 'mean', 'inv'], { axis, epsilon: 1e-5 }), feeds, ['y', 'mean', 'inv'], 17);
    const f = await run(fwd, feeds);
    const statDims = axis === -1 ? [2, 3, 1] : [2, 1, 1];
    const gradFeeds: Feed[] = [dY, x, scale, { name: 'mean', type: D, dims: statDims, data: f.mean }, { name: 'inv', type: D, dims: statDims, data: f.inv }];
    const grad = oneNodeModel(node('LayerNormalizationGrad', ['dY', 'x', 'scale', 'mean', 'inv'], ['dx', 'dscale', 'dbias'], { axis }, 'com.microsoft'), gradFeeds, ['dx', 'dscale', 'dbias']);
    const got = await runLowered(grad, gradFeeds);
    for (const [out, wrt] of [['dx', 'x'], ['dscale', 'scale'], ['dbias', 'bias']])
      expectClose(got[out], await fd(fwd, feeds, wrt, 'y', dY.data), 1e-6, out);
  });
});

describe('shape plumbing', () => {
  /** broadcast_grad_args.cc, written out. */
  function broadcastAxes(a: number[], b: number[]): [number[], number[]] {
    const nd = Math.max(a.length, b.length);
    const A = [...new Array(nd - a.length).fill(1), ...a];
    const B = [...new Array(nd - b.length).fill(1), ...b];
    const ra: number[] = [];
    const rb: number[] = [];
    for (let k = 0; k < nd; k++) {
      if (k < nd - a.length) ra.push(k);
      else if (k < nd - b.length) rb.push(k);
      else if (A[k] !== B[k]) (A[k] === 1 ? ra : rb).push(k);
    }
    return [ra.reverse(), rb.reverse()];
  }
  it.each([
    [[2, 1, 5, 1], [3, 5, 4]],
    [[3, 5, 4], [2, 1, 5, 1]],
    [[4], [2, 3, 4]],
    [[2, 3, 4], [2, 3, 4]],
    [[1, 1], [1]],
    [[], [3]],
  ])('BroadcastGradientArgs %j, %j', async (a, b) => {
    const feeds: Feed[] = [{ name: 'a', type: I64, dims: [a.length], data: a }, { name: 'b', type: I64, dims: [b.length], data: b }];
    const m = oneNodeModel(node('BroadcastGradientArgs', ['a', 'b'], ['ra', 'rb'], {}, 'com.microsoft'), feeds, ['ra', 'rb']);
    const got = await runLowered(m, feeds);
    expect([got.ra, got.rb]).toEqual(broadcastAxes(a, b));
  });

  it.each([
    [[0], [3], [1], [1]],
    [[1, 0], [-1, 4], [0, 1], [1, 2]],
    [[4], [0], [1], [-2]],
  ])('SliceGrad starts %j ends %j axes %j steps %j against finite differences of Slice', async (starts, ends, axes, steps) => {
    const x = randn([3, 5]);
    const consts: Feed[] = [
      { name: 'starts', type: I64, dims: [starts.length], data: starts },
      { name: 'ends', type: I64, dims: [ends.length], data: ends },
      { name: 'axes', type: I64, dims: [axes.length], data: axes },
      { name: 'steps', type: I64, dims: [steps.length], data: steps },
    ];
    const fwd = oneNodeModel(node('Slice', ['x', 'starts', 'ends', 'axes', 'steps'], ['y']), [x, ...consts], ['y']);
    const y = (await run(fwd, [x, ...consts])).y;
    const dY: Feed = { name: 'dY', type: D, dims: [y.length], data: normals(r, y.length) };
    const shape: Feed = { name: 'shape', type: I64, dims: [2], data: [3, 5] };
    const reshapeDY = node('Reshape', ['dYflat', 'yshape'], ['dYr']);
    const fwdShape = await ort.InferenceSession.create(modelToBytes(fwd));
    const yDims = (await fwdShape.run(Object.fromEntries([x, ...consts].map((f) => [f.name, ortTensor(f)])))).y.dims as number[];
    await fwdShape.release();
    const feeds: Feed[] = [{ ...dY, name: 'dYflat' }, { name: 'yshape', type: I64, dims: [2], data: yDims }, shape, ...consts];
    const grad = oneNodeModel([reshapeDY, node('SliceGrad', ['dYr', 'shape', 'starts', 'ends', 'axes', 'steps'], ['dx'], {}, 'com.microsoft')], feeds, ['dx']);
    expectClose((await runLowered(grad, feeds)).dx, await fd(fwd, [x, ...consts], 'x', 'y', dY.data), 1e-8, 'dX');
  });

  it('ConcatTraining is Concat, with each input length along the axis', async () => {
    const a = randn([2, 3], D, 'a');
    const b = randn([2, 5], D, 'b');
    const m = oneNodeModel(node('ConcatTraining', ['a', 'b'], ['y', 'lengths'], { axis: -1 }, 'com.microsoft'), [a, b], ['y', 'lengths']);
    const ref = oneNodeModel(node('Concat', ['a', 'b'], ['y'], { axis: -1 }), [a, b], ['y']);
    const got = await runLowered(m, [a, b]);
    expect(got.y).toEqual((await run(ref, [a, b])).y);
    expect(got.lengths).toEqual([3, 5]);
  });

  it('GatherGrad and ATen embedding_backward against finite differences of Gather (padding_idx, scale_grad_by_freq as torch)', async () => {
    const w = randn([6, 3], D, 'w');
    const idx: Feed = { name: 'idx', type: I64, dims: [2, 3], data: [1, 4, 1, 0, 5, 1] };
    const fwd = oneNodeModel(node('Gather', ['w', 'idx'], ['y'], { axis: 0 }), [w, idx], ['y']);
    const dY = randn([2, 3, 3], D, 'dY');
    const shape: Feed = { name: 'shape', type: I64, dims: [2], data: [6, 3] };
    const want = await fd(fwd, [w, idx], 'w', 'y', dY.data);
    const gg = oneNodeModel(node('GatherGrad', ['shape', 'idx', 'dY'], ['dw'], { axis: 0 }, 'com.microsoft'), [shape, idx, dY], ['dw']);
    expectClose((await runLowered(gg, [shape, idx, dY])).dw, want, 1e-8, 'GatherGrad');
    const scalars: Feed[] = [{ name: 'nw', type: I64, dims: [], data: [6] }, { name: 'pad', type: I64, dims: [], data: [4] }, { name: 'freq', type: DataType.BOOL, dims: [], data: [1] }];
    const eb = oneNodeModel(node('ATen', ['dY', 'idx', 'nw', 'pad', 'freq'], ['dw'], { operator: 'embedding_backward' }, 'org.pytorch.aten'), [dY, idx, ...scalars.slice(0, 2)], ['dw']);
    eb.graph.initializers.push({ name: 'freq', dataType: DataType.BOOL, dims: [], data: new Uint8Array([1]) });
    const got = (await runLowered(eb, [dY, idx, ...scalars.slice(0, 2)])).dw;
    // torch: rows of padding_idx (4) get nothing; each index's rows are divided by its count (1 appears 3 times).
    const counts = [1, 3, 0, 0, 1, 1];
    const expected = want.map((v, k) => (Math.floor(k / 3) === 4 ? 0 : v / (counts[Math.floor(k / 3)] || 1)));
    expectClose(got, expected, 1e-8, 'embedding_backward');
  });
});

describe('FusedMatMul: the lowering equals the kernel', () => {
  it.each([
    [{ transB: 1 }, [2, 3, 4], [2, 5, 4]],
    [{ transA: 1, alpha: 0.5 }, [2, 4, 3], [4, 5]],
    [{ transBatchB: 1 }, [3, 2, 4], [4, 3, 5]],
    [{ transA: 1, transB: 1 }, [4, 3], [5, 4]],
  ])('%j', async (attrs, aDims, bDims) => {
    const a = randn(aDims, F, 'a');
    const b = randn(bDims, F, 'b');
    const m = oneNodeModel(node('FusedMatMul', ['a', 'b'], ['y'], attrs, 'com.microsoft'), [a, b], ['y']);
    expectClose((await runLowered(m, [a, b])).y, (await run(m, [a, b])).y, 1e-6, 'y');
  });
});
