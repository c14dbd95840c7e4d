/**
 * build-training on small hand-built models: which initializers become parameters, and the
 * bad inputs of the autodiff issue, each refused through the CLI with one line and exit 2.
 */
import { describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DataType } from '../../src/onnx/data-types.js';
import { makeTensor } from '../../src/onnx/tensor.js';
import { saveModel } from '../../src/ir/model-io.js';
import { Graph } from '../../src/ir/graph.js';
import { makeAttribute } from '../../src/ir/attributes.js';
import { tensorType } from '../../src/ir/value-type.js';
import { compileBuild } from '../../src/passes/pipeline.js';
import { REPO, runCli } from '../helpers/cli.js';
import { model, normals, rng } from '../helpers/graphs.js';
import { tempDir } from '../helpers/tmp.js';

const dir = tempDir();
const r = rng(7);

/** x [B,4] -> MatMul W [4,3] -> (op) -> y, plus an unused int64 initializer. */
function linearModel(op?: string, outType = DataType.FLOAT) {
  const g = new Graph();
  g.inputs.push({ name: 'x', type: tensorType(DataType.FLOAT, ['B', 4]) });
  g.initializers.push(makeTensor('w', DataType.FLOAT, [4, 3], normals(r, 12)));
  g.initializers.push(makeTensor('steps', DataType.INT64, [1], [3]));
  g.nodes.push({ opType: 'MatMul', inputs: ['x', 'w'], outputs: ['h'], attributes: [], name: 'mm' });
  if (op) g.nodes.push({ opType: op, inputs: ['h'], outputs: ['y'], attributes: op === 'ArgMax' ? [makeAttribute('axis', 1)] : [], name: 'last' });
  else g.nodes.push({ opType: 'Identity', inputs: ['h'], outputs: ['y'], attributes: [], name: 'last' });
  g.outputs.push({ name: 'y', type: tensorType(outType, ['B', op === 'ArgMax' ? 1 : 3]) });
  return model(g, 17);
}

function save(m: ReturnType<typeof linearModel>, name: string): string {
  const p = join(dir, name);
  saveModel(m, p);
  return p;
}

function expectRefused(args: string[], pattern: RegExp) {
  const out = join(dir, `out-${Math.random().toString(36).slice(2)}`);
  const res = runCli([...args, '--out', out]);
  expect(res.code, res.stderr).toBe(2);
  const lines = res.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^error: /);
  expect(lines[0]).toMatch(pattern);
  expect(existsSync(out)).toBe(false);
}

describe('build-training', () => {
  it('trains only initializers the loss reaches: BatchNormalization running statistics stay constants', () => {
    const g = new Graph();
    g.inputs.push({ name: 'x', type: tensorType(DataType.FLOAT, ['B', 2, 3, 3]) });
    g.initializers.push(makeTensor('conv.weight', DataType.FLOAT, [2, 2, 1, 1], normals(r, 4)));
    for (const [n, v] of [['bn.weight', [1, 1]], ['bn.bias', [0, 0]], ['bn.running_mean', [0.1, -0.2]], ['bn.running_var', [1.5, 0.5]]] as const)
      g.initializers.push(makeTensor(n, DataType.FLOAT, [2], v));
    g.nodes.push({ opType: 'Conv', inputs: ['x', 'conv.weight'], outputs: ['c'], attributes: [makeAttribute('kernel_shape', [1, 1])], name: 'conv' });
    g.nodes.push({ opType: 'BatchNormalization', inputs: ['c', 'bn.weight', 'bn.bias', 'bn.running_mean', 'bn.running_var'], outputs: ['b'], attributes: [], name: 'bn' });
    g.nodes.push({ opType: 'ReduceMean', inputs: ['b'], outputs: ['y'], attributes: [makeAttribute('axes', [2, 3]), makeAttribute('keepdims', 0)], name: 'pool' });
    g.outputs.push({ name: 'y', type: tensorType(DataType.FLOAT, ['B', 2]) });
    const p = compileBuild(model(g, 13), { loss: 'cross-entropy', hyperparameters: { weightDecay: 0.1 } });
    expect(p.step.parameters.map((x) => x.name)).toEqual(['conv.weight', 'bn.weight', 'bn.bias']);
    expect(p.step.model.graph.initializer('bn.running_mean')).toBeDefined();
    expect(p.step.model.opsetImports[0].version).toBe(16); // raised from 13
    expect(p.loss).toMatchObject({ kind: 'cross-entropy', modelOutput: 'y', target: 'target', classes: 2 });
  });

  it('refuses an op with no gradient rule, naming it and the node', () => {
    expectRefused(['build', save(linearModel('Tan'), 'tan.onnx'), '--loss', 'mse'], /no gradient rule for op Tan \(node 'last'/);
  });

  it('refuses a model output that does not fit the loss', () => {
    expectRefused(['build', save(linearModel('ArgMax', DataType.INT64), 'argmax.onnx'), '--loss', 'cross-entropy'], /int64|float/);
  });

  it('refuses patterns that freeze every parameter', () => {
    expectRefused(['build', save(linearModel(), 'lin.onnx'), '--loss', 'mse', '--frozen', '.'], /freezes all 1 parameters/);
  });

  it('refuses an integer-typed parameter', () => {
    expectRefused(['build', save(linearModel(), 'lin2.onnx'), '--loss', 'mse', '--params', 'w|steps'], /'steps', which is int64/);
  });

  it('refuses models below opset 7; builds an opset-9 model with a Softmax at axis 1 at opset 16', () => {
    const m = linearModel();
    m.opsetImports[0].version = 6;
    expectRefused(['build', save(m, 'old.onnx'), '--loss', 'mse'], /opset 6; lion-onnx upgrades opset 7 and later/);
    const m9 = linearModel('Softmax');
    m9.opsetImports[0].version = 9;
    const p = compileBuild(m9, { loss: 'mse' });
    expect(p.step.model.opsetImports[0].version).toBe(16);
    expect(p.step.model.graph.nodes.find((n) => n.opType === 'Softmax')!.attributes).toEqual([makeAttribute('axis', -1)]);
  });
});

describe('shape plumbing in the gradients (issue 15)', () => {
  it("the torch transformer's gradients reduce broadcasts over axes known at build time: no run-time axis search", async () => {
    const { loadModel } = await import('../../src/ir/model-io.js');
    const p = compileBuild(loadModel(join(REPO, 'test/fixtures/torch/transformer/model.onnx')), { loss: 'cross-entropy' });
    const ops = p.step.model.graph.nodes.map((n) => n.opType);
    // A dynamic unbroadcast is Shape, Equal, Not, And, NonZero, ReduceSum: 50 of them before the
    // symbolic batch was kept through Reshape's -1 and Expand to Shape(x).
    expect(ops.filter((o) => o === 'NonZero')).toHaveLength(0);
    expect(ops.length).toBeLessThan(1000);
  });
});
