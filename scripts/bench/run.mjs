/**
 * `npm run bench`: lion-onnx's performance figures, each a ratio measured side by side in one
 * run (≥ 7 rounds after warm-up, the contenders interleaved in every round so a burst of machine
 * load hits them alike; each ratio reported as its min / median / max over the rounds, with the
 * load average of each round). Writes bench/results.json, bench/results.md, and
 * the table between <!-- bench:start --> and <!-- bench:end --> in README.md.
 *
 *   a. training steps/s vs PyTorch + OpenBLAS (same model, data, thread count; reference Lion),
 *      and each engine's fraction of its own GEMM floor (sgemm rate measured in the same run)
 *   b. the Lion update alone (bench/lion-update.json from scripts/bench/lion-update.ts)
 *   c. Lion vs AdamW in lion-onnx: step time, and peak RSS of a training run
 *   d. `build` at 10M / 30M / 100M parameters (external data): time, peak RSS / model bytes
 *   e. no growth: RSS after 10,000 steps vs after 1,000
 *
 * Options: --only a,b,c,d,e  --reps N (default 7)  --seconds S (per repetition, default 0.5)
 *          --threads N (default 2)  --build-sizes 10m,30m,100m  --lion-update (rerun b)  --no-readme
 *          --quick (short repetitions, d at 10m only, e over 3,000 steps: a smoke test)
 *          --render (rewrite bench/results.md and the README table from bench/results.json; no measuring)
 * Environment: BENCH_TORCH_BLAS_DIR=<folder with an optimized libblas.so.3> adds a second PyTorch
 *          contender using it (Debian's torch otherwise uses whatever libblas.so.3 the system has).
 *
 * PyTorch parts run Debian's /usr/bin/python3 (python3-torch); without it they are reported as
 * skipped and the rest still runs (the MLP and CNN then come from models/). Debian's torch calls
 * the system libblas.so.3: when that is the reference BLAS, the bench installs
 * libopenblas0-pthread (as root, with apt-get), which takes the alternative, so the contender is
 * the PyTorch a user would run.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';
import { join, relative } from 'node:path';
import { createInterface } from 'node:readline';
import * as ort from 'onnxruntime-node';
import { ArrayDataset, buildFromFile, DataType, Graph, makeTensor, modelToBytes, TrainingSession, VERSION } from '../../dist/index.js';
import { tensorType } from '../../dist/ir/value-type.js';
import { prng } from '../../dist/data/dataset.js';
import { BENCH, MB, ROOT, TMP, ensureDir, makeData, median, runChild, sizeOf, writeData, writeMlp } from './common.mjs';

// ---------------------------------------------------------------------------------------------
// Options

const argv = process.argv.slice(2);
const flag = (n) => argv.includes(`--${n}`);
const opt = (n, d) => {
  const i = argv.indexOf(`--${n}`);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1] : d;
};
const QUICK = flag('quick');
const ONLY = new Set(opt('only', 'a,b,c,d,e').split(','));
const REPS = Number(opt('reps', 7));
const SECONDS = Number(opt('seconds', QUICK ? 0.2 : 0.5));
const THREADS = Number(opt('threads', 2));
const SIZES = opt('build-sizes', QUICK ? '10m' : '10m,30m,100m').split(',');
const GROWTH_STEPS = QUICK ? [1000, 3000] : [1000, 10000];
const PYTHON = process.env.BENCH_PYTHON ?? '/usr/bin/python3';
const HYPER = { lion: { lr: 1e-4, weightDecay: 0.1 }, adamw: { lr: 1e-3, weightDecay: 0.1 } };
const BETAS = { beta1: 0.9, beta2: 0.99 };
if (!(REPS >= 1) || !(SECONDS > 0)) throw new Error('--reps and --seconds must be positive');

const log = (s) => process.stderr.write(s + '\n');
const fmt = (x, d = 2) => (x === undefined || x === null || Number.isNaN(x) ? '–' : Number(x).toFixed(d));

// ---------------------------------------------------------------------------------------------
// Environment

const ORT_VERSION = JSON.parse(readFileSync(createRequire(import.meta.url).resolve('onnxruntime-node/package.json'), 'utf8')).version;

/** Optional second PyTorch contender with another BLAS: BENCH_TORCH_BLAS_DIR=<folder with libblas.so.3>. */
const TORCH_BLAS_DIR = process.env.BENCH_TORCH_BLAS_DIR;

/** ms per MB to touch freshly allocated memory (page faults): what every new ORT output costs. */
function firstTouchMsPerMB() {
  const xs = [];
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    const a = new Float32Array(16 * MB);
    for (let j = 0; j < a.length; j += 1024) a[j] = 1;
    xs.push((performance.now() - t0) / 64);
  }
  return median(xs);
}

/**
 * The contender is the PyTorch a user would run: Debian's torch uses the system libblas.so.3,
 * and with only the reference BLAS installed that is netlib's, single-threaded. As root, install
 * libopenblas0-pthread (its alternative then wins) and probe again; otherwise say why not.
 */
function ensureOpenBlas(py) {
  if (!py.ok || !py.blasLibrary?.some((l) => /\/blas\/libblas\.so/.test(l)) || py.blasLibrary.some((l) => /openblas/i.test(l))) return py;
  if (process.getuid?.() !== 0 || !existsSync('/usr/bin/apt-get')) return { ...py, openblas: 'not installed (not root): PyTorch runs on the reference BLAS; install libopenblas0-pthread' };
  log('PyTorch would run on the reference BLAS: installing libopenblas0-pthread ...');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  let r = spawnSync('apt-get', ['install', '-y', '-q', 'libopenblas0-pthread'], { env, encoding: 'utf8' });
  if (r.status !== 0) {
    spawnSync('apt-get', ['update', '-q'], { env, encoding: 'utf8' });
    r = spawnSync('apt-get', ['install', '-y', '-q', 'libopenblas0-pthread'], { env, encoding: 'utf8' });
  }
  const again = probePython();
  return r.status === 0 ? { ...again, openblas: 'installed by the bench' } : { ...again, openblas: `apt-get install libopenblas0-pthread failed: ${(r.stderr || '').trim().split('\n').pop()}` };
}

function probePython() {
  if (!existsSync(PYTHON)) return { ok: false, reason: `skipped: ${PYTHON} not found (python3-torch not installed)` };
  const r = spawnSync(PYTHON, ['-c', 'import json, torch\ntry:\n import onnx; o = onnx.__version__\nexcept Exception:\n o = None\nimport re\nb = re.search(r"BLAS_INFO=([^,]*)", torch.__config__.show())\ntorch.ones(64, 64) @ torch.ones(64, 64)\nlib = sorted({l.split()[-1] for l in open("/proc/self/maps") if "blas" in l.split()[-1]})\nprint(json.dumps({"torch": torch.__version__, "onnx": o, "blas": b.group(1) if b else None, "blasLibrary": lib}))'], { encoding: 'utf8' });
  if (r.status !== 0) return { ok: false, reason: 'skipped: python3-torch not installed' };
  const info = JSON.parse(r.stdout.trim().split('\n').pop());
  return { ok: true, ...info };
}

// ---------------------------------------------------------------------------------------------
// PyTorch timing server (scripts/bench/torch_bench.py serve)

/**
 * glibc settings for the PyTorch processes: with its default, dynamic thresholds glibc hands
 * PyTorch's per-step temporaries back to the OS and every step pays the page faults again
 * (about 3 ms per MB on these machines), which made PyTorch's CNN swing between 35 and 170
 * steps/s from run to run (scripts/bench/torch_cnn_alone.py). Fixed thresholds keep it at its
 * best, which is the fair contender. lion-onnx needs none: onnxruntime's arena reuses memory.
 * OMP_WAIT_POLICY=PASSIVE: PyTorch's OpenMP threads otherwise spin on the cores a threaded BLAS
 * needs (an OpenBLAS PyTorch ran the MLP at 120-300 steps/s spinning, 480-520 passive).
 */
