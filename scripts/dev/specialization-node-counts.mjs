#!/usr/bin/env node
/**
 * Issue 15 item 1's node counts: the bench models' step and loop graphs as lion-onnx writes
 * them, and as onnxruntime's optimizer leaves them (its optimized model, saved with
 * optimizedModelFilePath) for the general graph (symbolic batch) and for the session
 * specialized to the batch fed (runtime/specialized-sessions.ts). Node counts include the
 * Loop's body; the op types that shrink the most are listed.
 *
 *   npm run build && node scripts/dev/specialization-node-counts.mjs [models folder]
 *
 * The models folder defaults to bench/tmp/models (written by `npm run bench`), else models/.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as ort from 'onnxruntime-node';
import { buildFromFile, loadModel } from '../../dist/index.js';
import { allGraphs } from '../../dist/ir/graph.js';
import { createSession } from '../../dist/runtime/execution-provider.js';

const ROOT = resolve(new URL('../..', import.meta.url).pathname);
const folder = process.argv[2] ?? (existsSync(join(ROOT, 'bench/tmp/models/transformer.onnx')) ? join(ROOT, 'bench/tmp/models') : join(ROOT, 'models'));
const MODELS = [
  { name: 'mlp', file: ['mlp.onnx', 'mnist_mlp.onnx'], batch: 128, row: [784], type: 'float32' },
  { name: 'cnn', file: ['cnn.onnx', 'mnist_cnn.onnx'], batch: 64, row: [1, 28, 28], type: 'float32' },
  { name: 'transformer', file: ['transformer.onnx'], batch: 16, row: [64], type: 'int64', target: [64] },
];
const K = 8;
const work = mkdtempSync(join(tmpdir(), 'lion-onnx-nodes-'));

function counts(model) {
  const ops = new Map();
  let n = 0;
  for (const g of allGraphs(model.graph))
    for (const node of g.nodes) {
      n++;
      ops.set(node.opType, (ops.get(node.opType) ?? 0) + 1);
    }
  return { n, ops };
}

/** The node counts onnxruntime's optimizer leaves, for the general graph and specialized to `shapes`. */
async function optimized(path, shapes) {
  const create = ort.InferenceSession.create;
  const out = {};
  for (const [kind, s] of [['general', undefined], ['specialized', shapes]]) {
    const file = join(work, `opt-${Math.random().toString(36).slice(2)}.onnx`);
    ort.InferenceSession.create = function (model, so) {
      return create.call(this, model, { ...so, optimizedModelFilePath: file });
    };
    try {
      const session = await createSession(path, { threads: 2 }, s);
      await session.release();
    } finally {
      ort.InferenceSession.create = create;
    }
    out[kind] = counts(loadModel(file));
  }
  return out;
}

const table = [];
for (const m of MODELS) {
  const file = m.file.map((f) => join(folder, f)).find(existsSync);
  if (!file) {
    console.log(`${m.name}: no model in ${folder}`);
    continue;
  }
  const dir = join(work, m.name);
  const manifest = buildFromFile(file, dir, { loss: 'cross-entropy' });
  const target = manifest.loss.target;
  const input = manifest.dataInputs.find((n) => n !== target);
  for (const graph of ['step', 'loop']) {
    const path = join(dir, manifest.graphs[graph]);
    const batchFirst = graph === 'step' ? [m.batch] : [K, m.batch];
    const shapes = { [input]: [...batchFirst, ...m.row], [target]: [...batchFirst, ...(m.target ?? [])] };
    // The loop's per-step hyperparameters are [K] vectors, as the runtime specializes them.
    if (graph === 'loop') for (const k of manifest.perStep) shapes[manifest.hyperparameterInputs[k]] = [K];
    const written = counts(loadModel(path));
    const opt = await optimized(path, shapes);
    const shrink = [...opt.general.ops].map(([op, c]) => [op, c - (opt.specialized.ops.get(op) ?? 0)]).filter(([, d]) => d > 0).sort((a, b) => b[1] - a[1]).slice(0, 6);
    table.push({ model: m.name, graph, written: written.n, general: opt.general.n, specialized: opt.specialized.n, shrink });
  }
}
console.log('| model | graph | nodes written | after onnxruntime, any batch | after onnxruntime, batch fixed | fewer after specializing |');
console.log('|---|---|---|---|---|---|');
for (const r of table) console.log(`| ${r.model} | ${r.graph} | ${r.written} | ${r.general} | ${r.specialized} | ${r.shrink.map(([op, d]) => `${op} −${d}`).join(', ')} |`);
rmSync(work, { recursive: true, force: true });
