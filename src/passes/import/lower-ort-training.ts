/**
 * lower-ort-training: ONNX Runtime's training graphs (onnxruntime.training's
 * generate_artifacts, ORTModule) made into graphs onnxruntime-node runs, which has no training
 * kernels:
 *
 * - gradient accumulation (InPlaceAccumulatorV2, InPlaceAccumulator v1) is removed, with its
 *   buffers (`<p>_grad.accumulation.buffer`), its `lazy_reset_grad` flag and its outputs:
 *   lion-onnx accumulates and updates itself, from the `<p>_grad` values the accumulators read;
 * - YieldOp, ORTModule's hand-over to PyTorch, becomes the gradient seed: ones for the loss it
 *   yields, which becomes a graph output;
 * - every com.microsoft / org.pytorch.aten op becomes standard ONNX ops, one lowering per op
 *   (ort-ops/). An op without a lowering is named here, before any other work — never first at
 *   `train`.
 *
 * Models without any of these pass unchanged.
 */
import { GraphError } from '../../errors.js';
import { cloneModel } from '../../ir/clone.js';
import { GraphBuilder } from '../../ir/builder.js';
import { allGraphs, defaultOpset, type Graph, type Model, type Node } from '../../ir/graph.js';
import { ShapeInfo } from '../../ir/shape-info.js';
import { attrInts } from '../../ir/attributes.js';
import { DataType } from '../../onnx/data-types.js';
import { makeTensor } from '../../onnx/tensor.js';
import { loweredOps, ortLowering } from './ort-ops/registry.js';
import type { LowerContext } from './ort-ops/types.js';
import { expectThat, type Pass } from '../pass.js';

const ACCUMULATORS = new Set(['InPlaceAccumulatorV2', 'InPlaceAccumulator']);
export const BUFFER_SUFFIX = '_grad.accumulation.buffer';
export const RESET_INPUT = 'lazy_reset_grad';

const isStandard = (n: Node) => !n.domain || n.domain === 'ai.onnx';
const key = (n: Node) => `${n.domain}:${n.opType}`;

/** What an ONNX Runtime training graph holds (inspect reports it; undefined for other graphs). */
export interface OrtTrainingGraph {
  /** Parameter -> gradient value, read off the accumulators. */
  gradients: { param: string; grad: string }[];
  accumulators: number;
  yieldOp: boolean;
  /** "domain:Op" -> count, for ops with a lowering. */
  lowered: Record<string, number>;
  /** "domain:Op" -> count, for ops without one. */
  unknown: Record<string, number>;
}

export function describeOrtTraining(model: Model): OrtTrainingGraph | undefined {
  const g = model.graph;
  const r: OrtTrainingGraph = { gradients: [], accumulators: 0, yieldOp: false, lowered: {}, unknown: {} };
  let any = false;
  for (const graph of allGraphs(g))
    for (const n of graph.nodes) {
      if (isStandard(n)) continue;
      any = true;
      if (n.domain === 'com.microsoft' && ACCUMULATORS.has(n.opType)) {
        r.accumulators++;
        const buffer = n.inputs[0] ?? '';
        if (graph === g && buffer.endsWith(BUFFER_SUFFIX) && n.inputs[1]) r.gradients.push({ param: buffer.slice(0, -BUFFER_SUFFIX.length), grad: n.inputs[1] });
      } else if (n.domain === 'com.microsoft' && n.opType === 'YieldOp') r.yieldOp = true;
      else {
        const bucket = ortLowering(n.domain!, n.opType) ? r.lowered : r.unknown;
        bucket[key(n)] = (bucket[key(n)] ?? 0) + 1;
      }
    }
  if (!any) return undefined;
  // ORTModule graphs have no accumulators: their parameters are the inputs with a `_grad` value.
  if (!r.gradients.length) {
    const values = new Set(g.nodes.flatMap((n) => n.outputs));
    for (const i of g.inputs) if (values.has(`${i.name}_grad`)) r.gradients.push({ param: i.name, grad: `${i.name}_grad` });
  }
  return r;
}

/** Names every graph and node reads. */
function consumed(g: Graph): Set<string> {
  const s = new Set<string>(g.outputs.map((o) => o.name));
  for (const graph of allGraphs(g)) for (const n of graph.nodes) for (const i of n.inputs) if (i) s.add(i);
  return s;
}

