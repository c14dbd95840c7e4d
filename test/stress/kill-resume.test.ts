/**
 * 30 SIGKILL trials of `lion-onnx train --checkpoint-every 1` (test/helpers/kill-resume.ts),
 * kill moments seeded and spread over the whole run and over the training steps; each resumes
 * from the newest intact checkpoint to the uninterrupted run's losses and final state bit for
 * bit, no partial file is ever read as a checkpoint, and no stray file remains.
 */
import { beforeAll, describe, it } from 'vitest';
import { setup, trial, type KillResumeSetup } from '../helpers/kill-resume.js';
import { tempDir } from '../helpers/tmp.js';

const root = tempDir('lion-onnx-kill-stress-');
const SEED = Number(process.env.FUZZ_SEED ?? 2);
let s: KillResumeSetup;
beforeAll(async () => {
  s = await setup(root);
  console.log(`reference run: ${s.total.toFixed(2)} s, of which ${s.training.toFixed(2)} s of training steps`);
}, 120_000);

describe('SIGKILL during train, then --resume (stress)', () => {
  for (let i = 0; i < 30; i++)
    it(`trial ${i}`, { timeout: 120_000 }, async () => {
      console.log(`trial ${i}: ${await trial(s, i, SEED)}`);
    });
});
