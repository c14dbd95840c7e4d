/**
 * AdamW (Loshchilov & Hutter; torch.optim.AdamW), the baseline Lion is compared with:
 *
 *   p  = p·(1 − lr·wd)
 *   m' = β1·m + (1−β1)·g          v' = β2·v + (1−β2)·g²
 *   p' = p − lr/(1−β1^t) · m' / (√v' / √(1−β2^t) + ε)
 *
 * with t the 1-based step (`adamw.step`, fed by the runtime). Scalars are computed in float64
 * and cast, as torch does with Python floats. Two state tensors per parameter: the reason Lion
 * saves memory.
 */
import { DataType } from '../onnx/data-types.js';
import type { GraphBuilder } from '../ir/builder.js';
import type { Optimizer, UpdateEmitter } from './types.js';

const IN = {
  lr: 'adamw.lr',
  beta1: 'adamw.beta1',
  beta2: 'adamw.beta2',
  weightDecay: 'adamw.weight_decay',
  eps: 'adamw.eps',
  step: 'adamw.step',
} as const;

function prepare(b: GraphBuilder, elemType: number): UpdateEmitter {
  const one = b.scalar('adamw.one', 1, DataType.DOUBLE);
  const cast = (x: string, base: string) => b.op('Cast', [x], { to: elemType }, base);
  const bc1 = b.op('Sub', [one, b.op('Pow', [IN.beta1, IN.step], {}, 'adamw.beta1_t')], {}, 'adamw.bias_correction1');
  const bc2 = b.op('Sub', [one, b.op('Pow', [IN.beta2, IN.step], {}, 'adamw.beta2_t')], {}, 'adamw.bias_correction2');
  const beta1 = cast(IN.beta1, 'adamw.beta1_c');
  const oneMinusBeta1 = cast(b.op('Sub', [one, IN.beta1]), 'adamw.one_minus_beta1');
  const beta2 = cast(IN.beta2, 'adamw.beta2_c');
  const oneMinusBeta2 = cast(b.op('Sub', [one, IN.beta2]), 'adamw.one_minus_beta2');
  const stepSize = cast(b.op('Div', [IN.lr, bc1]), 'adamw.step_size');
  const bc2Sqrt = cast(b.op('Sqrt', [bc2]), 'adamw.bias_correction2_sqrt');
  const eps = cast(IN.eps, 'adamw.eps_c');
  const decayFactor = cast(b.op('Sub', [one, b.op('Mul', [IN.lr, IN.weightDecay])]), 'adamw.decay');
  return (n, decay) => {
    const p = n.param;
    const [m, v] = n.state;
    const m2 = b.add('Add', [b.op('Mul', [m, beta1]), b.op('Mul', [n.grad, oneMinusBeta1])], {}, { exact: [n.stateOut[0]] })[0];
    const g2 = b.op('Mul', [n.grad, n.grad], {}, `${p}.adamw_g2`);
    const v2 = b.add('Add', [b.op('Mul', [v, beta2]), b.op('Mul', [g2, oneMinusBeta2])], {}, { exact: [n.stateOut[1]] })[0];
    const denom = b.op('Add', [b.op('Div', [b.op('Sqrt', [v2]), bc2Sqrt]), eps], {}, `${p}.adamw_denom`);
    const step = b.op('Mul', [b.op('Div', [m2, denom]), stepSize], {}, `${p}.adamw_step`);
    const base = decay ? b.op('Mul', [p, decayFactor], {}, `${p}.adamw_decayed`) : p;
    b.add('Sub', [base, step], {}, { exact: [n.paramOut] });
  };
}

const unit = { min: 0, max: 1, maxOpen: true };
const nonNegative = { min: 0, max: Infinity, maxOpen: true };

export const adamw: Optimizer = {
  name: 'adamw',
  describe: 'AdamW (torch.optim.AdamW: decoupled decay, ε, bias correction), a baseline',
  slots: ['adamw_m', 'adamw_v'],
  hyperparameters: [
    { key: 'lr', flag: '--lr', input: IN.lr, perStep: 'lr', describe: 'learning rate (from the schedule)' },
    { key: 'beta1', flag: '--beta1', input: IN.beta1, default: 0.9, range: unit, describe: 'first-moment decay' },
    { key: 'beta2', flag: '--beta2', input: IN.beta2, default: 0.999, range: unit, describe: 'second-moment decay' },
    { key: 'weightDecay', flag: '--weight-decay', input: IN.weightDecay, default: 0.01, range: nonNegative, describe: 'decoupled weight decay' },
    { key: 'eps', flag: '--eps', input: IN.eps, default: 1e-8, range: nonNegative, describe: 'ε added to the denominator' },
    { key: 'step', flag: '', input: IN.step, perStep: 'step', describe: '1-based step count (bias correction)' },
  ],
  prepare,
  // m' = β1·m + (1−β1)·g: a non-finite g stays in it.
  nonFiniteStaysIn: 0,
};
