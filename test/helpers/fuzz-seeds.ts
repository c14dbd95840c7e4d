/**
 * The fuzzers' seed corpus (test/fixtures/fuzz/seed/): a few small valid models and arrays,
 * each exercising different code (Gemm MLP, Conv, LayerNorm, an If subgraph, a training graph
 * for `rewrite`, a real torch export). test/fuzz/seed-corpus.test.ts checks that every seed is
 * accepted end to end, and rewrites the files when UPDATE_FUZZ_SEEDS=1.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DataType } from '../../src/onnx/data-types.js';
import { makeTensor } from '../../src/onnx/tensor.js';
import { AttrType, Graph, type Model } from '../../src/ir/graph.js';
import { tensorType } from '../../src/ir/value-type.js';
import { appendLoss } from '../../src/grad/losses.js';
import { buildBackward } from '../../src/grad/backward.js';
import { encodeNpy } from '../../src/data/npy.js';
import type { LossKind } from '../../src/grad/losses.js';
import { REPO } from './cli.js';
import { normals, rng } from './graphs.js';

export const SEED_DIR = join(REPO, 'test/fixtures/fuzz/seed');

export interface OnnxSeed {
  file: string;
  /** inference: goes through build with `loss`; training: through rewrite (gradients `<p>_grad`). */
  kind: 'inference' | 'training';
  loss: LossKind;
  /** .npy files (in SEED_DIR) for the data inputs, by input name. */
  data: Record<string, string>;
}

export const ONNX_SEEDS: OnnxSeed[] = [
  { file: 'mlp.onnx', kind: 'inference', loss: 'cross-entropy', data: { x: 'x4.npy', target: 'target3.npy' } },
  { file: 'cnn.onnx', kind: 'inference', loss: 'cross-entropy', data: { image: 'image.npy', target: 'target3.npy' } },
  { file: 'norm.onnx', kind: 'inference', loss: 'mse', data: { x: 'x4.npy', target: 'y2.npy' } },
  { file: 'if.onnx', kind: 'inference', loss: 'mse', data: { x: 'x4.npy', target: 'x4.npy' } },
  { file: 'training.onnx', kind: 'training', loss: 'mse', data: { x: 'x4.npy', target: 'y2.npy' } },
  { file: 'torch-mlp.onnx', kind: 'inference', loss: 'cross-entropy', data: { x: 'torch-x.npy', target: 'torch-target.npy' } },
];

export const NPY_SEEDS = ['x4.npy', 'target3.npy', 'y2.npy', 'image.npy'];

export function readSeed(file: string): Uint8Array {
  return new Uint8Array(readFileSync(join(SEED_DIR, file)));
}

const F = DataType.FLOAT;
const ROWS = 8;

function weights(name: string, dims: number[], seed: number) {
  const n = dims.reduce((a, b) => a * b, 1);
  return makeTensor(name, F, dims, normals(rng(seed), n).map((v) => v * 0.5));
}

function base(graph: Graph, opset = 17): Model {
  return { irVersion: 8, opsetImports: [{ domain: '', version: opset }], producerName: 'lion-onnx fuzz seeds', producerVersion: '1', graph };
}

/** x [batch, 4] -> Gemm -> Relu -> Gemm -> logits [batch, 3], with names, doc strings and metadata. */
export function mlpSeed(): Model {
  const g = new Graph();
  g.name = 'mlp';
  g.docString = 'a two-layer perceptron';
  g.inputs = [{ name: 'x', type: tensorType(F, ['batch', 4]), docString: 'features' }];
  g.outputs = [{ name: 'logits', type: tensorType(F, ['batch', 3]) }];
  g.initializers = [weights('fc1.weight', [8, 4], 1), weights('fc1.bias', [8], 2), weights('fc2.weight', [3, 8], 3), weights('fc2.bias', [3], 4)];
  g.valueInfo = [{ name: 'h', type: tensorType(F, ['batch', 8]) }];
  g.nodes = [
    { opType: 'Gemm', inputs: ['x', 'fc1.weight', 'fc1.bias'], outputs: ['h0'], name: 'fc1', docString: 'first layer', attributes: [{ name: 'transB', type: AttrType.INT, value: 1 }] },
    { opType: 'Relu', inputs: ['h0'], outputs: ['h'], name: 'relu', attributes: [] },
    { opType: 'Gemm', inputs: ['h', 'fc2.weight', 'fc2.bias'], outputs: ['logits'], name: 'fc2', attributes: [{ name: 'transB', type: AttrType.INT, value: 1 }] },
  ];
  const m = base(g);
  m.docString = 'seed model';
  m.metadataProps = [{ key: 'author', value: 'fuzz' }];
  return m;
}

