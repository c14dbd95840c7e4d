/**
 * GELU forward contrib ops and the activation gradients ORT's gradient builder emits
 * (gradient_builder.cc; kernels activations_grad.cc, bias_gelu.cc, fast_gelu.cc).
 *
 *   ReluGrad(dY, X)            dX = X > 0 ? dY : 0 (X may be the Relu's output: the same mask)
 *   SigmoidGrad(dY, Y)         dX = dY·Y·(1 − Y)
 *   TanhGrad(dY, Y)            dX = dY·(1 − Y²)
 *   Gelu(X), BiasGelu(X, B)    x·Φ(x), x = X (+ B)
 *   GeluGrad(dY, X), BiasGeluGrad_dX(dY, X, B)        dX = dY·(Φ(x) + x·φ(x))
 *   FastGelu(X[, B])           0.5·x·(1 + tanh(a·x + a·γ·x³)), a = √(2/π), γ = 0.044715 (tanh GELU)
 *   FastGeluGrad(dY, X), BiasFastGeluGrad_dX(dY, X, B)
 *                              dX = dY·0.5·(1 + t + (1 − t²)·(a·x + 3·a·γ·x³)), t = tanh(a·x + a·γ·x³)
 *
 * The constants are the kernels' exact ones (the schemas' function bodies round them).
 */
import { scalarLike } from '../../../grad/emit.js';
import type { LowerContext, OrtLowering } from './types.js';

const A = Math.sqrt(2 / Math.PI);
const GAMMA = 0.044715;
const MS = 'com.microsoft';

function mul(c: LowerContext, ...xs: string[]): string {
  return xs.reduce((a, b) => c.b.op('Mul', [a, b]));
}

function biased(c: LowerContext, x: string, bias: string): string {
  return bias ? c.b.op('Add', [x, bias]) : x;
}

/** Φ(x) + x·φ(x), the derivative of x·Φ(x). */
function geluDerivative(c: LowerContext, x: string): string {
  const { b } = c;
  const cdf = mul(c, scalarLike(c, x, 0.5), b.op('Add', [scalarLike(c, x, 1), b.op('Erf', [b.op('Mul', [x, scalarLike(c, x, Math.SQRT1_2)])])]));
  const pdf = mul(c, scalarLike(c, x, 1 / Math.sqrt(2 * Math.PI)), b.op('Exp', [mul(c, scalarLike(c, x, -0.5), x, x)]));
  return b.op('Add', [cdf, mul(c, x, pdf)]);
}

function gelu(c: LowerContext, x: string): string {
  const { b } = c;
  return mul(c, scalarLike(c, x, 0.5), x, b.op('Add', [scalarLike(c, x, 1), b.op('Erf', [b.op('Mul', [x, scalarLike(c, x, Math.SQRT1_2)])])]));
}

/** tanh(a·x + a·γ·x³) */
function fastTanh(c: LowerContext, x: string): string {
  const x3 = mul(c, x, x, x);
  return c.b.op('Tanh', [c.b.op('Add', [mul(c, scalarLike(c, x, A), x), mul(c, scalarLike(c, x, A * GAMMA), x3)])]);
}

function fastGeluDerivative(c: LowerContext, x: string): string {
  const { b } = c;
  const t = fastTanh(c, x);
  const sech2 = b.op('Sub', [scalarLike(c, x, 1), mul(c, t, t)]);
  const inner = b.op('Add', [mul(c, scalarLike(c, x, A), x), mul(c, scalarLike(c, x, 3 * A * GAMMA), x, x, x)]);
  return mul(c, scalarLike(c, x, 0.5), b.op('Add', [b.op('Add', [scalarLike(c, x, 1), t]), mul(c, sech2, inner)]));
}

export const reluGrad: OrtLowering = {
  domain: MS,
  opType: 'ReluGrad',
  minInputs: 2,
  lower: (c) => {
    const zero = scalarLike(c, c.I(0), 0);
    return [c.b.op('Where', [c.b.op('Greater', [c.I(1), scalarLike(c, c.I(1), 0)]), c.I(0), zero])];
  },
};

export const sigmoidGrad: OrtLowering = {
  domain: MS,
  opType: 'SigmoidGrad',
  minInputs: 2,
  lower: (c) => [mul(c, c.I(0), c.I(1), c.b.op('Sub', [scalarLike(c, c.I(1), 1), c.I(1)]))],
};

export const tanhGrad: OrtLowering = {
  domain: MS,
  opType: 'TanhGrad',
  minInputs: 2,
  lower: (c) => [mul(c, c.I(0), c.b.op('Sub', [scalarLike(c, c.I(1), 1), mul(c, c.I(1), c.I(1))]))],
};

export const geluForward: OrtLowering = { domain: MS, opType: 'Gelu', minInputs: 1, lower: (c) => [gelu(c, c.I(0))] };
export const biasGelu: OrtLowering = { domain: MS, opType: 'BiasGelu', minInputs: 2, lower: (c) => [gelu(c, biased(c, c.I(0), c.I(1)))] };
export const geluGrad: OrtLowering = { domain: MS, opType: 'GeluGrad', minInputs: 2, lower: (c) => [mul(c, c.I(0), geluDerivative(c, c.I(1)))] };
export const biasGeluGrad: OrtLowering = { domain: MS, opType: 'BiasGeluGrad_dX', minInputs: 3, lower: (c) => [mul(c, c.I(0), geluDerivative(c, biased(c, c.I(1), c.I(2))))] };

export const fastGelu: OrtLowering = {
  domain: MS,
  opType: 'FastGelu',
  minInputs: 1,
  lower: (c) => {
    const x = biased(c, c.I(0), c.I(1));
    return [mul(c, scalarLike(c, x, 0.5), x, c.b.op('Add', [scalarLike(c, x, 1), fastTanh(c, x)]))];
  },
};
export const fastGeluGrad: OrtLowering = { domain: MS, opType: 'FastGeluGrad', minInputs: 2, lower: (c) => [mul(c, c.I(0), fastGeluDerivative(c, c.I(1)))] };
export const biasFastGeluGrad: OrtLowering = { domain: MS, opType: 'BiasFastGeluGrad_dX', minInputs: 3, lower: (c) => [mul(c, c.I(0), fastGeluDerivative(c, biased(c, c.I(1), c.I(2))))] };
