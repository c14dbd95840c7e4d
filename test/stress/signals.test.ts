/**
 * Signal campaign (issue 10): SIGTERM, SIGHUP and a double Ctrl-C at seeded moments during
 * training, 10 of each: a checkpoint is always saved and resumes (test/helpers/
 * signal-trials.ts); and 10 SIGINT/SIGTERM during builds, which leave nothing behind.
 */
import { beforeAll, describe, it } from 'vitest';
import { buildSignalTrial, setupSignals, trainSignalTrial, type SignalSetup } from '../helpers/signal-trials.js';
import { tempDir } from '../helpers/tmp.js';

const root = tempDir('lion-onnx-signals-stress-');
const SEED = Number(process.env.FUZZ_SEED ?? 2);
let s: SignalSetup;
beforeAll(() => {
  s = setupSignals(root);
}, 120_000);

describe('signal campaign (stress)', () => {
  for (const kind of ['SIGTERM', 'SIGHUP', 'double-SIGINT'] as const)
    for (let i = 0; i < 10; i++)
      it(`${kind} trial ${i}`, { timeout: 120_000 }, async () => {
        console.log(await trainSignalTrial(s, kind, SEED * 1000 + i));
      });
  for (let i = 0; i < 10; i++)
    it(`build trial ${i}`, { timeout: 120_000 }, async () => {
      console.log(await buildSignalTrial(s, i % 2 ? 'SIGTERM' : 'SIGINT', SEED * 1000 + i, 2500));
    });
});
