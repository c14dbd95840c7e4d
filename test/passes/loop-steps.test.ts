/**
 * loop-steps: K steps inside one ONNX Loop are bitwise identical to K single steps — losses,
 * parameters, momenta, per-step learning rates from a schedule, a frozen parameter, and a
 * non-finite step skipped in the middle of the loop.
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { insertLion } from '../../src/passes/optimizer/insert-optimizer.js';
import { loopSteps } from '../../src/passes/runtime/loop-steps.js';
import { writeArtifacts } from '../../src/artifacts/write.js';
import { runtimeGraphs } from '../../src/passes/pipeline.js';
import { TrainingSession } from '../../src/runtime/training-session.js';
import { buildFromFile } from '../../src/api/build.js';
import { readNpy } from '../../src/data/npy.js';
import { ArrayDataset } from '../../src/data/dataset.js';
import { gradientsAsInputs, normals, rng } from '../helpers/graphs.js';
import { REPO } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

const dir = tempDir();

function state(s: TrainingSession): number[] {
  return s.manifest.parameters.flatMap((p) => [...(s.getParameter(p.name).data as Float32Array), ...(p.state ? (s.getState(p.name)[0].data as Float32Array) : [])]);
}

describe('loop-steps', () => {
  it('has the step graph inputs, data stacked on a new axis and lr as a vector', () => {
    const program = insertLion(gradientsAsInputs({ w: { dims: [3], values: [1, 2, 3] } }));
    const loop = loopSteps(program);
    expect(loop.graph.inputs.map((i) => i.name)).toEqual(program.model.graph.inputs.map((i) => i.name));
    expect(loop.graph.outputs.map((o) => o.name)).toEqual(['w.out', 'w.lion_m.out', 'optimizer.nonfinite']);
    expect(loop.graph.nodes.find((n) => n.opType === 'Loop')).toBeDefined();
  });

  it('K steps in one run equal K single steps, bitwise: schedule, frozen parameter, a skipped NaN step', async () => {
    const r = rng(3);
    const params = { a: { dims: [4], values: normals(r, 4) }, frozen_b: { dims: [2], values: [5, 6] } };
    const out = join(dir, 'grads');
    writeArtifacts(out, runtimeGraphs(insertLion(gradientsAsInputs(params), { groups: { frozen: 'frozen' }, hyperparameters: { weightDecay: 0.2 } })), { command: 'test' });
    const schedule = (step: number) => 0.01 / (1 + step);
    const single = await TrainingSession.create(out, { schedule });
    const looped = await TrainingSession.create(out, { schedule });
    const K = 6;
    const batches = Array.from({ length: K }, (_, i) => ({
      'g:a': { data: Float32Array.from(i === 3 ? [1, NaN, 0, 0] : normals(r, 4)), dims: [4] },
      'g:frozen_b': { data: Float32Array.from(normals(r, 2)), dims: [2] },
    }));
    const a = [];
    for (const b of batches) a.push(await single.step(b));
    const b = await looped.stepMany(batches);
    expect(b).toEqual(a);
    expect(b[3].skipped).toBe(true);
    expect(state(looped)).toEqual(state(single));
    expect(looped.skippedSteps).toBe(1);
    expect(looped.stepCount).toBe(K);
    await single.dispose();
    await looped.dispose();
  });

  it('a real model (the torch MLP fixture) trains the same with 1, 4 and 7 steps per run', async () => {
    const fx = join(REPO, 'test/fixtures/torch/mlp');
    const art = join(dir, 'mlp');
    buildFromFile(join(fx, 'model.onnx'), art, { loss: 'cross-entropy' });
    const arrays = new Map([
      ['x', readNpy(join(fx, 'x.npy'), 'x')],
      ['target', readNpy(join(fx, 'target.npy'), 'target')],
    ]);
    const results: { losses: number[]; state: number[] }[] = [];
    for (const k of [1, 4, 7]) {
      const s = await TrainingSession.create(art, { lr: 1e-3, stepsPerRun: k });
      const data = new ArrayDataset(arrays, { batchSize: 8, shuffle: true, seed: 9 });
      const losses: number[] = [];
      while (s.stepCount < 20) {
        const n = Math.min(k, 20 - s.stepCount);
        for (const info of await s.stepStacked(data.nextSteps(n), n)) losses.push(info.loss);
      }
      results.push({ losses, state: state(s) });
      await s.dispose();
    }
    expect(results[1]).toEqual(results[0]);
    expect(results[2]).toEqual(results[0]);
    expect(results[0].losses[19]).toBeLessThan(results[0].losses[0]);
  });
});
