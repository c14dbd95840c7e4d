/** Gradients of Softmax and LogSoftmax. */
import { attrInt } from '../../ir/attributes.js';
import { rankOrThrow, reduceSum } from '../emit.js';
import type { GradContext, GradRule } from '../types.js';

/**
 * The axes normalized over. From opset 13 that is the one `axis` (default -1); before, the input
 * was coerced to 2-D [d0·…·d(axis-1), d(axis)·…] (default axis 1), so every axis from `axis` on.
 */
function normalizedAxes(ctx: GradContext, op: string): number[] {
  const axis = attrInt(ctx.node, 'axis', ctx.opset >= 13 ? -1 : 1);
  if (ctx.opset >= 13) return [axis];
  const rank = rankOrThrow(ctx, ctx.I(0), op);
  return Array.from({ length: rank }, (_, i) => i).slice(axis < 0 ? axis + rank : axis);
}

/** dX = Y·(dY - Σ dY·Y), from the output alone. */
export const softmaxGrad: GradRule = {
  opType: 'Softmax',
  backward: (ctx) => {
    const { b } = ctx;
    const Y = ctx.O(0);
    const gy = b.op('Mul', [ctx.GO(0)!, Y]);
    return [b.op('Sub', [gy, b.op('Mul', [Y, reduceSum(ctx, gy, normalizedAxes(ctx, 'Softmax'), true)])])];
  },
};

/** dX = dY - exp(Y)·Σ dY, exp(Y) being the softmax. */
export const logSoftmaxGrad: GradRule = {
  opType: 'LogSoftmax',
  backward: (ctx) => {
    const { b } = ctx;
    const g = ctx.GO(0)!;
    return [b.op('Sub', [g, b.op('Mul', [b.op('Exp', [ctx.O(0)]), reduceSum(ctx, g, normalizedAxes(ctx, 'LogSoftmax'), true)])])];
  },
};
