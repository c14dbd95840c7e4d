/**
 * The shipped hand-built MLP training graph (models/mlp_training.onnx), rewritten by insert-lion
 * and run 50 steps: the loss falls, and every step matches the Float64 reference Lion fed the
 * same gradients (computed by the unmodified training graph from the same parameters).
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { loadModel, modelToBytes } from '../../src/ir/model-io.js';
import { tensorType } from '../../src/ir/value-type.js';
import { readNpy } from '../../src/data/npy.js';
import { rewriteTrainingModel } from '../../src/api/rewrite.js';
import { TrainingSession } from '../../src/runtime/training-session.js';
import { REPO } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';
import { lion64Step, ulpsApart } from '../reference/lion64.js';

const MODEL = join(REPO, 'models/mlp_training.onnx');
const dir = tempDir();

/** The training graph with its parameters turned into inputs, to get gradients for any params. */
async function gradientSession() {
  const m = loadModel(MODEL);
  for (const t of m.graph.initializers) m.graph.inputs.push({ name: t.name, type: tensorType(t.dataType, t.dims) });
  m.graph.initializers = [];
  return ort.InferenceSession.create(modelToBytes(m));
}

describe('hand-built MLP training graph through rewrite', () => {
  it('trains 50 steps, loss falls, each step matches the reference Lion on the same gradients', async () => {
    const out = join(dir, 'mlp');
    const hyper = { beta1: 0.9, beta2: 0.99, weightDecay: 0.1 };
    const manifest = rewriteTrainingModel(MODEL, out, { hyperparameters: hyper, groups: { noDecay: 'bias' } });
    expect(manifest.dataInputs).toEqual(['x', 'target']);
    expect(manifest.loss?.name).toBe('loss');
    const lr = 0.01;
    const session = await TrainingSession.create(out, { lr });
    const runner = {
      tensor: (name: string) => {
        const p = manifest.parameters.find((x) => x.name === name || x.state?.[0].name === name)!;
        return name === p.name ? session.getParameter(name) : session.getState(p.name)[0];
      },
      step: (batch: Record<string, ort.Tensor>) => session.step(batch),
      dispose: () => session.dispose(),
    };
    const grads = await gradientSession();
    const x = readNpy(join(REPO, 'models/mlp_training_data/x.npy')).data as Float32Array;
    const y = readNpy(join(REPO, 'models/mlp_training_data/target.npy')).data as Float32Array;
    const B = 16;
    const losses: number[] = [];
    let worst = 0;
    let nearZeroC = 0;
    for (let step = 0; step < 50; step++) {
      const r0 = (step % 4) * B;
      const batch = {
        x: new ort.Tensor('float32', x.slice(r0 * 16, (r0 + B) * 16), [B, 16]),
        target: new ort.Tensor('float32', y.slice(r0 * 4, (r0 + B) * 4), [B, 4]),
      };
      const params = Object.fromEntries(manifest.parameters.map((p) => [p.name, runner.tensor(p.name).data as Float32Array]));
      const moms = Object.fromEntries(manifest.parameters.map((p) => [p.name, runner.tensor(p.state![0].name).data as Float32Array]));
      const gOut = await grads.run({ ...batch, ...Object.fromEntries(manifest.parameters.map((p) => [p.name, new ort.Tensor('float32', params[p.name], p.shape)])) });
      const { loss } = await runner.step(batch);
      expect(loss).toBe((gOut.loss.data as Float32Array)[0]);
      losses.push(loss!);
      for (const p of manifest.parameters) {
        const g = gOut[p.grad].data as Float32Array;
        const wd = p.group === 'decay' ? hyper.weightDecay : 0;
        const ref = lion64Step({ p: Float64Array.from(params[p.name]), m: Float64Array.from(moms[p.name]) }, g, { lr, beta1: hyper.beta1, beta2: hyper.beta2, weightDecay: wd });
        const newP = runner.tensor(p.name).data as Float32Array;
        const newM = runner.tensor(p.state![0].name).data as Float32Array;
        for (let i = 0; i < newP.length; i++) {
          // Where c is within float32 rounding of 0 the two signs may legitimately differ.
          const cScale = Math.max(Math.abs(hyper.beta1 * moms[p.name][i]), Math.abs(0.1 * g[i]));
          if (ref.c[i] !== 0 && Math.abs(ref.c[i]) <= cScale * 2 ** -22) {
            nearZeroC++;
            continue;
          }
          worst = Math.max(
            worst,
            ulpsApart(newP[i], ref.p[i], Math.max(Math.abs(params[p.name][i]), lr)),
            ulpsApart(newM[i], ref.m[i], Math.max(Math.abs(0.99 * moms[p.name][i]), Math.abs(0.01 * g[i]))),
          );
        }
      }
    }
    expect(worst).toBeLessThanOrEqual(2);
    expect(nearZeroC).toBeLessThan(20);
    const first = losses.slice(0, 4).reduce((a, b) => a + b) / 4;
    const last = losses.slice(-4).reduce((a, b) => a + b) / 4;
    expect(last).toBeLessThan(0.6 * first);
    await runner.dispose();
  });
});
