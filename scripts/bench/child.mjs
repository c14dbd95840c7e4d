/**
 * Child processes of the bench (scripts/bench/run.mjs): one measurement per process, so peak
 * RSS (process.resourceUsage().maxRSS) belongs to that measurement alone. Prints one JSON line.
 *
 *   child.mjs build MODEL.onnx OUTDIR                        lion-onnx build, timed by phase
 *   child.mjs train DIR DATA.json BATCH STEPS THREADS        train() a few steps (peak RSS)
 *   child.mjs growth DIR DATA.json BATCH STEPS THREADS       train() STEPS steps, RSS every 1000 (needs --expose-gc)
 *
 * DATA.json: {"<input name>": "<file>.npy", ...}.
 */
import { readFileSync, rmSync } from 'node:fs';
import { loadModel } from '../../dist/ir/model-io.js';
import { compileBuild } from '../../dist/passes/pipeline.js';
import { writeTrainingProgram } from '../../dist/api/build.js';
import { train } from '../../dist/api/train.js';

const rss = () => process.memoryUsage().rss;
/**
 * Peak RSS of this process: VmHWM. Not process.resourceUsage().maxRSS: Linux carries the
 * parent's high-water mark over fork and exec into ru_maxrss, so a child of the (large) bench
 * process would report the parent's peak.
 */
const maxRss = () => Number(/VmHWM:\s*(\d+)\s*kB/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? Number.NaN) * 1024 || process.resourceUsage().maxRSS * 1024;
const [mode, ...args] = process.argv.slice(2);

async function main() {
  if (mode === 'build') {
    // buildFromFile(model, out, opts) is exactly these three phases.
    const [model, out] = args;
    rmSync(out, { recursive: true, force: true });
    const opts = { loss: 'cross-entropy' };
    const rss0 = rss();
    const t0 = performance.now();
    const m = loadModel(model);
    const t1 = performance.now();
    const rssLoad = rss();
    const p = compileBuild(m, opts);
    const t2 = performance.now();
    const rssBuild = rss();
    writeTrainingProgram(out, p, opts);
    const t3 = performance.now();
    return {
      ms: t3 - t0,
      phases: { loadMs: t1 - t0, buildMs: t2 - t1, writeMs: t3 - t2 },
      rssAtStart: rss0,
      rssAfter: { load: rssLoad, build: rssBuild, write: rss() },
      maxRss: maxRss(),
    };
  }
  if (mode === 'train' || mode === 'growth') {
    const [dir, dataJson, batch, steps, threads] = args;
    const data = JSON.parse(readFileSync(dataJson, 'utf8'));
    const total = Number(steps);
    const samples = [];
    const rss0 = rss();
    const t0 = performance.now();
    const r = await train(dir, {
      data,
      batchSize: Number(batch),
      steps: total,
      lr: 1e-4,
      threads: Number(threads),
      shuffle: true,
      checkpointDir: `${dir}/bench-checkpoints-${process.pid}`,
      onStep: (info) => {
        if (mode === 'growth' && info.step % 1000 === 0) {
          globalThis.gc?.();
          const mu = process.memoryUsage();
          samples.push({ step: info.step, rss: mu.rss, heapTotal: mu.heapTotal, heapUsed: mu.heapUsed, external: mu.external, arrayBuffers: mu.arrayBuffers, t: (performance.now() - t0) / 1000 });
        }
      },
    });
    rmSync(`${dir}/bench-checkpoints-${process.pid}`, { recursive: true, force: true });
    return { steps: r.steps, seconds: (performance.now() - t0) / 1000, finalLoss: r.finalLoss, rssAtStart: rss0, maxRss: maxRss(), gc: typeof globalThis.gc === 'function', samples };
  }
  throw new Error(`unknown mode ${mode}`);
}

main().then(
  (r) => process.stdout.write(JSON.stringify(r) + '\n'),
  (e) => {
    process.stderr.write(`${e?.stack ?? e}\n`);
    process.exit(1);
  },
);