const TORCH_MALLOC_ENV = { MALLOC_MMAP_THRESHOLD_: String(2 ** 30), MALLOC_TRIM_THRESHOLD_: String(2 ** 30), OMP_WAIT_POLICY: 'PASSIVE' };

class TorchServer {
  constructor(threads, env = {}) {
    this.proc = spawn(PYTHON, [join(ROOT, 'scripts', 'bench', 'torch_bench.py'), 'serve', String(threads)], { stdio: ['pipe', 'pipe', 'pipe'], cwd: ROOT, env: { ...process.env, ...TORCH_MALLOC_ENV, ...env } });
    this.lines = createInterface({ input: this.proc.stdout });
    this.waiting = [];
    this.err = '';
    this.proc.stderr.on('data', (d) => (this.err = (this.err + d).slice(-4000)));
    this.lines.on('line', (l) => this.waiting.shift()?.resolve(JSON.parse(l)));
    this.proc.on('exit', (code) => {
      for (const w of this.waiting.splice(0)) w.reject(new Error(`torch server exited (${code}): ${this.err.trim().split('\n').slice(-3).join(' | ')}`));
    });
  }
  request(obj) {
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.proc.stdin.write(JSON.stringify(obj) + '\n');
    }).then((r) => {
      if (r.error) throw new Error(`torch server: ${r.error}`);
      return r;
    });
  }
  async close() {
    this.proc.stdin.write(JSON.stringify({ cmd: 'quit' }) + '\n');
    await new Promise((r) => this.proc.once('exit', r));
  }
}

// ---------------------------------------------------------------------------------------------
// Runners: each times `n` training steps and reports seconds.

/**
 * lion-onnx: TrainingSession.stepStacked with k steps per ONNX run, batches from an ArrayDataset
 * (as train() does). `initial` is a checkpoint of the session's initial state: reset() returns
 * to it, so that every sample trains from the same start.
 */
function ortRunner(id, session, arrays, batch, k, initial) {
  const ds = new ArrayDataset(arrays, { batchSize: batch, shuffle: false });
  return {
    id,
    k,
    reset() {
      if (initial) session.loadCheckpoint(initial);
      ds.position = { epoch: 0, batch: 0 };
    },
    async time(n) {
      const t0 = performance.now();
      for (let i = 0; i < n; i += k) await session.stepStacked(ds.nextSteps(k), k);
      return (performance.now() - t0) / 1000;
    },
  };
}

function torchRunner(id, server, key) {
  return {
    id,
    k: 1,
    async reset() {
      await server.request({ cmd: 'reset', key });
    },
    async time(n) {
      return (await server.request({ cmd: 'time', key, steps: n })).seconds;
    },
  };
}

/**
 * Warm-up, then `REPS` rounds; in each round every runner times about SECONDS of steps, in turn.
 * Returns steps/s samples per runner (index = round). Training runners restart from their
 * initial state before every sample (reset, not timed): each one then measures the same early
 * stretch of training, whatever its speed. Kept training, a contender that had run more steps
 * reached other phases first — on the MLP with random labels, one where values drift through
 * float32's subnormal range and x86 runs every operation on them in microcode, 3-10x slower
 * per step (seen as two collapsed rounds in an earlier run of this bench).
 */
async function rounds(runners, label) {
  const steps = [];
  for (const r of runners) {
    await r.time(r.k); // first run: session/graph set-up
    let n = r.k;
    let t = await r.time(n);
    while (t < 0.25) {
      n *= 2;
      t = await r.time(n);
    }
    const rate = n / t;
    steps.push(Math.max(r.k, Math.round((rate * SECONDS) / r.k) * r.k));
  }
  const samples = runners.map(() => []);
  const load = [];
  for (let rep = 0; rep < REPS; rep++) {
    for (const [i, r] of runners.entries()) {
      await r.reset?.();
      samples[i].push(steps[i] / (await r.time(steps[i])));
    }
    load.push(loadavg()[0]);
    log(`  ${label} round ${rep + 1}/${REPS}: ${runners.map((r, i) => `${r.id} ${samples[i][rep].toFixed(1)}`).join(', ')} steps/s (load ${load[rep].toFixed(1)})`);
  }
  roundLoads.push(...load);
  return Object.fromEntries(runners.map((r, i) => [r.id, { stepsPerSample: steps[i], samples: samples[i], median: median(samples[i]), min: Math.min(...samples[i]), max: Math.max(...samples[i]), loadavg1: load }]));
}

/** The 1-minute load average after every round of every section: the report gives its range. */
const roundLoads = [];

/** Median over rounds of a / b (paired by round). */
const pairedRatio = (a, b) => median(a.samples.map((x, i) => x / b.samples[i]));
/** Min, median and max over rounds of a / b (paired by round). */
const ratioStats = (a, b) => {
  const r = a.samples.map((x, i) => x / b.samples[i]);
  return { min: Math.min(...r), median: median(r), max: Math.max(...r) };
};

/**
 * The GEMM floor: each engine's own sgemm rate here, n×n by n×n float32 with THREADS threads.
 * onnxruntime runs a chain of 8 MatMuls per run (B scaled to keep values in range), so its one
 * fresh output per run (the page faults of a new 4 MB buffer) is spread over 8 products;
 * PyTorch multiplies into a preallocated tensor. A runner's "step" is one product.
 */
const GEMM_N = 1024;
const GEMM_CHAIN = 8;
async function ortGemmRunner() {
  const g = new Graph();
  g.name = 'gemm';
  g.inputs.push({ name: 'a', type: tensorType(DataType.FLOAT, [GEMM_N, GEMM_N]) });
  const r = prng(3);
  const b = new Float32Array(GEMM_N * GEMM_N);
  for (let i = 0; i < b.length; i++) b[i] = ((r() * 2 - 1) * Math.sqrt(3)) / Math.sqrt(GEMM_N);
  g.initializers.push(makeTensor('b', DataType.FLOAT, [GEMM_N, GEMM_N], b));
  let h = 'a';
  for (let i = 0; i < GEMM_CHAIN; i++) {
    g.nodes.push({ opType: 'MatMul', inputs: [h, 'b'], outputs: [`y${i}`], attributes: [], name: `mm${i}` });
    h = `y${i}`;
  }
  g.outputs.push({ name: h, type: tensorType(DataType.FLOAT, [GEMM_N, GEMM_N]) });
  const bytes = modelToBytes({ irVersion: 8, opsetImports: [{ domain: '', version: 13 }], producerName: 'lion-onnx bench', graph: g });
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: THREADS, interOpNumThreads: 1, executionMode: 'sequential' });
  const a = new Float32Array(GEMM_N * GEMM_N).map(() => r() * 2 - 1);
  const feeds = { a: new ort.Tensor('float32', a, [GEMM_N, GEMM_N]) };
  return {
    id: 'onnxruntime sgemm',
    k: GEMM_CHAIN,
    session,
    async time(n) {
      const t0 = performance.now();
      for (let i = 0; i < n; i += GEMM_CHAIN) await session.run(feeds);
      return (performance.now() - t0) / 1000;
    },
  };
}
function torchGemmRunner(server) {
  return {
    id: 'torch sgemm',
    k: 1,
    async time(n) {
      return (await server.request({ cmd: 'mm', n: GEMM_N, steps: n })).seconds;
    },
  };
}
const gflops = (productsPerSecond) => (productsPerSecond * 2 * GEMM_N ** 3) / 1e9;

// ---------------------------------------------------------------------------------------------
// ORT profile of the Loop (stepsPerRun 8): exclusive time per op type.

/**
 * ORT profile of `k` steps per run. Besides the per-op breakdown, `updateMsPerStep` is the
 * kernel time of the optimizer's own nodes (named `<optimizer>/...` by insert-optimizer: the
 * update inside the guard's If, and the non-finite check), without the If's own overhead.
 */
