/**
 * Worker-thread entry for buildInWorker (build-in-worker.ts): runs `build` or `rewrite` off the
 * caller's thread, so a signal can stop it while it works (a build is one long synchronous
 * stretch) and the caller can remove its temp folders. Messages out: {type: 'done' | 'error'}.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { LionOnnxError } from '../errors.js';
import { buildFromFile } from './build.js';
import { rewriteTrainingModel } from './rewrite.js';
import type { BuildJob } from './build-in-worker.js';
import { verbosePasses } from '../passes/pass.js';

const job = workerData as BuildJob;
try {
  const output = { ...job.output, passes: verbosePasses(job.verbose) };
  const manifest = job.command === 'build' ? buildFromFile(job.model, job.out, job.opts, output) : rewriteTrainingModel(job.model, job.out, job.opts, output);
  parentPort!.postMessage({ type: 'done', manifest });
} catch (e) {
  parentPort!.postMessage({
    type: 'error',
    error: { typed: e instanceof LionOnnxError, name: (e as Error)?.name, code: (e as LionOnnxError)?.code, message: (e as Error)?.message ?? String(e), stack: (e as Error)?.stack },
  });
}
