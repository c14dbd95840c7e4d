/**
 * `lion-onnx train` killed with SIGKILL at random moments resumes to exactly the uninterrupted
 * run (test/helpers/kill-resume.ts): 3 trials here, 24 in test/stress/kill-resume.test.ts.
 */
import { beforeAll, describe, it } from 'vitest';
import { setup, trial, type KillResumeSetup } from '../helpers/kill-resume.js';
import { tempDir } from '../helpers/tmp.js';

const root = tempDir('lion-onnx-kill-');
let s: KillResumeSetup;
beforeAll(async () => {
  s = await setup(root);
}, 120_000);

describe('SIGKILL during train, then --resume', () => {
  for (let i = 0; i < 3; i++)
    it(`trial ${i}: checkpoints on disk are whole; the resumed log equals the uninterrupted one bitwise`, { timeout: 120_000 }, async () => {
      console.log(`trial ${i}: ${await trial(s, i, 1)}`);
    });
});
