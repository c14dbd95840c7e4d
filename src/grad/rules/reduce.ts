/**
 * Gradients of the Reduce* ops (axes as attribute or input, keepdims, noop_with_empty_axes):
 * ReduceSum, ReduceMean, ReduceMax, ReduceMin, ReduceProd, ReduceL1, ReduceL2, ReduceSumSquare,
 * ReduceLogSum, ReduceLogSumExp.
 */
import { attrInt, attrInts } from '../../ir/attributes.js';
import { DataType } from '../../onnx/data-types.js';
import { elemTypeOrThrow, reduce, scalarLike, shapeOf, unsqueeze } from '../emit.js';
import { isStatic } from '../../ir/shape-info.js';
import type { GradContext, GradRule } from '../types.js';

/** The reduced axes: numbers when known, a value name when only run time knows, [] for none given. */
function reducedAxes(ctx: GradContext, inputSince: number): number[] | string {
  if (ctx.opset < inputSince) return attrInts(ctx.node, 'axes') ?? [];
  const name = ctx.I(1);
  if (!name) return [];
  return ctx.value(name) ?? name;
}

/** What the rules need to know about one reduction node. */
interface Reduction {
  /**
   * No axes given and noop_with_empty_axes: onnxruntime then reduces over no axis at all, which
   * still applies the elementwise part (ReduceSumSquare gives x², ReduceL1 |x|, ReduceLogSum
   * log x), so the formulas below hold with `kept` and `again` the identity.
   */
  noop: boolean;
  /** A Y-shaped value (g, Y) with the reduced axes put back as 1s, so it broadcasts against X. */
  kept(v: string): string;
  /** `op` over the same axes with keepdims=1: an X-shaped value reduced to kept(Y)'s shape. */
  again(op: string, v: string): string;
}

function reduction(ctx: GradContext, inputSince: number): Reduction {
  const axes = reducedAxes(ctx, inputSince);
  const none = Array.isArray(axes) && axes.length === 0;
  const noopAttr = attrInt(ctx.node, 'noop_with_empty_axes', 0) === 1;
  const noop = none && noopAttr;
  // Every axis reduced with keepdims=0: Y is a scalar, which broadcasts as is.
  const keepdims = attrInt(ctx.node, 'keepdims', 1) === 1;
  return {
    noop,
    kept: (v) => (noop || keepdims || none ? v : unsqueeze(ctx, v, axes)),
    again: (op, v) => (noop ? v : reduce(ctx, op, v, none ? undefined : axes, true, noopAttr)),
  };
}

/** Builds a rule from the gradient for X, given g and Y with the reduced axes kept (Y made only when asked for). */
function reduceRule(opType: string, inputSince: number, grad: (ctx: GradContext, r: Reduction, g: string, X: string, Y: () => string) => string): GradRule {
  return {
    opType,
    backward: (ctx) => {
      const r = reduction(ctx, inputSince);
      return [grad(ctx, r, r.kept(ctx.GO(0)!), ctx.I(0), () => r.kept(ctx.O(0))), null];
    },
  };
}

/** Expands a kept-shaped value to X's shape (no node for a noop reduction). */
function spread(ctx: GradContext, r: Reduction, v: string, X: string): string {
  return r.noop ? v : ctx.b.op('Expand', [v, shapeOf(ctx, X)]);
}

export const reduceSumGrad = reduceRule('ReduceSum', 13, (ctx, r, g, X) => spread(ctx, r, g, X));

/** As ReduceSum, scaled by |Y| / |X| = 1 / (elements averaged per output). */
export const reduceMeanGrad = reduceRule('ReduceMean', 18, (ctx, r, g, X) => {
  if (r.noop) return g;
  const { b } = ctx;
  const spreadG = spread(ctx, r, g, X);
  const Y = ctx.O(0);
  const [sx, sy] = [ctx.shape(X), ctx.shape(Y)];
  let scale: string;
  if (isStatic(sx) && isStatic(sy)) {
    const n = (s: number[]) => s.reduce((p, d) => p * d, 1);
    scale = scalarLike(ctx, Y, n(sy) / n(sx));
  } else {
    const t = elemTypeOrThrow(ctx, Y, 'the gradient of ReduceMean');
    const half = t === DataType.FLOAT16 || t === DataType.BFLOAT16;
    const size = (v: string) => b.op('Cast', [b.op('Size', [v])], { to: half ? DataType.FLOAT : t });
    scale = b.op('Div', [size(Y), size(X)]);
    if (half) scale = b.op('Cast', [scale], { to: t });
  }
  return b.op('Mul', [spreadG, scale]);
});

