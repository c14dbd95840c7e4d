/**
 * Cross-entropy's gradient in one expression: for picked = GatherElements(LogSoftmax(x), t) with
 * one index per row along the softmax's axis, and g the gradient of `picked` (one value per row),
 *
 *   dx = g·onehot(t) − softmax(x)·g  =  ScatterElements(−g·p, t, −g·p[t] + g),  p = exp(logp)
 *
 * Three passes over the scores (Exp, Mul, the scatter's copy) where LogSoftmax's own rule after
 * the scatter into zeros takes six — and the scores are a language model's largest tensor (rows
 * × vocabulary). Only where LogSoftmax's output feeds nothing else.
 */
import { attrInt } from '../../ir/attributes.js';
import type { Node } from '../../ir/graph.js';
import type { GradContext, GradResult } from '../types.js';

/** The fused gradient when `ctx.node` is GatherElements of a LogSoftmax, else undefined. */
export function softmaxCrossEntropyGrad(ctx: GradContext): GradResult | undefined {
  const { node, b } = ctx;
  const [logp, idx] = [ctx.I(0), ctx.I(1)];
  const g = ctx.GO(0);
  const rank = ctx.shape(logp)?.length;
  if (!g || rank === undefined) return undefined;
  const norm = (a: number) => (a < 0 ? a + rank : a);
  const axis = norm(attrInt(node, 'axis', 0));
  const graph = b.graph;
  const softmax = graph.nodes.find((n) => n.outputs[0] === logp);
  const std = (n: Node | undefined, op: string): n is Node => !!n && n.opType === op && (!n.domain || n.domain === 'ai.onnx');
  if (!std(softmax, 'LogSoftmax') || norm(attrInt(softmax, 'axis', ctx.opset >= 13 ? -1 : 1)) !== axis) return undefined;
  // The opset-13 LogSoftmax along one axis (older ones flatten: not this form).
  if (ctx.opset < 13 || ctx.shape(idx)?.[axis] !== 1) return undefined;
  const x = softmax.inputs[0];
  if (!ctx.needsCaptured(x) || graph.outputs.some((o) => o.name === logp)) return undefined;
  if (graph.nodes.filter((n) => n.inputs.includes(logp)).length !== 1) return undefined;
  const negScaled = b.op('Mul', [b.op('Exp', [logp]), b.op('Neg', [g])]);
  const atTarget = b.op('Add', [b.op('GatherElements', [negScaled, idx], { axis }), g]);
  return { inputs: [null, null], captured: { [x]: b.op('ScatterElements', [negScaled, idx, atTarget], { axis }) } };
}
