/**
 * 40 refused mutants through the real CLI (8 each for inspect, build, rewrite, train, export):
 * exit code 2, exactly one stderr line `error: <the API's message>`, no stack trace, within 30 s.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { fuzzContext } from '../helpers/fuzz.js';
import { expectCliRefusal, pickCliCases, type CliCase } from '../helpers/fuzz-cli.js';
import { tempDir } from '../helpers/tmp.js';

const SEED = Number(process.env.FUZZ_SEED ?? 9);
const ctx = fuzzContext(tempDir('lion-onnx-fuzz-cli-'));
afterAll(() => ctx.sandbox.close());

describe('fuzz cases through the CLI', () => {
  let cases: CliCase[] = [];
  it('40 cases are picked, 8 per command', async () => {
    cases = await pickCliCases(ctx, 8, SEED);
    expect(cases.length).toBe(40);
  });
  for (let i = 0; i < 40; i++)
    it(`case ${i}`, { timeout: 60_000 }, () => {
      if (!cases[i]) throw new Error('not picked');
      expectCliRefusal(cases[i]);
    });
});
