/**
 * The training loop behind `lion-onnx train`: data checks before anything is written, then
 * steps with a schedule, logging, periodic checkpoints, interruption, evaluation and export.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync, appendFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { DataError, UsageError } from '../errors.js';
import { DataType, type TypedArray } from '../onnx/data-types.js';
import type { Tensor } from '../onnx/tensor.js';
import type { Manifest } from '../artifacts/manifest.js';
import { ArrayDataset, type DatasetPosition } from '../data/dataset.js';
import { loadMnist } from '../data/mnist.js';
import { readNpy } from '../data/npy.js';
import { latestCheckpoint } from '../runtime/checkpoint.js';
import { parseSchedule } from '../runtime/schedule.js';
import { TrainingSession, type EvalResult, type StepInfo } from '../runtime/training-session.js';
import type { ExecutionProviderName } from '../runtime/execution-provider.js';
import { writeFileAtomic } from '../util/atomic-write.js';
import { resolveHyperparameters } from '../optim/optimizer.js';

export interface TrainOptions {
  /** Graph input name -> .npy file. */
  data?: Record<string, string>;
  /** Built-in dataset instead of --data. */
  dataset?: 'mnist';
  evalData?: Record<string, string>;
  batchSize: number;
  steps?: number;
  epochs?: number;
  lr: number;
  schedule?: string;
  warmup?: number;
  /** Overrides of the artifacts' hyperparameters (beta1, beta2, weightDecay, eps, momentum). */
  hyperparameters?: Record<string, number | undefined>;
  shuffle?: boolean;
  seed?: number;
  log?: string;
  checkpointDir?: string;
  checkpointEvery?: number;
  resume?: boolean;
  executionProvider?: ExecutionProviderName;
  deviceId?: number;
  threads?: number;
  gradientAccumulation?: number;
  /** Steps per ONNX run (an ONNX Loop); default 8. Numerics are the same for any value. */
  stepsPerRun?: number;
  /** Write the trained inference model here at the end. */
  exportPath?: string;
  onStep?: (info: StepInfo & { total: number; elapsed: number }) => void;
  onStart?: (info: { total: number; startStep: number; batchesPerEpoch: number; rows: number }) => void;
  /** Checked between steps; when set, training stops after saving a checkpoint. */
  shouldStop?: () => boolean;
}

export interface TrainResult {
  steps: number;
  /** Steps skipped for NaN/Inf gradients. */
  skippedSteps: number;
  finalLoss: number;
  interrupted: boolean;
  checkpoint: string;
  eval?: EvalResult;
  seconds: number;
}

/** Loads --data files, checking names, dtypes and shapes against the graph; nothing written. */
export function loadData(manifest: Manifest, files: Record<string, string>, flag = '--data'): Map<string, Tensor> {
  const arrays = new Map<string, Tensor>();
  for (const [name, file] of Object.entries(files)) {
    if (!manifest.dataInputs.includes(name))
      throw new UsageError(`${flag} ${name}=${file}: '${name}' is not a data input of the model; its data inputs are ${manifest.dataInputs.join(', ')}`);
    if (!existsSync(file)) throw new DataError(`${flag} ${name}=${file}: file not found`);
    arrays.set(name, readNpy(file, name));
  }
  for (const name of manifest.dataInputs)
    if (!arrays.has(name)) throw new UsageError(`the model needs data input '${name}' but no ${flag} ${name}=FILE.npy was given`);
  checkArrays(manifest, arrays, flag, files);
  return arrays;
}

const DTYPE_NAMES: Record<number, string> = { [DataType.FLOAT]: 'float32', [DataType.DOUBLE]: 'float64', [DataType.INT64]: 'int64', [DataType.INT32]: 'int32', [DataType.BOOL]: 'bool', [DataType.UINT8]: 'uint8', [DataType.INT8]: 'int8', [DataType.FLOAT16]: 'float16' };

function checkArrays(manifest: Manifest, arrays: Map<string, Tensor>, flag: string, files: Record<string, string> = {}): void {
  for (const [name, t] of arrays) {
    const where = files[name] ? `${flag} ${name}=${files[name]}` : `data '${name}'`;
    const entry = manifest.inputs.find((i) => i.name === name)!;
    const dtype = DTYPE_NAMES[t.dataType] ?? 'unsupported';
    if (dtype !== entry.dtype) throw new DataError(`${where}: the array is ${dtype}, the model needs ${entry.dtype} (convert with .astype(np.${entry.dtype}))`);
    if (entry.shape) {
      if (t.dims.length !== entry.shape.length)
        throw new DataError(`${where}: shape (${t.dims.join(', ')}) has ${t.dims.length} dimensions, the model needs ${entry.shape.length}: [${entry.shape.map((d) => d ?? '?').join(', ')}]`);
      entry.shape.forEach((d, i) => {
        if (i > 0 && typeof d === 'number' && t.dims[i] !== d)
          throw new DataError(`${where}: shape (${t.dims.join(', ')}) does not fit the model's [${entry.shape!.map((x) => x ?? '?').join(', ')}] in dimension ${i}`);
      });
    }
  }
  const loss = manifest.loss;
  if (loss?.kind === 'cross-entropy' && loss.target && loss.classes && arrays.has(loss.target)) {
    const t = arrays.get(loss.target)!.data as BigInt64Array | Int32Array;
    const C = loss.classes;
    for (let i = 0; i < t.length; i++) {
      const v = Number(t[i]);
      if (v < 0 || v >= C)
        throw new DataError(`${files[loss.target] ? `${flag} ${loss.target}=${files[loss.target]}` : `target '${loss.target}'`}: class label ${v} at row ${i} is outside [0, ${C - 1}] (the model has ${C} classes)`);
    }
  }
}

