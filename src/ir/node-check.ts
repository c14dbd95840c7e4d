/**
 * Nodes checked against ONNX's operator schemas (op-schemas.generated.ts) before a pass or an
 * onnxruntime session sees a graph: every default-domain node has its required inputs (with
 * non-empty names) and its minimum number of outputs, only If, Loop, Scan and SequenceMap carry
 * subgraphs, and the constant scalars onnxruntime reads without looking (OneHot's depth, Loop's
 * trip count) hold one element. onnxruntime checks these after code that relies on them, and
 * aborts or crashes the whole process instead (an empty OneHot depth: SIGABRT; a
 * LayerNormalization with a graph attribute: SIGSEGV; found by fuzzing, see
 * test/fixtures/fuzz/regressions/).
 */
import { ModelFormatError } from '../errors.js';
import { AttrType, allGraphs, defaultOpset, type Model } from './graph.js';
import { OP_ARITY, OP_ARITY_OPSET, OP_GRAPH_ATTRIBUTES } from '../onnx/op-schemas.generated.js';
import { elementCount } from '../onnx/tensor.js';

/**
 * Inputs onnxruntime 1.30 reads as scalars without checking their size, by op. Probed: an empty
 * constant at each input of 45 common ops; only these crash (OneHot: SIGABRT at load; Loop:
 * SIGSEGV when run). A computed empty value still reaches them: that is onnxruntime's to fix.
 */
const SCALAR_INPUTS: Record<string, number[]> = { OneHot: [1], Loop: [0] };

/** Inputs (how many, and how many leading ones named) and outputs an op needs at an opset; undefined for ops the table does not know. */
export function requiredArity(opType: string, opset: number): { inputs: number; named: number; outputs: number } | undefined {
  const versions = OP_ARITY[opType];
  if (!versions) return undefined;
  if (opset > OP_ARITY_OPSET) {
    // A newer opset may have relaxed the op: ask only what every known version asks.
    const least = (k: number) => Math.min(...versions.map((v) => v[k]));
    return { inputs: least(1), named: least(2), outputs: least(3) };
  }
  const v = versions.filter(([since]) => since <= opset).at(-1);
  return v && { inputs: v[1], named: v[2], outputs: v[3] };
}

/** Throws ModelFormatError naming the first node (in any subgraph) that breaks its op's schema as above. */
export function checkNodes(model: Model, source = 'the model'): void {
  const opset = defaultOpset(model);
  for (const g of allGraphs(model.graph))
    for (const n of g.nodes) {
      if (n.domain && n.domain !== 'ai.onnx') continue;
      const label = `node '${n.name ?? n.outputs[0] ?? ''}' (${n.opType})`;
      for (const i of SCALAR_INPUTS[n.opType] ?? []) {
        const t = n.inputs[i] ? g.initializer(n.inputs[i]) : undefined;
        if (t && elementCount(t.dims) !== 1)
          throw new ModelFormatError(`${source}: ${label} takes a scalar as input ${i}, but '${t.name}' holds ${elementCount(t.dims)} values (dims [${t.dims.join(', ')}]); the model is malformed — re-export it`);
      }
      for (const a of n.attributes)
        if ((a.type === AttrType.GRAPH || a.type === AttrType.GRAPHS) && !OP_GRAPH_ATTRIBUTES[n.opType]?.includes(a.name))
          throw new ModelFormatError(`${source}: ${label} has a subgraph attribute '${a.name}', which ${n.opType} does not take; the model is malformed — re-export it`);
      const need = requiredArity(n.opType, opset);
      if (!need) continue;
      if (n.inputs.length < need.inputs)
        throw new ModelFormatError(`${source}: ${label} has ${n.inputs.length} inputs, ${n.opType} takes at least ${need.inputs} at opset ${opset}; the model is malformed — re-export it`);
      const unnamed = n.inputs.slice(0, need.named).indexOf('');
      if (unnamed >= 0)
        throw new ModelFormatError(`${source}: ${label} leaves its required input ${unnamed} unnamed; the model is malformed — re-export it`);
      const outputs = n.outputs.slice(0, need.outputs).filter((x) => x !== '').length;
      if (outputs < need.outputs)
        throw new ModelFormatError(`${source}: ${label} has ${outputs} of the ${need.outputs} outputs ${n.opType} requires at opset ${opset}; the model is malformed — re-export it`);
    }
}
