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
import type { Optimizer } from './optimizer.js';

const IN = {
  lr: 'adamw.lr',
  beta1: 'adamw.beta1',
  beta2: 'adamw.beta2',
  weightDecay: 'adamw.weight_decay',
  eps: 'adamw.eps',
  step: 'adamw.step',
} as const;

interface Shared {
  beta1: string;
  oneMinusBeta1: string;
  beta2: string;
  oneMinusBeta2: string;
  stepSize: string;
  bc2Sqrt: string;
  eps: string;
  decay: string;
}

function emitShared(b: GraphBuilder, elemType: number): Shared {
  const one = b.scalar('adamw.one', 1, DataType.DOUBLE);
  const cast = (x: string, base: string) => b.op('Cast', [x], { to: elemType }, base);
  const bc1 = b.op('Sub', [one, b.op('Pow', [IN.beta1, IN.step], {}, 'adamw.beta1_t')], {}, 'adamw.bias_correction1');
  const bc2 = b.op('Sub', [one, b.op('Pow', [IN.beta2, IN.step], {}, 'adamw.beta2_t')], {}, 'adamw.bias_correction2');
  return {
    beta1: cast(IN.beta1, 'adamw.beta1_c'),
    oneMinusBeta1: cast(b.op('Sub', [one, IN.beta1]), 'adamw.one_minus_beta1'),
    beta2: cast(IN.beta2, 'adamw.beta2_c'),
    oneMinusBeta2: cast(b.op('Sub', [one, IN.beta2]), 'adamw.one_minus_beta2'),
    stepSize: cast(b.op('Div', [IN.lr, bc1]), 'adamw.step_size'),
    bc2Sqrt: cast(b.op('Sqrt', [bc2]), 'adamw.bias_correction2_sqrt'),
    eps: cast(IN.eps, 'adamw.eps_c'),
    decay: cast(b.op('Sub', [one, b.op('Mul', [IN.lr, IN.weightDecay])]), 'adamw.decay'),
  };
}

export const adamw: Optimizer = {
  name: 'adamw',
  slots: ['adamw_m', 'adamw_v'],
  inputs: { ...IN },
  perStep: ['lr', 'step'],
  defaults: { beta1: 0.9, beta2: 0.999, weightDecay: 0.01, eps: 1e-8 },
  emitShared,
  emitUpdate: (b, shared, n, decay) => {
    const s = shared as Shared;
    const p = n.param;
    const [m, v] = n.state;
    const m2 = b.add('Add', [b.op('Mul', [m, s.beta1]), b.op('Mul', [n.grad, s.oneMinusBeta1])], {}, { exact: [n.stateOut[0]] })[0];
    const g2 = b.op('Mul', [n.grad, n.grad], {}, `${p}.adamw_g2`);
    const v2 = b.add('Add', [b.op('Mul', [v, s.beta2]), b.op('Mul', [g2, s.oneMinusBeta2])], {}, { exact: [n.stateOut[1]] })[0];
    const denom = b.op('Add', [b.op('Div', [b.op('Sqrt', [v2]), s.bc2Sqrt]), s.eps], {}, `${p}.adamw_denom`);
    const step = b.op('Mul', [b.op('Div', [m2, denom]), s.stepSize], {}, `${p}.adamw_step`);
    const base = decay ? b.op('Mul', [p, s.decay], {}, `${p}.adamw_decayed`) : p;
    b.add('Sub', [base, step], {}, { exact: [n.paramOut] });
  },
};