/**
 * The gradient goes to the elements equal to the extremum, split equally among ties, as
 * torch.amax / torch.amin do (checked with torch 1.13: amax([1, 2, 2, 0]) gives [0, ½, ½, 0]).
 * torch.max(x, dim), which also returns indices, gives it all to one element instead.
 */
function extremumGrad(opType: string) {
  return reduceRule(opType, 18, (ctx, r, g, X, Y) => {
    const { b } = ctx;
    const hit = b.op('Equal', [X, Y()]);
    const count = r.again('ReduceSum', b.op('Cast', [hit], { to: elemTypeOrThrow(ctx, X, `the gradient of ${opType}`) }));
    return b.op('Where', [hit, b.op('Div', [g, count]), scalarLike(ctx, X, 0)]);
  });
}
export const reduceMaxGrad = extremumGrad('ReduceMax');
export const reduceMinGrad = extremumGrad('ReduceMin');

/** dY/dx = sign(x) (0 at 0, as torch's abs). */
export const reduceL1Grad = reduceRule('ReduceL1', 18, ({ b }, _r, g, X) => b.op('Mul', [g, b.op('Sign', [X])]));

/** dY/dx = x / Y; 0 where Y = 0 (every x there is 0), as torch's norm backward. */
export const reduceL2Grad = reduceRule('ReduceL2', 18, (ctx, _r, g, X, keptY) => {
  const { b } = ctx;
  const Y = keptY();
  const safe = b.op('Where', [b.op('Equal', [Y, scalarLike(ctx, Y, 0)]), scalarLike(ctx, Y, 1), Y]);
  return b.op('Mul', [g, b.op('Div', [X, safe])]);
});

/** dY/dx = 2x */
export const reduceSumSquareGrad = reduceRule('ReduceSumSquare', 18, (ctx, _r, g, X) => ctx.b.op('Mul', [g, ctx.b.op('Mul', [X, scalarLike(ctx, X, 2)])]));

/** dY/dx = exp(x - Y), the softmax over the reduced axes. */
export const reduceLogSumExpGrad = reduceRule('ReduceLogSumExp', 18, ({ b }, _r, g, X, Y) => b.op('Mul', [g, b.op('Exp', [b.op('Sub', [X, Y()])])]));

/** dY/dx = 1 / Σx = exp(-Y). */
export const reduceLogSumGrad = reduceRule('ReduceLogSum', 18, (ctx, r, g, X, Y) => spread(ctx, r, ctx.b.op('Div', [g, ctx.b.op('Exp', [Y()])]), X));

/**
 * dY/dx_i = Π_{j≠i} x_j, without dividing by zero (as torch's prod backward): Y / x_i where
 * x_i ≠ 0; where x_i = 0, the product of the other elements when x_i is the only zero, else 0.
 */
export const reduceProdGrad = reduceRule('ReduceProd', 18, (ctx, r, g, X, Y) => {
  const { b } = ctx;
  const [zero, one] = [scalarLike(ctx, X, 0), scalarLike(ctx, X, 1)];
  const isZero = b.op('Equal', [X, zero]);
  const nonZero = b.op('Where', [isZero, one, X]);
  const zeros = r.again('ReduceSum', b.op('Cast', [isZero], { to: elemTypeOrThrow(ctx, X, 'the gradient of ReduceProd') }));
  const othersAtZero = b.op('Where', [b.op('Equal', [zeros, one]), r.again('ReduceProd', nonZero), zero]);
  return b.op('Mul', [g, b.op('Where', [isZero, othersAtZero, b.op('Div', [Y(), nonZero])])]);
});
