/**
 * Pad, Resize, ConvTranspose, GroupNorm/InstanceNorm and Einsum gradients against PyTorch: small
 * modules exported by torch.onnx.export (opset 16) with torch.autograd's float64 gradients of
 * L = sum(y · R) (test/fixtures/torch-layers, made by scripts/torch/make_layer_fixtures.py): a
 * decoder (ConvTranspose, GroupNorm, reflect / replicate / constant pads, nearest and bilinear
 * upsampling with scales and with sizes, align_corners) and einsum attention. lion-onnx's backward
 * graph runs in float32 on the exported model; every gradient, inputs and initializers, agrees
 * with torch's.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { buildBackward } from '../../src/grad/backward.js';
import { GraphBuilder } from '../../src/ir/builder.js';
import { loadModel } from '../../src/ir/model-io.js';
import { DataType } from '../../src/onnx/data-types.js';
import { session } from './check-vjp.js';
import { REPO } from '../helpers/cli.js';

interface Fixture {
  inputs: Record<string, { shape: number[]; values: number[] }>;
  outputs: string[];
  lossWeights: Record<string, { shape: number[]; values: number[] }>;
  loss: number;
  grads: Record<string, number[]>;
}

/** float32 forward and backward against float64 gradients: |error| / max(1, max |grad|). */
const TOL = 2e-5;

describe('Pad, Resize, ConvTranspose, normalization and Einsum gradients equal PyTorch’s', () => {
  for (const [name, ops] of [
    ['decoder', ['ConvTranspose', 'InstanceNormalization', 'Pad', 'Resize']],
    ['einsum-attention', ['Einsum']],
  ] as const)
    it(name, async () => {
      const dir = join(REPO, 'test/fixtures/torch-layers', name);
      const fx = JSON.parse(readFileSync(join(dir, 'grads.json'), 'utf8')) as Fixture;
      const m = loadModel(join(dir, 'model.onnx'));
      const g = m.graph;
      for (const op of ops) expect(g.nodes.map((n) => n.opType)).toContain(op);
      const b = new GraphBuilder(g);
      const terms = fx.outputs.map((o) => b.op('ReduceSum', [b.op('Mul', [o, b.constant(`${o}_r`, DataType.FLOAT, fx.lossWeights[o].shape, fx.lossWeights[o].values)])], { keepdims: 0 }));
      const loss = terms.length === 1 ? b.op('Identity', terms, {}, 'L') : b.op('Sum', terms, {}, 'L');
      const params = Object.keys(fx.grads);
      const grads = buildBackward(g, { loss, params, opset: 16 });
      g.outputs = [{ name: loss }, ...params.map((p) => ({ name: grads.get(p)! }))];
      const s = await session(m);
      const feeds = Object.fromEntries(Object.entries(fx.inputs).map(([k, v]) => [k, new ort.Tensor('float32', Float32Array.from(v.values), v.shape)]));
      const out = await s.run(feeds);
      await s.release();
      expect(Math.abs((out[loss].data as Float32Array)[0] - fx.loss)).toBeLessThan(TOL * Math.max(1, Math.abs(fx.loss)));
      for (const p of params) {
        const got = Array.from(out[grads.get(p)!].data as Float32Array);
        expect(got.length, p).toBe(fx.grads[p].length);
        const scale = Math.max(1, ...fx.grads[p].map(Math.abs));
        const diff = Math.max(...got.map((v, i) => Math.abs(v - fx.grads[p][i])));
        if (process.env.VJP_LOG) console.log(`torch ${name} ${p}: max |lion-onnx - torch| = ${diff.toExponential(2)} (max |grad| ${scale.toFixed(3)})`);
        expect(diff / scale, p).toBeLessThan(TOL);
      }
    });
});
