/**
 * discover-parameters: which float tensors of the model are trained. A plan for every float32 /
 * float64 initializer (ir/program.ts `parameters`) says trained or not, why, and where it came
 * from (the import passes' origins: a Constant node, an untied copy, a folded weight).
 *
 * Rule: every float tensor of rank >= 1 is trained — whatever its name, torch's generated
 * `onnx::` ones included — except BatchNormalization's running statistics (inputs 3 and 4:
 * statistics, not weights), tensors holding NaN or an infinity (masks), and what --params does
 * not select or --frozen does. Scalars are constants. differentiate then leaves untrained the
 * ones the loss does not reach through differentiable ops (shapes, indices, conditions).
 */
import { GraphError, UsageError } from '../../errors.js';
import { DataType, dataTypeName, isFloatType, type TypedArray } from '../../onnx/data-types.js';
import type { Tensor } from '../../onnx/tensor.js';
import { cloneModel } from '../../ir/clone.js';
import type { Graph } from '../../ir/graph.js';
import type { ParameterPlan, TensorOrigin } from '../../ir/program.js';
import { expectThat, type Pass } from '../pass.js';

export interface DiscoverOptions {
  /** Regex: which float tensors are parameters (default: all of rank >= 1 but the exceptions above). */
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

/** Initializers read as BatchNormalization's running mean or variance. */
function runningStatistics(g: Graph): Set<string> {
  const s = new Set<string>();
  for (const n of g.nodes) if (n.opType === 'BatchNormalization' && !n.domain) for (const i of [3, 4]) if (n.inputs[i]) s.add(n.inputs[i]);
  return s;
}

function nonFinite(t: Tensor): boolean {
  const d = t.data as TypedArray;
  if (!(d instanceof Float32Array || d instanceof Float64Array)) return false;
  for (let i = 0; i < d.length; i++) if (!Number.isFinite(d[i])) return true;
  return false;
}

const SOURCE_REASON: Record<string, string> = {
  initializer: 'a float initializer',
  constant: "a Constant node's weight",
  untied: 'its own copy of a tensor the exporter had merged it with',
  folded: 'a weight the exporter folded',
  input: 'has a gradient value',
};

export const discoverParametersPass: Pass<DiscoverOptions> = {
  name: 'discover-parameters',
  stage: 'import',
  needs: 'a model whose weights are initializers (constants-to-initializers turns Constant-held ones into initializers)',
  gives: 'the same graph, annotated with a plan for every float initializer (trained or not, why, and where it came from)',
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
    const g = model.graph;
    if (select) {
      const bad = g.initializers.find((t) => select.test(t.name) && (!isFloatType(t.dataType) || t.dataType === DataType.FLOAT16 || t.dataType === DataType.BFLOAT16));
      if (bad) throw new UsageError(`--params '${opts.params}' selects '${bad.name}', which is ${dataTypeName(bad.dataType)}; only float32/float64 tensors can be trained — narrow the pattern`);
    }
    const origins = new Map<string, TensorOrigin>((model.program?.origins ?? []).map((o) => [o.name, o]));
    const stats = runningStatistics(g);
    const plans: ParameterPlan[] = [];
    for (const t of g.initializers) {
      if (t.dataType !== DataType.FLOAT && t.dataType !== DataType.DOUBLE) continue;
      const origin = origins.get(t.name) ?? { name: t.name, source: 'initializer' as const };
      const base = { ...origin, shape: [...t.dims], dtype: dataTypeName(t.dataType) };
      const not = (reason: string) => plans.push({ ...base, trainable: false, reason });
      if (t.dims.length === 0) not('a scalar (a constant)');
      else if (stats.has(t.name)) not('BatchNormalization running statistics (not trained by gradients)');
      else if (select && !select.test(t.name)) not('does not match --params');
      else if (freeze?.test(t.name)) not('matches --frozen');
      else if (nonFinite(t)) not('holds NaN or an infinity (a mask, not a weight)');
      else plans.push({ ...base, trainable: true, reason: select ? 'matches --params' : SOURCE_REASON[origin.source] });
    }
    if (!plans.some((p) => p.shape.length > 0))
      throw new GraphError('the model has no float32/float64 tensors of rank >= 1 (initializers or Constant weights), so there is nothing to train');
    if (!plans.some((p) => p.trainable)) {
      const why = freeze ? `--frozen '${opts.frozen}' freezes all ${plans.filter((p) => p.reason === 'matches --frozen').length} parameters` : `no float tensor of the model can be trained (${plans.map((p) => `${p.name}: ${p.reason}`).slice(0, 3).join('; ')})`;
      throw new UsageError(`${why}, so nothing would train; ${freeze ? 'narrow the pattern' : 'check --params'}`);
    }
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
