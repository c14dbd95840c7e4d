/**
 * The Lion update as ONNX nodes (DESIGN.md; google/automl lion_pytorch.py):
 *
 *   c  = β1·m + (1−β1)·g
 *   p' = p·(1 − lr·wd) − lr·sign(c)
 *   m' = β2·m + (1−β2)·g
 *
 * Hyperparameters are float64 scalar inputs, and the scalar expressions (1−β1, 1−lr·wd, −lr)
 * are computed in float64 and then cast to the parameter's type — exactly what PyTorch does
 * with Python-float scalars — so the update agrees with the reference to float32 rounding.
 * ONNX Sign gives sign(0) = 0, as torch.sign does.
 */
import { DataType } from '../onnx/data-types.js';
import type { GraphBuilder } from '../ir/builder.js';
import { HYPER_INPUTS } from './hyperparameters.js';
import { emitKeepIf } from './nonfinite.js';

/** Scalars shared by every parameter of one element type. */
export interface LionScalars {
  beta1: string;
  oneMinusBeta1: string;
  beta2: string;
  oneMinusBeta2: string;
  negLr: string;
  /** 1 − lr·wd, for parameters in the decay group. */
  decay: string;
}

export function emitLionScalars(b: GraphBuilder, elemType: number): LionScalars {
  const one = b.scalar('lion.one', 1, DataType.DOUBLE);
  const cast = (x: string, base: string) => b.op('Cast', [x], { to: elemType }, base);
  const lrWd = b.op('Mul', [HYPER_INPUTS.lr, HYPER_INPUTS.weightDecay], {}, 'lion.lr_wd');
  return {
    beta1: cast(HYPER_INPUTS.beta1, 'lion.beta1_t'),
    oneMinusBeta1: cast(b.op('Sub', [one, HYPER_INPUTS.beta1], {}, 'lion.one_minus_beta1_d'), 'lion.one_minus_beta1'),
    beta2: cast(HYPER_INPUTS.beta2, 'lion.beta2_t'),
    oneMinusBeta2: cast(b.op('Sub', [one, HYPER_INPUTS.beta2], {}, 'lion.one_minus_beta2_d'), 'lion.one_minus_beta2'),
    negLr: cast(b.op('Neg', [HYPER_INPUTS.lr], {}, 'lion.neg_lr_d'), 'lion.neg_lr'),
    decay: cast(b.op('Sub', [one, lrWd], {}, 'lion.decay_d'), 'lion.decay'),
  };
}

export interface LionParamNames {
  param: string;
  grad: string;
  momentum: string;
  paramOut: string;
  momentumOut: string;
}

/**
 * Emits one parameter's update; `decay` false skips the weight-decay multiply. With `guard`
 * (a bool scalar), the outputs keep the old values where the guard is true (nonfinite.ts).
 */
export function emitLionUpdate(b: GraphBuilder, s: LionScalars, n: LionParamNames, decay: boolean, guard?: string): void {
  if (guard) {
    const paramNew = b.fresh(`${n.param}.lion_new`);
    const momentumNew = b.fresh(`${n.param}.lion_m_new`);
    emitLionUpdate(b, s, { ...n, paramOut: paramNew, momentumOut: momentumNew }, decay);
    emitKeepIf(b, guard, n.param, paramNew, n.paramOut);
    emitKeepIf(b, guard, n.momentum, momentumNew, n.momentumOut);
    return;
  }
  const p = n.param;
  const c = b.op('Add', [b.op('Mul', [n.momentum, s.beta1], {}, `${p}.lion_c_m`), b.op('Mul', [n.grad, s.oneMinusBeta1], {}, `${p}.lion_c_g`)], {}, `${p}.lion_c`);
  const step = b.op('Mul', [b.op('Sign', [c], {}, `${p}.lion_sign`), s.negLr], {}, `${p}.lion_step`);
  const base = decay ? b.op('Mul', [p, s.decay], {}, `${p}.lion_decayed`) : p;
  b.add('Add', [base, step], {}, { exact: [n.paramOut] });
  b.add('Add', [b.op('Mul', [n.momentum, s.beta2], {}, `${p}.lion_m_b2`), b.op('Mul', [n.grad, s.oneMinusBeta2], {}, `${p}.lion_m_g`)], {}, { exact: [n.momentumOut] });
}
