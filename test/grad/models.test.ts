/**
 * Whole torch-exported models (test/fixtures/torch: an MLP, a CNN, a small transformer with a
 * symbolic batch dim): loss + backward built by appendLoss and buildBackward, then each
 * parameter's gradient g checked against a central finite difference of the loss along g/|g|,
 * which must equal |g| (it does only when g has the right direction and the right size).
 * float32 models, so the tolerance is loose; the per-op float64 checks are in rules.test.ts.
 */
import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { buildBackward } from '../../src/grad/backward.js';
import { appendLoss, type LossKind } from '../../src/grad/losses.js';
import { cloneModel } from '../../src/ir/clone.js';
import { defaultOpset, type Model } from '../../src/ir/graph.js';
import { loadModel } from '../../src/ir/model-io.js';
import { readNpy } from '../../src/data/npy.js';
import type { Tensor } from '../../src/onnx/tensor.js';
import { session } from './check-vjp.js';

const ROOT = 'test/fixtures/torch';

/** Params become plain inputs so finite differences can feed perturbed values. */
function withParamsAsInputs(model: Model, params: string[]): Map<string, Float32Array> {
  const g = model.graph;
  const values = new Map<string, Float32Array>();
  for (const p of params) {
    const t = g.initializer(p)!;
    values.set(p, Float32Array.from(t.data as Float32Array));
    g.inputs.push({ name: p, type: { tensor_type: { elem_type: t.dataType, shape: { dim: t.dims.map((d) => ({ dim_value: d })) } } } });
  }
  g.initializers = g.initializers.filter((t) => !params.includes(t.name));
  return values;
}

function firstRows(t: Tensor, rows: number): ort.Tensor {
  const per = t.dims.slice(1).reduce((a, b) => a * b, 1);
  const dims = [rows, ...t.dims.slice(1)];
  if (t.data instanceof BigInt64Array) return new ort.Tensor('int64', t.data.slice(0, rows * per), dims);
  return new ort.Tensor('float32', (t.data as Float32Array).slice(0, rows * per), dims);
}

describe.each(['mlp', 'cnn', 'transformer'])('%s fixture', (name) => {
  it('has gradients that match finite differences of the loss', async () => {
    const meta = JSON.parse(readFileSync(`${ROOT}/${name}/trajectory.json`, 'utf8')) as { loss: LossKind; input: string; params: string[] };
    const source = loadModel(`${ROOT}/${name}/model.onnx`);
    const opset = Math.max(16, defaultOpset(source));
    source.opsetImports = source.opsetImports.map((o) => (!o.domain || o.domain === 'ai.onnx' ? { ...o, version: opset } : o));
    const { loss, target } = appendLoss(source.graph, { kind: meta.loss, output: source.graph.outputs[0].name, opset });
    source.graph.outputs = [{ name: loss }];

    const fwd = cloneModel(source);
    const params = withParamsAsInputs(fwd, meta.params);
    const train = cloneModel(source);
    const grads = buildBackward(train.graph, { loss, params: meta.params, opset });
    train.graph.outputs.push(...meta.params.map((p) => ({ name: grads.get(p)! })));
    withParamsAsInputs(train, meta.params);

    const batch: Record<string, ort.Tensor> = {
      [meta.input]: firstRows(readNpy(`${ROOT}/${name}/${meta.input}.npy`), 4),
      [target]: firstRows(readNpy(`${ROOT}/${name}/target.npy`), 4),
    };
    const feeds = (override?: [string, Float32Array]) => {
      const f = { ...batch };
      for (const [p, v] of params) {
        const dims = fwd.graph.input(p)!.type!.tensor_type!.shape!.dim!.map((d) => Number(d.dim_value));
        f[p] = new ort.Tensor('float32', override?.[0] === p ? override[1] : v, dims);
      }
      return f;
    };
    const sTrain = await session(train);
    const sFwd = await session(fwd);
    const out = await sTrain.run(feeds());
    const failures: string[] = [];
    const eps = 1e-2;
    for (const p of meta.params) {
      const g = out[grads.get(p)!].data as Float32Array;
      const norm = Math.hypot(...g);
      if (norm < 1e-6) continue;
      const at = async (s: number) => {
        const v = params.get(p)!.map((x, i) => x + (s * eps * g[i]) / norm);
        return Number((await sFwd.run(feeds([p, v])))[loss].data[0]);
      };
      const numeric = ((await at(1)) - (await at(-1))) / (2 * eps);
      if (!(Math.abs(numeric - norm) <= 2e-4 + 2e-2 * norm)) failures.push(`${p}: |g| = ${norm}, finite difference along g/|g| = ${numeric}`);
    }
    await sTrain.release();
    await sFwd.release();
    expect(failures).toEqual([]);
  }, 30_000);
});
