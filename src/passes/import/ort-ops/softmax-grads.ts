/**
 * Softmax and LogSoftmax gradients (gradient_builder.cc emits them from the forward output Y):
 *
 *   SoftmaxGrad_13(dY, Y)      dX = Y·(dY − Σ_axis dY·Y)
 *   LogSoftmaxGrad_13(dY, Y)   dX = dY − exp(Y)·Σ_axis dY
 *
 * The `_13` forms take one axis (default −1), as Softmax does from opset 13; the plain forms
 * follow opset < 13's Softmax, which normalizes over every axis from `axis` (default 1) on.
 */
import { attrInt } from '../../../ir/attributes.js';
import { rankOrThrow, reduceSum } from '../../../grad/emit.js';
import type { LowerContext, OrtLowering } from './types.js';

const MS = 'com.microsoft';

function axesOf(c: LowerContext, coerced: boolean): number[] {
  if (!coerced) return [attrInt(c.node, 'axis', -1)];
  const rank = rankOrThrow(c, c.I(1), c.node.opType);
  const a0 = attrInt(c.node, 'axis', 1);
  const a = a0 < 0 ? a0 + rank : a0;
  return Array.from({ length: rank - a }, (_, i) => a + i);
}

function softmaxGrad(opType: string, coerced: boolean): OrtLowering {
  return {
    domain: MS,
    opType,
    minInputs: 2,
    lower: (c) => {
      const [dY, Y] = [c.I(0), c.I(1)];
      const s = reduceSum(c, c.b.op('Mul', [dY, Y]), axesOf(c, coerced), true);
      return [c.b.op('Mul', [Y, c.b.op('Sub', [dY, s])])];
    },
  };
}

function logSoftmaxGrad(opType: string, coerced: boolean): OrtLowering {
  return {
    domain: MS,
    opType,
    minInputs: 2,
    lower: (c) => {
      const [dY, Y] = [c.I(0), c.I(1)];
      const s = reduceSum(c, dY, axesOf(c, coerced), true);
      return [c.b.op('Sub', [dY, c.b.op('Mul', [c.b.op('Exp', [Y]), s])])];
    },
  };
}

export const softmaxGrad13 = softmaxGrad('SoftmaxGrad_13', false);
export const softmaxGradV1 = softmaxGrad('SoftmaxGrad', true);
export const logSoftmaxGrad13 = logSoftmaxGrad('LogSoftmaxGrad_13', false);
export const logSoftmaxGradV1 = logSoftmaxGrad('LogSoftmaxGrad', true);
