/** Gradient of Trilu: Y keeps a triangle of X and zeroes the rest, so dX is the same triangle of g. */
import { attrInt } from '../../ir/attributes.js';
import type { GradRule } from '../types.js';

export const triluGrad: GradRule = {
  opType: 'Trilu',
  backward: (ctx) => {
    const k = ctx.I(1);
    return [ctx.b.op('Trilu', k ? [ctx.GO(0)!, k] : [ctx.GO(0)!], { upper: attrInt(ctx.node, 'upper', 1) }), null];
  },
};
