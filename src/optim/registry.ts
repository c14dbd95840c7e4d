/**
 * Every optimizer, registered from one list (as the gradient rules are in grad/registry.ts).
 * Adding one is a file (optim/<name>.ts, an Optimizer) and a line here; the CLI's flags, the
 * manifest's checks and the session's feeds follow from its declaration.
 */
import { UsageError } from '../errors.js';
import { adamw } from './adamw.js';
import { lion } from './lion.js';
import { sgd } from './sgd.js';
import type { Hyperparameters, HyperparameterSpec, Optimizer } from './types.js';

export const OPTIMIZERS: readonly Optimizer[] = [lion, adamw, sgd];

export const OPTIMIZER_NAMES: readonly string[] = OPTIMIZERS.map((o) => o.name);

/** The one lion-onnx is for. */
export const DEFAULT_OPTIMIZER = 'lion';

export function optimizerByName(name: string): Optimizer {
  const o = OPTIMIZERS.find((x) => x.name === name);
  if (!o) throw new UsageError(`--optimizer '${name}' is not one of ${OPTIMIZER_NAMES.join(', ')}`);
  return o;
}

/** The hyperparameters the user sets (not computed per step). */
export function settable(o: Optimizer): HyperparameterSpec[] {
  return o.hyperparameters.filter((h) => !h.perStep);
}

export function defaultsOf(o: Optimizer): Hyperparameters {
  return Object.fromEntries(settable(o).map((h) => [h.key, h.default!]));
}

function inRange(h: HyperparameterSpec, v: number): boolean {
  const r = h.range ?? { min: -Infinity, max: Infinity };
  return Number.isFinite(v) && v >= r.min && (r.maxOpen ? v < r.max : v <= r.max);
}

function describeRange(h: HyperparameterSpec): string {
  const r = h.range!;
  if (r.max === Infinity) return `a finite number >= ${r.min}`;
  return `in [${r.min}, ${r.max}${r.maxOpen ? ')' : ']'}`;
}

/**
 * The optimizer's defaults overridden by each layer in turn (undefined values, i.e. unset
 * flags, ignored), checked against each hyperparameter's range; keys the optimizer does not
 * take are refused, so a misplaced flag is not silently ignored.
 */
export function resolveHyperparameters(o: Optimizer, ...layers: (Record<string, number | undefined> | undefined)[]): Hyperparameters {
  const specs = settable(o);
  const h = defaultsOf(o);
  const flagOf = (k: string) => OPTIMIZERS.flatMap((x) => x.hyperparameters).find((s) => s.key === k)?.flag || k;
  for (const given of layers)
    for (const [k, v] of Object.entries(given ?? {})) {
      if (v === undefined) continue;
      if (!specs.some((s) => s.key === k)) throw new UsageError(`${flagOf(k)} does not apply to ${o.name} (it takes ${specs.map((s) => s.flag).join(', ')})`);
      h[k] = v;
    }
  for (const s of specs) if (!inRange(s, h[s.key])) throw new UsageError(`${s.flag} must be ${describeRange(s)}, got ${h[s.key]}`);
  return h;
}

/** Build-time options of the optimizer, checked: only the ones it declares. */
export function resolveOptions(o: Optimizer, given: Record<string, boolean | undefined> = {}): Record<string, boolean> {
  const out: Record<string, boolean> = {};
  for (const [k, v] of Object.entries(given)) {
    if (v === undefined || v === false) continue;
    const spec = o.options?.find((x) => x.key === k);
    if (!spec) {
      const flag = OPTIMIZERS.flatMap((x) => x.options ?? []).find((x) => x.key === k)?.flag ?? k;
      throw new UsageError(`${flag} does not apply to ${o.name}${o.options?.length ? ` (its options: ${o.options.map((x) => x.flag).join(', ')})` : ''}`);
    }
    out[k] = true;
  }
  return out;
}
