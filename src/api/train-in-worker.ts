/**
 * Runs train() in a worker thread: the calling thread stays responsive while onnxruntime
 * blocks the worker (progress bar redraws, Ctrl-C, timers). stop() asks the worker to save a
 * checkpoint and return after the current run of steps.
 */
import { Worker } from 'node:worker_threads';
import { LionOnnxError } from '../errors.js';
import type { StepInfo } from '../runtime/training-session.js';
import type { TrainOptions, TrainResult } from './train.js';

export interface WorkerTraining {
  result: Promise<TrainResult>;
  /** Ask for a graceful stop (checkpoint saved, result.interrupted = true). */
  stop(): void;
}

export interface WorkerCallbacks {
  onStart?: TrainOptions['onStart'];
  onStep?: (info: StepInfo & { total: number; elapsed: number }) => void;
}

/** An error from the worker, re-raised in this thread with its kind and message. */
class WorkerError extends LionOnnxError {}

export function trainInWorker(dir: string, opts: Omit<TrainOptions, 'onStep' | 'onStart' | 'shouldStop'>, callbacks: WorkerCallbacks = {}): WorkerTraining {
  const stop = new SharedArrayBuffer(4);
  const worker = new Worker(new URL('./train-worker.js', import.meta.url), { workerData: { dir, opts, stop } });
  const result = new Promise<TrainResult>((resolve, reject) => {
    let settled = false;
    worker.on('message', (m: { type: string; info?: never; result?: TrainResult; error?: { typed: boolean; code: string; message: string; stack?: string } }) => {
      if (m.type === 'start') callbacks.onStart?.(m.info!);
      else if (m.type === 'step') callbacks.onStep?.(m.info!);
      else if (m.type === 'done') {
        settled = true;
        resolve(m.result!);
      } else if (m.type === 'error') {
        settled = true;
        const err = m.error!;
        if (err.typed) reject(new WorkerError(err.code, err.message));
        else {
          const e = new Error(err.message);
          e.stack = err.stack;
          reject(e);
        }
      }
    });
    worker.on('error', (e) => {
      if (!settled) reject(e);
    });
    worker.on('exit', (code) => {
      if (!settled) reject(new Error(`the training worker exited with code ${code}`));
    });
  });
  return { result, stop: () => Atomics.store(new Int32Array(stop), 0, 1) };
}
