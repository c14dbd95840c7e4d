/**
 * bind-parameters (rewrite): a training graph whose parameters are graph inputs — ONNX
 * Runtime's keep their values in a checkpoint — gets them as initializers, from `--init`. Each
 * value is checked against the input it binds (element type, every static dim); an initializer
 * of the same name takes the given value. A parameter input (one with a gradient value) left
 * without a value is refused with what to pass; tensors the graph has no place for are reported.
 */
import { GraphError } from '../../errors.js';
import { cloneModel } from '../../ir/clone.js';
import type { Model } from '../../ir/graph.js';
import { elemTypeOf, shapeOf } from '../../ir/value-type.js';
import { dataTypeName } from '../../onnx/data-types.js';
import type { Tensor } from '../../onnx/tensor.js';
import type { Pass } from '../pass.js';

export interface BindOptions {
  /** The values, and where they came from (for messages). */
  init?: { file: string; format: string; tensors: Tensor[] };
  gradSuffix?: string;
  gradMap?: Record<string, string>;
}

/** Graph inputs that are parameters: they have a gradient value (ORT's accumulators, the suffix, the map). */
function parameterInputs(model: Model, opts: BindOptions): string[] {
  const g = model.graph;
  const values = new Set(g.nodes.flatMap((n) => n.outputs));
  const byMap = new Set(Object.keys(opts.gradMap ?? {}));
  const byOrt = new Set((model.program?.ortGradients ?? []).map((p) => p.param));
  const suffix = opts.gradSuffix ?? '_grad';
  return g.inputs.map((i) => i.name).filter((n) => byMap.has(n) || byOrt.has(n) || (!opts.gradMap && values.has(n + suffix)));
}

export const bindParametersPass: Pass<BindOptions> = {
  name: 'bind-parameters',
  stage: 'import',
  needs: 'a training graph',
  gives: 'the same graph with every parameter an initializer holding its initial value',
  run: (model, opts) => {
    const params = parameterInputs(model, opts);
    if (!opts.init) {
      if (params.length)
        throw new GraphError(
          `the training graph takes its parameters as inputs (${params.slice(0, 3).join(', ')}${params.length > 3 ? `, … ${params.length} in all` : ''}) without values; pass their initial weights with --init FILE (ONNX Runtime's checkpoint, a .safetensors file, or an ONNX model holding them)`,
        );
      return { model, modified: false };
    }
    const { file, tensors } = opts.init;
    const out = cloneModel(model);
    const g = out.graph;
    const bound: string[] = [];
    const unused: string[] = [];
    for (const t of tensors) {
      const input = g.inputs.find((i) => i.name === t.name);
      const init = g.initializer(t.name);
      if (!input && !init) {
        unused.push(t.name);
        continue;
      }
      const wantType = input ? elemTypeOf(input.type) : init!.dataType;
      const wantShape = input ? shapeOf(input.type) : init!.dims;
      if (wantType && wantType !== t.dataType)
        throw new GraphError(`--init ${file}: '${t.name}' is ${dataTypeName(t.dataType)}, the graph's ${input ? 'input' : 'initializer'} is ${dataTypeName(wantType)}`);
      if (wantShape && (wantShape.length !== t.dims.length || wantShape.some((d, i) => typeof d === 'number' && d !== t.dims[i])))
        throw new GraphError(`--init ${file}: '${t.name}' has shape [${t.dims.join(', ')}], the graph's ${input ? 'input' : 'initializer'} is [${wantShape.map((d) => d ?? '?').join(', ')}]`);
      if (input) g.inputs = g.inputs.filter((i) => i !== input);
      g.initializers = g.initializers.filter((x) => x.name !== t.name);
      g.initializers.push(t);
      bound.push(t.name);
    }
    const missing = params.filter((p) => !bound.includes(p) && !g.initializer(p));
    if (missing.length)
      throw new GraphError(`--init ${file} has no value for ${missing.length === 1 ? 'parameter' : 'parameters'} ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', …' : ''}; give a file that holds every parameter of the graph`);
    out.program = {
      ...out.program,
      origins: [...(out.program?.origins ?? []), ...bound.map((name) => ({ name, source: 'input' as const, note: `initial value from --init ${file}` }))],
      init: { file, format: opts.init.format, bound, unused },
    };
    return { model: out, modified: true };
  },
};