async function profile(dir, arrays, batch, k, optimizer = 'lion') {
  const pdir = ensureDir(join(TMP, 'profile'));
  for (const f of readdirSync(pdir)) rmSync(join(pdir, f));
  const create = ort.InferenceSession.create;
  ort.InferenceSession.create = function (model, so) {
    return create.call(this, model, { ...so, enableProfiling: true, profileFilePrefix: join(pdir, 'p') });
  };
  let runs = 0;
  let wall = 0;
  try {
    const s = await TrainingSession.create(dir, { threads: THREADS, lr: HYPER[optimizer].lr });
    const ds = new ArrayDataset(arrays, { batchSize: batch, shuffle: false });
    await s.stepStacked(ds.nextSteps(k), k);
    const t0 = performance.now();
    for (; performance.now() - t0 < SECONDS * 1000 || runs < 2; runs++) await s.stepStacked(ds.nextSteps(k), k);
    wall = performance.now() - t0;
    await s.dispose();
  } finally {
    ort.InferenceSession.create = create;
  }
  // The session that ran the Loop wrote the profile with 'Loop' nodes.
  for (const f of readdirSync(pdir)) {
    const events = JSON.parse(readFileSync(join(pdir, f), 'utf8'));
    const runEv = events.filter((e) => e.cat === 'Session' && e.name === 'model_run');
    const nodes = events.filter((e) => e.cat === 'Node' && e.name.endsWith('_kernel_time'));
    if (!nodes.some((e) => e.args?.op_name === 'Loop')) continue;
    const perRun = runEv.length;
    const byOp = new Map();
    let bodyUs = 0;
    let loopUs = 0;
    let updateUs = 0;
    for (const e of nodes) {
      const op = e.args.op_name;
      if (op !== 'If' && op !== 'Loop' && e.name.startsWith(`${optimizer}/`)) updateUs += e.dur;
      if (op === 'Loop') loopUs += e.dur;
      else {
        bodyUs += e.dur;
        byOp.set(op, (byOp.get(op) ?? 0) + e.dur);
      }
    }
    const runUs = runEv.reduce((a, e) => a + e.dur, 0);
    const stepsProfiled = perRun * k;
    byOp.set('(Loop overhead)', Math.max(0, loopUs - bodyUs));
    const top = [...byOp].sort((a, b) => b[1] - a[1]);
    const ms = (us) => us / 1000 / stepsProfiled;
    return {
      k,
      runs: perRun,
      note: 'profiled runs include the warm-up run; profiling slows ORT down, shares are what matter',
      wallMsPerStep: wall / (runs * k),
      modelRunMsPerStep: ms(runUs),
      loopOverheadMsPerStep: ms(Math.max(0, loopUs - bodyUs)),
      outsideNodesMsPerStep: ms(Math.max(0, runUs - loopUs)),
      updateMsPerStep: ms(updateUs),
      updateShare: updateUs / runUs,
      ops: top.map(([op, us]) => ({ op, msPerStep: ms(us), share: us / runUs })),
    };
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// Models

/** Per-model data: input spec (name filled in from the manifest), target, batch. */
const SPECS = {
  mlp: { batch: 128, input: { dtype: 'float32', shape: [784] }, target: { shape: [], classes: 10 }, what: 'MLP 784-256-10, batch 128' },
  cnn: { batch: 64, input: { dtype: 'float32', shape: [1, 28, 28] }, target: { shape: [], classes: 10 }, what: 'LeNet-style CNN (conv5x5·8-relu-pool-conv5x5·16-relu-pool-fc), 28×28, batch 64' },
  transformer: { batch: 16, input: { dtype: 'int64', shape: [64], max: 256 }, target: { shape: [64], classes: 256 }, what: 'transformer 2 layers, d 128, 4 heads, T 64, vocab 256, pre-LN, GELU 4x, batch 16' },
  'mlp-wide': { batch: 16, input: { dtype: 'float32', shape: [784] }, target: { shape: [], classes: 10 }, sizes: [784, 4096, 2048, 10], what: 'MLP 784-4096-2048-10, batch 16' },
  'mlp-small': { batch: 32, input: { dtype: 'float32', shape: [784] }, target: { shape: [], classes: 10 }, sizes: [784, 64, 10], what: 'MLP 784-64-10, batch 32' },
};
const POOL_BATCHES = 16;

/** Builds `model` with `optimizer` into bench/tmp/art/<name>-<optimizer>; returns the dir and manifest. */
function build(name, model, optimizer) {
  const dir = join(TMP, 'art', `${name}-${optimizer}`);
  rmSync(dir, { recursive: true, force: true });
  const manifest = buildFromFile(model, dir, { loss: 'cross-entropy', optimizer, hyperparameters: { ...BETAS, weightDecay: HYPER[optimizer].weightDecay } });
  return { dir, manifest };
}

function dataFor(name, manifest, seed) {
  const spec = SPECS[name];
  const target = manifest.loss.target;
  const input = manifest.dataInputs.find((n) => n !== target);
  const arrays = makeData({ input: { ...spec.input, name: input }, target: { ...spec.target, name: target } }, POOL_BATCHES * spec.batch, seed);
  const files = writeData(join(TMP, 'data', name), arrays);
  return { arrays, files, input };
}

const paramCount = (manifest) => manifest.parameters.reduce((s, p) => s + p.shape.reduce((a, b) => a * b, 1), 0);

// ---------------------------------------------------------------------------------------------
// Sections

const results = {
  date: new Date().toISOString(),
  machine: { cpu: cpus()[0]?.model, cores: availableParallelism(), memoryGiB: Math.round(totalmem() / 2 ** 30), loadavgAtStart: loadavg() },
  versions: { node: process.version, onnxruntimeNode: ORT_VERSION, lionOnnx: VERSION },
  settings: { reps: REPS, secondsPerRepetition: SECONDS, threads: THREADS, quick: QUICK, hyperparameters: HYPER, betas: BETAS },
  method:
    'Every figure is a ratio of two measurements taken side by side in this run: the median over the repetitions of the per-round ratio (rounds interleave the contenders), after a warm-up. Raw per-contender medians and samples are kept.',
};

async function sectionA(py) {
  const out = { title: 'Training steps/s vs PyTorch', models: {} };
  let models;
  if (py.ok) {
    log('a. exporting models with torch ...');
    const r = spawnSync(PYTHON, [join(ROOT, 'scripts', 'bench', 'torch_bench.py'), 'export', join(TMP, 'models')], { encoding: 'utf8', cwd: ROOT });
    if (r.status !== 0) throw new Error(`torch export failed: ${r.stderr.slice(-1000)}`);
    const info = JSON.parse(r.stdout.trim().split('\n').pop());
    models = Object.fromEntries(info.map((m) => [m.name, { path: m.path, torchParameters: m.parameters, opset: m.opset }]));
  } else {
    out.torch = py.reason;
    models = { mlp: { path: join(ROOT, 'models', 'mnist_mlp.onnx') }, cnn: { path: join(ROOT, 'models', 'mnist_cnn.onnx') } };
    out.transformer = `${py.reason} (the transformer is exported by torch)`;
  }
  const server = py.ok ? new TorchServer(THREADS) : null;
  const blasServer = py.ok && TORCH_BLAS_DIR ? new TorchServer(THREADS, { LD_LIBRARY_PATH: [TORCH_BLAS_DIR, process.env.LD_LIBRARY_PATH].filter(Boolean).join(':'), OPENBLAS_NUM_THREADS: String(THREADS) }) : null;
  if (blasServer) out.torchBlas = { dir: TORCH_BLAS_DIR, library: (await blasServer.request({ cmd: 'version' })).blasLibrary };
  try {
    log(`a. GEMM floor: ${GEMM_N}×${GEMM_N} sgemm in each engine ...`);
    const ortGemm = await ortGemmRunner();
    const gemmRunners = [ortGemm, ...(server ? [torchGemmRunner(server)] : [])];
    const gt = await rounds(gemmRunners, 'sgemm');
    await ortGemm.session.release();
    out.gemm = {
      n: GEMM_N,
      what: `${GEMM_N}×${GEMM_N} by ${GEMM_N}×${GEMM_N} float32, ${THREADS} threads; GFLOP/s = 2n³ × products/s`,
      onnxruntime: { median: gflops(gt['onnxruntime sgemm'].median), max: gflops(gt['onnxruntime sgemm'].max), samples: gt['onnxruntime sgemm'].samples.map(gflops) },
      ...(server ? { torch: { median: gflops(gt['torch sgemm'].median), max: gflops(gt['torch sgemm'].max), samples: gt['torch sgemm'].samples.map(gflops) } } : {}),
    };
    for (const [name, m] of Object.entries(models)) {
      log(`a/c. ${name}: building (lion, adamw) ...`);
      const lion = build(name, m.path, 'lion');
      const adamw = build(name, m.path, 'adamw');
      const { arrays, files } = dataFor(name, lion.manifest, 11);
      const spec = SPECS[name];
      const sLion = await TrainingSession.create(lion.dir, { threads: THREADS, lr: HYPER.lion.lr });
      const sAdam = await TrainingSession.create(adamw.dir, { threads: THREADS, lr: HYPER.adamw.lr });
      rmSync(join(TMP, 'init'), { recursive: true, force: true });
      const initLion = sLion.saveCheckpoint(join(TMP, 'init', `${name}-lion`));
      const initAdam = sAdam.saveCheckpoint(join(TMP, 'init', `${name}-adamw`));
      const runners = [
        ortRunner('lion k=1', sLion, arrays, spec.batch, 1, initLion),
        ortRunner('lion k=8', sLion, arrays, spec.batch, 8, initLion),
        ortRunner('adamw k=1', sAdam, arrays, spec.batch, 1, initAdam),
        ortRunner('adamw k=8', sAdam, arrays, spec.batch, 8, initAdam),
      ];
      if (server) {
        const reply = await server.request({ cmd: 'setup', key: name, model: name, data: files, batch: spec.batch, hyperparameters: { ...HYPER.lion, ...BETAS } });
        runners.push(torchRunner('torch', server, name));
        m.torchParameters = reply.parameters;
        m.flopsPerStep = reply.flopsPerStep;
      }
      if (blasServer) {
        await blasServer.request({ cmd: 'setup', key: name, model: name, data: files, batch: spec.batch, hyperparameters: { ...HYPER.lion, ...BETAS } });
        runners.push(torchRunner('torch+blas', blasServer, name));
      }
      const t = await rounds(runners, name);
      await sLion.dispose();
      await sAdam.dispose();
      log(`a. ${name}: ORT profile ...`);
      const prof = await profile(lion.dir, arrays, spec.batch, 8);
      const profAdamw = await profile(adamw.dir, arrays, spec.batch, 8, 'adamw');
      const entry = {
        what: spec.what,
        model: relative(ROOT, m.path),
        parameters: paramCount(lion.manifest),
        stepsPerSecond: t,
        profile: prof,
      };
      if (server) {
        entry.vsTorch = { 'k=8': pairedRatio(t['lion k=8'], t.torch), 'k=1': pairedRatio(t['lion k=1'], t.torch) };
        entry.vsTorchRange = { 'k=8': ratioStats(t['lion k=8'], t.torch), 'k=1': ratioStats(t['lion k=1'], t.torch) };
        // Issue 15's targets, against PyTorch with OpenBLAS.
        entry.target = name === 'cnn' ? 1.2 : 1.5;
        if (m.flopsPerStep) {
          // Each engine's achieved matrix-product rate in training ÷ its own sgemm rate (medians of this run).
          entry.flopsPerStep = m.flopsPerStep;
          entry.gemmFloor = {
            lion: (m.flopsPerStep * t['lion k=8'].median) / 1e9 / out.gemm.onnxruntime.median,
            torch: (m.flopsPerStep * t.torch.median) / 1e9 / out.gemm.torch.median,
            target: { mlp: 0.7, transformer: 0.6, cnn: 0.3 }[name],
          };
        }
        if (blasServer) entry.vsTorchBlas = { 'k=8': pairedRatio(t['lion k=8'], t['torch+blas']), 'k=1': pairedRatio(t['lion k=1'], t['torch+blas']) };
      } else entry.vsTorch = py.reason;
      // c: Lion step time / AdamW step time = AdamW steps/s / Lion steps/s.
      entry.lionOverAdamwTime = { 'k=8': pairedRatio(t['adamw k=8'], t['lion k=8']), 'k=1': pairedRatio(t['adamw k=1'], t['lion k=1']) };
      entry.update = updateComparison(prof, profAdamw);
      out.models[name] = entry;
    }
  } finally {
    await server?.close();
    await blasServer?.close();
  }
  return out;
}

/**
 * Why a step-time ratio can or cannot reach the target: the optimizer's share of the step from
 * the two profiles. `floor` is the Lion ÷ AdamW step time if Lion's update cost nothing at all.
 */
function updateComparison(lion, adamw) {
  if (!lion || !adamw) return null;
  return {
    lionMsPerStep: lion.updateMsPerStep,
    adamwMsPerStep: adamw.updateMsPerStep,
    lionOverAdamw: lion.updateMsPerStep / adamw.updateMsPerStep,
    adamwShareOfStep: adamw.updateShare,
    floor: 1 - adamw.updateShare,
  };
}

/** c: Lion vs AdamW step time on the wide MLP (a, above, covers the other models), and peak RSS. */
async function sectionC(aModels) {
  const out = { title: 'Lion vs AdamW in lion-onnx', stepTime: {}, rss: null };
  for (const [name, e] of Object.entries(aModels ?? {})) out.stepTime[name] = { what: e.what, parameters: e.parameters, lionOverAdamwTime: e.lionOverAdamwTime, update: e.update };
  const name = 'mlp-wide';
  const spec = SPECS[name];
  const model = writeMlp(join(TMP, 'models', `${name}.onnx`), spec.sizes);
  log(`c. ${name} (${(model.parameters / 1e6).toFixed(1)}M parameters): building ...`);
  const lion = build(name, model.path, 'lion');
  const adamw = build(name, model.path, 'adamw');
  const { arrays, files } = dataFor(name, lion.manifest, 13);
  const sLion = await TrainingSession.create(lion.dir, { threads: THREADS, lr: HYPER.lion.lr });
  const sAdam = await TrainingSession.create(adamw.dir, { threads: THREADS, lr: HYPER.adamw.lr });
  const t = await rounds([ortRunner('lion k=8', sLion, arrays, spec.batch, 8), ortRunner('adamw k=8', sAdam, arrays, spec.batch, 8)], name);
  await sLion.dispose();
  await sAdam.dispose();
  log(`c. ${name}: ORT profile ...`);
  out.stepTime[name] = {
    what: spec.what,
    parameters: model.parameters,
    stepsPerSecond: t,
    lionOverAdamwTime: { 'k=8': pairedRatio(t['adamw k=8'], t['lion k=8']) },
    profile: await profile(lion.dir, arrays, spec.batch, 8),
  };
  out.stepTime[name].update = updateComparison(out.stepTime[name].profile, await profile(adamw.dir, arrays, spec.batch, 8, 'adamw'));

  // Peak RSS of a training run (train(), stepsPerRun 8), one child process per run.
  const dataJson = join(TMP, 'data', name, 'data.json');
  writeFileSync(dataJson, JSON.stringify(files));
  const steps = 16;
  const samples = { lion: [], adamw: [] };
  log(`c. peak RSS of ${steps}-step training runs ...`);
  for (let rep = 0; rep < REPS; rep++) {
    for (const [o, a] of [
      ['lion', lion],
      ['adamw', adamw],
    ])
      samples[o].push(await runChild(['train', a.dir, dataJson, String(spec.batch), String(steps), String(THREADS)]));
    log(`  round ${rep + 1}/${REPS}: peak RSS lion ${(samples.lion[rep].maxRss / MB).toFixed(0)} MB, adamw ${(samples.adamw[rep].maxRss / MB).toFixed(0)} MB`);
  }
  const paramBytes = model.parameters * 4;
  const saved = samples.lion.map((l, i) => (samples.adamw[i].maxRss - l.maxRss) / paramBytes);
  out.rss = {
    what: `${spec.what}, ${steps} steps of train() (stepsPerRun 8), one process each`,
    parameters: model.parameters,
    parameterBytes: paramBytes,
    maxRss: { lion: median(samples.lion.map((s) => s.maxRss)), adamw: median(samples.adamw.map((s) => s.maxRss)) },
    samples: { lion: samples.lion.map((s) => s.maxRss), adamw: samples.adamw.map((s) => s.maxRss) },
    savedOverParameterBytes: median(saved),
    lionOverAdamwRss: median(samples.lion.map((l, i) => l.maxRss / samples.adamw[i].maxRss)),
    target: 0.9,
  };
  return out;
}

function sectionB() {
  const path = join(BENCH, 'lion-update.json');
  if (flag('lion-update') || !existsSync(path)) {
    log('b. running the Lion update bench (scripts/bench/lion-update.ts) ...');
    const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    let r = spawnSync(process.execPath, [tsc, '-p', join(ROOT, 'scripts', 'bench', 'tsconfig.json')], { cwd: ROOT, encoding: 'utf8' });
    if (r.status !== 0) return { title: 'The Lion update alone', error: `could not compile scripts/bench/lion-update.ts: ${(r.stdout + r.stderr).slice(-500)}` };
    const js = join(TMP, 'js', 'scripts', 'bench', 'lion-update.js');
    r = spawnSync(process.execPath, [js, '--sizes', QUICK ? '1' : '16', '--reps', String(REPS), '--threads', String(THREADS), '--no-many', '--no-ops'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    if (r.status !== 0) return { title: 'The Lion update alone', error: 'scripts/bench/lion-update.ts failed' };
  }
  const j = JSON.parse(readFileSync(path, 'utf8'));
  const out = { title: 'The Lion update alone', source: 'bench/lion-update.json (scripts/bench/lion-update.ts)', date: j.date, reps: j.reps, rows: [] };
  const names = ['lion.ts+guard.ts', 'lion.ts+guard', 'lion.ts', 'sign', 'clip', 'add2'];
  const sizes = [...new Set((j.timings ?? []).map((t) => t.params))].sort((a, b) => a - b);
  for (const params of sizes) {
    const stream = (j.memcpy ?? []).find((c) => c.params === params)?.twoThreads;
    for (const name of names) {
      const t = j.timings.find((x) => x.name === name && x.params === params && (x.tensors ?? 1) === 1);
      if (!t) continue;
      out.rows.push({ name, params, ms: t.ms, overStream: stream ? t.ms / stream : null, streamMs: stream ?? null });
    }
  }
  if ((j.reps ?? 0) < 5) out.warning = `bench/lion-update.json holds the median of ${j.reps} repetitions (fewer than 5); rerun with \`npm run bench -- --only b --lion-update\``;
  return out;
}

async function sectionD(py) {
  const out = { title: '`build` time and peak RSS vs model size (transformer, external data)', sizes: {} };
  if (!py.ok) return { ...out, skipped: py.reason };
  if (!py.onnx) return { ...out, skipped: 'skipped: python3-onnx not installed (external data is saved with onnx)' };
  const dir = ensureDir(join(TMP, 'big'));
  const script = join(ROOT, 'scripts', 'bench', 'torch_bench.py');
  // Re-export only when the model definitions (everything above `def serve`) change.
  const source = readFileSync(script, 'utf8');
  const stamp = createHash('sha1').update(source.slice(0, source.indexOf('def serve'))).digest('hex');
  const models = {};
  for (const size of SIZES) {
    const path = join(dir, `transformer_${size}.onnx`);
    const stampFile = `${path}.stamp`;
    if (!existsSync(path) || !existsSync(`${path}.data`) || !existsSync(stampFile) || JSON.parse(readFileSync(stampFile, 'utf8')).stamp !== stamp) {
      log(`d. exporting transformer_${size} with torch (cached in bench/tmp/big) ...`);
      const r = spawnSync(PYTHON, [script, 'export-big', dir, size], { encoding: 'utf8', cwd: ROOT });
      if (r.status !== 0) throw new Error(`torch export of transformer_${size} failed: ${r.stderr.slice(-1000)}`);
      writeFileSync(stampFile, JSON.stringify({ stamp, ...JSON.parse(r.stdout.trim().split('\n').pop()) }));
    }
    const info = JSON.parse(readFileSync(stampFile, 'utf8'));
    models[size] = { path, parameters: info.parameters, bytes: sizeOf(path) + sizeOf(`${path}.data`) };
  }
  const samples = Object.fromEntries(SIZES.map((s) => [s, []]));
  for (let rep = 0; rep < REPS; rep++) {
    for (const size of SIZES) {
      samples[size].push(await runChild(['build', models[size].path, join(TMP, 'big-art', size)], { timeoutMs: 600_000 }));
      rmSync(join(TMP, 'big-art', size), { recursive: true, force: true });
    }
    log(`  round ${rep + 1}/${REPS}: ${SIZES.map((s) => `${s} ${(samples[s][rep].ms / 1000).toFixed(1)} s, ${(samples[s][rep].maxRss / MB).toFixed(0)} MB`).join('; ')}`);
  }
  for (const size of SIZES) {
    const m = models[size];
    const xs = samples[size];
    out.sizes[size] = {
      parameters: m.parameters,
      modelBytes: m.bytes,
      buildSeconds: median(xs.map((x) => x.ms / 1000)),
      phasesSeconds: { load: median(xs.map((x) => x.phases.loadMs / 1000)), build: median(xs.map((x) => x.phases.buildMs / 1000)), write: median(xs.map((x) => x.phases.writeMs / 1000)) },
      maxRss: median(xs.map((x) => x.maxRss)),
      rssAtStart: median(xs.map((x) => x.rssAtStart)),
      peakRssOverModelBytes: median(xs.map((x) => x.maxRss / m.bytes)),
      peakRssAboveStartOverModelBytes: median(xs.map((x) => (x.maxRss - x.rssAtStart) / m.bytes)),
      secondsPerGB: median(xs.map((x) => x.ms / 1000 / (m.bytes / 1e9))),
      samples: xs,
    };
  }
  // Growth exponents between the smallest and the largest size: 1 = linear in model bytes.
  const [lo, hi] = [SIZES[0], SIZES[SIZES.length - 1]];
  if (lo !== hi) {
    const a = out.sizes[lo];
    const b = out.sizes[hi];
    const lb = Math.log(b.modelBytes / a.modelBytes);
    out.growthExponent = { buildSeconds: Math.log(b.buildSeconds / a.buildSeconds) / lb, peakRssAboveStart: Math.log((b.maxRss - b.rssAtStart) / (a.maxRss - a.rssAtStart)) / lb, between: `${lo}..${hi}` };
  }
  out.targets = { buildSecondsAt100m: 10, peakRssOverModelBytes: 1.5 };
  return out;
}

async function sectionE() {
  const name = 'mlp-small';
  const spec = SPECS[name];
  const model = writeMlp(join(TMP, 'models', `${name}.onnx`), spec.sizes);
  const lion = build(name, model.path, 'lion');
  const { files } = dataFor(name, lion.manifest, 17);
  const dataJson = join(TMP, 'data', name, 'data.json');
  writeFileSync(dataJson, JSON.stringify(files));
  const [early, late] = GROWTH_STEPS;
  const runs = [];
  log(`e. RSS after ${late} steps vs after ${early} (${spec.what}) ...`);
  for (let rep = 0; rep < REPS; rep++) {
    const r = await runChild(['growth', lion.dir, dataJson, String(spec.batch), String(late), String(THREADS)], { nodeArgs: ['--expose-gc'] });
    runs.push(r);
    const at = (s) => r.samples.find((x) => x.step === s)?.rss;
    log(`  run ${rep + 1}/${REPS}: ${(at(early) / MB).toFixed(1)} MB -> ${(at(late) / MB).toFixed(1)} MB (${r.seconds.toFixed(1)} s)`);
  }
  const at = (r, step) => r.samples.find((x) => x.step === step);
  const ratio = (r) => at(r, late).rss / at(r, early).rss;
  const lastTwo = (r) => r.samples.slice(-3);
  return {
    title: 'No growth',
    what: `${spec.what}, train() with stepsPerRun 8 (default), RSS after a forced GC at step ${early} and step ${late}, one process per run`,
    steps: GROWTH_STEPS,
    rssLateOverEarly: median(runs.map(ratio)),
    rssEarly: median(runs.map((r) => r.samples.find((x) => x.step === early).rss)),
    rssLate: median(runs.map((r) => r.samples.find((x) => x.step === late).rss)),
    target: 1.05,
    // Diagnostics: V8's heap reservation (young generation growth shows here, not in heapUsed),
    // and the growth over the last 2,000 steps (≈ 1 when RSS has levelled off).
    heapTotalEarly: median(runs.map((r) => at(r, early).heapTotal)),
    heapTotalLate: median(runs.map((r) => at(r, late).heapTotal)),
    heapUsedEarly: median(runs.map((r) => at(r, early).heapUsed)),
    heapUsedLate: median(runs.map((r) => at(r, late).heapUsed)),
    rssTailRatio: median(runs.map((r) => lastTwo(r)[2].rss / lastTwo(r)[0].rss)),
    runs: runs.map((r) => ({ seconds: r.seconds, maxRss: r.maxRss, samples: r.samples })),
  };
}

// ---------------------------------------------------------------------------------------------
// Report

const ok = (section) => !!section && !section.error;

function pct(x) {
  return `${(x * 100).toFixed(0)}%`;
}

/** 'reference BLAS', 'OpenBLAS', 'BLIS' from the BLAS libraries a process mapped. */
function blasName(libs = []) {
  const j = libs.join(' ');
  if (/openblas/i.test(j)) return 'OpenBLAS';
  if (/blis/i.test(j)) return 'BLIS';
  if (/mkl/i.test(j)) return 'MKL';
  if (/\/blas\/libblas/.test(j)) return 'reference BLAS';
  return libs.length ? 'its BLAS' : 'no BLAS library found';
}

function verdict(ok) {
  return ok ? 'met' : '**missed**';
}

function markdown(r) {
  const L = [];
  const m = r.machine;
  L.push(
    `Measured ${r.date.slice(0, 10)} by \`npm run bench\` on ${m.cpu}, ${m.cores} cores (load average ${m.loadavgAtStart.map((x) => x.toFixed(1)).join(' ')} at the start); ` +
      `Node ${r.versions.node}, onnxruntime-node ${r.versions.onnxruntimeNode} (CPU EP), ${r.versions.torch ? `PyTorch ${r.versions.torch} (BLAS: ${r.versions.torchBlas})` : 'no PyTorch'}; ` +
      `${r.settings.threads} threads everywhere. Each figure is a ratio measured side by side, the median of ${r.settings.reps} interleaved rounds after warm-up${r.machine.loadavgRounds ? ` (1-minute load average ${fmt(r.machine.loadavgRounds.min, 1)}–${fmt(r.machine.loadavgRounds.max, 1)} over the rounds)` : ''}. ` +
      `k = steps per ONNX run (\`stepsPerRun\`; 8 is the default). Details and raw medians: [bench/results.md](bench/results.md), [bench/results.json](bench/results.json).`,
  );
  L.push('');
  L.push('| figure | model | measured | target | |');
  L.push('|---|---|---|---|---|');
  for (const [key, sec] of Object.entries(r.sections)) if (sec?.error) L.push(`| section ${key} | | failed: ${sec.error.replace(/\|/g, '/')} | | |`);
  const a = r.sections.a;
  if (ok(a)) {
    for (const [name, e] of Object.entries(a.models)) {
      if (typeof e.vsTorch === 'object') {
        const k8 = e.vsTorch['k=8'];
        const k1 = e.vsTorch['k=1'];
        const range = e.vsTorchRange ? ` (${fmt(e.vsTorchRange['k=8'].min)}–${fmt(e.vsTorchRange['k=8'].max)})` : '';
        L.push(`| training steps/s ÷ PyTorch${r.versions.torchBlasLibrary ? ` with ${blasName(r.versions.torchBlasLibrary)}` : ''}: k=8 median (min–max); k=1 | ${name} | ${fmt(k8)}×${range} ; ${fmt(k1)}× | ≥ ${e.target}× | ${verdict(k8 >= e.target)} |`);
        if (e.gemmFloor) L.push(`| ↳ fraction of the engine's own GEMM floor: lion-onnx k=8 ; PyTorch | ${name} | ${fmt(e.gemmFloor.lion)} ; ${fmt(e.gemmFloor.torch)} | ≥ ${e.gemmFloor.target} | ${verdict(e.gemmFloor.lion >= e.gemmFloor.target)} |`);
        if (e.vsTorchBlas) L.push(`| training steps/s ÷ PyTorch with ${blasName(a.torchBlas.library)} (k=8; k=1) | ${name} | ${fmt(e.vsTorchBlas['k=8'])}× ; ${fmt(e.vsTorchBlas['k=1'])}× | ≥ ${e.target}× | ${verdict(e.vsTorchBlas['k=8'] >= e.target)} |`);
      } else L.push(`| training steps/s ÷ PyTorch | ${name} | ${e.vsTorch} | | |`);
    }
    if (a.transformer) L.push(`| training steps/s ÷ PyTorch | transformer | ${a.transformer} | | |`);
    if (a.gemm) L.push(`| GEMM floor: sgemm GFLOP/s, onnxruntime ; PyTorch (median of the rounds) | ${a.gemm.n}² | ${fmt(a.gemm.onnxruntime.median, 0)} ; ${a.gemm.torch ? fmt(a.gemm.torch.median, 0) : '–'} | | |`);
  }
  const b = r.sections.b;
  if (b?.rows?.length) {
    const big = Math.max(...b.rows.map((x) => x.params));
    const rows = b.rows.filter((x) => x.params === big);
    const guarded = rows.find((x) => x.name === 'lion.ts+guard.ts') ?? rows.find((x) => x.name === 'lion.ts+guard');
    for (const row of [guarded, ...rows.filter((x) => x.name === 'lion.ts' || x.name === 'sign')].filter(Boolean))
      L.push(`| Lion update time ÷ copying 10 B/param (stream limit) | ${row.name}, ${(row.params / MB).toFixed(0)}M params | ${fmt(row.overStream)}× | | |`);
  } else if (b?.error) L.push(`| Lion update alone | | ${b.error} | | |`);
  const c = r.sections.c;
  if (ok(c)) {
    for (const [name, e] of Object.entries(c.stepTime)) {
      const k8 = e.lionOverAdamwTime['k=8'];
      const k1 = e.lionOverAdamwTime['k=1'];
      L.push(`| Lion step time ÷ AdamW (k=8${k1 === undefined ? '' : '; k=1'}) | ${name} | ${fmt(k8)}×${k1 === undefined ? '' : ` ; ${fmt(k1)}×`} | ≤ 0.9× | ${verdict(k8 <= 0.9)} |`);
      if (e.update)
        L.push(`| ↳ update alone, Lion ÷ AdamW (profiled kernel time); AdamW's update share of its step → best possible step ratio | ${name} | ${fmt(e.update.lionOverAdamw)}× ; ${fmt(100 * e.update.adamwShareOfStep, 1)}% → ${fmt(e.update.floor)}× | | |`);
    }
    if (c.rss) L.push(`| peak RSS saved by Lion vs AdamW ÷ parameter bytes | mlp-wide (${(c.rss.parameters / 1e6).toFixed(1)}M) | ${fmt(c.rss.savedOverParameterBytes)}× (${(c.rss.maxRss.lion / MB).toFixed(0)} vs ${(c.rss.maxRss.adamw / MB).toFixed(0)} MB) | ≥ 0.9× | ${verdict(c.rss.savedOverParameterBytes >= 0.9)} |`);
  }
  const d = r.sections.d;
  if (d?.error) {
    // listed with the failures above
  } else if (d?.skipped) L.push(`| build | transformer 10M/30M/100M | ${d.skipped} | | |`);
  else if (d) {
    for (const [size, e] of Object.entries(d.sizes)) {
      const isBig = size === '100m';
      // The targets are the 100M build's; 10M and 30M show how time and memory grow. Node
      // itself starts at about 55 MB of RSS, more than 1.5× the 10M model's 37 MB.
      L.push(
        `| build: peak RSS ÷ model bytes (above Node's start: (peak − start) ÷ model) | transformer ${size} (${(e.modelBytes / MB).toFixed(0)} MB) | ${fmt(e.peakRssOverModelBytes)}× (${fmt(e.peakRssAboveStartOverModelBytes)}×) | ${isBig ? '≤ 1.5×' : ''} | ${isBig ? verdict(e.peakRssOverModelBytes <= 1.5) : ''} |`,
      );
      L.push(`| build: seconds (${fmt(e.secondsPerGB, 1)} s/GB) | transformer ${size} | ${fmt(e.buildSeconds, 1)} s | ${isBig ? '≤ 10 s' : ''} | ${isBig ? verdict(e.buildSeconds <= 10) : ''} |`);
    }
    if (d.growthExponent) L.push(`| build growth exponent vs model bytes (1 = linear): time; RSS | ${d.growthExponent.between} | ${fmt(d.growthExponent.buildSeconds)} ; ${fmt(d.growthExponent.peakRssAboveStart)} | ≈ 1 | |`);
  }
  const e = r.sections.e;
  if (ok(e)) L.push(`| RSS after ${e.steps[1]} steps ÷ after ${e.steps[0]} | mlp-small | ${fmt(e.rssLateOverEarly, 3)}× (${(e.rssEarly / MB).toFixed(0)} → ${(e.rssLate / MB).toFixed(0)} MB) | ≤ 1.05× | ${verdict(e.rssLateOverEarly <= 1.05)} |`);
  L.push('');
  const later = (r.partialRuns ?? []).map((p) => `${p.only} re-measured ${p.date.slice(0, 16).replace('T', ' ')} UTC`).join('; ');
  L.push(`\`npm run bench\` took ${(r.seconds / 60).toFixed(1)} min${r.versions.commit ? ` (lion-onnx ${r.versions.commit})` : ''}${later ? `; ${later}` : ''}.`);
  return L.join('\n');
}

function profileLine(p) {
  return (
    `wall ${fmt(p.wallMsPerStep)} ms/step (profiling on), model_run ${fmt(p.modelRunMsPerStep)}; top: ` +
    p.ops
      .slice(0, 8)
      .map((o) => `${o.op} ${fmt(o.msPerStep)} (${pct(o.share)})`)
      .join(', ')
  );
}

function details(r) {
  const L = ['# lion-onnx benchmark details', '', markdown(r), ''];
  const a = r.sections.a;
  if (ok(a)) {
    L.push('## a. Training steps/s (median of the repetitions)', '');
    L.push('| model | params | lion k=1 | lion k=8 | adamw k=1 | adamw k=8 | torch (reference Lion) | torch, other BLAS |');
    L.push('|---|---|---|---|---|---|---|---|');
    for (const [name, e] of Object.entries(a.models)) {
      const s = e.stepsPerSecond;
      L.push(`| ${name}: ${e.what} | ${e.parameters} | ${fmt(s['lion k=1'].median, 1)} | ${fmt(s['lion k=8'].median, 1)} | ${fmt(s['adamw k=1'].median, 1)} | ${fmt(s['adamw k=8'].median, 1)} | ${s.torch ? fmt(s.torch.median, 1) : '–'} | ${s['torch+blas'] ? fmt(s['torch+blas'].median, 1) : '–'} |`);
    }
    L.push('');
    L.push('ORT profile of the Loop graph (k=8, Lion): ms per step by op type (exclusive), share of model_run time.', '');
    for (const [name, e] of Object.entries(a.models)) {
      const p = e.profile;
      if (!p) continue;
      L.push(`- **${name}**: ${profileLine(p)}`);
    }
    L.push('');
  }
  const b = r.sections.b;
  if (b?.rows?.length) {
    L.push(`## b. The Lion update alone (${b.source}, ${b.date}, median of ${b.reps})`, '');
    if (b.warning) L.push(`> ${b.warning}`, '');
    L.push('| formulation | params | ms per update | ÷ stream (memcpy 10 B/param, 2 threads) |', '|---|---|---|---|');
    for (const row of b.rows) L.push(`| ${row.name} | ${(row.params / MB).toFixed(0)}M | ${fmt(row.ms)} | ${fmt(row.overStream)} |`);
    L.push('', 'Full tables: bench/lion-update.md.', '');
  }
  const c = r.sections.c;
  if (ok(c)) {
    L.push('## c. Lion vs AdamW', '');
    const w = c.stepTime['mlp-wide'];
    if (w?.stepsPerSecond) L.push(`${w.what}: steps/s (k=8) lion ${fmt(w.stepsPerSecond['lion k=8'].median)}, adamw ${fmt(w.stepsPerSecond['adamw k=8'].median)}.`, '');
    if (w?.profile) L.push(`ORT profile (Lion, k=8): ${profileLine(w.profile)}`, '');
    const withUpdate = Object.entries(c.stepTime).filter(([, e]) => e.update);
    if (withUpdate.length) {
      L.push(
        "The optimizer's own kernels per step (ORT profile, k=8: the update inside the non-finite guard's If, and the check itself; profiling slows every kernel alike). A step can only get as much faster as the AdamW update's share of it: *best* is the Lion ÷ AdamW step time if Lion's update took no time at all.",
        '',
        '| model | Lion update ms/step | AdamW update ms/step | Lion ÷ AdamW (update) | AdamW update share of its step | best possible step ratio | measured step ratio (k=8) |',
        '|---|---|---|---|---|---|---|',
      );
      for (const [name, e] of withUpdate)
        L.push(`| ${name} | ${fmt(e.update.lionMsPerStep, 3)} | ${fmt(e.update.adamwMsPerStep, 3)} | ${fmt(e.update.lionOverAdamw)} | ${fmt(100 * e.update.adamwShareOfStep, 1)}% | ${fmt(e.update.floor)} | ${fmt(e.lionOverAdamwTime['k=8'])} |`);
      L.push('');
    }
    if (c.rss) L.push(`Peak RSS (${c.rss.what}): lion ${(c.rss.maxRss.lion / MB).toFixed(1)} MB, adamw ${(c.rss.maxRss.adamw / MB).toFixed(1)} MB; parameters ${(c.rss.parameterBytes / MB).toFixed(1)} MB; lion ÷ adamw ${fmt(c.rss.lionOverAdamwRss)}.`, '');
  }
  const d = r.sections.d;
  if (ok(d) && !d.skipped) {
    L.push('## d. build', '');
    L.push('| size | parameters | model MB | build s | load / build / write s | peak RSS MB | RSS at start MB | peak ÷ model | (peak − start) ÷ model |', '|---|---|---|---|---|---|---|---|---|');
    for (const [size, e] of Object.entries(d.sizes))
      L.push(
        `| ${size} | ${e.parameters} | ${(e.modelBytes / MB).toFixed(0)} | ${fmt(e.buildSeconds)} | ${fmt(e.phasesSeconds.load)} / ${fmt(e.phasesSeconds.build)} / ${fmt(e.phasesSeconds.write)} | ${(e.maxRss / MB).toFixed(0)} | ${(e.rssAtStart / MB).toFixed(0)} | ${fmt(e.peakRssOverModelBytes)} | ${fmt(e.peakRssAboveStartOverModelBytes)} |`,
      );
    L.push('');
  }
  const e = r.sections.e;
  if (ok(e)) {
    L.push('## e. No growth', '', `${e.what}.`, '');
    L.push('| run | ' + e.runs[0].samples.map((s) => `step ${s.step}`).join(' | ') + ' |', '|---|' + e.runs[0].samples.map(() => '---').join('|') + '|');
    e.runs.forEach((run, i) => L.push(`| ${i + 1} | ${run.samples.map((s) => (s.rss / MB).toFixed(1)).join(' | ')} |`));
    L.push('', `RSS in MB after a forced GC. V8 heap reserved (heapTotal) ${(e.heapTotalEarly / MB).toFixed(1)} → ${(e.heapTotalLate / MB).toFixed(1)} MB, used ${(e.heapUsedEarly / MB).toFixed(1)} → ${(e.heapUsedLate / MB).toFixed(1)} MB; RSS over the last 2,000 steps ×${fmt(e.rssTailRatio, 3)}.`, '');
  }
  if (r.notes?.length) L.push('## Notes', '', ...r.notes.map((n) => `- ${n}`), '');
  return L.join('\n') + '\n';
}

function writeReadme(md) {
  const path = join(ROOT, 'README.md');
  const text = readFileSync(path, 'utf8');
  const start = '<!-- bench:start -->';
  const end = '<!-- bench:end -->';
  const block = `${start}\n${md}\n${end}`;
  let next;
  const i = text.indexOf(start);
  const j = text.indexOf(end);
  if (i >= 0 && j > i) next = text.slice(0, i) + block + text.slice(j + end.length);
  else next = text.replace(/\s*$/, '\n\n## Performance\n\n' + block + '\n');
  writeFileSync(path, next);
}

// ---------------------------------------------------------------------------------------------

async function main() {
  if (flag('render')) {
    // Re-render bench/results.md and the README table from bench/results.json, measuring nothing.
    const saved = JSON.parse(readFileSync(join(BENCH, 'results.json'), 'utf8'));
    writeFileSync(join(BENCH, 'results.md'), details(saved));
    if (!flag('no-readme')) writeReadme(markdown(saved));
    process.stdout.write(markdown(saved) + '\n');
    return;
  }
  const t0 = performance.now();
  ensureDir(TMP);
  const py = ensureOpenBlas(probePython());
  const git = spawnSync('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' });
  if (git.status === 0) {
    const dirty = spawnSync('git', ['-C', ROOT, 'status', '--porcelain', '--', 'src'], { encoding: 'utf8' }).stdout.trim();
    results.versions.commit = `${git.stdout.trim()}${dirty ? ' with uncommitted changes in src/' : ''}`;
  }
  results.machine.firstTouchMsPerMB = firstTouchMsPerMB();
  if (py.ok) Object.assign(results.versions, { torch: py.torch, torchBlas: py.blas, torchBlasLibrary: py.blasLibrary, onnxPython: py.onnx });
  else results.versions.torch = null;
  if (py.openblas) results.notes = [`OpenBLAS for PyTorch: ${py.openblas}.`];
  results.python = py.ok ? PYTHON : py.reason;
  results.sections = {};
  results.notes ??= [];
  if (py.ok && py.blasLibrary?.some((l) => /\/blas\/libblas\.so/.test(l)))
    results.notes.push(
      `PyTorch here runs its matrix products on ${py.blasLibrary.join(', ')}: Debian's torch (BLAS_INFO=${py.blas}) calls the system libblas.so.3, here the reference (netlib) BLAS, slow and single-threaded, so the ratios vs PyTorch on matmul-heavy models (MLP, transformer) flatter lion-onnx. Convolutions go through oneDNN and are not affected. Installing libopenblas0-pthread switches the alternative; \`BENCH_TORCH_BLAS_DIR=<folder with an optimized libblas.so.3>\` adds a second PyTorch contender run with it.`,
    );
  results.notes.push(
    `Touching freshly allocated memory costs ${results.machine.firstTouchMsPerMB.toFixed(2)} ms/MB on this machine (page faults; a few tenths of that on bare metal). lion-onnx pays it for each output onnxruntime returns (the Loop keeps that to once per k steps); PyTorch would pay it for every temporary glibc hands back to the OS, so its processes run with glibc's mmap and trim thresholds fixed at 1 GiB (MALLOC_MMAP_THRESHOLD_, MALLOC_TRIM_THRESHOLD_), which keeps it at its best (without them its CNN swung between 35 and 170 steps/s from run to run), and with OMP_WAIT_POLICY=PASSIVE (spinning OpenMP threads took the cores from a threaded BLAS).`,
  );
  if (loadavg()[0] > availableParallelism()) results.notes.push(`The machine was busy when the bench started (load average ${loadavg()[0].toFixed(1)} on ${availableParallelism()} cores); ratios are paired per round, absolute rates are lower than on an idle machine.`);
  results.sectionSeconds = {};
  // A failing section is recorded and the others still run.
  const section = async (key, fn) => {
    const s0 = performance.now();
    try {
      results.sections[key] = { ...(await fn()), measuredAt: new Date().toISOString() };
    } catch (e) {
      log(`${key}: failed: ${e?.stack ?? e}`);
      results.sections[key] = { error: String(e?.message ?? e).split('\n')[0] };
    }
    results.sectionSeconds[key] = (performance.now() - s0) / 1000;
  };
  if (ONLY.has('a') || ONLY.has('c')) await section('a', () => sectionA(py));
  if (ONLY.has('b')) await section('b', () => sectionB());
  if (ONLY.has('c')) await section('c', () => sectionC(results.sections.a?.models));
  if (!ONLY.has('a')) delete results.sections.a;
  if (ONLY.has('d')) await section('d', () => sectionD(py));
  if (ONLY.has('e')) await section('e', () => sectionE());
  results.machine.loadavgAtEnd = loadavg();
  if (roundLoads.length) results.machine.loadavgRounds = { min: Math.min(...roundLoads), median: median(roundLoads), max: Math.max(...roundLoads) };
  results.seconds = (performance.now() - t0) / 1000;
  // A partial run (--only) replaces its sections in the previous results.json and keeps the rest.
  const previous = join(BENCH, 'results.json');
  let final = results;
  if (ONLY.size < 5 && existsSync(previous)) {
    final = JSON.parse(readFileSync(previous, 'utf8'));
    Object.assign(final.sections, results.sections);
    Object.assign(final.sectionSeconds, results.sectionSeconds);
    final.partialRuns = [...(final.partialRuns ?? []), { only: [...ONLY].join(','), date: results.date, machine: results.machine, versions: results.versions, seconds: results.seconds }];
  }
  Object.assign(results, final);
  writeFileSync(join(BENCH, 'results.json'), JSON.stringify(results, null, 2) + '\n');
  const md = markdown(results);
  writeFileSync(join(BENCH, 'results.md'), details(results));
  if (!flag('no-readme')) writeReadme(md);
  process.stdout.write(md + '\n');
  log(`wrote bench/results.json, bench/results.md${flag('no-readme') ? '' : ', README.md'} (${(results.seconds / 60).toFixed(1)} min)`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
