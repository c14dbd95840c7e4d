/** Lion hyperparameters and their defaults (DESIGN.md: β1 0.9, β2 0.99, wd 0). */
import { UsageError } from '../errors.js';

export interface LionHyperparameters {
  beta1: number;
  beta2: number;
  weightDecay: number;
}

export const LION_DEFAULTS: LionHyperparameters = { beta1: 0.9, beta2: 0.99, weightDecay: 0 };

export function checkHyperparameters(h: LionHyperparameters): LionHyperparameters {
  for (const k of ['beta1', 'beta2'] as const)
    if (!(h[k] >= 0 && h[k] < 1)) throw new UsageError(`--${k} must be in [0, 1), got ${h[k]}`);
  if (!(h.weightDecay >= 0) || !Number.isFinite(h.weightDecay)) throw new UsageError(`--weight-decay must be a finite number >= 0, got ${h.weightDecay}`);
  return h;
}

/** Graph input names of the step graph's hyperparameters (float64 scalars, see lion.ts). */
export const HYPER_INPUTS = {
  lr: 'lion.lr',
  beta1: 'lion.beta1',
  beta2: 'lion.beta2',
  weightDecay: 'lion.weight_decay',
} as const;
