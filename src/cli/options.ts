/** Option groups shared by several commands, defined once. */
import type { Argv } from 'yargs';

export function lionOptions<T>(y: Argv<T>) {
  return y
    .option('beta1', { type: 'number', default: 0.9, describe: 'Lion β1 (interpolation for the update direction)' })
    .option('beta2', { type: 'number', default: 0.99, describe: 'Lion β2 (momentum decay)' })
    .option('weight-decay', { type: 'number', default: 0, describe: 'decoupled weight decay (3-10x larger than for AdamW)' })
    .option('no-decay', { type: 'string', describe: 'regex: parameters matching get no weight decay (e.g. "bias|norm")' })
    .option('frozen', { type: 'string', describe: 'regex: parameters matching are not trained' })
    .option('nonfinite', { choices: ['skip', 'error', 'propagate'] as const, default: 'skip' as const, describe: 'a step whose gradients hold NaN/Inf: skip it (parameters unchanged, counted), stop with an error, or apply it anyway' });
}