/** YieldOp(loss) -> d loss: the seed, ones shaped like the loss; the loss becomes an output. */
function lowerYield(b: GraphBuilder, g: Graph, n: Node, where: string): void {
  const skip = new Set(attrInts(n, 'non_differentiable_outputs') ?? []);
  const differentiable = n.inputs.filter((x, i) => x && !skip.has(i));
  if (differentiable.length !== 1 || n.outputs.filter(Boolean).length !== 1)
    throw new GraphError(`${where} hands ${differentiable.length} differentiable outputs to PyTorch; lion-onnx trains a graph whose YieldOp yields one loss`);
  const loss = differentiable[0];
  const ones = b.op('ConstantOfShape', [b.op('Shape', [loss])], { value: makeTensor('', DataType.FLOAT, [1], [1]) });
  b.add('CastLike', [ones, loss], {}, { exact: [n.outputs[0]] });
  if (!g.outputs.some((o) => o.name === loss)) g.outputs.unshift({ name: loss });
}

export const lowerOrtTrainingPass: Pass = {
  name: 'lower-ort-training',
  stage: 'import',
  needs: 'a training graph, perhaps ONNX Runtime\u2019s (com.microsoft gradient ops, accumulators)',
  gives: 'the same training graph in standard ONNX ops, without ORT\u2019s accumulators',
  ensures: (out) => {
    for (const graph of allGraphs(out.graph))
      for (const n of graph.nodes) expectThat('lower-ort-training', 'ensures', isStandard(n), `node ${n.name ?? n.outputs[0]} is still ${key(n)}`);
  },
  run: (model) => {
    const found = describeOrtTraining(model);
    if (!found) return { model, modified: false };
    const unknown = Object.entries(found.unknown);
    if (unknown.length)
      throw new GraphError(
        `the training graph uses ${unknown.map(([k, n]) => `${k} (${n}×)`).join(', ')}, which lion-onnx cannot lower to standard ONNX ops (onnxruntime-node has no training kernels); it lowers ${loweredOps()}`,
      );
    const out = cloneModel(model);
    const g = out.graph;
    if ([...allGraphs(g)].some((sg) => sg !== g && sg.nodes.some((n) => !isStandard(n))))
      throw new GraphError('the training graph has ONNX Runtime ops inside an If/Loop/Scan body; lion-onnx lowers them in the main graph only');
    const used = consumed(g);
    const b = new GraphBuilder(g, { scope: 'ort/' });
    const original = g.nodes;
    g.nodes = [];
    const info = new ShapeInfo(g, defaultOpset(out));
    const removed = new Set<string>();
    for (const n of original) {
      const where = `node '${n.name ?? n.outputs[0]}' (${key(n)})`;
      if (isStandard(n)) {
        g.nodes.push(n);
        continue;
      }
      if (ACCUMULATORS.has(n.opType)) {
        for (const o of n.outputs) if (o) removed.add(o);
        continue;
      }
      if (n.opType === 'YieldOp') {
        lowerYield(b, g, n, where);
        continue;
      }
      const lowering = ortLowering(n.domain!, n.opType)!;
      const present = n.inputs.filter((x, i) => i < lowering.minInputs && x).length;
      if (present < lowering.minInputs) throw new GraphError(`${where} has ${present} of the ${lowering.minInputs} inputs it needs`);
      const ctx: LowerContext = {
        b,
        opset: defaultOpset(out),
        shape: (v) => info.shape(v),
        elemType: (v) => info.elemType(v),
        value: (v) => info.value(v),
        node: n,
        I: (i) => n.inputs[i] ?? '',
        used: (i) => !!n.outputs[i] && used.has(n.outputs[i]),
        where,
      };
      const values = lowering.lower(ctx);
      n.outputs.forEach((o, i) => {
        if (!o || !used.has(o)) return;
        if (!values[i]) throw new GraphError(`${where}: output ${i} ('${o}') is used but its lowering does not make it`);
        b.add('Identity', [values[i]], {}, { exact: [o], name: n.name ? `${n.name}/lowered` : undefined });
      });
    }
    // What the accumulators fed: their outputs, buffers and the reset flag go.
    for (const o of removed)
      if (g.nodes.some((n) => n.inputs.includes(o))) throw new GraphError(`a node reads '${o}', an ONNX Runtime accumulator's output; lion-onnx removes the accumulators`);
    g.outputs = g.outputs.filter((o) => !removed.has(o.name));
    const stillRead = consumed(g);
    g.inputs = g.inputs.filter((i) => !((i.name.endsWith(BUFFER_SUFFIX) || i.name === RESET_INPUT) && !stillRead.has(i.name)));
    const domains = new Set([...allGraphs(g)].flatMap((sg) => sg.nodes.map((n) => n.domain ?? '')));
    out.opsetImports = out.opsetImports.filter((o) => !o.domain || o.domain === 'ai.onnx' || domains.has(o.domain));
    out.program = { ...out.program, ortGradients: found.gradients };
    return { model: out, modified: true };
  },
};
