/** Gradients of ReduceSum and ReduceMean (axes as attribute or input, keepdims, noop_with_empty_axes). */
import { attrInt, attrInts } from '../../ir/attributes.js';
import { DataType } from '../../onnx/data-types.js';
import { elemTypeOrThrow, scalarLike, shapeOf, unsqueeze } from '../emit.js';
import { isStatic } from '../../ir/shape-info.js';
import type { GradContext, GradRule } from '../types.js';

/** The reduced axes: numbers when known, a value name when only run time knows, [] for none given. */
function reducedAxes(ctx: GradContext, inputSince: number): number[] | string {
  if (ctx.opset < inputSince) return attrInts(ctx.node, 'axes') ?? [];
  const name = ctx.I(1);
  if (!name) return [];
  return ctx.value(name) ?? name;
}

/**
 * Spreads the output gradient back over the input: unsqueeze the reduced axes (keepdims=0),
 * then Expand to the input's shape. Returns null for a no-op reduction (the gradient passes as is).
 */
function spread(ctx: GradContext, inputSince: number): string | null {
  const g = ctx.GO(0)!;
  const X = ctx.I(0);
  const axes = reducedAxes(ctx, inputSince);
  if (Array.isArray(axes) && axes.length === 0) {
    if (attrInt(ctx.node, 'noop_with_empty_axes', 0)) return null;
    // Every axis reduced: g is a scalar (or all 1s), which Expand broadcasts as is.
    return ctx.b.op('Expand', [g, shapeOf(ctx, X)]);
  }
  const kept = attrInt(ctx.node, 'keepdims', 1) ? g : unsqueeze(ctx, g, axes);
  return ctx.b.op('Expand', [kept, shapeOf(ctx, X)]);
}

export const reduceSumGrad: GradRule = {
  opType: 'ReduceSum',
  backward: (ctx) => [spread(ctx, 13) ?? ctx.GO(0), null],
};

/** As ReduceSum, scaled by |Y| / |X| = 1 / (elements averaged per output). */
export const reduceMeanGrad: GradRule = {
  opType: 'ReduceMean',
  backward: (ctx) => {
    const spreadG = spread(ctx, 18);
    if (!spreadG) return [ctx.GO(0), null];
    const { b } = ctx;
    const [X, Y] = [ctx.I(0), ctx.O(0)];
    const [sx, sy] = [ctx.shape(X), ctx.shape(Y)];
    let scale: string;
    if (isStatic(sx) && isStatic(sy)) {
      const n = (s: number[]) => s.reduce((p, d) => p * d, 1);
      scale = scalarLike(ctx, Y, n(sy) / n(sx));
    } else {
      const t = elemTypeOrThrow(ctx, Y, 'the gradient of ReduceMean');
      const size = (v: string) => b.op('Cast', [b.op('Size', [v])], { to: t === DataType.FLOAT16 || t === DataType.BFLOAT16 ? DataType.FLOAT : t });
      scale = b.op('Div', [size(Y), size(X)]);
      if (t === DataType.FLOAT16 || t === DataType.BFLOAT16) scale = b.op('Cast', [scale], { to: t });
    }
    return [b.op('Mul', [spreadG, scale]), null];
  },
};
