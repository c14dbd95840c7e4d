/**
 * Gradient of Tile. Y = Tile(X, repeats) has Y[i] = X[i mod d] on each axis, so viewing g as
 * [r0, d0, r1, d1, ...] and summing the r axes gives dX.
 */
import { int64s, rankOrThrow, reduceSum, shapeOf, unsqueeze } from '../emit.js';
import { isStatic } from '../../ir/shape-info.js';
import type { GradRule } from '../types.js';

export const tileGrad: GradRule = {
  opType: 'Tile',
  backward: (ctx) => {
    const { b } = ctx;
    const [X, repeats] = [ctx.I(0), ctx.I(1)];
    const r = rankOrThrow(ctx, X, 'Tile');
    const reps = ctx.value(repeats);
    const sx = ctx.shape(X);
    if (reps?.every((n) => n === 1)) return [ctx.GO(0), null];
    // [r0, d0, r1, d1, ...]: both as columns of a [rank, 2] tensor, read row by row.
    const viewShape =
      reps && isStatic(sx)
        ? int64s(ctx, sx.flatMap((d, i) => [reps[i], d]))
        : b.op('Reshape', [b.op('Concat', [unsqueeze(ctx, repeats, [1]), unsqueeze(ctx, shapeOf(ctx, X), [1])], { axis: 1 }), int64s(ctx, [-1])]);
    const view = b.op('Reshape', [ctx.GO(0)!, viewShape]);
    return [reduceSum(ctx, view, Array.from({ length: r }, (_, i) => 2 * i), false), null];
  },
};
