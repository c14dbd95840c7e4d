/**
 * onnxruntime's profile of a built model's K-step Loop (k = 8), by op type and by node (the
 * TOPN slowest, default 30), on random data shaped like the bench's:
 *
 *   node scripts/dev/profile-step.mjs DIR BATCH INPUT_SHAPE INPUT_DTYPE CLASSES TARGET_SHAPE [SECONDS]
 *   e.g. DIR 128 '[784]' float32 10 '[]'   (the bench MLP; the transformer: 16 '[64]' int64 256 '[64]')
 *
 * Profiling slows every kernel launch: small nodes look far costlier than they are, so time a
 * change with scripts/bench/paired-steps.mjs, and use this to see where a step goes.
 */
import * as ort from 'onnxruntime-node';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ArrayDataset, TrainingSession } from '../../dist/index.js';
import { makeData } from '../bench/common.mjs';
const [dir, batchS, shapeS, dtype, classesS, tshapeS, secondsS] = process.argv.slice(2);
const batch = Number(batchS);
const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
const target = manifest.loss.target;
const input = manifest.dataInputs.find((n) => n !== target);
const arrays = makeData({ input: { name: input, dtype, shape: JSON.parse(shapeS), max: 256 }, target: { name: target, shape: JSON.parse(tshapeS), classes: Number(classesS) } }, 16 * batch, 3);
const pdir = mkdtempSync(join(tmpdir(), 'lion-onnx-profile-'));
const create = ort.InferenceSession.create;
ort.InferenceSession.create = function (m, so) { return create.call(this, m, { ...so, enableProfiling: true, profileFilePrefix: join(pdir, 'p') }); };
const s = await TrainingSession.create(dir, { threads: 2, lr: 1e-4 });
const ds = new ArrayDataset(arrays, { batchSize: batch, shuffle: false });
const k = 8;
await s.stepStacked(ds.nextSteps(k), k);
let runs = 0; const t0 = performance.now();
for (; performance.now() - t0 < Number(secondsS ?? 2) * 1000; runs++) await s.stepStacked(ds.nextSteps(k), k);
const wall = performance.now() - t0;
await s.dispose();
for (const f of readdirSync(pdir)) {
  const ev = JSON.parse(readFileSync(join(pdir, f), 'utf8'));
  const nodes = ev.filter((e) => e.cat === 'Node' && e.name.endsWith('_kernel_time'));
  if (!nodes.some((e) => e.args?.op_name === 'Loop')) continue;
  const nRuns = ev.filter((e) => e.cat === 'Session' && e.name === 'model_run').length;
  const steps = nRuns * k;
  const byOp = new Map(), byNode = new Map();
  let loopUs = 0, body = 0, count = new Map();
  for (const e of nodes) {
    const op = e.args.op_name;
    if (op === 'Loop') { loopUs += e.dur; continue; }
    if (op === 'If') continue;
    body += e.dur;
    byOp.set(op, (byOp.get(op) ?? 0) + e.dur);
    const nm = e.name.replace(/_kernel_time$/, '');
    byNode.set(nm, [(byNode.get(nm)?.[0] ?? 0) + e.dur, op, e.args.output_type_shape ? JSON.stringify(e.args.output_type_shape).slice(0, 80) : '']);
    count.set(nm, (count.get(nm) ?? 0) + 1);
  }
  console.log(`wall ${(wall / (runs * k)).toFixed(3)} ms/step (profiling), loop ${(loopUs / 1000 / steps).toFixed(3)}, body kernels ${(body / 1000 / steps).toFixed(3)}, nodes/step ${[...count.values()].reduce((a, b) => a + b, 0) / steps}`);
  for (const [op, us] of [...byOp].sort((a, b) => b[1] - a[1]).slice(0, 20)) console.log(`  ${op.padEnd(16)} ${(us / 1000 / steps).toFixed(3)} ms  ${(100 * us / loopUs).toFixed(1)}%`);
  console.log('top nodes:');
  for (const [nm, [us, op, sh]] of [...byNode].sort((a, b) => b[1][0] - a[1][0]).slice(0, Number(process.env.TOPN ?? 30))) console.log(`  ${(us / 1000 / steps).toFixed(4)} ${op.padEnd(12)} ${nm.slice(0, 70)} ${sh}`);
}
rmSync(pdir, { recursive: true, force: true });
