/**
 * Lion (DESIGN.md; google/automl lion_pytorch.py):
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
 *
 * `--cautious` gives C-Lion (Liang et al., "Cautious Optimizers", arXiv 2411.16085; the
 * authors' c_lion.py): the update is kept only where its sign agrees with the gradient's,
 * and rescaled by numel / (kept + 1) per tensor:
 *
 *   u  = sign(c)·φ·n/(Σφ + 1),   φ = [sign(c)·g > 0],   p' = p·(1 − lr·wd) − lr·u
 *
 * φ is computed from c·K·K and g·K·K (same scaling), whose product cannot underflow: it is
 * positive exactly when c and g are nonzero with the same sign.
 */
import { GraphError } from '../errors.js';
import { DataType, dataTypeName } from '../onnx/data-types.js';
import type { GraphBuilder } from '../ir/builder.js';
import type { Optimizer, UpdateEmitter } from './types.js';

const IN = { lr: 'lion.lr', beta1: 'lion.beta1', beta2: 'lion.beta2', weightDecay: 'lion.weight_decay' } as const;

/** K per element type: K·K·(smallest subnormal) ≥ 2^105 and K is finite. */
const SIGN_SCALE: Partial<Record<number, number>> = { [DataType.FLOAT]: 2 ** 127, [DataType.DOUBLE]: 2 ** 600 };

function prepare(b: GraphBuilder, elemType: number, options: Record<string, boolean>): UpdateEmitter {
  const scale = SIGN_SCALE[elemType];
  if (scale === undefined) throw new GraphError(`the Lion update is emitted for float32 and float64 parameters, not ${dataTypeName(elemType)}`);
  const one = b.scalar('lion.one', 1, DataType.DOUBLE);
  const cast = (x: string, base: string) => b.op('Cast', [x], { to: elemType }, base);
  const lrWd = b.op('Mul', [IN.lr, IN.weightDecay], {}, 'lion.lr_wd');
  const beta1 = cast(IN.beta1, 'lion.beta1_t');
  const oneMinusBeta1 = cast(b.op('Sub', [one, IN.beta1], {}, 'lion.one_minus_beta1_d'), 'lion.one_minus_beta1');
  const beta2 = cast(IN.beta2, 'lion.beta2_t');
  const oneMinusBeta2 = cast(b.op('Sub', [one, IN.beta2], {}, 'lion.one_minus_beta2_d'), 'lion.one_minus_beta2');
  const lr = cast(IN.lr, 'lion.lr_t');
  const negLr = cast(b.op('Neg', [IN.lr], {}, 'lion.neg_lr_d'), 'lion.neg_lr');
  const decayFactor = cast(b.op('Sub', [one, lrWd], {}, 'lion.decay_d'), 'lion.decay');
  const signScale = b.scalar('lion.sign_scale', scale, elemType);
  const cautious = !!options.cautious;
  const zero = cautious ? b.scalar('lion.zero', 0, elemType) : '';
  const oneT = cautious ? b.scalar('lion.one_t', 1, elemType) : '';
  return (n, decay) => {
    const p = n.param;
    const m = n.state[0];
    const c = b.op('Add', [b.op('Mul', [m, beta1], {}, `${p}.lion_c_m`), b.op('Mul', [n.grad, oneMinusBeta1], {}, `${p}.lion_c_g`)], {}, `${p}.lion_c`);
    // lr·sign(c), exactly (see the top of the file).
    const scaled = b.op('Mul', [b.op('Mul', [c, signScale], {}, `${p}.lion_c_scaled`), signScale], {}, `${p}.lion_c_scaled2`);
    let step = b.op('Clip', [scaled, negLr, lr], {}, `${p}.lion_step`);
    if (cautious) {
      const gScaled = b.op('Mul', [b.op('Mul', [n.grad, signScale], {}, `${p}.lion_g_scaled`), signScale], {}, `${p}.lion_g_scaled2`);
      const agree = b.op('Cast', [b.op('Greater', [b.op('Mul', [scaled, gScaled], {}, `${p}.lion_cg`), zero], {}, `${p}.lion_agree_b`)], { to: elemType }, `${p}.lion_agree`);
      const kept = b.op('ReduceSum', [agree], { keepdims: 0 }, `${p}.lion_kept`);
      const numel = b.op('Cast', [b.op('Size', [agree], {}, `${p}.lion_numel_i`)], { to: elemType }, `${p}.lion_numel`);
      const rescale = b.op('Div', [numel, b.op('Add', [kept, oneT], {}, `${p}.lion_kept1`)], {}, `${p}.lion_rescale`);
      step = b.op('Mul', [step, b.op('Mul', [agree, rescale], {}, `${p}.lion_mask`)], {}, `${p}.lion_cautious_step`);
    }
    const base = decay ? b.op('Mul', [p, decayFactor], {}, `${p}.lion_decayed`) : p;
    b.add('Sub', [base, step], {}, { exact: [n.paramOut] });
    b.add('Add', [b.op('Mul', [m, beta2], {}, `${p}.lion_m_b2`), b.op('Mul', [n.grad, oneMinusBeta2], {}, `${p}.lion_m_g`)], {}, { exact: [n.stateOut[0]] });
  };
}

export const lion: Optimizer = {
  name: 'lion',
  describe: 'Lion (Chen et al. 2023): the sign of an interpolated momentum; one state tensor per parameter',
  slots: ['lion_m'],
  hyperparameters: [
    { key: 'lr', flag: '--lr', input: IN.lr, perStep: 'lr', describe: 'learning rate (from the schedule)' },
    { key: 'beta1', flag: '--beta1', input: IN.beta1, default: 0.9, range: { min: 0, max: 1, maxOpen: true }, describe: 'interpolation of momentum and gradient for the update direction' },
    { key: 'beta2', flag: '--beta2', input: IN.beta2, default: 0.99, range: { min: 0, max: 1, maxOpen: true }, describe: 'momentum decay' },
    { key: 'weightDecay', flag: '--weight-decay', input: IN.weightDecay, default: 0, range: { min: 0, max: Infinity, maxOpen: true }, describe: 'decoupled weight decay (use 3-10x more than for AdamW)' },
  ],
  options: [{ key: 'cautious', flag: '--cautious', describe: 'C-Lion (arXiv 2411.16085): keep the update only where its sign agrees with the gradient, rescaled per tensor' }],
  prepare,
  // m' = β2·m + (1−β2)·g: a non-finite g stays in it.
  nonFiniteStaysIn: 0,
};
