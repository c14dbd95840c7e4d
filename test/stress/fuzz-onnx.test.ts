/**
 * The ONNX fuzzing campaign (npm run test:stress): 2,000 mutated, truncated and bit-flipped
 * models (test/helpers/fuzz.ts) through inspect, write-back, build, rewrite, train (in the
 * sandbox child: onnxruntime can abort on malformed graphs) and export. fast-check is seeded and
 * shrinks a failure to a minimal case; FUZZ_SEED and FUZZ_RUNS pick other seeds and sizes.
 */
import { afterAll, expect, it } from 'vitest';
import fc from 'fast-check';
import { fuzzContext, onnxCaseArb, runOnnxCase, summary } from '../helpers/fuzz.js';
import { tempDir } from '../helpers/tmp.js';

const SEED = Number(process.env.FUZZ_SEED ?? 7);
const RUNS = Number(process.env.FUZZ_RUNS ?? 2000);
const ctx = fuzzContext(tempDir('lion-onnx-fuzz-onnx-'));
afterAll(() => ctx.sandbox.close());

it(`${RUNS} mutated ONNX models: no crash, no hang, every refusal one typed line`, async () => {
  await fc.assert(fc.asyncProperty(onnxCaseArb, (c) => runOnnxCase(ctx, c).then(() => true)), { numRuns: RUNS, seed: SEED });
  console.log(`ONNX campaign (seed ${SEED}): ${summary(ctx)}`);
  expect(ctx.stats.get('load: ok') ?? 0).toBeGreaterThan(RUNS / 4);
  expect(ctx.stats.get('train: ok') ?? 0).toBeGreaterThan(RUNS / 50);
});
