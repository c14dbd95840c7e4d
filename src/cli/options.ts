/** Option groups shared by several commands, defined once. */
import type { Argv } from 'yargs';

/** Hyperparameter flags; unset flags take the optimizer's defaults. */
export function hyperparameterOptions<T>(y: Argv<T>) {
  return y
    .option('beta1', { type: 'number', describe: 'β1 (Lion 0.9: interpolation for the update direction; AdamW 0.9)' })
    .option('beta2', { type: 'number', describe: 'β2 (Lion 0.99: momentum decay; AdamW 0.999)' })
    .option('weight-decay', { type: 'number', describe: 'weight decay (Lion 0, decoupled: use 3-10x more than for AdamW; AdamW 0.01; SGD 0, coupled)' })
    .option('eps', { type: 'number', describe: 'AdamW ε (1e-8)' })
    .option('momentum', { type: 'number', describe: 'SGD momentum (0.9)' });
}

export interface HyperparameterArgs {
  beta1?: number;
  beta2?: number;
  weightDecay?: number;
  eps?: number;
  momentum?: number;
}

export function hyperparametersFrom(a: HyperparameterArgs): Record<string, number | undefined> {
  return { beta1: a.beta1, beta2: a.beta2, weightDecay: a.weightDecay, eps: a.eps, momentum: a.momentum };
}

/** What lionOptions adds, typed (build, rewrite). */
export interface OptimizerArgs extends HyperparameterArgs {
  optimizer: 'lion' | 'adamw' | 'sgd';
  noDecay?: string;
  frozen?: string;
  nonfinite: 'skip' | 'error' | 'propagate';
}

/** Options of the passes that emit an optimizer (build, rewrite). */
export function lionOptions<T>(y: Argv<T>) {
  return hyperparameterOptions(y)
    .option('optimizer', { choices: ['lion', 'adamw', 'sgd'] as const, default: 'lion' as const, describe: 'update to emit: Lion, or AdamW/SGD with momentum as baselines' })
    .option('no-decay', { type: 'string', describe: 'regex: parameters matching get no weight decay (e.g. "bias|norm")' })
    .option('frozen', { type: 'string', describe: 'regex: parameters matching are not trained' })
    .option('nonfinite', { choices: ['skip', 'error', 'propagate'] as const, default: 'skip' as const, describe: 'a step whose gradients hold NaN/Inf: skip it (parameters unchanged, counted), stop with an error, or apply it anyway' });
}
