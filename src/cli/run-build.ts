/**
 * `build` and `rewrite` run in a worker thread (api/build-in-worker.ts) so that Ctrl-C, SIGTERM
 * or SIGHUP can stop them: the worker is terminated, its temp folders and the folders it was
 * about to make are removed, and the command exits with the signal's code, leaving nothing.
 */
import type { Manifest } from '../artifacts/manifest.js';
import { buildInWorker, type BuildJob } from '../api/build-in-worker.js';
import { cleanUpInterruptedBuild, foldersFor } from '../api/interrupted-build.js';
import { Interrupted } from './errors.js';
import { SIGNAL_EXIT_CODES, note, onStopSignals, type StopSignal } from './signals.js';

export async function runBuildJob(job: BuildJob): Promise<Manifest> {
  const made = foldersFor(job.out);
  const w = buildInWorker(job);
  let signal: StopSignal | null = null;
  const settled = onStopSignals((sig, count) => {
    if (count > 1) return;
    signal = sig;
    void w.terminate();
  });
  try {
    return await w.result;
  } catch (e) {
    if (signal) {
      cleanUpInterruptedBuild(job.out, made);
      note(`\ninterrupted (${signal}): nothing was written\n`);
      throw new Interrupted(SIGNAL_EXIT_CODES[signal]);
    }
    throw e;
  } finally {
    settled();
  }
}
