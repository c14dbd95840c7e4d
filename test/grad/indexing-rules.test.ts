/**
 * Tile, CumSum, Trilu, ScatterND, ScatterElements and GatherElements gradients against finite
 * differences, one line per case: constant and fed repeats / axis / k, every exclusive-reverse
 * combination, scatter's data and updates sides, reduction 'none' and 'add', dynamic shapes.
 */
import { describe, expect, it } from 'vitest';
import { checkVjp, type InputSpec, type VjpSpec } from './check-vjp.js';

const x = (...shape: number[]): InputSpec => ({ shape });
const ints = (values: number[], shape = [values.length]): InputSpec => ({ shape, type: 'int64', values });
/** An int64 input fed at run time, so the rule cannot read its values while building. */
const fed = (values: number[], shape = [values.length]): InputSpec => ({ ...ints(values, shape), constant: false });

type Case = [name: string, spec: VjpSpec, tol?: number];

const cases: Case[] = [
  // Tile.
  ['Tile [2,3] x [2,1]', { op: 'Tile', inputs: [x(2, 3), ints([2, 1])] }],
  ['Tile [2,1,3] x [1,3,2]', { op: 'Tile', inputs: [x(2, 1, 3), ints([1, 3, 2])] }],
  ['Tile x [1,1] (identity)', { op: 'Tile', inputs: [x(2, 3), ints([1, 1])] }],
  ['Tile dynamic [2,3] x [3,2]', { op: 'Tile', inputs: [x(2, 3), ints([3, 2])], dynamic: true }],
  ['Tile repeats fed at run time', { op: 'Tile', inputs: [x(2, 3), fed([2, 2])] }],
  ['Tile 1-D, repeats fed, dynamic', { op: 'Tile', inputs: [x(4), fed([3])], dynamic: true }],

  // CumSum: every exclusive / reverse combination, negative and int32 axes.
  ['CumSum axis 0', { op: 'CumSum', inputs: [x(4, 3), ints([0], [])] }],
  ['CumSum axis 1 exclusive', { op: 'CumSum', attrs: { exclusive: 1 }, inputs: [x(3, 4), ints([1], [])] }],
  ['CumSum axis -1 reverse', { op: 'CumSum', attrs: { reverse: 1 }, inputs: [x(2, 3, 4), ints([-1], [])] }],
  ['CumSum exclusive reverse', { op: 'CumSum', attrs: { exclusive: 1, reverse: 1 }, inputs: [x(2, 5), ints([1], [])] }],
  ['CumSum int32 axis [1]', { op: 'CumSum', inputs: [x(3, 4), { shape: [1], type: 'int32', values: [0] }] }],
  ['CumSum axis fed, dynamic', { op: 'CumSum', attrs: { exclusive: 1 }, inputs: [x(2, 3, 4), fed([1], [])], dynamic: true }],

  // Trilu (opset 14): upper and lower, k given or fed, batched.
  ['Trilu upper (default)', { op: 'Trilu', inputs: [x(4, 4)], opset: 14 }],
  ['Trilu lower', { op: 'Trilu', attrs: { upper: 0 }, inputs: [x(3, 5)], opset: 14 }],
  ['Trilu upper k 1, batched', { op: 'Trilu', inputs: [x(2, 3, 4), ints([1], [])], opset: 14 }],
  ['Trilu lower k -1', { op: 'Trilu', attrs: { upper: 0 }, inputs: [x(4, 3), ints([-1], [])], opset: 14 }],
  ['Trilu k fed, dynamic', { op: 'Trilu', inputs: [x(2, 4, 4), fed([-1], [])], opset: 18, dynamic: true }],

  // ScatterND: rows and single elements written; data and updates both checked.
  ['ScatterND rows', { op: 'ScatterND', inputs: [x(4, 3), ints([1, 3], [2, 1]), x(2, 3)] }],
  ['ScatterND elements', { op: 'ScatterND', inputs: [x(3, 4), ints([0, 1, 2, 3, 1, 0], [3, 2]), x(3)] }],
  ['ScatterND slices of a 3-D tensor, dynamic', { op: 'ScatterND', inputs: [x(3, 2, 4), ints([2, 0], [2, 1]), x(2, 2, 4)], dynamic: true }],
  ['ScatterND reduction add, repeated rows', { op: 'ScatterND', attrs: { reduction: 'add' }, inputs: [x(4, 3), ints([1, 1, 3], [3, 1]), x(3, 3)], opset: 16 }],
  ['ScatterND indices fed', { op: 'ScatterND', inputs: [x(4, 3), fed([2, 0], [2, 1]), x(2, 3)] }],

  // ScatterElements: unique targets under 'none', repeated ones under 'add'.
  ['ScatterElements axis 0', { op: 'ScatterElements', inputs: [x(3, 4), ints([1, 0, 2, 0, 2, 2, 0, 1], [2, 4]), x(2, 4)], opset: 13 }],
  ['ScatterElements axis 1, negative indices', { op: 'ScatterElements', attrs: { axis: 1 }, inputs: [x(2, 5), ints([-1, 0, 2, 1, -2, 0], [2, 3]), x(2, 3)], opset: 13 }],
  ['ScatterElements axis -1 dynamic', { op: 'ScatterElements', attrs: { axis: -1 }, inputs: [x(2, 4), ints([3, 1, 0, 2], [2, 2]), x(2, 2)], opset: 16, dynamic: true }],
  ['ScatterElements reduction add, repeated', { op: 'ScatterElements', attrs: { axis: 1, reduction: 'add' }, inputs: [x(2, 3), ints([0, 0, 2, 1, 1, 1], [2, 3]), x(2, 3)], opset: 16 }],

  // GatherElements (existing rule): negative indices, dynamic.
  ['GatherElements axis 0, negative and repeated, dynamic', { op: 'GatherElements', inputs: [x(3, 2), ints([-1, 0, 2, -1, 0, 0], [3, 2])], opset: 16, dynamic: true }],
];

describe('indexing gradients against finite differences', () => {
  for (const [name, spec, tol] of cases)
    it(name, async () => {
      const r = await checkVjp(spec, tol === undefined ? {} : { tol });
      expect(r.maxGrad).toBeGreaterThan(1e-3);
      expect(r.dtype).toBe('float64');
    });

  it('ScatterND with reduction mul is refused in one line, naming the node', async () => {
    await expect(checkVjp({ op: 'ScatterND', attrs: { reduction: 'mul' }, inputs: [x(4, 3), ints([1], [1, 1]), x(1, 3)], opset: 16 })).rejects.toThrow(
      /no gradient for ScatterND node .* reduction='mul'/,
    );
  });
});
