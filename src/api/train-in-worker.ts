/**
 * Runs train() in a worker thread: the calling thread stays responsive while onnxruntime
 * blocks the worker (progress bar redraws, signals, timers). stop() asks the worker to save a
 * checkpoint and return after the current run of steps; terminate() ends it at once (for a
 * build still under way: the caller then removes its temp folders, artifacts/write.ts).
 */
import { Worker } from 'node:worker_threads';
import { LionOnnxError } from '../errors.js';
import type { StepInfo } from '../runtime/training-session.js';
import type { ModelBuildSpec } from './model-artifacts.js';
import type { StartInfo, TrainOptions, TrainResult } from './train.js';

/** An artifacts directory, or a model file to build first (`train MODEL.onnx --loss …`). */
export type TrainTarget = { dir: string } | { model: ModelBuildSpec };

export interface WorkerTraining {
  result: Promise<TrainResult>;
  /** Ask for a graceful stop (checkpoint saved, result.interrupted = true). */
  stop(): void;
  /** End the worker now (no checkpoint); resolves when it is gone. */
  terminate(): Promise<void>;
}

export interface WorkerCallbacks {
  onBuilt?: (info: { dir: string; note: string; builtHere: boolean }) => void;
  onStart?: (info: StartInfo) => void;
  onStep?: (info: StepInfo & { total: number; elapsed: number }) => void;
}

/** An error from the worker, re-raised in this thread with its kind and message. */
class WorkerError extends LionOnnxError {}

/** The worker's error as this thread's: same kind, message, class name and stack (for --verbose). */
function rethrown(err: { typed: boolean; code: string; name?: string; message: string; stack?: string }): Error {
  const e = err.typed ? new WorkerError(err.code, err.message) : new Error(err.message);
  if (err.name) e.name = err.name;
  if (err.stack) e.stack = err.stack;
  return e;
}

export function trainInWorker(target: string | TrainTarget, opts: Omit<TrainOptions, 'onStep' | 'onStart' | 'shouldStop'>, callbacks: WorkerCallbacks = {}): WorkerTraining {
  const stop = new SharedArrayBuffer(4);
  const t: TrainTarget = typeof target === 'string' ? { dir: target } : target;
  const worker = new Worker(new URL('./train-worker.js', import.meta.url), { workerData: { target: t, opts, stop } });
  let terminated = false;
  const result = new Promise<TrainResult>((resolve, reject) => {
    let settled = false;
    worker.on('message', (m: { type: string; info?: never; result?: TrainResult; error?: { typed: boolean; code: string; name?: string; message: string; stack?: string } }) => {
      if (m.type === 'built') callbacks.onBuilt?.(m.info!);
      else if (m.type === 'start') callbacks.onStart?.(m.info!);
      else if (m.type === 'step') callbacks.onStep?.(m.info!);
      else if (m.type === 'done') {
        settled = true;
        resolve(m.result!);
      } else if (m.type === 'error') {
        settled = true;
        reject(rethrown(m.error!));
      }
    });
    worker.on('error', (e) => {
      if (!settled) reject(e);
    });
    worker.on('exit', (code) => {
      if (!settled) reject(terminated ? new WorkerError('interrupted', 'interrupted') : new Error(`the training worker exited with code ${code}`));
    });
  });
  return {
    result,
    stop: () => Atomics.store(new Int32Array(stop), 0, 1),
    terminate: async () => {
      terminated = true;
      await worker.terminate();
    },
  };
}