/** The built-in MNIST digits mapped onto the model's image input and target. */
export function mnistData(manifest: Manifest): { train: Map<string, Tensor>; test: Map<string, Tensor> } {
  const target = manifest.loss?.target;
  const images = manifest.dataInputs.filter((n) => n !== target);
  if (!target || manifest.loss?.kind !== 'cross-entropy' || images.length !== 1)
    throw new UsageError('--dataset mnist needs a model built with --loss cross-entropy that has one image input');
  const entry = manifest.inputs.find((i) => i.name === images[0])!;
  const rest = (entry.shape ?? [null, 784]).slice(1);
  const fixed = rest.every((d) => typeof d === 'number') ? (rest as number[]) : [784];
  if (fixed.reduce((a, b) => a * b, 1) !== 784) throw new UsageError(`--dataset mnist: the model input '${images[0]}' has shape [?, ${rest.join(', ')}], which is not 784 pixels`);
  if (entry.dtype !== 'float32') throw new UsageError(`--dataset mnist: the model input '${images[0]}' must be float32`);
  const m = loadMnist();
  const map = (s: typeof m.train) =>
    new Map<string, Tensor>([
      [images[0], { ...s.images, name: images[0], dims: [s.images.dims[0], ...fixed] }],
      [target, { ...s.labels, name: target, data: manifest.inputs.find((i) => i.name === target)?.dtype === 'int32' ? Int32Array.from(s.labels.data as BigInt64Array, Number) : s.labels.data, dataType: manifest.inputs.find((i) => i.name === target)?.dtype === 'int32' ? DataType.INT32 : DataType.INT64 }],
    ]);
  return { train: map(m.train), test: map(m.test) };
}

/** Keeps only log lines up to `step`, so a resumed run does not log steps twice. */
function truncateLog(path: string, step: number): void {
  if (!existsSync(path)) return;
  const kept = readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => {
      if (!l.trim()) return false;
      try {
        return JSON.parse(l).step <= step;
      } catch {
        return false;
      }
    });
  writeFileAtomic(path, kept.map((l) => l + '\n').join(''));
}

export async function train(dir: string, opts: TrainOptions): Promise<TrainResult> {
  const session = await TrainingSession.create(dir, {
    lr: opts.lr,
    hyperparameters: opts.hyperparameters,
    executionProvider: opts.executionProvider,
    deviceId: opts.deviceId,
    threads: opts.threads,
    gradientAccumulation: opts.gradientAccumulation,
    stepsPerRun: opts.stepsPerRun,
  });
  try {
    return await runTraining(session, opts);
  } finally {
    await session.dispose();
  }
}

