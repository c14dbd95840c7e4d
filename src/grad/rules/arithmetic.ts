/** Gradients of the broadcasting arithmetic ops: Add, Sub, Mul, Div, Pow, Neg, Sum, Mean, Max, Min, Where. */
import { elemTypeOrThrow, ifNeeded, maskedLike, scalarLike } from '../emit.js';
import type { GradContext, GradRule } from '../types.js';
import { unbroadcast } from '../unbroadcast.js';
import { geluGrad } from './gelu.js';

const go = (ctx: GradContext) => ctx.GO(0)!;

export const addGrad: GradRule = {
  opType: 'Add',
  backward: (ctx) => [0, 1].map((i) => ifNeeded(ctx, i, () => unbroadcast(ctx, go(ctx), ctx.I(i)))),
};

export const subGrad: GradRule = {
  opType: 'Sub',
  backward: (ctx) => [
    ifNeeded(ctx, 0, () => unbroadcast(ctx, go(ctx), ctx.I(0))),
    ifNeeded(ctx, 1, () => unbroadcast(ctx, ctx.b.op('Neg', [go(ctx)]), ctx.I(1))),
  ],
};

export const mulGrad: GradRule = {
  opType: 'Mul',
  // The last Mul of an exact GELU takes the whole GELU's gradient in one (gelu.ts).
  backward: (ctx) => geluGrad(ctx) ?? [0, 1].map((i) => ifNeeded(ctx, i, () => unbroadcast(ctx, ctx.b.op('Mul', [go(ctx), ctx.I(1 - i)]), ctx.I(i)))),
};

/** Y = A / B: dA = g / B, dB = -g·Y / B. */
export const divGrad: GradRule = {
  opType: 'Div',
  backward: (ctx) => {
    const { b } = ctx;
    const [A, B] = [ctx.I(0), ctx.I(1)];
    return [
      ifNeeded(ctx, 0, () => unbroadcast(ctx, b.op('Div', [go(ctx), B]), A)),
      ifNeeded(ctx, 1, () => unbroadcast(ctx, b.op('Neg', [b.op('Div', [b.op('Mul', [go(ctx), ctx.O(0)]), B])]), B)),
    ];
  },
};

/** Y = X^E: dX = g·E·X^(E-1); dE = g·Y·ln X (defined for X > 0 only, as in PyTorch). */
export const powGrad: GradRule = {
  opType: 'Pow',
  backward: (ctx) => {
    const { b } = ctx;
    const [X, E] = [ctx.I(0), ctx.I(1)];
    return [
      ifNeeded(ctx, 0, () => {
        // The exponent may be of another type (e.g. int64); compute in X's type.
        const e = ctx.elemType(E) === ctx.elemType(X) ? E : b.op('Cast', [E], { to: elemTypeOrThrow(ctx, X, 'the gradient of Pow') });
        const dydx = b.op('Mul', [e, b.op('Pow', [X, b.op('Sub', [e, scalarLike(ctx, X, 1)])])]);
        return unbroadcast(ctx, b.op('Mul', [go(ctx), dydx]), X);
      }),
      ifNeeded(ctx, 1, () => unbroadcast(ctx, b.op('Mul', [go(ctx), b.op('Mul', [ctx.O(0), b.op('Log', [X])])]), E)),
    ];
  },
};

export const negGrad: GradRule = {
  opType: 'Neg',
  backward: (ctx) => [ctx.b.op('Neg', [go(ctx)])],
};

export const sumGrad: GradRule = {
  opType: 'Sum',
  backward: (ctx) => ctx.node.inputs.map((x, i) => ifNeeded(ctx, i, () => unbroadcast(ctx, go(ctx), x))),
};

export const meanGrad: GradRule = {
  opType: 'Mean',
  backward: (ctx) => {
    const n = ctx.node.inputs.length;
    const scaled = n === 1 ? go(ctx) : ctx.b.op('Mul', [go(ctx), scalarLike(ctx, ctx.O(0), 1 / n)]);
    return ctx.node.inputs.map((x, i) => ifNeeded(ctx, i, () => unbroadcast(ctx, scaled, x)));
  },
};

/**
 * Max and Min route the gradient to the inputs equal to the result, split equally among ties:
 * torch.maximum(a, a) and torch.minimum give each side half (checked with torch 1.13), and a
 * tie of k inputs gives each 1/k (torch.amax's choice; chained torch.maximum would give ¼, ¼, ½).
 */
function extremumGrad(opType: string): GradRule {
  return {
    opType,
    backward: (ctx) => {
      const { b } = ctx;
      const Y = ctx.O(0);
      if (ctx.node.inputs.length === 1) return [go(ctx)];
      const t = elemTypeOrThrow(ctx, Y, `the gradient of ${opType}`);
      const hits = ctx.node.inputs.map((x) => b.op('Equal', [x, Y]));
      const count = b.op('Sum', hits.map((h) => b.op('Cast', [h], { to: t })));
      const share = b.op('Div', [go(ctx), count]);
      const zero = scalarLike(ctx, Y, 0);
      return ctx.node.inputs.map((x, i) => ifNeeded(ctx, i, () => unbroadcast(ctx, b.op('Where', [hits[i], share, zero]), x)));
    },
  };
}
export const maxGrad = extremumGrad('Max');
export const minGrad = extremumGrad('Min');

/** Y = Where(C, X1, X2): the gradient goes to X1 where C holds, to X2 elsewhere. */
export const whereGrad: GradRule = {
  opType: 'Where',
  backward: (ctx) => {
    const C = ctx.I(0);
    return [
      null,
      ifNeeded(ctx, 1, () => unbroadcast(ctx, maskedLike(ctx, go(ctx), C, ctx.O(0)), ctx.I(1))),
      ifNeeded(ctx, 2, () => unbroadcast(ctx, maskedLike(ctx, go(ctx), C, ctx.O(0), true), ctx.I(2))),
    ];
  },
};
