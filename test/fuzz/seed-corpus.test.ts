/**
 * The fuzzers' seed corpus (test/fixtures/fuzz/seed/, made by test/helpers/fuzz-seeds.ts): every
 * seed goes through the whole pipeline, so what the fuzzers see refused is the mutation's doing.
 * UPDATE_FUZZ_SEEDS=1 rewrites the files.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { modelToBytes } from '../../src/ir/model-io.js';
import { decodeNpy } from '../../src/data/npy.js';
import { fuzzContext, runOnnxInput } from '../helpers/fuzz.js';
import { NPY_SEEDS, ONNX_SEEDS, SEED_DIR, readSeed, seedFiles } from '../helpers/fuzz-seeds.js';
import { tempDir } from '../helpers/tmp.js';

if (process.env.UPDATE_FUZZ_SEEDS) {
  mkdirSync(SEED_DIR, { recursive: true });
  for (const [name, content] of Object.entries(seedFiles())) writeFileSync(join(SEED_DIR, name), content instanceof Uint8Array ? content : modelToBytes(content));
}

const ctx = fuzzContext(tempDir('lion-onnx-seeds-'));
afterAll(() => ctx.sandbox.close());

describe('fuzz seed corpus', () => {
  it('the committed seeds are what the generator makes', () => {
    for (const [name, content] of Object.entries(seedFiles())) {
      const expected = content instanceof Uint8Array ? content : modelToBytes(content);
      expect(Buffer.compare(readFileSync(join(SEED_DIR, name)), expected), `${name} differs; regenerate with UPDATE_FUZZ_SEEDS=1`).toBe(0);
    }
  });

  for (const seed of ONNX_SEEDS)
    it(`${seed.file} (${seed.kind}) is inspected, built or rewritten, trained and exported`, { timeout: 60_000 }, async () => {
      expect(await runOnnxInput(ctx, readSeed(seed.file), seed)).toBe('exported');
    });

  it('the .npy seeds decode', () => {
    for (const f of NPY_SEEDS) expect(decodeNpy(readSeed(f), f).dims[0]).toBe(8);
  });
});
