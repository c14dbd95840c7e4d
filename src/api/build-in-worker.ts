/**
 * Runs `build` or `rewrite` in a worker thread. A build is one long synchronous stretch, during
 * which the calling thread could not react to a signal; here it can terminate the worker and
 * then remove the build's temp folders (removeBuildTemps), so an interrupted build leaves nothing.
 */
import { Worker } from 'node:worker_threads';
import { LionOnnxError } from '../errors.js';
import type { Manifest } from '../artifacts/manifest.js';
import type { BuildOptions, OutputOptions } from './build.js';
import type { RewriteOptions } from './rewrite.js';

/** What the worker runs; `verbose` checks every pass's contract and logs a line per pass to stderr. */
export type BuildJob = (
  | { command: 'build'; model: string; out: string; opts: BuildOptions; output: Omit<OutputOptions, 'passes'> }
  | { command: 'rewrite'; model: string; out: string; opts: RewriteOptions; output: Omit<OutputOptions, 'passes'> }
) & { verbose?: boolean };

class WorkerError extends LionOnnxError {}

/** The worker's error as this thread's: same kind, message, class name and stack (for --verbose). */
function rethrown(err: { typed: boolean; code: string; name?: string; message: string; stack?: string }): Error {
  const e = err.typed ? new WorkerError(err.code, err.message) : new Error(err.message);
  if (err.name) e.name = err.name;
  if (err.stack) e.stack = err.stack;
  return e;
}

export function buildInWorker(job: BuildJob): { result: Promise<Manifest>; terminate(): Promise<void> } {
  const worker = new Worker(new URL('./build-worker.js', import.meta.url), { workerData: job });
  let terminated = false;
  const result = new Promise<Manifest>((resolve, reject) => {
    let settled = false;
    worker.on('message', (m: { type: string; manifest?: Manifest; error?: { typed: boolean; code: string; name?: string; message: string; stack?: string } }) => {
      settled = true;
      if (m.type === 'done') resolve(m.manifest!);
      else reject(rethrown(m.error!));
    });
    worker.on('error', (e) => {
      if (!settled) reject(e);
    });
    worker.on('exit', (code) => {
      if (!settled) reject(terminated ? new WorkerError('interrupted', 'interrupted') : new Error(`the build worker exited with code ${code}`));
    });
  });
  return {
    result,
    terminate: async () => {
      terminated = true;
      await worker.terminate();
    },
  };
}
