/** Gradients of ops that cut or join tensors: Concat, Split, Slice. */
import { attrInt } from '../../ir/attributes.js';
import type { Dim } from '../../ir/value-type.js';
import { DataType } from '../../onnx/data-types.js';
import { makeTensor } from '../../onnx/tensor.js';
import { dimOf, elemTypeOrThrow, ifNeeded, int64s, shapeOf, split, zerosLike } from '../emit.js';
import { isStatic, sliceSpan } from '../../ir/shape-info.js';
import type { GradRule } from '../types.js';

/** The output gradient split back into the inputs' extents along the concat axis. */
export const concatGrad: GradRule = {
  opType: 'Concat',
  backward: (ctx) => {
    const { b, node } = ctx;
    const axis = attrInt(node, 'axis', 0);
    const dims = node.inputs.map((x) => {
      const s = ctx.shape(x);
      const d = s?.[axis < 0 ? axis + s.length : axis];
      return typeof d === 'number' ? d : null;
    });
    const sizes = dims.every((d) => d !== null)
      ? (dims as number[])
      : b.op('Concat', node.inputs.map((x) => dimOf(ctx, x, axis)), { axis: 0 });
    const parts = split(ctx, ctx.GO(0)!, axis, sizes, node.inputs.length);
    return node.inputs.map((_, i) => ifNeeded(ctx, i, () => parts[i]));
  },
};

/** The output gradients concatenated back, with zeros for outputs that got none. */
export const splitGrad: GradRule = {
  opType: 'Split',
  backward: (ctx) => {
    const parts = ctx.node.outputs.map((o, i) => ctx.GO(i) ?? zerosLike(ctx, o));
    return [ctx.b.op('Concat', parts, { axis: attrInt(ctx.node, 'axis', 0) }), null];
  },
};

/**
 * Scatters the output gradient back into zeros of the input's shape. When everything is static
 * and the steps are 1 that is a Pad. Otherwise the forward Slice is replayed, with its own
 * starts/ends/axes/steps inputs, on the flat positions 0..n-1 of the input, which yields exactly
 * the positions it selected (negative indices, clamping, reverse steps included), and
 * ScatterElements writes the gradient there. A slice selects each position at most once, so no
 * reduction is needed and this works at opset 13.
 */
export const sliceGrad: GradRule = {
  opType: 'Slice',
  backward: (ctx) => {
    const { b, node } = ctx;
    const g = ctx.GO(0)!;
    const X = ctx.I(0);
    const known = (i: number) => (ctx.I(i) ? ctx.value(ctx.I(i)) : null);
    const pads = staticPads(ctx.shape(X), known(1), known(2), known(3), known(4));
    if (pads) return [pads.every((p) => p === 0) ? g : b.op('Pad', [g, int64s(ctx, pads)], { mode: 'constant' })];
    const size = b.op('Reshape', [b.op('Size', [X]), int64s(ctx, [1])]);
    const [zero, one] = [0, 1].map((v) => b.constant('grad/i', DataType.INT64, [], [v]));
    const positions = b.op('Reshape', [b.op('Range', [zero, b.op('Size', [X]), one]), shapeOf(ctx, X)]);
    const selected = b.op('Slice', [positions, ...node.inputs.slice(1)]);
    const flatIdx = b.op('Reshape', [selected, int64s(ctx, [-1])]);
    const zeros = b.op('ConstantOfShape', [size], { value: makeTensor('', elemTypeOrThrow(ctx, X, 'the gradient of Slice'), [1], [0]) });
    const scattered = b.op('ScatterElements', [zeros, flatIdx, b.op('Reshape', [g, int64s(ctx, [-1])])], { axis: 0 });
    return [b.op('Reshape', [scattered, shapeOf(ctx, X)])];
  },
};

/** Pad amounts that undo a static Slice with unit steps; null when anything is dynamic. */
function staticPads(
  shape: Dim[] | undefined,
  starts: number[] | null | undefined,
  ends: number[] | null | undefined,
  axesIn: number[] | null | undefined,
  stepsIn: number[] | null | undefined,
): number[] | null {
  if (!isStatic(shape) || !starts || !ends || axesIn === undefined || stepsIn === undefined) return null;
  const rank = shape.length;
  const axes = axesIn ?? starts.map((_, i) => i);
  const steps = stepsIn ?? starts.map(() => 1);
  if (steps.some((s) => s !== 1)) return null;
  const pads = new Array<number>(2 * rank).fill(0);
  axes.forEach((a, j) => {
    const ax = a < 0 ? a + rank : a;
    const picked = sliceSpan(shape[ax], starts[j], ends[j], 1)!;
    const begin = picked.length ? picked.first : 0;
    pads[ax] = begin;
    pads[ax + rank] = shape[ax] - begin - picked.length;
  });
  return pads;
}
