/**
 * The training loop behind `lion-onnx train`: data checks before anything is written, then
 * steps with a schedule, logging, periodic checkpoints, interruption, evaluation and export.
 */
import { existsSync, mkdirSync, rmdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { DataError, LionOnnxError, UsageError } from '../errors.js';
import { DataType, type TypedArray } from '../onnx/data-types.js';
import type { Tensor } from '../onnx/tensor.js';
import type { Manifest } from '../artifacts/manifest.js';
import { ArrayDataset, type DatasetPosition, type LastBatch } from '../data/dataset.js';
import { loadMnist } from '../data/mnist.js';
import { toBatchFirst } from '../data/batch-axis.js';
import { readNpy } from '../data/npy.js';
import { cleanLeftovers, latestCheckpoint, newestCheckpoint, removeAbandonedRuns } from '../artifacts/checkpoint.js';
import { CHECKPOINTS_DIR } from '../artifacts/layout.js';
import { acquireTrainLock } from '../artifacts/lock.js';
import { createRun, listRuns, prepareRoot, type Run } from '../artifacts/runs.js';
import { checkExportOutputs } from '../runtime/export-model.js';
import { RunLog, isLionOnnxLog, logRun } from '../runtime/run-log.js';
import { checkOutputFile } from '../util/output-path.js';
import { parseSchedule } from '../runtime/schedule.js';
import { TrainingSession, type EvalResult, type StepInfo } from '../runtime/training-session.js';
import type { ExecutionProviderName } from '../runtime/execution-provider.js';
import { resolveHyperparameters } from '../optim/registry.js';

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
  /** A last batch shorter than batchSize: 'drop' (default) or 'keep' (it runs as a step of its own size). */
  lastBatch?: LastBatch;
  log?: string;
  /** Root of the runs' checkpoint folders (default DIR/checkpoints). */
  checkpointDir?: string;
  checkpointEvery?: number;
  /** Continue the newest run that has a checkpoint (or `run`). */
  resume?: boolean;
  /** With resume: the run to continue (run-0001, …). */
  run?: string;
  /** Replace a --log of an earlier run, or --export files lion-onnx did not write. */
  overwrite?: boolean;
  executionProvider?: ExecutionProviderName;
  deviceId?: number;
  threads?: number;
  gradientAccumulation?: number;
  /** Steps per ONNX run (an ONNX Loop); default 8. Numerics are the same for any value. */
  stepsPerRun?: number;
  /** Write the trained inference model here at the end. */
  exportPath?: string;
  onStep?: (info: StepInfo & { total: number; elapsed: number }) => void;
  onStart?: (info: StartInfo) => void;
  /** Checked between steps; when set, training stops after saving a checkpoint. */
  shouldStop?: () => boolean;
}

export interface StartInfo {
  total: number;
  startStep: number;
  batchesPerEpoch: number;
  rows: number;
  /** The run being trained (runs/checkpoint layout: artifacts/runs.ts). */
  run: string;
  /** With --resume: the checkpoint it continues from. */
  resumedFrom?: string;
}

