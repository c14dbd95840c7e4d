/**
 * Sessions specialized to the fed shapes (runtime/specialized-sessions.ts): the same training
 * as the general graphs, bit for bit, on a torch transformer full of shape plumbing; one session
 * per batch shape, a bounded number of them; data that does not fit still fails in one line.
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { ArrayDataset } from '../../src/data/dataset.js';
import { readNpy } from '../../src/data/npy.js';
import { buildFromFile } from '../../src/api/build.js';
import { TrainingSession } from '../../src/runtime/training-session.js';
import { REPO } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

const dir = tempDir('lion-onnx-specialized-');
const FX = join(REPO, 'test/fixtures/torch-default/transformer-op17');

describe('specialized sessions', { timeout: 120_000 }, () => {
  const art = join(dir, 'transformer');
  buildFromFile(join(FX, 'model.onnx'), art, { loss: 'cross-entropy' });
  const arrays = new Map([['tokens', readNpy(join(FX, 'tokens.npy'), 'tokens')], ['target', readNpy(join(FX, 'target.npy'), 'target')]]);

  async function run(specialize: boolean, k: number) {
    const s = await TrainingSession.create(art, { lr: 1e-3, specialize, stepsPerRun: k });
    const ds = new ArrayDataset(arrays, { batchSize: 4, shuffle: false });
    const losses: number[] = [];
    for (let i = 0; i < 3; i++) losses.push(...(k === 1 ? [await s.step(ds.next())] : await s.stepStacked(ds.nextSteps(k), k)).map((x) => x.loss));
    const params = s.parameterNames.map((n) => Array.from(s.getParameter(n).data as Float32Array));
    await s.dispose();
    return { losses, params };
  }

  it.each([1, 4])('k = %i: the specialized graphs train exactly as the general ones', async (k) => {
    const a = await run(true, k);
    const b = await run(false, k);
    expect(a.losses.every(Number.isFinite)).toBe(true);
    expect(a.losses).toEqual(b.losses);
    expect(a.params).toEqual(b.params);
  });

  it('one session per batch shape, at most three, then the general graph', async () => {
    const s = await TrainingSession.create(art, { lr: 1e-3 });
    for (const rows of [4, 4, 2, 3, 1, 4]) {
      const ds = new ArrayDataset(arrays, { batchSize: rows, shuffle: false });
      expect(Number.isFinite((await s.step(ds.next())).loss)).toBe(true);
    }
    expect((s as unknown as { steps: { count: number } }).steps.count).toBe(3);
    await s.dispose();
  });
});
