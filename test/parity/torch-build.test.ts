/**
 * Parity with PyTorch: each fixture in test/fixtures/torch/ (scripts/torch/make_fixtures.py, the
 * reference Lion of google/automl lion_pytorch.py) is built with `buildFromFile` and trained 32
 * steps by a TrainingSession on the same batches in the same order (batch i = rows (i mod 4)·8..+8).
 * The per-step losses must reproduce PyTorch's and the parameters must end with its L2 norms.
 *
 * The reference puts every parameter in one group with weight decay, so the build has no
 * no-decay group.
 *
 * Final-norm tolerance. On the machine these were written on the parameters end bit-identical to
 * PyTorch's (relative norm error 0), but Lion takes sign(c), so a gradient entry within rounding of
 * 0 can flip on another CPU / kernel path and move that entry by 2·lr; hence 1e-2 relative for
 * ordinary parameters. One parameter is special: the key bias of attention (transformer
 * 'k.bias') has a mathematically zero gradient (q·(k+b) adds the same q·b to every key's score,
 * and softmax ignores a constant shift), so both PyTorch and we update it with the sign of
 * rounding noise (|momentum| ~1e-11 here), a random walk of ±lr per entry per step that no two
 * implementations share. Such parameters are recognised by their momentum (below 1e-7 in
 * max-abs, while real gradients here give >= 8e-4) and get 5e-2 relative (observed 4.9e-3).
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildFromFile } from '../../src/api/build.js';
import { TrainingSession } from '../../src/runtime/training-session.js';
import { readNpy } from '../../src/data/npy.js';
import type { TypedArray } from '../../src/onnx/data-types.js';
import { REPO } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';
import { FIXTURES, fixtureDir, trajectory, FIRST_STEPS, FIRST_TOL, ALL_TOL, maxRelError, type Trajectory } from './fixtures.js';


const NORM_TOL = 1e-2;
const NOISE_NORM_TOL = 5e-2;
const NOISE_MOMENTUM = 1e-7;
/** Parameters whose true gradient is identically zero (see above). */
const ZERO_GRADIENT: Record<string, string[]> = { mlp: [], cnn: [], transformer: ['k.bias'] };

function rows(data: TypedArray, dims: readonly number[], start: number, count: number): { data: TypedArray; dims: number[] } {
  const per = dims.slice(1).reduce((a, b) => a * b, 1);
  return { data: data.subarray(start * per, (start + count) * per) as TypedArray, dims: [count, ...dims.slice(1)] };
}

function l2(data: Float32Array): number {
  let s = 0;
  for (const v of data) s += v * v;
  return Math.sqrt(s);
}

const dir = tempDir('lion-onnx-parity-');

describe.each(FIXTURES)('PyTorch parity, buildFromFile + TrainingSession: %s', (name) => {
  it('trains the model’s own parameters and reproduces the reference losses and final norms', async () => {
    const t = trajectory(name);
    const fx = fixtureDir(name);
    const out = join(dir, name);
    const manifest = buildFromFile(join(fx, 'model.onnx'), out, {
      loss: 'cross-entropy',
      hyperparameters: { beta1: t.beta1, beta2: t.beta2, weightDecay: t.weight_decay },
    });
    // Parameters under PyTorch's names, exactly model.named_parameters(); all decayed.
    expect(manifest.parameters.map((p) => p.name).sort()).toEqual([...t.params].sort());
    expect(manifest.parameters.every((p) => p.group === 'decay')).toBe(true);
    expect([...manifest.dataInputs].sort()).toEqual([t.input, t.target].sort());
    expect(manifest.optimizer).toMatchObject({ name: 'lion', hyperparameters: { beta1: t.beta1, beta2: t.beta2, weightDecay: t.weight_decay } });

    const x = readNpy(join(fx, `${t.input}.npy`));
    const y = readNpy(join(fx, `${t.target}.npy`));
    const B = t.batch_size;
    const nBatches = x.dims[0] / B;
    expect(nBatches).toBe(4);
    const session = await TrainingSession.create(out, { lr: t.lr });
    try {
      const losses: number[] = [];
      for (let i = 0; i < t.steps; i++) {
        const r0 = (i % nBatches) * B;
        const info = await session.step({ [t.input]: rows(x.data as TypedArray, x.dims, r0, B), [t.target]: rows(y.data as TypedArray, y.dims, r0, B) });
        losses.push(info.loss);
      }
      const e5 = maxRelError(losses, t.losses, FIRST_STEPS);
      const eAll = maxRelError(losses, t.losses);

      const noise: string[] = [];
      let eNorm = 0;
      let eNoise = 0;
      for (const p of t.params) {
        const norm = l2(session.getParameter(p).data as Float32Array);
        const err = Math.abs(norm - t.final_param_l2[p]) / t.final_param_l2[p];
        const m = session.getState(p)[0].data as Float32Array;
        if (m.reduce((a, v) => Math.max(a, Math.abs(v)), 0) < NOISE_MOMENTUM) {
          noise.push(p);
          eNoise = Math.max(eNoise, err);
          expect(err, `final L2 norm of '${p}' (zero-gradient parameter)`).toBeLessThan(NOISE_NORM_TOL);
        } else {
          eNorm = Math.max(eNorm, err);
          expect(err, `final L2 norm of '${p}'`).toBeLessThan(NORM_TOL);
        }
      }
      console.log(
        `${name}: loss max rel error, first ${FIRST_STEPS}: ${e5.toExponential(2)}, all ${t.steps}: ${eAll.toExponential(2)}; ` +
          `final L2 max rel error ${eNorm.toExponential(2)}${noise.length ? `, zero-gradient ${noise.join(', ')}: ${eNoise.toExponential(2)}` : ''}`,
      );
      expect(e5).toBeLessThan(FIRST_TOL);
      expect(eAll).toBeLessThan(ALL_TOL);
      expect(noise).toEqual(ZERO_GRADIENT[name]);
    } finally {
      await session.dispose();
    }
  });
});