export interface TrainResult {
  /** The run trained (run-0001, …). */
  run: string;
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
    const axis = manifest.batchAxes?.[name] ?? 0;
    arrays.set(name, toBatchFirst(readNpy(file, name), axis, `${flag} ${name}=${file}`));
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

/** Everything a run reads and writes, checked before anything is written. */
function prepare(session: TrainingSession, opts: TrainOptions) {
  const manifest = session.manifest;
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
  if (evalArrays && !manifest.graphs.eval)
    throw new UsageError(`${session.artifacts.dir} has no eval graph (artifacts made by 'rewrite'), so --eval-data cannot be evaluated; build the model with 'lion-onnx build' to get one`);
  const fixed = fixedBatch(manifest);
  if (fixed && opts.batchSize !== fixed.size)
    throw new UsageError(`the model's batch is fixed at ${fixed.size} (${fixed.why}); train with --batch-size ${fixed.size}`);
  const data = new ArrayDataset(trainArrays, { batchSize: opts.batchSize, shuffle: opts.shuffle ?? true, seed: opts.seed ?? 0, lastBatch: opts.lastBatch });
  const shortRows = data.rowsIn(data.batchesPerEpoch - 1);
  if (shortRows < data.batchSize) {
    // Refused now, not when the epoch's last step comes.
    if (fixed) throw new UsageError(`--last-batch keep: the data's last batch has ${shortRows} rows, and the model's batch is fixed at ${fixed.size} (${fixed.why}); drop it (the default) or give a multiple of ${fixed.size} rows`);
    const micro = session.gradientAccumulation;
    if (shortRows < micro) throw new UsageError(`--last-batch keep: the data's last batch has ${shortRows} rows, too few to split into --grad-accum ${micro} micro-batches; drop it (the default) or lower --grad-accum`);
  }
  const evalSet = evalArrays ? evalDataset(evalArrays, fixed?.size) : undefined;
  if ((opts.steps === undefined) === (opts.epochs === undefined)) throw new UsageError('give exactly one of --steps N or --epochs N');
  if (opts.epochs !== undefined && !(Number.isFinite(opts.epochs) && opts.epochs > 0)) throw new UsageError(`--epochs must be a number > 0, got ${opts.epochs}`);
  const total = opts.steps ?? Math.max(1, Math.round((opts.epochs ?? 0) * data.batchesPerEpoch));
  if (!Number.isSafeInteger(total) || total < 1) throw new UsageError(`--steps must be a whole number >= 1, got ${opts.steps}`);
  session.schedule = parseSchedule(opts.schedule ?? 'constant', { warmup: opts.warmup, totalSteps: total });
  const every = opts.checkpointEvery ?? 0;
  if (!Number.isSafeInteger(every) || every < 0) throw new UsageError(`--checkpoint-every must be a whole number >= 0, got ${every}`);
  const root = opts.checkpointDir ?? join(session.artifacts.dir, CHECKPOINTS_DIR);
  const rootFlag = opts.checkpointDir ? '--checkpoint-dir' : 'checkpoint folder';
  prepareRoot(root, rootFlag, false);
  if (opts.log !== undefined) checkOutputFile(opts.log, { flag: '--log', isOwn: isLionOnnxLog, overwrite: false, createsFolder: true });
  // A fresh run may reuse the log of a run that never saved a checkpoint (killed early): that
  // run is gone. The log of a run that still has checkpoints is kept unless --overwrite.
  if (opts.log !== undefined && !opts.resume && !opts.overwrite && existsSync(opts.log) && statSync(opts.log).size > 0) {
    const owner = logRun(opts.log);
    const alive = owner === undefined || listRuns(root).some((r) => r.name === owner && latestCheckpoint(r.dir));
    if (alive) throw new UsageError(`--log ${opts.log} holds the log of an earlier run${owner ? ` (${owner})` : ''}; name another file, continue that run with --resume, or pass --overwrite`);
  }
  if (opts.exportPath !== undefined) checkExportOutputs(session.artifacts, opts.exportPath, { flags: { model: '--export' }, overwrite: opts.overwrite });
  return { data, evalSet, total, every, root, rootFlag };
}

/**
 * The batch size the model's data inputs declare, when they fix one (a leading dim that is a
 * number), and why: free-batch-dim's reason, or the build kept it (--fixed-batch).
 */
export function fixedBatch(manifest: Manifest): { size: number; why: string } | undefined {
  for (const name of manifest.dataInputs) {
    const d = manifest.inputs.find((i) => i.name === name)?.shape?.[0];
    if (typeof d === 'number')
      return { size: d, why: manifest.batch?.fixedBy ?? `data input '${name}' is declared with a leading dimension of ${d}${manifest.build.options.fixedBatch ? ' and the build kept it (--fixed-batch)' : ''}` };
  }
  return undefined;
}

/** The held-out arrays as batches of at most 512 rows (exactly `fixed` for a fixed-batch model), in order; checked (rows, count) now. */
function evalDataset(arrays: Map<string, Tensor>, fixed?: number): ArrayDataset {
  const rows = Math.min(...[...arrays.values()].map((t) => t.dims[0] ?? 0));
  if (rows === 0) throw new DataError('--eval-data has 0 rows; give held-out examples or leave --eval-data out');
  if (fixed !== undefined && rows % fixed !== 0) throw new DataError(`--eval-data has ${rows} rows, not a multiple of the model's fixed batch of ${fixed}; give a multiple of ${fixed} rows`);
  return new ArrayDataset(arrays, { batchSize: fixed ?? Math.min(512, rows), shuffle: false, label: '--eval-data' });
}

async function runTraining(session: TrainingSession, opts: TrainOptions): Promise<TrainResult> {
  const manifest = session.manifest;
  const { data, evalSet, total, every, root, rootFlag } = prepare(session, opts);
  const lock = acquireTrainLock(session.artifacts.dir);
  let run: Run | null = null;
  let createdRun = false;
  let log: RunLog | null = null;
  try {
    let resumedFrom: string | undefined;
    if (opts.resume) {
      const found = newestCheckpoint(root, opts.run);
      if (!found) throw new UsageError(`--resume: no checkpoint in ${root}${opts.run ? ` for ${opts.run}` : ''}; start without --resume`);
      run = found.run;
      cleanLeftovers(run.dir);
      const trainer = session.loadCheckpoint(found.path) as { position?: DatasetPosition; batchSize?: number; seed?: number; shuffle?: boolean; lastBatch?: string } | undefined;
      resumedFrom = found.path;
      if (session.stepCount > total)
        throw new UsageError(`--resume: ${found.path} is at step ${session.stepCount}, past --steps ${total} (the total to reach, not steps to add); ask for more than ${session.stepCount}`);
      // The saved position only means the same thing under the same batching: a different batch
      // size would index past the data, a different seed or shuffle would replay other rows.
      const describe = (o: { batchSize?: number; seed?: number; shuffle?: boolean; lastBatch?: string }) =>
        `--batch-size ${o.batchSize} ${o.shuffle ? `--seed ${o.seed}` : '--no-shuffle'}${o.lastBatch === 'keep' ? ' --last-batch keep' : ''}`;
      if (trainer?.position && describe(trainer) !== describe(data))
        throw new UsageError(`--resume: ${found.path} was trained with ${describe(trainer)}, this run has ${describe(data)}; resume with the same data options so the data order continues`);
      if (trainer?.position) {
        const { epoch, batch } = trainer.position as Partial<DatasetPosition>;
        if (!Number.isSafeInteger(epoch) || epoch! < 0 || !Number.isSafeInteger(batch) || batch! < 0 || batch! >= data.batchesPerEpoch)
          throw new DataError(`--resume: ${found.path} holds data position ${JSON.stringify(trainer.position)}, which is not a batch of this data (${data.batchesPerEpoch} per epoch); the checkpoint is damaged`);
        data.position = trainer.position;
      }
      if (opts.hyperparameters) session.hyperparameters = resolveHyperparameters(session.optimizer, session.hyperparameters, opts.hyperparameters);
      if (opts.log) {
        const owner = logRun(opts.log);
        if (owner && owner !== run.name) throw new UsageError(`--log ${opts.log} is the log of ${owner}, not of ${run.name} being resumed; name that run's log, or another file`);
      }
    } else {
      if (opts.run) throw new UsageError('--run names a run to resume; add --resume, or leave --run out to start a new run');
      prepareRoot(root, rootFlag, true);
      // Under DIR's lock only this process makes runs in DIR/checkpoints: a run there without
      // a checkpoint is one a crash left before its first checkpoint.
      if (!opts.checkpointDir) removeAbandonedRuns(root);
      run = createRun(root);
      createdRun = true;
    }
    if (opts.log) {
      mkdirSync(dirname(resolve(opts.log)), { recursive: true });
      log = new RunLog(opts.log, opts.resume ? { resumeAt: session.stepCount } : {});
    }
    return await trainSteps(session, opts, { data, evalSet, total, every, run, log, resumedFrom });
  } finally {
    log?.close();
    // A run that saved nothing (it failed before its first checkpoint) leaves no folder.
    if (createdRun && run) {
      try {
        rmdirSync(run.dir);
      } catch {
        // It holds checkpoints: it stays.
      }
    }
    lock.release();
  }
}

interface Plan {
  data: ArrayDataset;
  evalSet?: ArrayDataset;
  total: number;
  every: number;
  run: Run;
  log: RunLog | null;
  resumedFrom?: string;
}

async function trainSteps(session: TrainingSession, opts: TrainOptions, p: Plan): Promise<TrainResult> {
  const manifest = session.manifest;
  const { data, total, every, run, log } = p;
  const trainerState = () => ({ position: data.position, seed: data.seed, shuffle: data.shuffle, batchSize: data.batchSize, ...(data.lastBatch === 'keep' ? { lastBatch: data.lastBatch } : {}) });
  let checkpoint = '';
  const save = () => (checkpoint = session.saveCheckpoint(run.dir, trainerState(), { run: run.name }));
  const t0 = performance.now();
  const startStep = session.stepCount;
  opts.onStart?.({ total, startStep: session.stepCount, batchesPerEpoch: data.batchesPerEpoch, rows: data.rows, run: run.name, ...(p.resumedFrom ? { resumedFrom: p.resumedFrom } : {}) });
  let last: StepInfo | null = null;
  let interrupted = false;
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
    // A kept shorter last batch runs alone (only batches of one size stack into a run).
    const full = data.fullBatchesAhead();
    k = full === 0 ? 1 : Math.min(k, full);
    const infos = await session.stepStacked(data.nextSteps(k), k);
    const elapsed = (performance.now() - t0) / 1000;
    // The run's log lines go out in one append (one write per run of steps, not per step).
    let lines = '';
    let diverged: StepInfo | null = null;
    for (const info of infos) {
      last = info;
      if (!Number.isFinite(info.loss) && manifest.loss && !info.skipped) {
        diverged = info;
        break;
      }
      if (log) lines += JSON.stringify({ run: run.name, step: info.step, loss: info.loss, lr: info.lr, time: Number(elapsed.toFixed(4)), ...(info.skipped ? { skipped: true } : {}) }) + '\n';
      opts.onStep?.({ ...info, total, elapsed });
    }
    try {
      log?.append(lines);
    } catch (e) {
      // The steps are done and the state is good: keep them in a checkpoint before stopping.
      throw withFinalCheckpoint(e, save, checkpoint);
    }
    if (diverged) {
      save();
      throw new DataError(`the loss became ${diverged.loss} at step ${diverged.step}; lower --lr (the newest checkpoint, ${checkpoint}, holds the state after step ${session.stepCount})`);
    }
    if (every && session.stepCount % every === 0 && session.stepCount < total) save();
  }
  // Stopped before its first step: nothing new to keep (a resumed run's checkpoint is there).
  if (session.stepCount > startStep || (!interrupted && !p.resumedFrom)) save();
  else checkpoint = p.resumedFrom ?? '';
  const seconds = (performance.now() - t0) / 1000;
  const result: TrainResult = { steps: session.stepCount, skippedSteps: session.skippedSteps, finalLoss: last?.loss ?? Number.NaN, interrupted, checkpoint, run: run.name, seconds };
  if (!interrupted && p.evalSet && manifest.graphs.eval) result.eval = await session.evaluate(p.evalSet.inOrder());
  if (!interrupted && opts.exportPath) session.exportModel(opts.exportPath, { overwrite: opts.overwrite, flags: { model: '--export' } });
  return result;
}

/** A write error during training, after a final checkpoint was attempted; says which checkpoint holds the state. */
function withFinalCheckpoint(e: unknown, save: () => string, previous: string): unknown {
  if (!(e instanceof LionOnnxError)) return e;
  try {
    const saved = save();
    return new UsageError(`${e.message}; training stopped, its state is in ${saved}`);
  } catch (e2) {
    const why = e2 instanceof Error ? e2.message : String(e2);
    return new UsageError(`${e.message}; training stopped, and the final checkpoint could not be written either (${why})${previous ? `: the newest checkpoint is ${previous}` : ''}`);
  }
}

export type { TypedArray };
