/**
 * `lion-onnx inspect` on the shipped training graph and an exported inference model: opsets,
 * IR version, inputs/outputs with shapes, parameter count and bytes, (param, grad) pairs, op
 * types — the numbers checked against the models' known contents.
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { REPO, runCli } from '../helpers/cli.js';

describe('lion-onnx inspect', () => {
  it('--json reports the hand-built training graph', () => {
    const r = runCli(['inspect', join(REPO, 'models/mlp_training.onnx'), '--json']);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.irVersion).toBe(7);
    expect(j.opsets).toEqual([{ domain: 'ai.onnx', version: 13 }]);
    expect(j.inputs).toEqual([
      { name: 'x', dtype: 'float32', shape: ['batch', 16] },
      { name: 'target', dtype: 'float32', shape: ['batch', 4] },
    ]);
    expect(j.outputs[0]).toEqual({ name: 'loss', dtype: 'float32', shape: [] });
    // fc1 16x32 + 32, fc2 32x4 + 4 = 676 float32 values.
    expect(j.initializers).toEqual({ count: 4, elements: 676, bytes: 2704, external: 0 });
    expect(j.gradientPairs).toEqual(['fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias'].map((p) => ({ param: p, grad: `${p}_grad` })));
    expect(j.opTypes.MatMul).toBe(5);
    expect(j.opTypes.LogSoftmax).toBe(1);
  });

  it('prints a readable summary of an inference model', () => {
    const r = runCli(['inspect', join(REPO, 'models/mnist_cnn.onnx')]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('image: float32 [batch, 1, 28, 28]');
    expect(r.stdout).toContain('logits: float32 [batch, 10]');
    expect(r.stdout).toMatch(/initializers: 6 tensors, [\d,]+ values/);
    expect(r.stdout).toContain('gradient pairs: none');
    expect(r.stdout).toMatch(/op types: Conv 2, Flatten 1, Gemm 1, MaxPool 2, Relu 2/);
  });
});