async function runTraining(session: TrainingSession, opts: TrainOptions): Promise<TrainResult> {
  const manifest = session.manifest;
  // Everything the run reads is checked before anything is written.
  let trainArrays: Map<string, Tensor>;
  let evalArrays: Map<string, Tensor> | undefined;
  if (opts.dataset === 'mnist') {
    if (opts.data && Object.keys(opts.data).length) throw new UsageError('give either --dataset or --data, not both');
    const m = mnistData(manifest);
    trainArrays = m.train;
    evalArrays = opts.evalData ? loadData(manifest, opts.evalData, '--eval-data') : m.test;
  } else {
    if (!opts.data || !Object.keys(opts.data).length) throw new UsageError('no training data: pass --data NAME=FILE.npy for each data input, or --dataset mnist');
    trainArrays = loadData(manifest, opts.data);
    if (opts.evalData) evalArrays = loadData(manifest, opts.evalData, '--eval-data');
  }
  const data = new ArrayDataset(trainArrays, { batchSize: opts.batchSize, shuffle: opts.shuffle ?? true, seed: opts.seed ?? 0 });
  if ((opts.steps === undefined) === (opts.epochs === undefined)) throw new UsageError('give exactly one of --steps N or --epochs N');
  const total = opts.steps ?? Math.max(1, Math.round((opts.epochs ?? 0) * data.batchesPerEpoch));
  if (!Number.isInteger(total) || total < 1) throw new UsageError(`--steps must be a whole number >= 1, got ${opts.steps}`);
  session.schedule = parseSchedule(opts.schedule ?? 'constant', { warmup: opts.warmup, totalSteps: total });
  const every = opts.checkpointEvery ?? 0;
  if (!Number.isInteger(every) || every < 0) throw new UsageError(`--checkpoint-every must be a whole number >= 0, got ${every}`);
  const ckptDir = opts.checkpointDir ?? join(session.artifacts.dir, 'checkpoints');

  if (opts.resume) {
    const latest = latestCheckpoint(ckptDir);
    if (!latest) throw new UsageError(`--resume: no checkpoint in ${ckptDir}; start without --resume`);
    const trainer = session.loadCheckpoint(latest) as { position?: DatasetPosition; batchSize?: number; seed?: number; shuffle?: boolean } | undefined;
    // The saved position only means the same thing under the same batching: a different batch
    // size would index past the data, a different seed or shuffle would replay other rows.
    const describe = (o: { batchSize?: number; seed?: number; shuffle?: boolean }) => `--batch-size ${o.batchSize} ${o.shuffle ? `--seed ${o.seed}` : '--no-shuffle'}`;
    if (trainer?.position && describe(trainer) !== describe(data))
      throw new UsageError(`--resume: ${latest} was trained with ${describe(trainer)}, this run has ${describe(data)}; resume with the same data options so the data order continues`);
    if (trainer?.position) {
      const { epoch, batch } = trainer.position as Partial<DatasetPosition>;
      if (!Number.isSafeInteger(epoch) || epoch! < 0 || !Number.isSafeInteger(batch) || batch! < 0 || batch! >= data.batchesPerEpoch)
        throw new DataError(`--resume: ${latest} holds data position ${JSON.stringify(trainer.position)}, which is not a batch of this data (${data.batchesPerEpoch} per epoch); the checkpoint is damaged`);
      data.position = trainer.position;
    }
    if (opts.hyperparameters) session.hyperparameters = resolveHyperparameters(session.optimizer, session.hyperparameters, opts.hyperparameters);
    if (opts.log) {
      mkdirSync(dirname(opts.log), { recursive: true });
      truncateLog(opts.log, session.stepCount);
    }
  } else if (opts.log) {
    mkdirSync(dirname(opts.log), { recursive: true });
    writeFileSync(opts.log, '');
  }

  const trainerState = () => ({ position: data.position, seed: data.seed, shuffle: data.shuffle, batchSize: data.batchSize });
  const t0 = performance.now();
  opts.onStart?.({ total, startStep: session.stepCount, batchesPerEpoch: data.batchesPerEpoch, rows: data.rows });
  let last: StepInfo | null = null;
  let interrupted = false;
  let checkpoint = '';
  while (session.stepCount < total) {
    if (opts.shouldStop?.()) {
      interrupted = true;
      break;
    }
    // Up to stepsPerRun steps in one run, never past a checkpoint step or the end, so
    // checkpoints and logs stay per step as the user asked for them.
    const done = session.stepCount;
    let k = Math.min(session.stepsPerRun, total - done);
    if (every) k = Math.min(k, every - (done % every));
    const infos = await session.stepStacked(data.nextSteps(k), k);
    const elapsed = (performance.now() - t0) / 1000;
    // The run's log lines go out in one append (one open/write/close per run, not per step).
    let lines = '';
    for (const info of infos) {
      last = info;
      if (!Number.isFinite(info.loss) && manifest.loss && !info.skipped) {
        if (opts.log && lines) appendFileSync(opts.log, lines);
        checkpoint = session.saveCheckpoint(ckptDir, trainerState());
        throw new DataError(`the loss became ${info.loss} at step ${info.step}; lower --lr (the newest checkpoint, ${checkpoint}, holds the state after step ${session.stepCount})`);
      }
      if (opts.log) lines += JSON.stringify({ step: info.step, loss: info.loss, lr: info.lr, time: Number(elapsed.toFixed(4)), ...(info.skipped ? { skipped: true } : {}) }) + '\n';
      opts.onStep?.({ ...info, total, elapsed });
    }
    if (opts.log && lines) appendFileSync(opts.log, lines);
    if (every && session.stepCount % every === 0 && session.stepCount < total) checkpoint = session.saveCheckpoint(ckptDir, trainerState());
  }
  checkpoint = session.saveCheckpoint(ckptDir, trainerState());
  const seconds = (performance.now() - t0) / 1000;
  const result: TrainResult = { steps: session.stepCount, skippedSteps: session.skippedSteps, finalLoss: last?.loss ?? Number.NaN, interrupted, checkpoint, seconds };
  if (!interrupted && evalArrays && manifest.graphs.eval) {
    const evalSet = new ArrayDataset(evalArrays, { batchSize: Math.min(512, [...evalArrays.values()][0].dims[0]), shuffle: false });
    result.eval = await session.evaluate(evalSet.inOrder());
  }
  if (!interrupted && opts.exportPath) session.exportModel(opts.exportPath);
  return result;
}

export type { TypedArray };