/** image [batch, 1, 4, 4] -> Conv -> Relu -> MaxPool -> Flatten -> MatMul + Add -> logits [batch, 3]. */
export function cnnSeed(): Model {
  const g = new Graph();
  g.name = 'cnn';
  g.inputs = [{ name: 'image', type: tensorType(F, ['batch', 1, 4, 4]) }];
  g.outputs = [{ name: 'logits', type: tensorType(F, ['batch', 3]) }];
  g.initializers = [weights('conv.weight', [2, 1, 3, 3], 5), weights('conv.bias', [2], 6), weights('fc.weight', [2, 3], 7), weights('fc.bias', [3], 8)];
  const ints = (name: string, v: number[]) => ({ name, type: AttrType.INTS, value: v });
  g.nodes = [
    { opType: 'Conv', inputs: ['image', 'conv.weight', 'conv.bias'], outputs: ['c'], name: 'conv', attributes: [ints('kernel_shape', [3, 3]), ints('pads', [1, 1, 1, 1])] },
    { opType: 'Relu', inputs: ['c'], outputs: ['r'], name: 'relu', attributes: [] },
    { opType: 'MaxPool', inputs: ['r'], outputs: ['p'], name: 'pool', attributes: [ints('kernel_shape', [4, 4])] },
    { opType: 'Flatten', inputs: ['p'], outputs: ['f'], name: 'flatten', attributes: [{ name: 'axis', type: AttrType.INT, value: 1 }] },
    { opType: 'MatMul', inputs: ['f', 'fc.weight'], outputs: ['mm'], name: 'fc', attributes: [] },
    { opType: 'Add', inputs: ['mm', 'fc.bias'], outputs: ['logits'], name: 'fc_bias', attributes: [] },
  ];
  return base(g);
}

/** x [batch, 4] -> LayerNormalization -> MatMul -> Tanh -> Mul(Sigmoid) -> y [batch, 2] (mse). */
export function normSeed(): Model {
  const g = new Graph();
  g.name = 'norm';
  g.inputs = [{ name: 'x', type: tensorType(F, ['batch', 4]) }];
  g.outputs = [{ name: 'y', type: tensorType(F, ['batch', 2]) }];
  g.initializers = [weights('ln.scale', [4], 9), weights('ln.bias', [4], 10), weights('proj', [4, 2], 11)];
  g.nodes = [
    { opType: 'LayerNormalization', inputs: ['x', 'ln.scale', 'ln.bias'], outputs: ['n'], name: 'ln', attributes: [{ name: 'axis', type: AttrType.INT, value: -1 }] },
    { opType: 'MatMul', inputs: ['n', 'proj'], outputs: ['m'], name: 'proj', attributes: [] },
    { opType: 'Tanh', inputs: ['m'], outputs: ['t'], name: 'tanh', attributes: [] },
    { opType: 'Sigmoid', inputs: ['m'], outputs: ['s'], name: 'gate', attributes: [] },
    { opType: 'Mul', inputs: ['t', 's'], outputs: ['y'], name: 'mul', attributes: [] },
  ];
  return base(g);
}

/**
 * y = MatMul(x, W) + If(ReduceSum(x) > 0, then: x * a, else: x + b): a subgraph reading outer
 * values. a and b are trained through the If (its gradient is an If too,
 * grad/rules/control-flow.ts), so every emitted graph carries subgraphs.
 */
