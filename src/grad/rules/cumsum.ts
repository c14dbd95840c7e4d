/**
 * Gradient of CumSum: each output sums a run of inputs, so each input collects the gradients of
 * the outputs whose run holds it, a cumulative sum the other way along the same axis
 * (exclusive stays exclusive: y_i = Σ_{j<i} x_j gives dx_j = Σ_{i>j} g_i).
 */
import { attrInt } from '../../ir/attributes.js';
import type { GradRule } from '../types.js';

export const cumSumGrad: GradRule = {
  opType: 'CumSum',
  backward: (ctx) => {
    const exclusive = attrInt(ctx.node, 'exclusive', 0);
    const reverse = attrInt(ctx.node, 'reverse', 0) ? 0 : 1;
    return [ctx.b.op('CumSum', [ctx.GO(0)!, ctx.I(1)], { exclusive, reverse }), null];
  },
};
