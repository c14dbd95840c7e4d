// Issue 15 item 3, an alternative measured and dropped (see README Performance). Run: npm run build && node scripts/bench/alternatives/conv-weight-grad.mjs
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
const viaConv = (b) => {
  const xt = b.op('Transpose', ['x'], { perm: [1, 0, 2, 3] });
  const gt = b.op('Transpose', ['g'], { perm: [1, 0, 2, 3] });
  return b.op('Transpose', [b.op('Conv', [xt, gt], {})], { perm: [1, 0, 2, 3] });
};
const viaIm2col = (N, C, H, W, Co, k) => (b) => {
  const Ho = H - k + 1, Wo = W - k + 1;
  const xn = b.op('Transpose', ['x'], { perm: [0, 2, 3, 1] }); // N H W C
  const parts = [];
  for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) parts.push(b.op('Slice', [xn, b.int64s(`s${i}${j}`, [i, j]), b.int64s(`e${i}${j}`, [i + Ho, j + Wo]), b.int64s(`a${i}${j}`, [1, 2])]));
  const cols = b.op('Reshape', [b.op('Concat', parts, { axis: 3 }), b.int64s('cs', [N * Ho * Wo, k * k * C])]);
  const gm = b.op('Reshape', [b.op('Transpose', ['g'], { perm: [1, 0, 2, 3] }), b.int64s('gs', [Co, N * Ho * Wo])]);
  const dw = b.op('MatMul', [gm, cols]); // Co, k*k*C
  return b.op('Transpose', [b.op('Reshape', [dw, b.int64s('ds', [Co, k, k, C])])], { perm: [0, 3, 1, 2] });
};
const so = { intraOpNumThreads: 2, interOpNumThreads: 1, executionMode: 'sequential' };
for (const [N, C, H, W, Co, k] of [[64, 1, 28, 28, 8, 5], [64, 8, 12, 12, 16, 5]]) {
  const X = [N, C, H, W], G = [N, Co, H - k + 1, W - k + 1];
  const feeds = { x: new ort.Tensor('float32', Float32Array.from({ length: N * C * H * W }, () => Math.random() - 0.5), X), g: new ort.Tensor('float32', Float32Array.from({ length: G.reduce((a, b) => a * b) }, () => Math.random() - 0.5), G) };
  const a = await ort.InferenceSession.create(model(viaConv, X, G), so);
  const c = await ort.InferenceSession.create(model(viaIm2col(N, C, H, W, Co, k), X, G), so);
  const ra = (await a.run(feeds)); const rc = (await c.run(feeds));
  const ya = ra[a.outputNames[0]].data, yc = rc[c.outputNames[0]].data;
  let md = 0; for (let i = 0; i < ya.length; i++) md = Math.max(md, Math.abs(ya[i] - yc[i]));
  const t = { conv: [], im2col: [] };
  for (let r = 0; r < 7; r++) for (const [n, s] of [['conv', a], ['im2col', c]]) { const t0 = performance.now(); for (let i = 0; i < 50; i++) await s.run(feeds); t[n].push((performance.now() - t0) / 50); }
  const med = (x) => [...x].sort((p, q) => p - q)[3];
  console.log(`X ${X} W [${Co},${C},${k},${k}]: max diff ${md.toExponential(2)}, conv ${med(t.conv).toFixed(3)} ms, im2col ${med(t.im2col).toFixed(3)} ms (dims ${ya.length})`);
}