export function ifSeed(): Model {
  const branch = (name: string, op: string, constant: string) => {
    const b = new Graph();
    b.name = name;
    b.nodes = [{ opType: op, inputs: ['x', constant], outputs: [`${name}_out`], name: `${name}_${op}`, attributes: [] }];
    b.outputs = [{ name: `${name}_out`, type: tensorType(F, ['batch', 4]) }];
    return b;
  };
  const g = new Graph();
  g.name = 'if';
  g.inputs = [{ name: 'x', type: tensorType(F, ['batch', 4]) }];
  g.outputs = [{ name: 'y', type: tensorType(F, ['batch', 4]) }];
  g.initializers = [weights('W', [4, 4], 12), weights('onnx::a', [4], 15), weights('onnx::b', [4], 16), makeTensor('onnx::zero', F, [], [0])];
  g.nodes = [
    { opType: 'ReduceSum', inputs: ['x'], outputs: ['s'], name: 'sum', attributes: [{ name: 'keepdims', type: AttrType.INT, value: 0 }] },
    { opType: 'Greater', inputs: ['s', 'onnx::zero'], outputs: ['cond'], name: 'positive', attributes: [] },
    {
      opType: 'If',
      inputs: ['cond'],
      outputs: ['offset'],
      name: 'branch',
      attributes: [
        { name: 'then_branch', type: AttrType.GRAPH, value: branch('then', 'Mul', 'onnx::a') },
        { name: 'else_branch', type: AttrType.GRAPH, value: branch('else', 'Add', 'onnx::b') },
      ],
    },
    { opType: 'MatMul', inputs: ['x', 'W'], outputs: ['xw'], name: 'matmul', attributes: [] },
    { opType: 'Add', inputs: ['xw', 'offset'], outputs: ['y'], name: 'add', attributes: [] },
  ];
  return base(g);
}

/** A training graph as `rewrite` takes it: x -> MatMul(W) + b -> mse loss, with W_grad and b_grad. */
export function trainingSeed(): Model {
  const g = new Graph();
  g.name = 'training';
  g.inputs = [{ name: 'x', type: tensorType(F, ['batch', 4]) }];
  g.outputs = [{ name: 'y', type: tensorType(F, ['batch', 2]) }];
  g.initializers = [weights('W', [4, 2], 13), weights('b', [2], 14)];
  g.nodes = [
    { opType: 'MatMul', inputs: ['x', 'W'], outputs: ['xw'], name: 'matmul', attributes: [] },
    { opType: 'Add', inputs: ['xw', 'b'], outputs: ['y'], name: 'bias', attributes: [] },
  ];
  const { loss } = appendLoss(g, { kind: 'mse', output: 'y', opset: 17 });
  const grads = buildBackward(g, { loss, params: ['W', 'b'], opset: 17 });
  g.outputs = [{ name: loss, type: tensorType(F, []) }, ...[...grads.values()].map((name) => ({ name }))];
  return base(g);
}

function npyOf(dataType: number, dims: number[], values: ArrayLike<number>): Uint8Array {
  return encodeNpy(makeTensor('', dataType, dims, values));
}

/** Every seed file by name. */
export function seedFiles(): Record<string, Uint8Array | Model> {
  const r = rng(99);
  return {
    'mlp.onnx': mlpSeed(),
    'cnn.onnx': cnnSeed(),
    'norm.onnx': normSeed(),
    'if.onnx': ifSeed(),
    'training.onnx': trainingSeed(),
    'torch-mlp.onnx': new Uint8Array(readFileSync(join(REPO, 'test/fixtures/torch/mlp/model.onnx'))),
    'torch-x.npy': new Uint8Array(readFileSync(join(REPO, 'test/fixtures/torch/mlp/x.npy'))),
    'torch-target.npy': new Uint8Array(readFileSync(join(REPO, 'test/fixtures/torch/mlp/target.npy'))),
    'x4.npy': npyOf(F, [ROWS, 4], normals(r, ROWS * 4)),
    'y2.npy': npyOf(F, [ROWS, 2], normals(r, ROWS * 2)),
    'image.npy': npyOf(F, [ROWS, 1, 4, 4], normals(r, ROWS * 16)),
    'target3.npy': npyOf(DataType.INT64, [ROWS], Array.from({ length: ROWS }, (_, i) => i % 3)),
  };
}
