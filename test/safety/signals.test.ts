/**
 * Issue 10, item 4: SIGTERM and SIGHUP during training save a checkpoint and exit 143/129, as
 * Ctrl-C does (130); a second Ctrl-C while the checkpoint is written does not abort it; a
 * signal during `build` leaves no temp folder. One trial of each here (test/helpers/
 * signal-trials.ts); test/stress/signals.test.ts runs 10 of each at seeded moments.
 */
import { beforeAll, describe, it } from 'vitest';
import { buildSignalTrial, setupSignals, trainSignalTrial, type SignalSetup } from '../helpers/signal-trials.js';
import { tempDir } from '../helpers/tmp.js';

const root = tempDir('lion-onnx-signals-');
let s: SignalSetup;
beforeAll(() => {
  s = setupSignals(root);
}, 120_000);

describe('signals', { timeout: 120_000 }, () => {
  for (const kind of ['SIGTERM', 'SIGHUP', 'double-SIGINT'] as const)
    it(`${kind} during training: a checkpoint is saved, the exit code is the signal's, --resume continues`, async () => {
      console.log(await trainSignalTrial(s, kind, 1));
    });
  for (const signal of ['SIGINT', 'SIGTERM'] as const)
    it(`${signal} during build leaves no temp folder and no half-built directory`, async () => {
      console.log(await buildSignalTrial(s, signal, 1, 600));
    });
});
