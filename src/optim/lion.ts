/**
 * The Lion update as ONNX nodes (DESIGN.md; google/automl lion_pytorch.py):
 *
 *   c  = β1·m + (1−β1)·g
 *   p' = p·(1 − lr·wd) − lr·sign(c)
 *   m' = β2·m + (1−β2)·g
 *
 * Hyperparameters are float64 scalar inputs, and the scalar expressions (1−β1, 1−lr·wd, lr)
 * are computed in float64 and then cast to the parameter's type — exactly what PyTorch does
 * with Python-float scalars — so the update agrees with the reference to float32 rounding.
 *
 * lr·sign(c) is emitted as Clip(c·K·K, −lr, lr), not Mul(Sign(c), lr): onnxruntime's CPU Sign
 * kernel runs on one thread, Mul and Clip on all intra-op threads (scripts/bench/lion-update.ts,
 * bench/lion-update.md). It is exact, not an approximation: K is a power of two (2^127 for
 * float32, 2^600 for float64), so c·K·K is c scaled without rounding, or ±Inf when that
 * overflows; its sign is c's, ±0 stays ±0 and NaN stays NaN. Every nonzero c, down to the
 * smallest subnormal (2^−149 in float32, 2^−1074 in float64), scales to at least 2^105 (2^126),
 * far above any learning rate, so Clip gives exactly −lr, ±0 or lr: lr·sign(c) with sign(0) = 0,
 * bit for bit what Mul(Sign(c), lr) gives, except that sign(−0) is −0 as in IEEE and JavaScript's
 * Math.sign. NaN in c (only possible with --nonfinite propagate) reaches p' as NaN, as Sign
 * does: ORT's Clip passes NaN through. Requires lr ≥ 0, which the runtime enforces, and opset ≥ 11
 * (Clip with min and max as inputs).
 */
import { GraphError } from '../errors.js';
import { DataType, dataTypeName } from '../onnx/data-types.js';
import type { GraphBuilder } from '../ir/builder.js';
import { HYPER_INPUTS } from './hyperparameters.js';

/** Scalars shared by every parameter of one element type. */
export interface LionScalars {
  beta1: string;
  oneMinusBeta1: string;
  beta2: string;
  oneMinusBeta2: string;
  lr: string;
  negLr: string;
  /** 1 − lr·wd, for parameters in the decay group. */
  decay: string;
  /** K: a power of two that scales (twice) every nonzero c beyond lr (see above). */
  signScale: string;
}

/** K per element type: K·K·(smallest subnormal) ≥ 2^105 and K is finite. */
const SIGN_SCALE: Partial<Record<number, number>> = { [DataType.FLOAT]: 2 ** 127, [DataType.DOUBLE]: 2 ** 600 };

export function emitLionScalars(b: GraphBuilder, elemType: number): LionScalars {
  const scale = SIGN_SCALE[elemType];
  if (scale === undefined) throw new GraphError(`the Lion update is emitted for float32 and float64 parameters, not ${dataTypeName(elemType)}`);
  const one = b.scalar('lion.one', 1, DataType.DOUBLE);
  const cast = (x: string, base: string) => b.op('Cast', [x], { to: elemType }, base);
  const lrWd = b.op('Mul', [HYPER_INPUTS.lr, HYPER_INPUTS.weightDecay], {}, 'lion.lr_wd');
  return {
    beta1: cast(HYPER_INPUTS.beta1, 'lion.beta1_t'),
    oneMinusBeta1: cast(b.op('Sub', [one, HYPER_INPUTS.beta1], {}, 'lion.one_minus_beta1_d'), 'lion.one_minus_beta1'),
    beta2: cast(HYPER_INPUTS.beta2, 'lion.beta2_t'),
    oneMinusBeta2: cast(b.op('Sub', [one, HYPER_INPUTS.beta2], {}, 'lion.one_minus_beta2_d'), 'lion.one_minus_beta2'),
    lr: cast(HYPER_INPUTS.lr, 'lion.lr_t'),
    negLr: cast(b.op('Neg', [HYPER_INPUTS.lr], {}, 'lion.neg_lr_d'), 'lion.neg_lr'),
    decay: cast(b.op('Sub', [one, lrWd], {}, 'lion.decay_d'), 'lion.decay'),
    signScale: b.scalar('lion.sign_scale', scale, elemType),
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
 * Emits one parameter's update; `decay` false skips the weight-decay multiply. The non-finite
 * guard, when there is one, is put around all the updates by insert-optimizer (guard.ts).
 */
export function emitLionUpdate(b: GraphBuilder, s: LionScalars, n: LionParamNames, decay: boolean): void {
  const p = n.param;
  const c = b.op('Add', [b.op('Mul', [n.momentum, s.beta1], {}, `${p}.lion_c_m`), b.op('Mul', [n.grad, s.oneMinusBeta1], {}, `${p}.lion_c_g`)], {}, `${p}.lion_c`);
  // lr·sign(c), exactly (see the top of the file).
  const scaled = b.op('Mul', [b.op('Mul', [c, s.signScale], {}, `${p}.lion_c_scaled`), s.signScale], {}, `${p}.lion_c_scaled2`);
  const step = b.op('Clip', [scaled, s.negLr, s.lr], {}, `${p}.lion_step`);
  const base = decay ? b.op('Mul', [p, s.decay], {}, `${p}.lion_decayed`) : p;
  b.add('Sub', [base, step], {}, { exact: [n.paramOut] });
  b.add('Add', [b.op('Mul', [n.momentum, s.beta2], {}, `${p}.lion_m_b2`), b.op('Mul', [n.grad, s.oneMinusBeta2], {}, `${p}.lion_m_g`)], {}, { exact: [n.momentumOut] });
}
