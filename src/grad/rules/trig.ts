/** Gradients of the trigonometric functions: Sin, Cos. */
import type { GradRule } from '../types.js';

/** dy/dx = cos x */
export const sinGrad: GradRule = {
  opType: 'Sin',
  backward: ({ b, GO, I }) => [b.op('Mul', [GO(0)!, b.op('Cos', [I(0)])])],
};

/** dy/dx = -sin x */
export const cosGrad: GradRule = {
  opType: 'Cos',
  backward: ({ b, GO, I }) => [b.op('Neg', [b.op('Mul', [GO(0)!, b.op('Sin', [I(0)])])])],
};
