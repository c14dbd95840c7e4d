/**
 * The data-file fuzzing campaign (npm run test:stress): 600 malformed .npy arrays, safetensors
 * state and checkpoint files, manifest.json and checkpoint JSON documents (test/helpers/fuzz.ts)
 * through decode, export and train/resume (in the sandbox child). Seeded; fast-check shrinks.
 */
import { afterAll, expect, it } from 'vitest';
import fc from 'fast-check';
import { dataCaseArb, fuzzContext, runDataCase, summary } from '../helpers/fuzz.js';
import { tempDir } from '../helpers/tmp.js';

const SEED = Number(process.env.FUZZ_SEED ?? 8);
const RUNS = Number(process.env.FUZZ_RUNS ?? 600);
const ctx = fuzzContext(tempDir('lion-onnx-fuzz-data-'));
afterAll(() => ctx.sandbox.close());

it(`${RUNS} malformed data files: no crash, no hang, every refusal one typed line`, async () => {
  await fc.assert(fc.asyncProperty(dataCaseArb, (c) => runDataCase(ctx, c).then(() => true)), { numRuns: RUNS, seed: SEED });
  console.log(`data campaign (seed ${SEED}): ${summary(ctx)}`);
  expect(ctx.stats.get('train: ok') ?? 0).toBeGreaterThan(RUNS / 20);
});
