/**
 * The fuzzers' smoke run, part of `npm test`: 150 mutated ONNX files and 60 malformed data files
 * through the API stages the CLI uses, and 5 refused mutants through the real CLI. The full
 * campaigns (2,000 + 600 + 40 cases) are in test/stress/ (`npm run test:stress`). Seeds are
 * fixed, so a failure replays; fast-check prints the shrunk case. FUZZ_SEED picks other seeds.
 */
import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { dataCaseArb, fuzzContext, onnxCaseArb, runDataCase, runOnnxCase, summary } from '../helpers/fuzz.js';
import { expectCliRefusal, pickCliCases } from '../helpers/fuzz-cli.js';
import { tempDir } from '../helpers/tmp.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20260101);
const ctx = fuzzContext(tempDir('lion-onnx-fuzz-'));
afterAll(() => ctx.sandbox.close());

describe('fuzzing (smoke)', () => {
  it('150 mutated ONNX models: inspect, write-back, build, rewrite, train, export', { timeout: 240_000 }, async () => {
    await fc.assert(fc.asyncProperty(onnxCaseArb, (c) => runOnnxCase(ctx, c).then(() => true)), { numRuns: 150, seed: SEED });
    console.log(`ONNX smoke: ${summary(ctx)}`);
    // The oracle must see the pipeline's depth, not only refusals at the door.
    expect(ctx.stats.get('load: ok') ?? 0).toBeGreaterThan(30);
    expect(ctx.stats.get('train: ok') ?? 0).toBeGreaterThan(2);
  });

  it('60 malformed .npy, safetensors, manifest.json and checkpoint files: decode, train, export', { timeout: 240_000 }, async () => {
    await fc.assert(fc.asyncProperty(dataCaseArb, (c) => runDataCase(ctx, c).then(() => true)), { numRuns: 60, seed: SEED });
    console.log(`data smoke: ${summary(ctx)}`);
    expect(ctx.stats.get('train: ok') ?? 0).toBeGreaterThan(5);
  });

  it('5 refused mutants through the CLI: exit 2, the API message as the one error line', { timeout: 120_000 }, async () => {
    const cases = await pickCliCases(ctx, 1, SEED);
    expect(cases.map((c) => c.command)).toEqual(['inspect', 'build', 'rewrite', 'train', 'export']);
    for (const c of cases) expectCliRefusal(c);
  });
});
