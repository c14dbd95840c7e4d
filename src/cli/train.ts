import { statSync } from 'node:fs';
import type { CommandModule } from 'yargs';
import { UsageError } from '../errors.js';
import { defaultArtifactsDir } from '../api/model-artifacts.js';
import { cleanUpInterruptedBuild, foldersFor } from '../api/interrupted-build.js';
import { trainInWorker, type TrainTarget, type WorkerTraining } from '../api/train-in-worker.js';
import { Interrupted } from './errors.js';
import { makeProgress } from './progress.js';
import { SIGNAL_EXIT_CODES, note, onStopSignals, type StopSignal } from './signals.js';
import { hyperparameterOptions, hyperparametersFrom, optimizerChoiceOptions, optimizerOptionsFrom } from './options.js';

interface Args extends Record<string, unknown> {
  target: string;
  data?: string[];
  dataset?: 'mnist';
  evalData?: string[];
  batchSize: number;
  steps?: number;
  epochs?: number;
  lr: number;
  schedule: string;
  warmup: number;
  shuffle: boolean;
  noShuffle: boolean;
  seed: number;
  lastBatch: 'drop' | 'keep';
  log?: string;
  checkpointDir?: string;
  checkpointEvery: number;
  resume: boolean;
  run?: string;
  overwrite: boolean;
  ep: 'cpu' | 'cuda';
  deviceId: number;
  threads?: number;
  gradAccum: number;
  stepsPerRun: number;
  export?: string;
  loss?: 'cross-entropy' | 'mse' | 'bce';
  optimizer: string;
  verbose: boolean;
  out?: string;
}

/** NAME=FILE pairs from repeated options. */
export function parsePairs(values: string[] | undefined, flag: string): Record<string, string> | undefined {
  if (!values) return undefined;
  const out: Record<string, string> = {};
  for (const v of values) {
    const i = v.indexOf('=');
    if (i <= 0 || i === v.length - 1) throw new UsageError(`${flag} '${v}' must look like NAME=FILE.npy (NAME is the graph input)`);
    out[v.slice(0, i)] = v.slice(i + 1);
  }
  return out;
}

