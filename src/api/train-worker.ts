/**
 * Worker-thread entry for trainInWorker (train-in-worker.ts). onnxruntime-node's run() blocks
 * the thread it runs on, so training here keeps the caller's thread free for the progress bar,
 * signals and timers. With a model file as the target, the build happens here too, so the
 * caller can still stop it (by terminating this thread) while it runs.
 * Messages out: {type: 'built' | 'start' | 'step' | 'done' | 'error'}.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { LionOnnxError } from '../errors.js';
import { artifactsForModel, undoBuild, type ModelArtifacts } from './model-artifacts.js';
import { train, type TrainOptions } from './train.js';
import type { TrainTarget } from './train-in-worker.js';

interface Input {
  target: TrainTarget;
  opts: Omit<TrainOptions, 'onStep' | 'onStart' | 'shouldStop'>;
  stop: SharedArrayBuffer;
}

const { target, opts, stop } = workerData as Input;
const stopFlag = new Int32Array(stop);

async function main() {
  let built: ModelArtifacts | null = null;
  let started = false;
  try {
    let dir: string;
    if ('model' in target) {
      built = artifactsForModel(target.model);
      dir = built.dir;
      parentPort!.postMessage({ type: 'built', info: { dir, note: built.note, builtHere: built.builtHere } });
    } else dir = target.dir;
    return await train(dir, {
      ...opts,
      onStart: (info) => {
        started = true;
        parentPort!.postMessage({ type: 'start', info });
      },
      onStep: (info) => parentPort!.postMessage({ type: 'step', info }),
      shouldStop: () => Atomics.load(stopFlag, 0) !== 0,
    });
  } catch (e) {
    // Bad input found before training started leaves nothing this call built behind.
    if (built && !started) undoBuild(built);
    throw e;
  }
}

main().then(
  (result) => parentPort!.postMessage({ type: 'done', result }),
  (e: unknown) =>
    parentPort!.postMessage({
      type: 'error',
      error: { typed: e instanceof LionOnnxError, name: (e as Error)?.name, code: (e as LionOnnxError)?.code, message: (e as Error)?.message ?? String(e), stack: (e as Error)?.stack },
    }),
);
