/**
 * Every gradient rule against finite differences, one line per case (after JAX's
 * lax_autodiff_test): op, input shapes, attributes, opset, and where needed a tolerance.
 * `dynamic` declares the inputs with symbolic dims only, so the rules' run-time paths
 * (dynamic unbroadcast, Shape-based reshapes, ...) are the ones checked.
 */
import { describe, expect, it } from 'vitest';
import { DataType } from '../../src/onnx/data-types.js';
import { checkVjp, type InputSpec, type VjpSpec } from './check-vjp.js';

const x = (...shape: number[]): InputSpec => ({ shape });
/** Positive inputs (Sqrt, Log, divisors, Pow bases). */
const pos = (...shape: number[]): InputSpec => ({ shape, range: [0.5, 2] });
/** A constant int64 input (axes, shapes, indices, split sizes). */
const ints = (values: number[], shape = [values.length]): InputSpec => ({ shape, type: 'int64', values });
/** A constant float input that is not differentiated. */
const fixed = (values: number[], shape: number[] = []): InputSpec => ({ shape, values, grad: false, constant: true });

type Case = [name: string, spec: VjpSpec, tol?: number];

const cases: Case[] = [
  // Broadcasting binary ops: leading axes, size-1 axes, scalars, both sides broadcast.
  ['Add [2,3]+[3]', { op: 'Add', inputs: [x(2, 3), x(3)] }],
  ['Add [2,1,3]+[4,1]', { op: 'Add', inputs: [x(2, 1, 3), x(4, 1)] }],
  ['Add [2,3]+scalar', { op: 'Add', inputs: [x(2, 3), x()] }],
  ['Add dynamic [2,1,3]+[4,1]', { op: 'Add', inputs: [x(2, 1, 3), x(4, 1)], dynamic: true }],
  ['Sub [3,1]-[1,4]', { op: 'Sub', inputs: [x(3, 1), x(1, 4)] }],
  ['Sub dynamic [2,3,4]-[4]', { op: 'Sub', inputs: [x(2, 3, 4), x(4)], dynamic: true }],
  ['Mul [2,3]*[2,3]', { op: 'Mul', inputs: [x(2, 3), x(2, 3)] }],
  ['Mul [2,1,4]*[3,1]', { op: 'Mul', inputs: [x(2, 1, 4), x(3, 1)] }],
  ['Mul dynamic [2,3]*[1,3]', { op: 'Mul', inputs: [x(2, 3), x(1, 3)], dynamic: true }],
  ['Div [2,3]/[3]', { op: 'Div', inputs: [x(2, 3), pos(3)] }],
  ['Div [3]/[2,3]', { op: 'Div', inputs: [x(3), pos(2, 3)] }],
  ['Div [2,1]/[1,3] dynamic', { op: 'Div', inputs: [x(2, 1), pos(1, 3)], dynamic: true }],
  ['Pow base, constant exponent 3', { op: 'Pow', inputs: [x(2, 3), fixed([3])] }],
  ['Pow base, int64 exponent', { op: 'Pow', inputs: [x(2, 3), ints([2], [])] }],
  ['Pow base and exponent [2,3]^[3]', { op: 'Pow', inputs: [pos(2, 3), pos(3)] }],
  ['Max [2,3],[3]', { op: 'Max', inputs: [x(2, 3), x(3)] }],
  ['Min [2,1],[1,3],[3]', { op: 'Min', inputs: [x(2, 1), x(1, 3), x(3)] }],
  ['Sum [2,3],[3],[2,1]', { op: 'Sum', inputs: [x(2, 3), x(3), x(2, 1)] }],
  ['Mean [2,3],[3]', { op: 'Mean', inputs: [x(2, 3), x(3)] }],
  [
    'Where cond [2,3], X [2,1], Y [3]',
    { op: 'Where', inputs: [{ shape: [2, 3], type: 'bool', values: [1, 0, 1, 0, 0, 1] }, x(2, 1), x(3)] },
  ],
  ['Neg', { op: 'Neg', inputs: [x(2, 3)] }],

  // A value used twice: the engine must sum both contributions.
  ['Mul(x, x)', { inputs: [x(2, 3)], build: (b, [a]) => [b.op('Mul', [a, a])] }],
  ['x feeding two branches', { inputs: [x(2, 3)], build: (b, [a]) => [b.op('Mul', [b.op('Add', [b.op('Tanh', [a]), b.op('Exp', [a])]), a])] }],
  ['two outputs both in L', { inputs: [x(2, 3)], build: (b, [a]) => [b.op('Sigmoid', [a]), b.op('Relu', [a])] }],

  // Unary math.
  ['Sqrt', { op: 'Sqrt', inputs: [pos(2, 3)] }],
  ['Exp', { op: 'Exp', inputs: [x(2, 3)] }],
  ['Log', { op: 'Log', inputs: [pos(2, 3)] }],
  ['Tanh', { op: 'Tanh', inputs: [x(2, 3)] }],
  ['Sigmoid', { op: 'Sigmoid', inputs: [x(2, 3)] }],
  ['Relu', { op: 'Relu', inputs: [x(3, 4)] }],
  ['LeakyRelu alpha 0.2', { op: 'LeakyRelu', attrs: { alpha: { float: 0.2 } }, inputs: [x(3, 4)] }],
  ['LeakyRelu default alpha', { op: 'LeakyRelu', inputs: [x(3, 4)] }],
  ['Erf', { op: 'Erf', inputs: [x(2, 3)] }],
  ['Abs', { op: 'Abs', inputs: [x(3, 4)] }],
  ['Reciprocal', { op: 'Reciprocal', inputs: [pos(2, 3)] }],
  ['Softplus', { op: 'Softplus', inputs: [x(2, 3)] }],
  ['Clip with min and max', { op: 'Clip', inputs: [x(3, 4), fixed([-0.5]), fixed([0.5])] }],

  // MatMul: plain, batched, broadcast batch dims, 1-D operands.
  ['MatMul [3,4]@[4,5]', { op: 'MatMul', inputs: [x(3, 4), x(4, 5)] }],
  ['MatMul [2,3,4]@[4,5]', { op: 'MatMul', inputs: [x(2, 3, 4), x(4, 5)] }],
  ['MatMul [2,3,4]@[4,5] dynamic', { op: 'MatMul', inputs: [x(2, 3, 4), x(4, 5)], dynamic: true }],
  ['MatMul [2,1,3,4]@[3,4,2]', { op: 'MatMul', inputs: [x(2, 1, 3, 4), x(3, 4, 2)] }],
  ['MatMul [3,4]@[2,4,5]', { op: 'MatMul', inputs: [x(3, 4), x(2, 4, 5)] }],
  ['MatMul [4]@[4,5]', { op: 'MatMul', inputs: [x(4), x(4, 5)] }],
  ['MatMul [3,4]@[4]', { op: 'MatMul', inputs: [x(3, 4), x(4)] }],
  ['MatMul [4]@[4]', { op: 'MatMul', inputs: [x(4), x(4)] }],
  ['MatMul [2,3,4]@[4]', { op: 'MatMul', inputs: [x(2, 3, 4), x(4)] }],
  ['MatMul [4]@[2,4,3]', { op: 'MatMul', inputs: [x(4), x(2, 4, 3)] }],

  // Gemm: every transA/transB form, alpha/beta, C broadcast from [N], [M,1], scalar, or absent.
  ['Gemm plain, C [N]', { op: 'Gemm', inputs: [x(3, 4), x(4, 5), x(5)] }],
  ['Gemm transA alpha beta, C [M,1]', { op: 'Gemm', attrs: { transA: 1, alpha: { float: 0.5 }, beta: { float: 2 } }, inputs: [x(4, 3), x(4, 5), x(3, 1)] }],
  ['Gemm transB, C scalar', { op: 'Gemm', attrs: { transB: 1, beta: { float: -1.5 } }, inputs: [x(3, 4), x(5, 4), x()] }],
  ['Gemm transA transB alpha, C [M,N]', { op: 'Gemm', attrs: { transA: 1, transB: 1, alpha: { float: 3 } }, inputs: [x(4, 3), x(5, 4), x(3, 5)] }],
  ['Gemm no C', { op: 'Gemm', attrs: { transB: 1 }, inputs: [x(3, 4), x(5, 4)] }],

  // Shape ops, with the opset variants of Squeeze/Unsqueeze (attribute < 13, input >= 13).
  ['Reshape to [3,-1,2]', { op: 'Reshape', inputs: [x(2, 6), ints([3, -1, 2])] }],
  ['Reshape dynamic', { op: 'Reshape', inputs: [x(2, 6), ints([0, 3, 2])], dynamic: true }],
  ['Flatten axis 2', { op: 'Flatten', attrs: { axis: 2 }, inputs: [x(2, 3, 2, 2)] }],
  ['Squeeze opset 13 (axes input)', { op: 'Squeeze', inputs: [x(2, 1, 3, 1), ints([1, -1])], opset: 13 }],
  ['Squeeze opset 11 (axes attribute)', { op: 'Squeeze', attrs: { axes: [1] }, inputs: [x(2, 1, 3)], opset: 11 }],
  ['Squeeze no axes', { op: 'Squeeze', inputs: [x(2, 1, 3, 1)], opset: 18 }],
  ['Unsqueeze opset 13 (axes input)', { op: 'Unsqueeze', inputs: [x(2, 3), ints([0, -1])], opset: 13 }],
  ['Unsqueeze opset 18 dynamic', { op: 'Unsqueeze', inputs: [x(2, 3), ints([1])], opset: 18, dynamic: true }],
  ['Unsqueeze opset 11 (axes attribute)', { op: 'Unsqueeze', attrs: { axes: [0, 3] }, inputs: [x(2, 3)], opset: 11 }],
  ['Transpose perm [2,0,1]', { op: 'Transpose', attrs: { perm: [2, 0, 1] }, inputs: [x(2, 3, 4)] }],
  ['Transpose default perm', { op: 'Transpose', inputs: [x(2, 3, 4)] }],
  ['Expand [3,1] to [2,3,4]', { op: 'Expand', inputs: [x(3, 1), ints([2, 3, 4])] }],
  ['Expand dynamic', { op: 'Expand', inputs: [x(3, 1), ints([2, 1, 4])], dynamic: true }],
  ['Identity', { op: 'Identity', inputs: [x(2, 3)] }],
  ['Dropout (inference)', { op: 'Dropout', inputs: [x(2, 3)], opset: 13 }],
  [
    'Cast float32 -> float64 -> float32',
    {
      inputs: [x(2, 3)],
      dtype: 'float32',
      build: (b, [a]) => {
        const d = b.op('Cast', [a], { to: DataType.DOUBLE });
        return [b.op('Cast', [b.op('Mul', [d, d])], { to: DataType.FLOAT })];
      },
    },
  ],

  // Concat / Split / Slice.
  ['Concat axis 1', { op: 'Concat', attrs: { axis: 1 }, inputs: [x(2, 1), x(2, 3), x(2, 2)] }],
  ['Concat axis -1 dynamic', { op: 'Concat', attrs: { axis: -1 }, inputs: [x(2, 1), x(2, 3)], dynamic: true }],
  ['Concat opset 18', { op: 'Concat', attrs: { axis: 0 }, inputs: [x(1, 3), x(2, 3)], opset: 18 }],
  ['Concat opset 13 dynamic', { op: 'Concat', attrs: { axis: 0 }, inputs: [x(1, 3), x(2, 3)], opset: 13, dynamic: true }],
  ['Concat with a constant input', { op: 'Concat', attrs: { axis: 0 }, inputs: [x(2, 3), fixed([1, 2, 3], [1, 3])] }],
  ['Split opset 13 (split input)', { op: 'Split', attrs: { axis: 1 }, inputs: [x(2, 5), ints([2, 3])], outputs: 2, opset: 13 }],
  ['Split opset 18 num_outputs', { op: 'Split', attrs: { axis: 1, num_outputs: 2 }, inputs: [x(2, 5)], outputs: 2, opset: 18 }],
  ['Split, one output unused', { op: 'Split', attrs: { axis: 0 }, inputs: [x(4, 3), ints([1, 3])], outputs: 2, lossOutputs: [1] }],
  ['Split dynamic equal parts', { op: 'Split', attrs: { axis: -1 }, inputs: [x(2, 6)], outputs: 3, dynamic: true }],
  ['Slice steps 1 (Pad)', { op: 'Slice', inputs: [x(4, 5), ints([1, 1]), ints([3, 4])] }],
  ['Slice steps 2, axes given', { op: 'Slice', inputs: [x(4, 6), ints([1]), ints([6]), ints([1]), ints([2])] }],
  ['Slice negative indices, step -1', { op: 'Slice', inputs: [x(4, 5), ints([-1, -2]), ints([-5, 0]), ints([0, -1]), ints([-1, -1])] }],
  ['Slice end past the dim, negative axis', { op: 'Slice', inputs: [x(3, 4), ints([-3]), ints([1000]), ints([-1])] }],
  ['Slice dynamic, step 3', { op: 'Slice', inputs: [x(2, 7), ints([0]), ints([-1]), ints([1]), ints([3])], dynamic: true }],

  // Gather: repeated indices must accumulate.
  ['Gather embedding rows, repeated indices', { op: 'Gather', inputs: [x(5, 3), ints([1, 3, 1, 0, 1, 4], [2, 3])], opset: 16 }],
  ['Gather axis 1, negative and repeated indices', { op: 'Gather', attrs: { axis: 1 }, inputs: [x(2, 4, 3), ints([-1, 0, 3, 2, 3])], opset: 17 }],
  ['Gather axis -1, 2-D indices, dynamic', { op: 'Gather', attrs: { axis: -1 }, inputs: [x(2, 4), ints([0, 0, 3, -4], [2, 2])], opset: 18, dynamic: true }],
  ['Gather scalar index', { op: 'Gather', attrs: { axis: 0 }, inputs: [x(3, 2), ints([2], [])], opset: 16 }],
  ['Gather int32 indices', { op: 'Gather', inputs: [x(4, 2), { shape: [3], type: 'int32', values: [3, 3, 0] }], opset: 16 }],
  ['GatherElements axis 1, repeated', { op: 'GatherElements', attrs: { axis: 1 }, inputs: [x(2, 3), ints([0, 0, 2, 1, 1, 1, 0, 2], [2, 4])], opset: 16 }],

  // Reductions: axes attribute (< 13 / < 18) or input, keepdims, noop_with_empty_axes.
  ['ReduceSum opset 13 axes input keepdims 0', { op: 'ReduceSum', attrs: { keepdims: 0 }, inputs: [x(2, 3, 4), ints([0, -1])], opset: 13 }],
  ['ReduceSum opset 18 keepdims 1', { op: 'ReduceSum', inputs: [x(2, 3, 4), ints([1])], opset: 18 }],
  ['ReduceSum opset 11 axes attribute', { op: 'ReduceSum', attrs: { axes: [1], keepdims: 0 }, inputs: [x(2, 3, 4)], opset: 11 }],
  ['ReduceSum all axes', { op: 'ReduceSum', attrs: { keepdims: 0 }, inputs: [x(2, 3)], opset: 13 }],
  ['ReduceSum noop_with_empty_axes', { op: 'ReduceSum', attrs: { noop_with_empty_axes: 1 }, inputs: [x(2, 3)], opset: 13 }],
  ['ReduceSum axes fed at run time', { op: 'ReduceSum', attrs: { keepdims: 0 }, inputs: [x(2, 3, 4), { ...ints([2, 0]), constant: false }], opset: 13 }],
  ['ReduceMean opset 13 axes attribute keepdims 0', { op: 'ReduceMean', attrs: { axes: [-1], keepdims: 0 }, inputs: [x(2, 3, 4)], opset: 13 }],
  ['ReduceMean opset 18 axes input', { op: 'ReduceMean', inputs: [x(2, 3, 4), ints([0, 2])], opset: 18 }],
  ['ReduceMean all axes, dynamic', { op: 'ReduceMean', attrs: { keepdims: 0 }, inputs: [x(2, 3)], opset: 18, dynamic: true }],
  ['ReduceMean opset 18 dynamic keepdims 0', { op: 'ReduceMean', attrs: { keepdims: 0 }, inputs: [x(2, 3, 4), ints([1])], opset: 18, dynamic: true }],
];

/** Ops onnxruntime's CPU provider runs in float32 only: their checks fall back to float32. */
const NO_FLOAT64_KERNEL = new Set(['Erf', 'Softplus', 'Mean']);

describe('gradient rules against finite differences', () => {
  for (const [name, spec, tol] of cases)
    it(name, async () => {
      const r = await checkVjp(spec, tol === undefined ? {} : { tol });
      // A check on an all-zero gradient would pass for a rule that returns zeros.
      expect(r.maxGrad).toBeGreaterThan(1e-3);
      // The float32 fallback is for missing kernels only, never a way around a rule's bug.
      expect(r.dtype).toBe(spec.dtype === 'float32' || NO_FLOAT64_KERNEL.has(spec.op ?? '') ? 'float32' : 'float64');
    });
});
