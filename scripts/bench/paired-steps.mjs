/**
 * Paired training speed of artifacts directories (e.g. two builds of one model by two versions
 * of lion-onnx): `node scripts/bench/paired-steps.mjs DIR... [--batch 64] [--k 8] [--threads 2]`.
 * Random data shaped by each manifest's data inputs (class labels for a cross-entropy target);
 * rounds interleave the directories; prints the median steps/s and the median per-round ratio
 * to the first directory. Used for the changes quoted in README "Performance".
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ArrayDataset, TrainingSession } from '../../dist/index.js';

const argv = process.argv.slice(2);
const opt = (name, d) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? Number(argv.splice(i, 2)[1]) : d;
};
const B = opt('batch', 64);
const K = opt('k', 8);
const threads = opt('threads', 2);
const dirs = argv;
if (!dirs.length) throw new Error('usage: paired-steps.mjs DIR... [--batch N] [--k N] [--threads N]');

const ROWS = B * 16;
function dataFor(dir) {
  const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
  const arrays = new Map();
  for (const i of m.inputs.filter((x) => x.role === 'data')) {
    const rest = i.shape.slice(1).map((d) => (typeof d === 'number' ? d : 1));
    const n = ROWS * rest.reduce((a, b) => a * b, 1);
    const data =
      i.dtype === 'int64'
        ? BigInt64Array.from({ length: n }, (_, j) => BigInt(j % (i.name === m.loss?.target ? (m.loss.classes ?? 2) : 2)))
        : Float32Array.from({ length: n }, () => Math.random());
    arrays.set(i.name, { name: i.name, dataType: i.dtype === 'int64' ? 7 : 1, dims: [ROWS, ...rest], data });
  }
  return arrays;
}

const sessions = await Promise.all(dirs.map((d) => TrainingSession.create(d, { threads, lr: 1e-4 })));
const data = dirs.map((d) => new ArrayDataset(dataFor(d), { batchSize: B, shuffle: true }));
for (let i = 0; i < dirs.length; i++) for (let w = 0; w < 3; w++) await sessions[i].stepStacked(data[i].nextSteps(K), K);
const rates = dirs.map(() => []);
for (let r = 0; r < 7; r++)
  for (let i = 0; i < dirs.length; i++) {
    const t0 = performance.now();
    for (let j = 0; j < 4; j++) await sessions[i].stepStacked(data[i].nextSteps(K), K);
    rates[i].push((4 * K) / ((performance.now() - t0) / 1000));
  }
const median = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
dirs.forEach((d, i) => console.log(`${d}: ${median(rates[i]).toFixed(1)} steps/s, ${median(rates[i].map((v, r) => v / rates[0][r])).toFixed(3)}× the first (paired median)`));
for (const s of sessions) await s.dispose();
