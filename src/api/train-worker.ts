/**
 * Worker-thread entry for trainInWorker (train-in-worker.ts). onnxruntime-node's run() blocks
 * the thread it runs on, so training here keeps the caller's thread free for the progress bar,
 * Ctrl-C and timers. Messages out: {type: 'start' | 'step' | 'done' | 'error'}.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { LionOnnxError } from '../errors.js';
import { train, type TrainOptions } from './train.js';

interface Input {
  dir: string;
  opts: Omit<TrainOptions, 'onStep' | 'onStart' | 'shouldStop'>;
  stop: SharedArrayBuffer;
}

const { dir, opts, stop } = workerData as Input;
const stopFlag = new Int32Array(stop);

train(dir, {
  ...opts,
  onStart: (info) => parentPort!.postMessage({ type: 'start', info }),
  onStep: (info) => parentPort!.postMessage({ type: 'step', info }),
  shouldStop: () => Atomics.load(stopFlag, 0) !== 0,
}).then(
  (result) => parentPort!.postMessage({ type: 'done', result }),
  (e: unknown) =>
    parentPort!.postMessage({
      type: 'error',
      error: { typed: e instanceof LionOnnxError, name: (e as Error)?.name, code: (e as LionOnnxError)?.code, message: (e as Error)?.message ?? String(e), stack: (e as Error)?.stack },
    }),
);
