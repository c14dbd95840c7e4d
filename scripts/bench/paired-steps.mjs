/**
 * Paired training speed of artifacts directories (e.g. two builds of one model by two versions
 * of lion-onnx): `node scripts/bench/paired-steps.mjs DIR... [--batch 64] [--k 8] [--threads 2] [--rounds 7] [--seconds 0.4] [--no-shuffle]`.
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
const ROUNDS = opt('rounds', 7);
const SECONDS = opt('seconds', 0.4);
const noShuffle = argv.includes('--no-shuffle');
if (noShuffle) argv.splice(argv.indexOf('--no-shuffle'), 1);
const dirs = argv;
if (!dirs.length) throw new Error('usage: paired-steps.mjs DIR... [--batch N] [--k N] [--threads N] [--rounds N] [--seconds S] [--no-shuffle]');

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
const data = dirs.map((d) => new ArrayDataset(dataFor(d), { batchSize: B, shuffle: !noShuffle }));
// Runs per sample: enough for about SECONDS each (a short sample mostly measures the caches
// the previous directory's session left cold).
const runsPer = [];
for (let i = 0; i < dirs.length; i++) {
  for (let w = 0; w < 3; w++) await sessions[i].stepStacked(data[i].nextSteps(K), K);
  const t0 = performance.now();
  await sessions[i].stepStacked(data[i].nextSteps(K), K);
  runsPer.push(Math.max(4, Math.round((SECONDS * 1000) / (performance.now() - t0))));
}
const rates = dirs.map(() => []);
for (let r = 0; r < ROUNDS; r++)
  for (let i = 0; i < dirs.length; i++) {
    const t0 = performance.now();
    for (let j = 0; j < runsPer[i]; j++) await sessions[i].stepStacked(data[i].nextSteps(K), K);
    rates[i].push((runsPer[i] * K) / ((performance.now() - t0) / 1000));
  }
const median = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
dirs.forEach((d, i) => console.log(`${d}: ${median(rates[i]).toFixed(1)} steps/s, ${median(rates[i].map((v, r) => v / rates[0][r])).toFixed(3)}× the first (paired median)`));
for (const s of sessions) await s.dispose();
