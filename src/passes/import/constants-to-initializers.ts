/**
 * constants-to-initializers: float Constant nodes of rank ≥ 1 become initializers of the same
 * name, so parameter discovery sees them. Converters such as paddle2onnx, and builders such as
 * spox, keep a model's weights in Constant nodes; torch's exporter never does (its Constants are
 * literals and non-persistent buffers, which torch does not train), so a torch export is left
 * as it is. Only the main graph: a subgraph's constants stay where they are.
 */
import { cloneModel } from '../../ir/clone.js';
import type { Model } from '../../ir/graph.js';
import type { TensorOrigin } from '../../ir/program.js';
import { attrTensor } from '../../ir/attributes.js';
import { DataType } from '../../onnx/data-types.js';
import type { Pass } from '../pass.js';

/** torch exports name themselves so; their Constant nodes are not weights. */
export const isTorchExport = (m: Model) => m.producerName === 'pytorch';

function weightConstant(n: Model['graph']['nodes'][number]) {
  if (n.opType !== 'Constant' || (n.domain && n.domain !== 'ai.onnx') || n.attributes.length !== 1) return undefined;
  const t = attrTensor(n, 'value');
  return t && (t.dataType === DataType.FLOAT || t.dataType === DataType.DOUBLE) && t.dims.length >= 1 && n.outputs[0] ? t : undefined;
}

export const constantsToInitializersPass: Pass = {
  name: 'constants-to-initializers',
  stage: 'import',
  needs: 'any model',
  gives: 'the same model with float Constant nodes of rank >= 1 as initializers (not for torch exports)',
  run: (model) => {
    if (isTorchExport(model) || !model.graph.nodes.some((n) => weightConstant(n))) return { model, modified: false };
    const out = cloneModel(model);
    const g = out.graph;
    const origins: TensorOrigin[] = [];
    g.nodes = g.nodes.filter((n) => {
      const t = weightConstant(n);
      if (!t) return true;
      g.initializers.push({ ...t, name: n.outputs[0], dims: [...t.dims] });
      origins.push({ name: n.outputs[0], source: 'constant', from: n.name ?? n.outputs[0] });
      return false;
    });
    out.program = { ...out.program, origins: [...(out.program?.origins ?? []), ...origins] };
    return { model: out, modified: true };
  },
};
