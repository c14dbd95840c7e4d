// The fuzzers' sandbox (see sandbox.ts): runs the stages that reach onnxruntime, whose native
// code can abort or crash the process on a malformed graph, outside the test process. Uses the
// built package (dist/), as the CLI does. One job at a time; replies { id, status, ... }.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LionOnnxError } from '../../dist/errors.js';
import { train } from '../../dist/api/train.js';
import { openArtifacts } from '../../dist/artifacts/read.js';
import { encodeNpy } from '../../dist/data/npy.js';
import { createSession } from '../../dist/runtime/execution-provider.js';
import { buildFromFile } from '../../dist/api/build.js';
import { rewriteTrainingModel } from '../../dist/api/rewrite.js';
import { inspectFile } from '../../dist/api/inspect.js';
import * as ort from 'onnxruntime-node';

const ROWS = 8;

/** Arrays for the manifest's data inputs: dims from the manifest (symbolic: ROWS first, 2 after), valid class labels. */
function synthesizeData(dir) {
  const m = openArtifacts(dir).manifest;
  const files = {};
  mkdirSync(join(dir, 'fuzz-data'), { recursive: true });
  let seed = 1;
  const next = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648) * 2 - 1;
  for (const name of m.dataInputs) {
    const entry = m.inputs.find((i) => i.name === name);
    if (!entry) continue;
    const dims = (entry.shape ?? [ROWS]).map((d, i) => (typeof d === 'number' ? d : i === 0 ? ROWS : 2));
    const count = dims.reduce((a, b) => a * b, 1);
    if (!Number.isSafeInteger(count) || count > 1e6) continue;
    const classes = m.loss?.target === name ? m.loss.classes ?? 1 : 0;
    let data;
    let dataType;
    if (entry.dtype === 'int64') [data, dataType] = [BigInt64Array.from({ length: count }, (_, i) => BigInt(classes ? i % classes : 0)), 7];
    else if (entry.dtype === 'int32') [data, dataType] = [Int32Array.from({ length: count }, (_, i) => (classes ? i % classes : 0)), 6];
    else if (entry.dtype === 'float64') [data, dataType] = [Float64Array.from({ length: count }, next), 11];
    else [data, dataType] = [Float32Array.from({ length: count }, next), 1];
    const file = join(dir, 'fuzz-data', `input-${Object.keys(files).length}.npy`);
    writeFileSync(file, encodeNpy({ name, dataType, dims, data }));
    files[name] = file;
  }
  return files;
}

const handlers = {
  /** The `train` API on an artifacts directory: data given, or made to fit the manifest. */
  async train(job) {
    const data = job.data ?? synthesizeData(job.dir);
    // Held-out data only where there is an eval graph (train refuses it otherwise).
    let hasEval = true;
    try {
      hasEval = !!openArtifacts(job.dir).manifest.graphs.eval;
    } catch {
      // A damaged manifest: train reports it.
    }
    const r = await train(job.dir, {
      data,
      ...(hasEval ? { evalData: data } : {}),
      batchSize: job.batchSize ?? 4,
      steps: job.steps ?? 2,
      lr: 1e-3,
      seed: 1,
      stepsPerRun: job.stepsPerRun ?? 2,
      checkpointEvery: job.checkpointEvery ?? 0,
      resume: job.resume ?? false,
      threads: 1,
      log: job.log,
    });
    return { steps: r.steps, finalLoss: r.finalLoss, checkpoint: r.checkpoint };
  },
  /** An onnxruntime session for one graph file, run once on zeros (regression replays). */
  async session(job) {
    const s = await createSession(job.path, { threads: 1 });
    const feeds = {};
    s.inputNames.forEach((name, k) => {
      const meta = s.inputMetadata?.[k] ?? {};
      const dims = (meta.shape ?? [1]).map((d) => (typeof d === 'number' ? d : 2));
      const n = dims.reduce((a, b) => a * b, 1);
      const type = meta.type ?? 'float32';
      const Ctor = { int64: BigInt64Array, float64: Float64Array, int32: Int32Array, bool: Uint8Array }[type] ?? Float32Array;
      feeds[name] = new ort.Tensor(type, new Ctor(n), dims);
    });
    await s.run(feeds);
    await s.release();
    return {};
  },
  async inspect(job) {
    inspectFile(job.path);
    return {};
  },
  async build(job) {
    buildFromFile(job.path, job.out, { loss: job.loss });
    return {};
  },
  async rewrite(job) {
    rewriteTrainingModel(job.path, job.out);
    return {};
  },
  /** build, then train the result on data made to fit it. */
  async 'build-train'(job) {
    buildFromFile(job.path, job.out, { loss: job.loss });
    return handlers.train({ dir: job.out, steps: 3 });
  },
};

process.on('message', async (job) => {
  try {
    const value = await handlers[job.kind](job);
    process.send({ id: job.id, status: 'ok', value });
  } catch (e) {
    if (e instanceof LionOnnxError) process.send({ id: job.id, status: 'typed', code: e.code, message: e.message });
    else process.send({ id: job.id, status: 'untyped', name: e?.constructor?.name ?? typeof e, message: String(e?.message ?? e), stack: String(e?.stack ?? '') });
  }
});
process.send({ status: 'ready' });
