/**
 * The Reduce* gradients and the n-ary Max/Min and Clip gradients against finite differences,
 * one line per case: axes as attribute (opset < 18) or input, keepdims 0/1,
 * noop_with_empty_axes, axes fed at run time, dynamic shapes. Ties are checked where central
 * differences see them: a tie of two gives each side half, which is what the rules give.
 */
import { describe, expect, it } from 'vitest';
import { checkVjp, type InputSpec, type VjpSpec } from './check-vjp.js';

const x = (...shape: number[]): InputSpec => ({ shape });
const pos = (...shape: number[]): InputSpec => ({ shape, range: [0.5, 2] });
const vals = (shape: number[], values: number[]): InputSpec => ({ shape, values });
const ints = (values: number[], shape = [values.length]): InputSpec => ({ shape, type: 'int64', values });
/** A scalar fed as a graph input and differentiated (Clip's bounds). */
const scalar = (v: number): InputSpec => ({ shape: [], values: [v] });

type Case = [name: string, spec: VjpSpec, tol?: number];

const cases: Case[] = [
  // ReduceMax / ReduceMin: distinct values, then ties (each of two tied elements gets half).
  ['ReduceMax opset 18 axes input keepdims 0', { op: 'ReduceMax', attrs: { keepdims: 0 }, inputs: [x(2, 3, 4), ints([1])], opset: 18 }],
  ['ReduceMax opset 13 axes attribute keepdims 1', { op: 'ReduceMax', attrs: { axes: [0, 2] }, inputs: [x(2, 3, 4)], opset: 13 }],
  ['ReduceMax all axes keepdims 0', { op: 'ReduceMax', attrs: { keepdims: 0 }, inputs: [x(3, 4)], opset: 18 }],
  ['ReduceMax noop_with_empty_axes', { op: 'ReduceMax', attrs: { noop_with_empty_axes: 1 }, inputs: [x(2, 3)], opset: 18 }],
  ['ReduceMax dynamic keepdims 0', { op: 'ReduceMax', attrs: { keepdims: 0 }, inputs: [x(2, 3, 4), ints([-1])], opset: 18, dynamic: true }],
  ['ReduceMax axes fed at run time', { op: 'ReduceMax', attrs: { keepdims: 0 }, inputs: [x(2, 3, 4), { ...ints([2, 0]), constant: false }], opset: 18 }],
  ['ReduceMax ties of two, axis 1', { op: 'ReduceMax', attrs: { keepdims: 0 }, inputs: [vals([2, 3], [0.5, 0.5, -1, 2, -3, 2]), ints([1])], opset: 18 }],
  ['ReduceMin opset 11 axes attribute keepdims 0', { op: 'ReduceMin', attrs: { axes: [1], keepdims: 0 }, inputs: [x(2, 3, 4)], opset: 11 }],
  ['ReduceMin opset 18 keepdims 1 dynamic', { op: 'ReduceMin', inputs: [x(2, 3, 4), ints([0, 2])], opset: 18, dynamic: true }],
  ['ReduceMin ties of two, all axes', { op: 'ReduceMin', attrs: { keepdims: 1 }, inputs: [vals([2, 2], [0.7, -0.3, -0.3, 0.9])], opset: 18 }],

  // ReduceL1 / ReduceL2 / ReduceSumSquare.
  ['ReduceL1 opset 18 axes input', { op: 'ReduceL1', attrs: { keepdims: 0 }, inputs: [x(2, 3, 4), ints([1, 2])], opset: 18 }],
  ['ReduceL1 opset 13 axes attribute', { op: 'ReduceL1', attrs: { axes: [0] }, inputs: [x(2, 3)], opset: 13 }],
  ['ReduceL1 noop_with_empty_axes (|x|)', { op: 'ReduceL1', attrs: { noop_with_empty_axes: 1 }, inputs: [x(2, 3)], opset: 18 }],
  ['ReduceL2 opset 18 keepdims 0 dynamic', { op: 'ReduceL2', attrs: { keepdims: 0 }, inputs: [x(2, 3, 4), ints([-1])], opset: 18, dynamic: true }],
  ['ReduceL2 opset 13 axes attribute', { op: 'ReduceL2', attrs: { axes: [1], keepdims: 1 }, inputs: [x(3, 4)], opset: 13 }],
  // A zero row: the norm is 0 and its gradient 0, as torch's (central differences agree).
  ['ReduceL2 a zero row', { op: 'ReduceL2', attrs: { keepdims: 0 }, inputs: [vals([2, 2], [0, 0, 0.3, -0.4]), ints([1])], opset: 18 }],
  ['ReduceL2 all axes', { op: 'ReduceL2', attrs: { keepdims: 0 }, inputs: [x(2, 3)], opset: 18 }],
  ['ReduceSumSquare opset 18 axes input', { op: 'ReduceSumSquare', attrs: { keepdims: 0 }, inputs: [x(2, 3, 4), ints([0, 2])], opset: 18 }],
  ['ReduceSumSquare opset 11 axes attribute', { op: 'ReduceSumSquare', attrs: { axes: [-1] }, inputs: [x(2, 3)], opset: 11 }],
  ['ReduceSumSquare noop_with_empty_axes (x²)', { op: 'ReduceSumSquare', attrs: { noop_with_empty_axes: 1 }, inputs: [x(2, 3)], opset: 18 }],
  ['ReduceSumSquare dynamic, axes fed', { op: 'ReduceSumSquare', attrs: { keepdims: 0 }, inputs: [x(2, 3, 4), { ...ints([1]), constant: false }], opset: 18, dynamic: true }],

  // ReduceLogSumExp / ReduceLogSum.
  ['ReduceLogSumExp opset 18 axes input keepdims 0', { op: 'ReduceLogSumExp', attrs: { keepdims: 0 }, inputs: [x(2, 3, 4), ints([1])], opset: 18 }],
  ['ReduceLogSumExp opset 13 axes attribute', { op: 'ReduceLogSumExp', attrs: { axes: [0, 1] }, inputs: [x(2, 3, 4)], opset: 13 }],
  ['ReduceLogSumExp all axes dynamic', { op: 'ReduceLogSumExp', attrs: { keepdims: 0 }, inputs: [x(3, 4)], opset: 18, dynamic: true }],
  ['ReduceLogSum opset 18 axes input', { op: 'ReduceLogSum', attrs: { keepdims: 0 }, inputs: [pos(2, 3, 4), ints([2])], opset: 18 }],
  ['ReduceLogSum noop_with_empty_axes (log x)', { op: 'ReduceLogSum', attrs: { noop_with_empty_axes: 1 }, inputs: [pos(2, 3)], opset: 18 }],

  // ReduceProd: no zeros, one zero in a row (it gets the product of the others), two zeros.
  ['ReduceProd opset 18 axes input keepdims 0', { op: 'ReduceProd', attrs: { keepdims: 0 }, inputs: [x(2, 3, 4), ints([1])], opset: 18 }],
  ['ReduceProd opset 13 axes attribute', { op: 'ReduceProd', attrs: { axes: [0, 2] }, inputs: [x(2, 3, 2)], opset: 13 }],
  ['ReduceProd all axes', { op: 'ReduceProd', attrs: { keepdims: 0 }, inputs: [x(2, 3)], opset: 18 }],
  ['ReduceProd with zeros (one, two, none per row)', { op: 'ReduceProd', attrs: { keepdims: 0 }, inputs: [vals([3, 3], [2, 0, 3, 0, 0, 4, 0.5, -1.5, 0.8]), ints([1])], opset: 18 }],
  ['ReduceProd dynamic keepdims 1', { op: 'ReduceProd', inputs: [x(2, 3, 2), ints([-1])], opset: 18, dynamic: true }],

  // Max / Min with 2+ inputs: broadcasting, ties (half each), the same value twice.
  ['Max ties of two (half each)', { op: 'Max', inputs: [vals([3], [1, 2, 3]), vals([3], [1, 0, 3])] }],
  ['Min ties of two, broadcast [2,3],[3]', { op: 'Min', inputs: [vals([2, 3], [0.5, 0.2, -1, 0.3, 0.3, 0.3]), vals([3], [0.5, 0.3, 0.1])] }],
  ['Max(a, a)', { inputs: [x(2, 3)], build: (b, [a]) => [b.op('Max', [a, a])] }],
  ['Max three inputs, dynamic', { op: 'Max', inputs: [x(2, 1), x(1, 3), x(3)], dynamic: true }],
  ['Min one input', { op: 'Min', inputs: [x(2, 3)] }],

  // Clip with its bounds as inputs: x, min and max all differentiated.
  ['Clip x, min and max fed', { op: 'Clip', inputs: [x(3, 4), scalar(-0.4), scalar(0.5)] }],
  ['Clip min only', { op: 'Clip', inputs: [x(3, 4), scalar(-0.2)] }],
  ['Clip max only (min absent)', { op: 'Clip', inputs: [x(3, 4), null, scalar(0.3)] }],
  ['Clip min > max: every output is max', { op: 'Clip', inputs: [x(2, 3), scalar(0.6), scalar(-0.2)] }],
  ['Clip opset 11 (no GreaterOrEqual)', { op: 'Clip', inputs: [x(3, 4), scalar(-0.4), scalar(0.5)], opset: 11 }],
  ['Clip opset 10 (bounds as attributes)', { op: 'Clip', attrs: { min: { float: -0.4 }, max: { float: 0.5 } }, inputs: [x(3, 4)], opset: 10 }],
  ['Clip dynamic', { op: 'Clip', inputs: [x(3, 4), scalar(-0.4), scalar(0.5)], dynamic: true }],
];

/** Ops and opsets onnxruntime's CPU provider runs in float32 only: their checks fall back to float32. */
const FLOAT32_ONLY = new Set<string>(['Clip opset 11 (no GreaterOrEqual)', 'Clip opset 10 (bounds as attributes)']);

describe('reduction, Max/Min and Clip gradients against finite differences', () => {
  for (const [name, spec, tol] of cases)
    it(name, async () => {
      const r = await checkVjp(spec, tol === undefined ? {} : { tol });
      expect(r.maxGrad).toBeGreaterThan(1e-3);
      expect(r.dtype).toBe(FLOAT32_ONLY.has(name) ? 'float32' : 'float64');
    });
});
