/**
 * discover-parameters: which float tensors of the model are trained. Records a plan for every
 * float initializer (ir/program.ts `parameters`): trained or not, and why. The backward pass
 * then trains the ones the loss reaches (differentiate marks the others).
 *
 * Rule: with --params REGEX, the initializers whose names match (and they must be float32 or
 * float64); otherwise every float32/float64 initializer except torch's `onnx::` constants.
 * --frozen REGEX leaves the matching ones out. At least one must be trainable.
 */
import { GraphError, UsageError } from '../../errors.js';
import { DataType, dataTypeName, isFloatType } from '../../onnx/data-types.js';
import { cloneModel } from '../../ir/clone.js';
import type { ParameterPlan } from '../../ir/program.js';
import { expectThat, type Pass } from '../pass.js';

export interface DiscoverOptions {
  /** Regex: which float initializers are parameters (default: all but torch's `onnx::` constants). */
  params?: string;
  /** Regex: parameters left untrained. */
  frozen?: string;
}

function regex(pattern: string | undefined, flag: string): RegExp | null {
  if (!pattern) return null;
  try {
    return new RegExp(pattern);
  } catch (e) {
    throw new UsageError(`${flag} '${pattern}' is not a valid regular expression: ${(e as Error).message}`);
  }
}

export const discoverParametersPass: Pass<DiscoverOptions> = {
  name: 'discover-parameters',
  stage: 'import',
  needs: 'a model whose weights are initializers',
  gives: 'the same graph, annotated with a plan for every float initializer (trained or not, and why)',
  ensures: (out) => {
    const plans = out.program?.parameters ?? [];
    expectThat('discover-parameters', 'ensures', plans.some((p) => p.trainable), 'no parameter is trainable');
    for (const p of plans.filter((x) => x.trainable)) {
      const t = out.graph.initializer(p.name);
      expectThat('discover-parameters', 'ensures', !!t && (t.dataType === DataType.FLOAT || t.dataType === DataType.DOUBLE), `'${p.name}' is not a float32/float64 initializer`);
    }
  },
  run: (model, opts) => {
    const select = regex(opts.params, '--params');
    const freeze = regex(opts.frozen, '--frozen');
    const inits = model.graph.initializers;
    if (select) {
      const bad = inits.find((t) => select.test(t.name) && (!isFloatType(t.dataType) || t.dataType === DataType.FLOAT16 || t.dataType === DataType.BFLOAT16));
      if (bad) throw new UsageError(`--params '${opts.params}' selects '${bad.name}', which is ${dataTypeName(bad.dataType)}; only float32/float64 tensors can be trained — narrow the pattern`);
    }
    const plans: ParameterPlan[] = [];
    for (const t of inits) {
      if (t.dataType !== DataType.FLOAT && t.dataType !== DataType.DOUBLE) continue;
      const base = { name: t.name, shape: [...t.dims], dtype: dataTypeName(t.dataType), source: 'initializer' as const };
      if (select && !select.test(t.name)) plans.push({ ...base, trainable: false, reason: 'does not match --params' });
      else if (!select && t.name.startsWith('onnx::')) plans.push({ ...base, trainable: false, reason: "a constant torch's exporter made (onnx::)" });
      else if (freeze?.test(t.name)) plans.push({ ...base, trainable: false, reason: 'matches --frozen' });
      else plans.push({ ...base, trainable: true, reason: select ? 'matches --params' : 'a float initializer' });
    }
    const candidates = plans.filter((p) => p.reason !== 'does not match --params' && !p.reason.startsWith('a constant'));
    if (candidates.length === 0) throw new GraphError('the model has no float32/float64 initializers, so there is nothing to train');
    if (!plans.some((p) => p.trainable)) throw new UsageError(`--frozen '${opts.frozen}' freezes all ${candidates.length} parameters, so nothing would train; narrow the pattern`);
    const before = JSON.stringify(model.program?.parameters ?? null);
    if (before === JSON.stringify(plans)) return { model, modified: false };
    const out = cloneModel(model);
    out.program = { ...out.program, parameters: plans };
    return { model: out, modified: true };
  },
};

export function trainableNames(plans: ParameterPlan[] | undefined): string[] {
  return (plans ?? []).filter((p) => p.trainable).map((p) => p.name);
}
