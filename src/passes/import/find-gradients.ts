/**
 * find-gradients: in a training graph someone else built, the gradient value of each parameter
 * — by ONNX Runtime's convention `<param>_grad` (or another suffix), or an explicit map. The
 * parameters are the initializers that have one. Used by `rewrite` and `inspect`.
 */
import { GraphError } from '../../errors.js';
import { cloneModel } from '../../ir/clone.js';
import type { Model } from '../../ir/graph.js';
import { dataTypeName } from '../../onnx/data-types.js';
import { expectThat, type Pass } from '../pass.js';

export interface FindGradientsOptions {
  /** Suffix that names a parameter's gradient: P + suffix. Default "_grad". */
  gradSuffix?: string;
  /** Explicit parameter -> gradient value map; replaces the suffix rule. */
  gradMap?: Record<string, string>;
}

/** The (param, grad) pairs of a training graph. */
export function findGradientPairs(model: Model, opts: FindGradientsOptions = {}): { param: string; grad: string }[] {
  const g = model.graph;
  const values = new Set<string>([...g.nodes.flatMap((n) => n.outputs), ...g.inputs.map((i) => i.name)]);
  if (opts.gradMap) {
    return Object.entries(opts.gradMap).map(([param, grad]) => {
      if (!g.initializer(param)) throw new GraphError(`--grad-map names parameter '${param}', but the graph has no initializer of that name`);
      if (!values.has(grad)) throw new GraphError(`--grad-map maps '${param}' to '${grad}', but no node computes a value of that name`);
      return { param, grad };
    });
  }
  // ONNX Runtime's accumulators said which value is whose gradient (lower-ort-training).
  const ort = model.program?.ortGradients;
  if (ort?.length) {
    for (const { param, grad } of ort) {
      if (!g.initializer(param)) throw new GraphError(`ONNX Runtime's accumulator names parameter '${param}', which has no value in the graph; pass --init with its checkpoint`);
      if (!values.has(grad)) throw new GraphError(`ONNX Runtime's accumulator for '${param}' reads '${grad}', which no node computes`);
    }
    return ort.map((p) => ({ ...p }));
  }
  const suffix = opts.gradSuffix ?? '_grad';
  return g.initializers.filter((t) => values.has(t.name + suffix)).map((t) => ({ param: t.name, grad: t.name + suffix }));
}

export const findGradientsPass: Pass<FindGradientsOptions> = {
  name: 'find-gradients',
  stage: 'import',
  needs: 'a training graph: initializers with gradient values (`<param>_grad` or a map)',
  gives: 'the same graph, annotated with each parameter\u2019s gradient value',
  ensures: (out) => expectThat('find-gradients', 'ensures', (out.program?.gradients ?? []).length > 0, 'no gradients found'),
  run: (model, opts) => {
    const pairs = findGradientPairs(model, opts);
    if (pairs.length === 0) {
      const suffix = opts.gradSuffix ?? '_grad';
      const example = model.graph.initializers[0]?.name;
      throw new GraphError(
        `no gradient values found: none of the graph's ${model.graph.initializers.length} initializers has a value named '<initializer>${suffix}'` +
          (example ? ` (e.g. '${example}${suffix}')` : '') +
          `; produce gradients with that suffix, or pass --grad-suffix or --grad-map FILE.json`,
      );
    }
    const out = cloneModel(model);
    const fromInput = new Set((model.program?.init?.bound ?? []));
    const parameters = pairs.map(({ param }) => {
      const t = out.graph.initializer(param)!;
      return { name: param, shape: [...t.dims], dtype: dataTypeName(t.dataType), trainable: true, reason: 'has a gradient value', source: fromInput.has(param) ? ('input' as const) : ('initializer' as const) };
    });
    out.program = { ...out.program, parameters, gradients: pairs };
    return { model: out, modified: true };
  },
};
