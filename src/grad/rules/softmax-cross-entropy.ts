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
import { isOp } from '../emit.js';
import type { GradContext, GradResult } from '../types.js';

/** The fused gradient when `ctx.node` is GatherElements of a LogSoftmax, else undefined. */
export function softmaxCrossEntropyGrad(ctx: GradContext): GradResult | undefined {
  const { node, b } = ctx;
  const [logp, idx] = [ctx.I(0), ctx.I(1)];
  const g = ctx.GO(0);
  const rank = ctx.shape(logp)?.length;
  // The opset-13 LogSoftmax along one axis (older ones flatten: not this form).
  if (!g || rank === undefined || ctx.opset < 13) return undefined;
  const norm = (a: number) => (a < 0 ? a + rank : a);
  const axis = norm(attrInt(node, 'axis', 0));
  const softmax = ctx.producer(logp);
  if (!isOp(softmax, 'LogSoftmax') || norm(attrInt(softmax, 'axis', -1)) !== axis || ctx.shape(idx)?.[axis] !== 1) return undefined;
  // Read by this GatherElements alone: LogSoftmax's own gradient is not taken.
  const x = softmax.inputs[0];
  if (!ctx.needsCaptured(x) || ctx.reads(logp) !== 1) return undefined;
  const negScaled = b.op('Mul', [b.op('Exp', [logp]), b.op('Neg', [g])]);
  const atTarget = b.op('Add', [b.op('GatherElements', [negScaled, idx], { axis }), g]);
  return { inputs: [null, null], captured: { [x]: b.op('ScatterElements', [negScaled, idx, atTarget], { axis }) } };
}