export const trainCommand: CommandModule<object, Args> = {
  command: 'train <target>',
  describe: 'train an artifacts directory (or an .onnx model, built on the fly with --loss) with Lion',
  builder: (y) =>
    optimizerChoiceOptions(hyperparameterOptions(y), 'with an .onnx target, the optimizer to build with')
      .positional('target', { type: 'string', demandOption: true, describe: 'artifacts directory from build/rewrite, or an inference .onnx with --loss' })
      .option('data', { type: 'string', array: true, describe: 'NAME=FILE.npy: training array for graph input NAME, batched along axis 0 (repeat)' })
      .option('dataset', { choices: ['mnist'] as const, describe: 'built-in data: the 10,000 MNIST digits of the mnist package (2,000 held out)' })
      .option('eval-data', { type: 'string', array: true, describe: 'NAME=FILE.npy held-out arrays, evaluated after training' })
      .option('batch-size', { type: 'number', default: 32, describe: 'rows per step' })
      .option('steps', { type: 'number', describe: 'optimizer steps (continues into further epochs)' })
      .option('epochs', { type: 'number', describe: 'passes over the data (instead of --steps)' })
      .option('lr', { type: 'number', default: 1e-4, describe: 'learning rate (Lion wants 3-10x less than AdamW)' })
      .option('schedule', { choices: ['constant', 'linear', 'cosine'], default: 'constant', describe: 'learning-rate schedule' })
      .option('warmup', { type: 'number', default: 0, describe: 'linear warmup steps' })
      .option('shuffle', { type: 'boolean', default: true, describe: 'shuffle rows each epoch (seeded)' })
      .option('no-shuffle', { type: 'boolean', default: false, describe: 'keep the rows in file order' })
      .option('seed', { type: 'number', default: 0, describe: 'shuffle seed' })
      .option('last-batch', { choices: ['drop', 'keep'] as const, default: 'drop' as const, describe: 'a last batch shorter than --batch-size: drop it (every step the same size) or keep it (every row every epoch; it runs as a step of its own size)' })
      .option('log', { type: 'string', describe: 'write one JSON object per step to this .jsonl file' })
      .option('checkpoint-dir', { type: 'string', describe: 'folder of the runs and their checkpoints (default DIR/checkpoints; each run in run-NNNN/)' })
      .option('checkpoint-every', { type: 'number', default: 0, describe: 'save a checkpoint every N steps (one is always saved at the end)' })
      .option('resume', { type: 'boolean', default: false, describe: 'continue the newest run that has a checkpoint (or --run)' })
      .option('run', { type: 'string', describe: 'with --resume: the run to continue (run-0001, …; see DIR/checkpoints)' })
      .option('overwrite', { type: 'boolean', default: false, describe: 'replace a --log of an earlier run or an --export file lion-onnx did not write; with an .onnx target, rebuild a directory holding runs of another build (deletes them)' })
      .option('ep', { choices: ['cpu', 'cuda'] as const, default: 'cpu' as const, describe: 'execution provider' })
      .option('device-id', { type: 'number', default: 0, describe: 'CUDA device' })
      .option('threads', { type: 'number', describe: 'intra-op threads (default: one per core)' })
      .option('steps-per-run', { type: 'number', default: 8, describe: 'steps per onnxruntime run, inside an ONNX Loop (same numbers, less copying)' })
      .option('grad-accum', { type: 'number', default: 1, describe: 'split each batch into N micro-batches and accumulate gradients' })
      .option('export', { type: 'string', describe: 'write the trained inference model to this .onnx file at the end' })
      .option('loss', { choices: ['cross-entropy', 'mse', 'bce'] as const, describe: 'with an .onnx target: the loss to build with' })
      .option('out', { type: 'string', describe: 'with an .onnx target: the artifacts directory to build (default runs/<model name>)' }) as never,
  handler: async (a) => {
    const isModel = isFile(a.target);
    const options = Object.entries(optimizerOptionsFrom(a)).filter(([, v]) => v).map(([k]) => `--${k}`);
    if (!isModel && (a.loss || a.out || options.length))
      throw new UsageError(`${a.loss ? '--loss' : a.out ? '--out' : options[0]} applies when the target is an .onnx model; ${a.target} is an artifacts directory (built already)`);
    const target: TrainTarget = isModel
      ? { model: { model: a.target, loss: a.loss, optimizer: a.optimizer, optimizerOptions: optimizerOptionsFrom(a), hyperparameters: hyperparametersFrom(a), out: a.out, resume: a.resume, overwrite: a.overwrite, verbose: a.verbose } }
      : { dir: a.target };
    // Folders a build on the fly would make: removed again if a signal stops that build.
    const buildDir = isModel ? (a.out ?? defaultArtifactsDir(a.target)) : null;
    const made = buildDir ? foldersFor(buildDir) : [];
    const progress = makeProgress();
    let phase: 'building' | 'preparing' | 'training' = isModel ? 'building' : 'preparing';
    let signal: StopSignal | null = null;
    let builtNote = '';
    let job: WorkerTraining | null = null;
    const settled = onStopSignals((sig, count) => {
      if (count === 1) {
        signal = sig;
        if (phase === 'building') {
          // A build is synchronous JS in the worker, safe to cut short; its temp folders go below.
          void job?.terminate();
          return;
        }
        job?.stop();
        note(`\ninterrupted (${sig}): ${phase === 'training' ? 'finishing the current steps and saving a checkpoint' : 'stopping before the first step'}\n`);
      } else note(`still saving a checkpoint, please wait (SIGKILL abandons it; the previous checkpoint stays intact)\n`);
    });
    try {
      // Training runs in a worker thread: onnxruntime blocks the thread it runs on, and this
      // one must keep drawing progress and answering signals.
      job = trainInWorker(target, {
        data: parsePairs(a.data, '--data'),
        dataset: a.dataset,
        evalData: parsePairs(a.evalData, '--eval-data'),
        batchSize: a.batchSize,
        steps: a.steps,
        epochs: a.epochs,
        lr: a.lr,
        schedule: a.schedule,
        warmup: a.warmup,
        hyperparameters: hyperparametersFrom(a),
        shuffle: a.shuffle && !a.noShuffle,
        seed: a.seed,
        lastBatch: a.lastBatch,
        log: a.log,
        checkpointDir: a.checkpointDir,
        checkpointEvery: a.checkpointEvery,
        resume: a.resume,
        run: a.run,
        overwrite: a.overwrite,
        executionProvider: a.ep,
        deviceId: a.deviceId,
        threads: a.threads,
        gradientAccumulation: a.gradAccum,
        stepsPerRun: a.stepsPerRun,
        exportPath: a.export,
      }, {
        onBuilt: (i) => {
          phase = 'preparing';
          builtNote = i.note + '\n';
        },
        onStart: (i) => {
          phase = 'training';
          // Said only once training starts: refused input leaves one line, and nothing built.
          note(builtNote);
          note(i.resumedFrom ? `resuming ${i.run} from step ${i.startStep} (${i.resumedFrom})\n` : `starting ${i.run}\n`);
          progress.start(i.total, i.startStep);
        },
        onStep: (i) => progress.update(i),
      });
      let r;
      try {
        r = await job.result;
      } catch (e) {
        if (signal && phase === 'building') {
          cleanUpInterruptedBuild(buildDir!, made);
          note(`\ninterrupted (${signal}) while building ${buildDir}: nothing was written\n`);
          throw new Interrupted(SIGNAL_EXIT_CODES[signal]);
        }
        throw e;
      }
      progress.stop();
      if (r.steps === 0 && r.interrupted) {
        note(`stopped before the first step; nothing was trained\n`);
        throw new Interrupted(SIGNAL_EXIT_CODES[signal ?? 'SIGINT']);
      }
      const lines = [`${r.interrupted ? 'stopped' : 'trained'} ${r.steps} steps in ${r.seconds.toFixed(1)} s, final loss ${r.finalLoss.toFixed(4)}`];
      if (r.skippedSteps) lines.push(`skipped ${r.skippedSteps} steps with NaN/Inf gradients (parameters left unchanged on those steps)`);
      if (r.eval) lines.push(`held-out: loss ${r.eval.loss.toFixed(4)}${r.eval.accuracy !== undefined ? `, accuracy ${(100 * r.eval.accuracy).toFixed(2)}% of ${r.eval.count}` : ''}`);
      if (r.checkpoint) lines.push(`checkpoint: ${r.checkpoint} (${r.run})`);
      if (a.export && !r.interrupted) lines.push(`exported: ${a.export}`);
      process.stdout.write(lines.join('\n') + '\n');
      if (r.interrupted) process.exitCode = SIGNAL_EXIT_CODES[signal ?? 'SIGINT'];
    } finally {
      progress.stop();
      settled();
    }
  },
};

function isFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}
