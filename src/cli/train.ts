import { existsSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { CommandModule } from 'yargs';
import { UsageError } from '../errors.js';
import { buildFromFile } from '../api/build.js';
import { trainInWorker, type WorkerTraining } from '../api/train-in-worker.js';
import { makeProgress } from './progress.js';
import { hyperparameterOptions, hyperparametersFrom, type HyperparameterArgs } from './options.js';

interface Args extends HyperparameterArgs {
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
  log?: string;
  checkpointDir?: string;
  checkpointEvery: number;
  resume: boolean;
  ep: 'cpu' | 'cuda';
  deviceId: number;
  threads?: number;
  gradAccum: number;
  stepsPerRun: number;
  export?: string;
  loss?: 'cross-entropy' | 'mse' | 'bce';
  optimizer: 'lion' | 'adamw' | 'sgd';
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
    hyperparameterOptions(y)
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
      .option('log', { type: 'string', describe: 'write one JSON object per step to this .jsonl file' })
      .option('checkpoint-dir', { type: 'string', describe: 'where checkpoints go (default DIR/checkpoints)' })
      .option('checkpoint-every', { type: 'number', default: 0, describe: 'save a checkpoint every N steps (one is always saved at the end)' })
      .option('resume', { type: 'boolean', default: false, describe: 'continue from the newest checkpoint' })
      .option('ep', { choices: ['cpu', 'cuda'] as const, default: 'cpu' as const, describe: 'execution provider' })
      .option('device-id', { type: 'number', default: 0, describe: 'CUDA device' })
      .option('threads', { type: 'number', describe: 'intra-op threads (default: one per core)' })
      .option('steps-per-run', { type: 'number', default: 8, describe: 'steps per onnxruntime run, inside an ONNX Loop (same numbers, less copying)' })
      .option('grad-accum', { type: 'number', default: 1, describe: 'split each batch into N micro-batches and accumulate gradients' })
      .option('export', { type: 'string', describe: 'write the trained inference model to this .onnx file at the end' })
      .option('loss', { choices: ['cross-entropy', 'mse', 'bce'] as const, describe: 'with an .onnx target: the loss to build with' })
      .option('optimizer', { choices: ['lion', 'adamw', 'sgd'] as const, default: 'lion' as const, describe: 'with an .onnx target: the optimizer to build with' })
      .option('out', { type: 'string', describe: 'with an .onnx target: the artifacts directory to build (default runs/<model name>)' }) as never,
  handler: async (a) => {
    let dir = a.target;
    // Set when this run built `dir` from scratch: removed again if training never starts, so
    // bad input leaves nothing behind.
    let builtHere: string | null = null;
    let builtNote = '';
    if (existsSync(dir) && statSync(dir).isFile()) {
      if (!a.loss) throw new UsageError(`${a.target} is a model file: pass --loss cross-entropy|mse|bce to build it, or train an artifacts directory`);
      dir = a.out ?? join('runs', basename(a.target).replace(/\.onnx$/, ''));
      // Rebuilding replaces the whole directory, checkpoints included: --resume must reuse it.
      if (a.resume && existsSync(join(dir, 'manifest.json'))) builtNote = `resuming in ${dir} (built earlier from ${a.target})\n`;
      else {
        if (!existsSync(dir)) {
          builtHere = resolve(dir);
          while (!existsSync(dirname(builtHere))) builtHere = dirname(builtHere);
        }
        buildFromFile(a.target, dir, { loss: a.loss, optimizer: a.optimizer, hyperparameters: hyperparametersFrom(a) });
        builtNote = `built ${dir} from ${a.target}\n`;
      }
    }
    const hyper = hyperparametersFrom(a);
    const progress = makeProgress();
    let stop = false;
    let job: WorkerTraining | null = null;
    const onSigint = () => {
      if (stop) process.exit(130);
      stop = true;
      job?.stop();
      process.stderr.write('\ninterrupted: saving a checkpoint (Ctrl-C again to quit now)\n');
    };
    process.on('SIGINT', onSigint);
    let started = false;
    try {
      // Training runs in a worker thread: onnxruntime blocks the thread it runs on, and this
      // one must keep drawing progress and answering Ctrl-C.
      job = trainInWorker(dir, {
        data: parsePairs(a.data, '--data'),
        dataset: a.dataset,
        evalData: parsePairs(a.evalData, '--eval-data'),
        batchSize: a.batchSize,
        steps: a.steps,
        epochs: a.epochs,
        lr: a.lr,
        schedule: a.schedule,
        warmup: a.warmup,
        hyperparameters: hyper,
        shuffle: a.shuffle && !a.noShuffle,
        seed: a.seed,
        log: a.log,
        checkpointDir: a.checkpointDir,
        checkpointEvery: a.checkpointEvery,
        resume: a.resume,
        executionProvider: a.ep,
        deviceId: a.deviceId,
        threads: a.threads,
        gradientAccumulation: a.gradAccum,
        stepsPerRun: a.stepsPerRun,
        exportPath: a.export,
      }, {
        onStart: (i) => {
          started = true;
          if (builtNote) process.stderr.write(builtNote);
          progress.start(i.total, i.startStep);
        },
        onStep: (i) => progress.update(i),
      });
      const r = await job.result;
      progress.stop();
      const lines = [`${r.interrupted ? 'stopped' : 'trained'} ${r.steps} steps in ${r.seconds.toFixed(1)} s, final loss ${r.finalLoss.toFixed(4)}`];
      if (r.skippedSteps) lines.push(`skipped ${r.skippedSteps} steps with NaN/Inf gradients (parameters left unchanged on those steps)`);
      if (r.eval) lines.push(`held-out: loss ${r.eval.loss.toFixed(4)}${r.eval.accuracy !== undefined ? `, accuracy ${(100 * r.eval.accuracy).toFixed(2)}% of ${r.eval.count}` : ''}`);
      lines.push(`checkpoint: ${r.checkpoint}`);
      if (a.export && !r.interrupted) lines.push(`exported: ${a.export}`);
      process.stdout.write(lines.join('\n') + '\n');
      if (r.interrupted) process.exitCode = 130;
    } catch (e) {
      if (builtHere && !started) rmSync(builtHere, { recursive: true, force: true });
      throw e;
    } finally {
      progress.stop();
      process.off('SIGINT', onSigint);
    }
  },
};
