/** Gradients of ops that only rearrange elements: Reshape, Flatten, Squeeze, Unsqueeze, Transpose, Expand. */
import { attrInts } from '../../ir/attributes.js';
import { reshapeLike } from '../emit.js';
import type { GradRule } from '../types.js';
import { unbroadcast } from '../unbroadcast.js';

/** Ops that keep every element in row-major order: the gradient is the output gradient reshaped back. */
function reshapeBack(opType: string): GradRule {
  return { opType, backward: (ctx) => [reshapeLike(ctx, ctx.GO(0)!, ctx.I(0))] };
}
export const reshapeGrad = reshapeBack('Reshape');
export const flattenGrad = reshapeBack('Flatten');
export const squeezeGrad = reshapeBack('Squeeze');
export const unsqueezeGrad = reshapeBack('Unsqueeze');

/** Transposes back by the inverse permutation (no perm: reversing the axes is its own inverse). */
export const transposeGrad: GradRule = {
  opType: 'Transpose',
  backward: (ctx) => {
    const perm = attrInts(ctx.node, 'perm');
    if (!perm) return [ctx.b.op('Transpose', [ctx.GO(0)!])];
    const inverse = new Array<number>(perm.length);
    perm.forEach((p, i) => (inverse[p] = i));
    return [ctx.b.op('Transpose', [ctx.GO(0)!], { perm: inverse })];
  },
};

export const expandGrad: GradRule = {
  opType: 'Expand',
  backward: (ctx) => [unbroadcast(ctx, ctx.GO(0)!, ctx.I(0)), null],
};
