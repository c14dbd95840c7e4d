/**
 * What the backward walk knows before running: static shapes through torch-style shape
 * plumbing (folded to constants), symbolic dims kept, and when unbroadcast can decide its axes
 * statically (and when it must leave it to run time).
 */
import { describe, expect, it } from 'vitest';
import { ShapeInfo } from '../../src/ir/shape-info.js';
import { broadcastAxes } from '../../src/grad/unbroadcast.js';
import { GraphBuilder } from '../../src/ir/builder.js';
import { Graph } from '../../src/ir/graph.js';
import { tensorType } from '../../src/ir/value-type.js';
import { DataType } from '../../src/onnx/data-types.js';

describe('ShapeInfo', () => {
  it('folds Shape -> Gather -> Unsqueeze -> Concat into a constant and reshapes statically', () => {
    const g = new Graph();
    g.inputs = [{ name: 'x', type: tensorType(DataType.FLOAT, [2, 3, 4]) }];
    const b = new GraphBuilder(g);
    const d0 = b.op('Gather', [b.op('Shape', ['x']), b.constant('i', DataType.INT64, [], [-3])]);
    const shape = b.op('Concat', [b.op('Unsqueeze', [d0, b.int64s('ax', [0])]), b.int64s('m1', [-1])], { axis: 0 });
    const y = b.op('Reshape', ['x', shape]);
    const info = new ShapeInfo(g, 17);
    expect(info.value(shape)).toEqual([2, -1]);
    expect(info.shape(y)).toEqual([2, 12]);
    expect(info.elemType(y)).toBe(DataType.FLOAT);
  });

  it('keeps symbolic dims through MatMul, Transpose and reductions, and sees nodes appended later', () => {
    const g = new Graph();
    g.inputs = [
      { name: 'x', type: tensorType(DataType.FLOAT, ['batch', 8, 16]) },
      { name: 'w', type: tensorType(DataType.FLOAT, [16, 4]) },
    ];
    const b = new GraphBuilder(g);
    const y = b.op('MatMul', ['x', 'w']);
    const info = new ShapeInfo(g, 18);
    expect(info.shape(y)).toEqual(['batch', 8, 4]);
    const t = b.op('Transpose', [y], { perm: [2, 0, 1] });
    const r = b.op('ReduceMean', [t, b.int64s('axes', [-1])], { keepdims: 0 });
    expect(info.shape(t)).toEqual([4, 'batch', 8]);
    expect(info.shape(r)).toEqual([4, 'batch']);
  });

  it("keeps a symbolic batch through Reshape's -1 (torch's x.reshape(-1, t, h, dh)) and through Expand/Reshape to Shape(x)", () => {
    const g = new Graph();
    g.inputs = [
      { name: 'x', type: tensorType(DataType.FLOAT, ['batch', 64, 128]) },
      { name: 'c', type: tensorType(DataType.FLOAT, [1]) },
    ];
    const b = new GraphBuilder(g);
    const heads = b.op('Reshape', ['x', b.int64s('s1', [-1, 64, 4, 32])]);
    const back = b.op('Reshape', [heads, b.int64s('s2', [-1, 64, 128])]);
    const merged = b.op('Reshape', ['x', b.int64s('s3', [-1, 128])]);
    const copied = b.op('Reshape', ['x', b.int64s('s4', [0, -1])]);
    const expanded = b.op('Expand', ['c', b.op('Shape', ['x'])]);
    const reshaped = b.op('Reshape', [b.op('Flatten', ['x'], { axis: 0 }), b.op('Shape', ['x'])]);
    const info = new ShapeInfo(g, 17);
    expect(info.shape(heads)).toEqual(['batch', 64, 4, 32]);
    expect(info.shape(back)).toEqual(['batch', 64, 128]);
    // batch·64 has no name: unknown, not a wrong symbol.
    expect(info.shape(merged)).toEqual([null, 128]);
    expect(info.shape(copied)).toEqual(['batch', 8192]);
    expect(info.shape(expanded)).toEqual(['batch', 64, 128]);
    expect(info.shape(reshaped)).toEqual(['batch', 64, 128]);
    // And so the gradient of x + c against x needs no run-time axes.
    expect(broadcastAxes(info.shape(expanded), info.shape('x'))).toEqual([]);
  });

  it('knows the static elements of a partly symbolic shape, and comparisons and casts of them (If conditions)', () => {
    const g = new Graph();
    g.inputs = [{ name: 'h', type: tensorType(DataType.FLOAT, [2, 'batch', 64]) }];
    const b = new GraphBuilder(g);
    const s = b.op('Shape', ['h']);
    const at = (i: number) => b.op('Gather', [s, b.constant('i', DataType.INT64, [], [i])], { axis: 0 });
    const [d0, d1] = [at(0), at(1)];
    const info = new ShapeInfo(g, 17);
    expect(info.value(s)).toBeUndefined();
    expect(info.value(d0)).toEqual([2]);
    expect(info.value(d1)).toBeUndefined();
    // silero VAD's condition: Cast<bool>(Shape(h)[0]); a symbolic dim cast to bool stays unknown (it could be 0).
    expect(info.value(b.op('Cast', [d0], { to: DataType.BOOL }))).toEqual([1]);
    expect(info.value(b.op('Cast', [d1], { to: DataType.BOOL }))).toBeUndefined();
    const two = b.constant('two', DataType.INT64, [], [2]);
    expect(info.value(b.op('Equal', [d0, two]))).toEqual([1]);
    expect(info.value(b.op('Not', [b.op('Greater', [d0, two])]))).toEqual([1]);
    expect(info.value(b.op('Equal', [d1, two]))).toBeUndefined();
    // Slices and concatenations keep the known elements.
    const tail = b.op('Slice', [s, b.int64s('st', [1]), b.int64s('en', [3])]);
    expect(info.value(b.op('Gather', [tail, b.constant('i', DataType.INT64, [], [1])], { axis: 0 }))).toEqual([64]);
    const cat = b.op('Concat', [b.int64s('one', [1]), s], { axis: 0 });
    expect(info.value(b.op('Gather', [cat, b.int64s('ix', [0, 3])], { axis: 0 }))).toEqual([1, 64]);
  });
});

describe('broadcastAxes (static unbroadcast decisions)', () => {
  it.each([
    [[2, 3, 4], [4], [0, 1]],
    [[2, 3, 4], [3, 1], [0, 2]],
    [['b', 3, 4], [1, 3, 4], [0]],
    [['b', 1, 4], ['b', 1, 4], []],
    [[2, 3], [2, 3], []],
  ] as const)('grad %j to target %j sums axes %j', (grad, target, axes) => {
    expect(broadcastAxes([...grad], [...target])).toEqual(axes);
  });

  it.each([
    [[2, 3], [null, 3]],
    [[null, 3], [1, 3]],
    [['a', 3], ['b', 3]],
    [[5, 3], ['n', 3]],
  ] as const)('grad %j to target %j is left to run time', (grad, target) => {
    expect(broadcastAxes([...grad], [...target])).toBeUndefined();
  });
});
