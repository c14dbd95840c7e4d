/**
 * The optimizers the insert-optimizer pass can emit, behind one interface: each names its
 * per-parameter state slots and its float64 scalar hyperparameter inputs, and emits its update
 * as ONNX nodes. Lion is the point of the project; AdamW and SGD are built the same way so
 * users can A/B them and benchmarks compare like with like.
 */
import { UsageError } from '../errors.js';
import type { GraphBuilder } from '../ir/builder.js';
import { adamw } from './adamw.js';
import { lion } from './lion-optimizer.js';
import { sgd } from './sgd.js';

export type OptimizerName = 'lion' | 'adamw' | 'sgd';

/** Hyperparameter values by key (beta1, beta2, weightDecay, eps, momentum). */
export type Hyperparameters = Record<string, number>;

export interface UpdateNames {
  param: string;
  grad: string;
  /** State inputs, one per slot. */
  state: string[];
  paramOut: string;
  stateOut: string[];
}

export interface Optimizer {
  name: OptimizerName;
  /** State tensors per parameter, shaped like it: `<p>.<slot>` in, `<p>.<slot>.out` out. */
  slots: string[];
  /** Hyperparameter key -> float64 scalar graph input. Always includes `lr`. */
  inputs: Record<string, string>;
  /** Keys whose value the runtime computes per step: `lr` (schedule), `step` (1-based count). */
  perStep: string[];
  /** Defaults for the keys the user sets (everything but lr and step). */
  defaults: Hyperparameters;
  /** Scalars shared by all parameters of one element type. */
  emitShared(b: GraphBuilder, elemType: number): unknown;
  /** One parameter's update; `decay` false leaves out weight decay (the no-decay group). */
  emitUpdate(b: GraphBuilder, shared: unknown, n: UpdateNames, decay: boolean): void;
}

const OPTIMIZERS: Record<OptimizerName, Optimizer> = { lion, adamw, sgd };

export function optimizerByName(name: string): Optimizer {
  const o = OPTIMIZERS[name as OptimizerName];
  if (!o) throw new UsageError(`--optimizer '${name}' is not one of ${Object.keys(OPTIMIZERS).join(', ')}`);
  return o;
}

const RANGES: Record<string, [number, number, string]> = {
  beta1: [0, 1, '[0, 1)'],
  beta2: [0, 1, '[0, 1)'],
  momentum: [0, 1, '[0, 1)'],
};
const FLAG: Record<string, string> = { beta1: '--beta1', beta2: '--beta2', weightDecay: '--weight-decay', eps: '--eps', momentum: '--momentum' };

/**
 * The optimizer's defaults overridden by each layer in turn (undefined values, i.e. unset
 * flags, ignored), checked; keys the optimizer does not take are refused so a misplaced flag
 * is not silently ignored.
 */
export function resolveHyperparameters(o: Optimizer, ...layers: (Record<string, number | undefined> | undefined)[]): Hyperparameters {
  const h: Hyperparameters = { ...o.defaults };
  for (const given of layers)
    for (const [k, v] of Object.entries(given ?? {})) {
      if (v === undefined) continue;
      if (!(k in o.defaults)) throw new UsageError(`${FLAG[k] ?? k} does not apply to ${o.name} (it takes ${Object.keys(o.defaults).map((x) => FLAG[x] ?? x).join(', ')})`);
      h[k] = v;
    }
  for (const [k, v] of Object.entries(h)) {
    const r = RANGES[k];
    if (r && !(v >= r[0] && v < r[1])) throw new UsageError(`${FLAG[k] ?? k} must be in ${r[2]}, got ${v}`);
    if (!r && !(v >= 0 && Number.isFinite(v))) throw new UsageError(`${FLAG[k] ?? k} must be a finite number >= 0, got ${v}`);
  }
  return h;
}
