/**
 * Gradients of the activation functions with kinks or parameters: HardSigmoid, HardSwish, PRelu,
 * Elu, Selu, Celu, Mish. At a kink each takes the side torch 1.13's autograd takes (checked on
 * the kink points themselves), so a model trained here and in torch sees the same gradients.
 */
import { attrFloat } from '../../ir/attributes.js';
import { ifNeeded, scalarLike } from '../emit.js';
import type { GradContext, GradRule } from '../types.js';
import { unbroadcast } from '../unbroadcast.js';

function unary(opType: string, grad: (ctx: GradContext, g: string, X: string, Y: string) => string): GradRule {
  return { opType, backward: (ctx) => [grad(ctx, ctx.GO(0)!, ctx.I(0), ctx.O(0))] };
}

/** Where X > 0 the gradient passes, elsewhere it is scaled by `negative` (0 at x = 0, as torch's elu family). */
function positivePart(ctx: GradContext, g: string, X: string, negative: string): string {
  const { b } = ctx;
  return b.op('Where', [b.op('Greater', [X, scalarLike(ctx, X, 0)]), g, b.op('Mul', [g, negative])]);
}

/** Y = max(0, min(1, αx + β)): dY/dx = α strictly inside (0, 1), 0 at and beyond the kinks (torch's hardsigmoid). */
export const hardSigmoidGrad = unary('HardSigmoid', (ctx, g, X, Y) => {
  const { b } = ctx;
  const alpha = scalarLike(ctx, X, attrFloat(ctx.node, 'alpha', 0.2));
  const inside = b.op('And', [b.op('Greater', [Y, scalarLike(ctx, Y, 0)]), b.op('Less', [Y, scalarLike(ctx, Y, 1)])]);
  return b.op('Where', [inside, b.op('Mul', [g, alpha]), scalarLike(ctx, X, 0)]);
});

/** Y = x·HardSigmoid(x; ⅙, ½): dY/dx = 0 below -3, 1 above 3, x/3 + ½ on [-3, 3] inclusive (torch's hardswish). */
export const hardSwishGrad = unary('HardSwish', (ctx, g, X) => {
  const { b } = ctx;
  const c = (v: number) => scalarLike(ctx, X, v);
  const mid = b.op('Add', [b.op('Mul', [X, c(1 / 3)]), c(0.5)]);
  const d = b.op('Where', [b.op('Less', [X, c(-3)]), c(0), b.op('Where', [b.op('Greater', [X, c(3)]), c(1), mid])]);
  return b.op('Mul', [g, d]);
});

/** Y = x for x > 0, slope·x elsewhere (slope broadcast to X): dX = g or g·slope, dSlope = Σ g·x over x <= 0. */
export const pReluGrad: GradRule = {
  opType: 'PRelu',
  backward: (ctx) => {
    const { b } = ctx;
    const [X, slope] = [ctx.I(0), ctx.I(1)];
    const g = ctx.GO(0)!;
    const zero = scalarLike(ctx, X, 0);
    const positive = b.op('Greater', [X, zero]);
    return [
      ifNeeded(ctx, 0, () => unbroadcast(ctx, b.op('Where', [positive, g, b.op('Mul', [g, slope])]), X)),
      ifNeeded(ctx, 1, () => unbroadcast(ctx, b.op('Where', [positive, zero, b.op('Mul', [g, X])]), slope)),
    ];
  },
};

/** Y = x for x > 0, α(eˣ - 1) elsewhere: dY/dx = 1, or αeˣ = Y + α (α at x = 0, as torch). */
export const eluGrad = unary('Elu', (ctx, g, X, Y) => {
  const alpha = scalarLike(ctx, Y, attrFloat(ctx.node, 'alpha', 1));
  return positivePart(ctx, g, X, ctx.b.op('Add', [Y, alpha]));
});

/** ONNX's defaults, float32 roundings of the constants of Klambauer et al. (2017). */
const SELU_ALPHA = 1.67326319217681884765625;
const SELU_GAMMA = 1.05070102214813232421875;

/** Y = γx for x > 0, γα(eˣ - 1) elsewhere: dY/dx = γ, or γαeˣ = Y + γα. */
export const seluGrad = unary('Selu', (ctx, g, X, Y) => {
  const { b } = ctx;
  const alpha = attrFloat(ctx.node, 'alpha', SELU_ALPHA);
  const gamma = attrFloat(ctx.node, 'gamma', SELU_GAMMA);
  const scaled = b.op('Mul', [g, scalarLike(ctx, X, gamma)]);
  return b.op('Where', [b.op('Greater', [X, scalarLike(ctx, X, 0)]), scaled, b.op('Mul', [g, b.op('Add', [Y, scalarLike(ctx, Y, gamma * alpha)])])]);
});

/** Y = max(0, x) + min(0, α(e^(x/α) - 1)): dY/dx = 1, or e^(x/α) = Y/α + 1 for x <= 0. */
export const celuGrad = unary('Celu', (ctx, g, X, Y) => {
  const { b } = ctx;
  const alpha = attrFloat(ctx.node, 'alpha', 1);
  return positivePart(ctx, g, X, b.op('Add', [b.op('Mul', [Y, scalarLike(ctx, Y, 1 / alpha)]), scalarLike(ctx, Y, 1)]));
});

/** Y = x·tanh(softplus(x)): dY/dx = t + x·(1 - t²)·σ(x), t = tanh(softplus(x)). */
export const mishGrad = unary('Mish', (ctx, g, X) => {
  const { b } = ctx;
  const t = b.op('Tanh', [b.op('Softplus', [X])]);
  const sech2 = b.op('Sub', [scalarLike(ctx, X, 1), b.op('Mul', [t, t])]);
  return b.op('Mul', [g, b.op('Add', [t, b.op('Mul', [X, b.op('Mul', [sech2, b.op('Sigmoid', [X])])])])]);
});
