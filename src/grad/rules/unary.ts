/** Gradients of elementwise unary math: Sqrt, Exp, Log, Tanh, Sigmoid, Relu, LeakyRelu, Erf, Abs, Reciprocal, Softplus, Clip. */
import { attrFloat } from '../../ir/attributes.js';
import { ifNeeded, maskedLike, scalarLike } from '../emit.js';
import { unbroadcast } from '../unbroadcast.js';
import type { GradContext, GradRule } from '../types.js';

/** A rule for y = f(x) whose derivative the callback writes as g·f'(x) from X, Y and g. */
function unary(opType: string, grad: (ctx: GradContext, g: string, X: string, Y: string) => string): GradRule {
  return { opType, backward: (ctx) => [grad(ctx, ctx.GO(0)!, ctx.I(0), ctx.O(0))] };
}

/** dy/dx = 1 / (2·y) */
export const sqrtGrad = unary('Sqrt', (ctx, g, _X, Y) => ctx.b.op('Div', [ctx.b.op('Mul', [g, scalarLike(ctx, Y, 0.5)]), Y]));

/** dy/dx = y */
export const expGrad = unary('Exp', ({ b }, g, _X, Y) => b.op('Mul', [g, Y]));

/** dy/dx = 1 / x */
export const logGrad = unary('Log', ({ b }, g, X) => b.op('Div', [g, X]));

/** dy/dx = 1 - y² */
export const tanhGrad = unary('Tanh', (ctx, g, _X, Y) => {
  const { b } = ctx;
  return b.op('Mul', [g, b.op('Sub', [scalarLike(ctx, Y, 1), b.op('Mul', [Y, Y])])]);
});

/** dy/dx = y·(1 - y) */
export const sigmoidGrad = unary('Sigmoid', (ctx, g, _X, Y) => {
  const { b } = ctx;
  return b.op('Mul', [g, b.op('Mul', [Y, b.op('Sub', [scalarLike(ctx, Y, 1), Y])])]);
});

/** dy/dx = [x > 0] (0 at x = 0, as in PyTorch) */
export const reluGrad = unary('Relu', (ctx, g, X) => maskedLike(ctx, g, ctx.b.op('Greater', [X, scalarLike(ctx, X, 0)]), X));

/** dy/dx = 1 for x > 0, alpha otherwise */
export const leakyReluGrad = unary('LeakyRelu', (ctx, g, X) => {
  const { b } = ctx;
  const alpha = scalarLike(ctx, X, attrFloat(ctx.node, 'alpha', 0.01));
  return b.op('Where', [b.op('Greater', [X, scalarLike(ctx, X, 0)]), g, b.op('Mul', [g, alpha])]);
});

/** dy/dx = 2/√π · exp(-x²) */
export const erfGrad = unary('Erf', (ctx, g, X) => {
  const { b } = ctx;
  const k = scalarLike(ctx, X, 2 / Math.sqrt(Math.PI));
  return b.op('Mul', [g, b.op('Mul', [k, b.op('Exp', [b.op('Neg', [b.op('Mul', [X, X])])])])]);
});

/** dy/dx = sign(x) (0 at x = 0) */
export const absGrad = unary('Abs', ({ b }, g, X) => b.op('Mul', [g, b.op('Sign', [X])]));

/** dy/dx = -y² */
export const reciprocalGrad = unary('Reciprocal', ({ b }, g, _X, Y) => b.op('Neg', [b.op('Mul', [g, b.op('Mul', [Y, Y])])]));

/** dy/dx = sigmoid(x) */
export const softplusGrad = unary('Softplus', ({ b }, g, X) => b.op('Mul', [g, b.op('Sigmoid', [X])]));

/**
 * Y = min(max(X, lo), hi), as torch.clamp (checked with torch 1.13): X gets the gradient where
 * lo <= X <= hi, bounds included; lo gets what falls strictly below it, hi what lies strictly
 * above. When lo > hi every output is hi (ONNX and torch agree), so all of it goes to hi.
 * Before opset 11 the bounds are attributes and get nothing.
 */
export const clipGrad: GradRule = {
  opType: 'Clip',
  backward: (ctx) => {
    const { b } = ctx;
    const X = ctx.I(0);
    const g = ctx.GO(0)!;
    const zero = scalarLike(ctx, X, 0);
    const bound = (i: number, attr: string): string | undefined => {
      if (ctx.opset >= 11) return ctx.I(i) || undefined;
      const v = attrFloat(ctx.node, attr);
      return v === undefined ? undefined : scalarLike(ctx, X, v);
    };
    const [lo, hi] = [bound(1, 'min'), bound(2, 'max')];
    // GreaterOrEqual arrives in opset 12 and float Equal in 11: Or(>, =) keeps NaN out as it
    // does; before 11 Not(<) lets a NaN input's gradient through.
    const atLeast = (a: string, c: string) =>
      ctx.opset >= 12
        ? b.op('GreaterOrEqual', [a, c])
        : ctx.opset >= 11
          ? b.op('Or', [b.op('Greater', [a, c]), b.op('Equal', [a, c])])
          : b.op('Not', [b.op('Less', [a, c])]);
    const conds = [lo && atLeast(X, lo), hi && atLeast(hi, X)].filter((c): c is string => !!c);
    const gx = ifNeeded(ctx, 0, () => (conds.length === 0 ? g : b.op('Where', [conds.length === 1 ? conds[0] : b.op('And', conds), g, zero])));
    const toBound = (i: number, side: string, cond: () => string) =>
      ctx.opset >= 11 && ctx.I(i) && ctx.needsGI(i) ? unbroadcast(ctx, b.op('Where', [cond(), g, zero]), side) : null;
    const below = () => (hi ? b.op('And', [b.op('Less', [X, lo!]), b.op('Less', [lo!, hi])]) : b.op('Less', [X, lo!]));
    const above = () => (lo ? b.op('Or', [b.op('Greater', [X, hi!]), b.op('Less', [hi!, lo])]) : b.op('Greater', [X, hi!]));
    return [gx, toBound(1, lo!, below), toBound(2, hi!, above)];
  },
};
