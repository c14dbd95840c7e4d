/**
 * LayerNormalizationGrad(dY, X, scale, mean, inv_std_dev) -> dX, dscale, dbias (layer_norm.cc;
 * gradient_builder.cc feeds it the forward LayerNormalization's saved mean and 1/σ). Over the
 * normalized axes (axis … r−1), in the statistics' type U (float for float16 graphs, as the
 * kernel computes):
 *
 *   x̂ = (X − mean)·inv_std,  B = dY·scale·inv_std,  C = B·x̂
 *   dX = B − mean(B) − x̂·mean(C),  dscale = Σ_batch dY·x̂,  dbias = Σ_batch dY
 */
import { attrInt } from '../../../ir/attributes.js';
import { elemTypeOrThrow, rankOrThrow, reduceMean, reduceSum } from '../../../grad/emit.js';
import type { LowerContext, OrtLowering } from './types.js';

function castTo(c: LowerContext, x: string, to: number): string {
  return elemTypeOrThrow(c, x, c.where) === to ? x : c.b.op('Cast', [x], { to });
}

export const layerNormalizationGrad: OrtLowering = {
  domain: 'com.microsoft',
  opType: 'LayerNormalizationGrad',
  minInputs: 5,
  lower: (c) => {
    const { b } = c;
    const [dY0, X0, scale0, mean, invStd] = [0, 1, 2, 3, 4].map((i) => c.I(i));
    const rank = rankOrThrow(c, X0, 'LayerNormalizationGrad');
    const a0 = attrInt(c.node, 'axis', -1);
    const axis = a0 < 0 ? a0 + rank : a0;
    const normalized = Array.from({ length: rank - axis }, (_, i) => axis + i);
    const batch = Array.from({ length: axis }, (_, i) => i);
    const U = elemTypeOrThrow(c, mean, c.where);
    const [dY, X, scale] = [dY0, X0, scale0].map((v) => castTo(c, v, U));
    const xhat = b.op('Mul', [b.op('Sub', [X, mean]), invStd]);
    const B = b.op('Mul', [b.op('Mul', [dY, scale]), invStd]);
    const C = b.op('Mul', [B, xhat]);
    const dX = b.op('Sub', [b.op('Sub', [B, reduceMean(c, B, normalized, true)]), b.op('Mul', [xhat, reduceMean(c, C, normalized, true)])]);
    const back = (v: string, like: string) => {
      const t = elemTypeOrThrow(c, like, c.where);
      return t === U ? v : b.op('Cast', [v], { to: t });
    };
    const overBatch = (v: string) => (batch.length ? reduceSum(c, v, batch, false) : v);
    return [
      back(dX, X0),
      c.used(1) ? back(overBatch(b.op('Mul', [dY, xhat])), scale0) : '',
      c.used(2) ? back(overBatch(dY), scale0) : '',
    ];
  },
};
