/**
 * The gradient of Loop with a trip count known when the model is built and a condition that stays
 * true: such a Loop is a Scan over its iteration numbers (Range(0, M)), with the loop-carried
 * values as the Scan's states and the Loop's scan outputs as the Scan's. The gradient is that
 * Scan's (rules/scan.ts). A Loop whose trip count or condition is decided at run time is refused:
 * how many iterations to walk back through would be data.
 */
import { GraphError } from '../../errors.js';
import { makeAttribute } from '../../ir/attributes.js';
import { Graph } from '../../ir/graph.js';
import { ShapeInfo } from '../../ir/shape-info.js';
import { capturedNames } from '../../ir/topo.js';
import { DataType } from '../../onnx/data-types.js';
import { makeTensor } from '../../onnx/tensor.js';
import type { GradContext, GradRule } from '../types.js';
import { gradientThrough, nodeLabel, renamedCopy, subgraphOf } from './subgraphs.js';

/** The body's condition output stays true: a constant true, or the incoming condition passed on. */
function condStaysTrue(body: Graph, opset: number): boolean {
  const info = new ShapeInfo(body, opset);
  const producers = body.producers();
  let v = body.outputs[0]?.name;
  for (let p = producers.get(v); p?.opType === 'Identity'; p = producers.get(v)) v = p.inputs[0];
  return v === body.inputs[1]?.name || info.value(v)?.[0] === 1;
}

function tripCount(ctx: GradContext): number {
  const n = ctx.node;
  const refuse = (why: string) =>
    new GraphError(
      `Loop node ${nodeLabel(n)}: ${why}; lion-onnx differentiates loops whose trip count is known when the model is built and whose condition stays true — export the loop with a fixed length (or unrolled)`,
    );
  const m = n.inputs[0] ? ctx.value(n.inputs[0]) : undefined;
  if (!n.inputs[0]) throw refuse('it has no trip count (it runs until its condition turns false)');
  if (m?.length !== 1) throw refuse(`its trip count '${n.inputs[0]}' is computed at run time`);
  const cond = n.inputs[1] ? ctx.value(n.inputs[1]) : [1];
  if (cond?.[0] !== 1) throw refuse(`its initial condition '${n.inputs[1]}' is not a constant true`);
  if (!condStaysTrue(subgraphOf(n, 'body'), ctx.opset)) throw refuse(`its body's condition '${subgraphOf(n, 'body').outputs[0]?.name}' is computed at run time`);
  return m[0];
}

export const loopGrad: GradRule = {
  opType: 'Loop',
  backward: (ctx) => {
    const n = ctx.node;
    const trips = tripCount(ctx);
    const body = subgraphOf(n, 'body');
    return gradientThrough(
      ctx,
      (e) => {
        const S = renamedCopy(e, body, '/as_scan');
        const [iter, cond, ...carried] = S.inputs;
        // The incoming condition is true in every iteration.
        S.nodes.unshift({ opType: 'Constant', inputs: [], outputs: [cond.name], attributes: [makeAttribute('value', makeTensor('', DataType.BOOL, [], [1]))], name: e.b.fresh(`${cond.name}/true`) });
        S.inputs = [...carried, iter];
        S.outputs = S.outputs.slice(1);
        const c = (v: number) => e.b.constant('grad/loop_i', DataType.INT64, [], [v]);
        const steps = e.b.op('Range', [c(0), c(trips), c(1)]);
        return e.b.add('Scan', [...n.inputs.slice(2), steps], { body: S, num_scan_inputs: 1 }, { outputs: n.outputs.length });
      },
      capturedNames(body),
    );
  },
};
