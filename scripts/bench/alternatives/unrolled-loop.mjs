// Issue 15: loop.onnx vs the same K steps unrolled in one graph (no Loop), timed in ORT; measured and dropped.
// Run: node scripts/bench/alternatives/unrolled-loop.mjs ARTIFACTS_DIR BATCH '[row shape]' CLASSES
//   e.g. after a build of the bench MLP: node scripts/bench/alternatives/unrolled-loop.mjs /tmp/mlp-art 128 '[784]' 10
import * as ort from 'onnxruntime-node';
import { loadModel, modelToBytes } from '../../../dist/index.js';
import { cloneGraph } from '../../../dist/ir/clone.js';
import { renameAll } from '../../../dist/ir/rename.js';
import { Graph, allGraphs } from '../../../dist/ir/graph.js';
import { makeTensor } from '../../../dist/onnx/tensor.js';
import { makeAttribute } from '../../../dist/ir/attributes.js';
import { shapeOf, elemTypeOf } from '../../../dist/ir/value-type.js';
const [dir, K, B, rowShape, classes] = [process.argv[2], 8, Number(process.argv[3]), JSON.parse(process.argv[4]), Number(process.argv[5])];
const loop = loadModel(`${dir}/loop.onnx`);
const L = loop.graph.nodes.find((n) => n.opType === 'Loop');
const body = L.attributes.find((a) => a.name === 'body').value;
const g = new Graph(); g.name = 'unrolled';
g.inputs = loop.graph.inputs.map((i) => ({ ...i }));
g.initializers = [...loop.graph.initializers];
const carriedIn = L.inputs.slice(2);
let cur = [...carriedIn];
const scansPer = body.outputs.length - 1 - carriedIn.length;
const scanVals = Array.from({ length: scansPer }, () => []);
for (let k = 0; k < K; k++) {
  const b = cloneGraph(body);
  const defined = new Set();
  for (const sg of allGraphs(b)) { for (const v of sg.inputs) defined.add(v.name); for (const t of sg.initializers) defined.add(t.name); for (const n of sg.nodes) { for (const o of n.outputs) if (o) defined.add(o); if (n.name) defined.add(n.name); } }
  const ren = new Map([...defined].map((n) => [n, `${n}/u${k}`]));
  renameAll(b, ren);
  const [iter, cond, ...car] = b.inputs.map((i) => i.name);
  g.initializers.push(makeTensor(iter, 7, [], [BigInt(k)]));
  g.initializers.push(makeTensor(cond, 9, [], [true]));
  car.forEach((c, i) => g.nodes.push({ opType: 'Identity', inputs: [cur[i]], outputs: [c], attributes: [], name: `id/${c}` }));
  g.initializers.push(...b.initializers);
  g.nodes.push(...b.nodes);
  const outs = b.outputs.map((o) => o.name);
  cur = outs.slice(1, 1 + car.length);
  outs.slice(1 + car.length).forEach((s, i) => scanVals[i].push(s));
}
const carriedOut = L.outputs.slice(0, carriedIn.length);
carriedOut.forEach((o, i) => g.nodes.push({ opType: 'Identity', inputs: [cur[i]], outputs: [o], attributes: [], name: `out/${o}` }));
g.initializers.push(makeTensor('u.axes0', 7, [1], [0n]));
L.outputs.slice(carriedIn.length).forEach((o, i) => {
  const us = scanVals[i].map((v, k) => { const u = `${v}/unsq`; g.nodes.push({ opType: 'Unsqueeze', inputs: [v, 'u.axes0'], outputs: [u], attributes: [], name: u }); return u; });
  g.nodes.push({ opType: 'Concat', inputs: us, outputs: [o], attributes: [makeAttribute('axis', 0)], name: `cat/${o}` });
});
g.outputs = loop.graph.outputs.map((o) => ({ ...o }));
const unrolled = { ...loop, graph: g };
// Feeds
const feeds = {};
for (const i of loop.graph.inputs) {
  const dims = shapeOf(i.type).map((d) => (typeof d === 'number' ? d : d === 'steps' ? K : d === 'batch' ? B : 1));
  const n = dims.reduce((a, b) => a * b, 1);
  const et = elemTypeOf(i.type);
  if (i.name === 'target') feeds[i.name] = new ort.Tensor('int64', BigInt64Array.from({ length: n }, (_, j) => BigInt(j % classes)), dims);
  else if (et === 7) feeds[i.name] = new ort.Tensor('int64', BigInt64Array.from({ length: n }, (_, j) => BigInt(j % 256)), dims);
  else if (et === 11) feeds[i.name] = new ort.Tensor('float64', Float64Array.from({ length: n }, () => (i.name.includes('lr') ? 1e-4 : i.name.includes('beta1') ? 0.9 : i.name.includes('beta2') ? 0.99 : 0)), dims);
  else feeds[i.name] = new ort.Tensor('float32', Float32Array.from({ length: n }, () => (Math.random() - 0.5) * 0.1), dims);
}
const so = { intraOpNumThreads: 2, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all' };
const sL = await ort.InferenceSession.create(modelToBytes(loop), so);
const sU = await ort.InferenceSession.create(modelToBytes(unrolled), so);
const a = await sL.run(feeds), c = await sU.run(feeds);
let maxd = 0; for (const o of sL.outputNames) { const x = a[o].data, y = c[o].data; for (let j = 0; j < x.length; j++) maxd = Math.max(maxd, Math.abs(Number(x[j]) - Number(y[j]))); }
console.log('max |loop - unrolled|', maxd, 'nodes', g.nodes.length);
const rates = { loop: [], unrolled: [] };
for (let r = 0; r < 7; r++) for (const [name, s] of [['loop', sL], ['unrolled', sU]]) { const t0 = performance.now(); let n = 0; while (performance.now() - t0 < 400) { await s.run(feeds); n++; } rates[name].push((n * K) / ((performance.now() - t0) / 1000)); }
const med = (x) => [...x].sort((p, q) => p - q)[x.length >> 1];
console.log(`steps/s loop ${med(rates.loop).toFixed(1)} unrolled ${med(rates.unrolled).toFixed(1)} ratio ${med(rates.unrolled.map((v, i) => v / rates.loop[i])).toFixed(3)}`);
