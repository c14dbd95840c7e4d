// Issue 15 item 3, an alternative measured and dropped (see README Performance). Run: npm run build && node scripts/bench/alternatives/maxpool-grad.mjs
import * as ort from 'onnxruntime-node';
import { Graph, GraphBuilder, modelToBytes, DataType } from '../../../dist/index.js';
import { tensorType } from '../../../dist/ir/value-type.js';
const F = DataType.FLOAT;
function model(build, X, G) {
  const g = new Graph(); g.name = 'm';
  g.inputs.push({ name: 'x', type: tensorType(F, X) }, { name: 'g', type: tensorType(F, G) });
  const b = new GraphBuilder(g);
  const out = build(b);
  g.outputs.push({ name: out, type: tensorType(F, undefined) });
  return modelToBytes({ irVersion: 8, opsetImports: [{ domain: '', version: 17 }], producerName: 'x', graph: g });
}
const viaIndices = (X) => (b) => {
  const [, ind] = b.add('MaxPool', ['x'], { kernel_shape: [2, 2], strides: [2, 2] }, { outputs: 2 });
  return b.op('MaxUnpool', ['g', ind, b.int64s('os', X)], { kernel_shape: [2, 2], strides: [2, 2] });
};
const viaArgMax = ([N, C, H, W]) => (b) => {
  const r = b.op('Reshape', ['x', b.int64s('r1', [N, C, H / 2, 2, W / 2, 2])]);
  const t = b.op('Reshape', [b.op('Transpose', [r], { perm: [0, 1, 2, 4, 3, 5] }), b.int64s('r2', [N, C, H / 2, W / 2, 4])]);
  const am = b.op('ArgMax', [t], { axis: -1, keepdims: 1 });
  const mask = b.op('Cast', [b.op('Equal', [am, b.int64s('rng', [0, 1, 2, 3])])], { to: F });
  const gg = b.op('Mul', [mask, b.op('Unsqueeze', ['g', b.int64s('ax', [-1])])]);
  const back = b.op('Transpose', [b.op('Reshape', [gg, b.int64s('r3', [N, C, H / 2, W / 2, 2, 2])])], { perm: [0, 1, 2, 4, 3, 5] });
  return b.op('Reshape', [back, b.int64s('r4', [N, C, H, W])]);
};
const so = { intraOpNumThreads: 2, interOpNumThreads: 1, executionMode: 'sequential' };
for (const X of [[64, 8, 24, 24], [64, 16, 8, 8]]) {
  const G = [X[0], X[1], X[2] / 2, X[3] / 2];
  const n = X.reduce((a, b) => a * b);
  const feeds = { x: new ort.Tensor('float32', Float32Array.from({ length: n }, () => Math.max(0, Math.random() - 0.5)), X), g: new ort.Tensor('float32', Float32Array.from({ length: n / 4 }, () => Math.random() - 0.5), G) };
  const a = await ort.InferenceSession.create(model(viaIndices(X), X, G), so);
  const c = await ort.InferenceSession.create(model(viaArgMax(X), X, G), so);
  const ya = (await a.run(feeds))[a.outputNames[0]].data, yc = (await c.run(feeds))[c.outputNames[0]].data;
  let md = 0; for (let i = 0; i < ya.length; i++) md = Math.max(md, Math.abs(ya[i] - yc[i]));
  const t = { idx: [], am: [] };
  for (let r = 0; r < 7; r++) for (const [k, s] of [['idx', a], ['am', c]]) { const t0 = performance.now(); for (let i = 0; i < 50; i++) await s.run(feeds); t[k].push((performance.now() - t0) / 50); }
  const med = (x) => [...x].sort((p, q) => p - q)[3];
  console.log(`X ${X}: max diff ${md}, indices+unpool ${med(t.idx).toFixed(3)} ms, argmax ${med(t.am).toFixed(3)} ms`);
}
