/**
 * Option groups shared by several commands, derived from the optimizer registry (optim/): one
 * flag per hyperparameter key, described with each optimizer's default, and one per build-time
 * option. A new optimizer's flags appear here without touching the CLI.
 */
import type { Argv } from 'yargs';
import { DEFAULT_OPTIMIZER, OPTIMIZERS, OPTIMIZER_NAMES } from '../optim/registry.js';
import type { NonFiniteMode } from '../ir/program.js';

/** camelCase key -> the flag's name without dashes (`weightDecay` -> `weight-decay`). */
const flagName = (flag: string) => flag.replace(/^--/, '');

/** The user-set hyperparameters of every optimizer, by key, with the optimizers that take them. */
function hyperparameterFlags() {
  const byKey = new Map<string, { flag: string; uses: string[] }>();
  for (const o of OPTIMIZERS)
    for (const h of o.hyperparameters) {
      if (h.perStep) continue;
      const e = byKey.get(h.key) ?? { flag: h.flag, uses: [] };
      e.uses.push(`${o.name} ${h.default}: ${h.describe}`);
      byKey.set(h.key, e);
    }
  return byKey;
}

/** Hyperparameter flags; unset flags take the optimizer's defaults. */
export function hyperparameterOptions<T>(y: Argv<T>): Argv<T> {
  let out = y;
  for (const [, e] of hyperparameterFlags()) out = out.option(flagName(e.flag), { type: 'number', describe: e.uses.join('; ') });
  return out;
}

/** The hyperparameter values given on the command line, by key (unset ones undefined). */
export function hyperparametersFrom(a: Record<string, unknown>): Record<string, number | undefined> {
  return Object.fromEntries([...hyperparameterFlags().keys()].map((k) => [k, a[k] as number | undefined]));
}

/** The build-time optimizer options given on the command line (e.g. cautious). */
export function optimizerOptionsFrom(a: Record<string, unknown>): Record<string, boolean | undefined> {
  return Object.fromEntries(OPTIMIZERS.flatMap((o) => o.options ?? []).map((s) => [s.key, a[s.key] as boolean | undefined]));
}

/** What optimizerOptions adds, typed (build, rewrite). */
export interface OptimizerArgs extends Record<string, unknown> {
  optimizer: string;
  noDecay?: string;
  frozen?: string;
  nonfinite: NonFiniteMode;
}

/** --optimizer and its build-time options (train with a model, build, rewrite). */
export function optimizerChoiceOptions<T>(y: Argv<T>, describe = 'update to emit'): Argv<T> {
  let out = y.option('optimizer', {
    choices: OPTIMIZER_NAMES as string[],
    default: DEFAULT_OPTIMIZER,
    describe: `${describe}: ${OPTIMIZERS.map((o) => `${o.name} (${o.describe})`).join('; ')}`,
  });
  for (const o of OPTIMIZERS) for (const s of o.options ?? []) out = out.option(flagName(s.flag), { type: 'boolean', describe: `${o.name} only: ${s.describe}` });
  return out;
}

/** Options of the passes that emit an optimizer (build, rewrite). */
export function optimizerOptions<T>(y: Argv<T>): Argv<T> {
  return optimizerChoiceOptions(hyperparameterOptions(y))
    .option('no-decay', { type: 'string', describe: 'regex: parameters matching get no weight decay (e.g. "bias|norm")' })
    .option('frozen', { type: 'string', describe: 'regex: parameters matching are not trained' })
    .option('nonfinite', { choices: ['skip', 'error', 'propagate'] as const, default: 'skip' as const, describe: 'a step whose gradients hold NaN/Inf: skip it (parameters unchanged, counted), stop with an error, or apply it anyway' });
}
