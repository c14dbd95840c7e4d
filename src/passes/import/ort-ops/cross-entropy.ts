/**
 * Softmax cross-entropy, ORT's training forms (softmax_cross_entropy_loss.cc):
 *
 *   SoftmaxCrossEntropyLossGrad(dY, log_prob, label[, weight])        reduction, ignore_index
 *   SoftmaxCrossEntropyLossInternal(scores, label[, weight[, ignore]]) -> loss, log_prob
 *   SoftmaxCrossEntropyLossInternalGrad(dY, log_prob, label[, weight[, ignore[, bias]]])
 *
 * with classes on axis 1 ([N, C, D1…]), w_i = weight[label_i] (1 without weights), 0 where
 * label_i = ignore_index, and
 *
 *   d_logits[i, c] = (exp(log_prob[i, c]) − [c = label_i])·w_i·s,
 *   s = dY / Σ w (mean; the kernel divides only when Σ w ≠ 0), dY (sum), dY[i] (none).
 *
 * Which labels are ignored: the Grad pairs with the standard SoftmaxCrossEntropyLoss, which
 * onnxruntime-node runs as ONNX defines it — ignoring a label only when `ignore_index` is set —
 * so the lowering ignores exactly those, and the gradient is the one of the loss the rewritten
 * graph computes. (ORT's training kernel also ignores −1 when the attribute is absent; labels
 * of −1 are outside ONNX's contract.) The Internal pair takes ignore_index as an input, −1 when
 * absent, in both the forward and the gradient, as the kernels do.
 */
import { GraphError } from '../../../errors.js';
import { attrInt, attrString } from '../../../ir/attributes.js';
import { DataType } from '../../../onnx/data-types.js';
import { elemTypeOrThrow, int64s, rankOrThrow, reduceSum, scalarLike, squeeze, unsqueeze } from '../../../grad/emit.js';
import type { LowerContext, OrtLowering } from './types.js';

const MS = 'com.microsoft';

function reductionOf(c: LowerContext): 'mean' | 'sum' | 'none' {
  const r = attrString(c.node, 'reduction', 'mean');
  if (r !== 'mean' && r !== 'sum' && r !== 'none') throw new GraphError(`${c.where}: reduction '${r}' is not one of mean, sum, none`);
  return r;
}

/** The per-position weight w (typed like `like`), 0 where the label is ignored; and a label safe to index with. */
function weights(c: LowerContext, label: string, weight: string, ignore: string | number | undefined, like: string): { w: string; safeLabel: string } {
  const { b } = c;
  const label64 = b.op('Cast', [label], { to: DataType.INT64 });
  let ignored: string | undefined;
  if (ignore !== undefined) ignored = b.op('Equal', [label64, typeof ignore === 'number' ? int64s(c, [ignore]) : b.op('Cast', [ignore], { to: DataType.INT64 })]);
  const safeLabel = ignored ? b.op('Where', [ignored, int64s(c, [0]), label64]) : label64;
  const type = elemTypeOrThrow(c, like, c.where);
  let w = weight ? b.op('Gather', [weight, safeLabel], { axis: 0 }) : b.op('ConstantOfShape', [b.op('Shape', [label])], { value: { name: '', dataType: type, dims: [1], data: type === DataType.DOUBLE ? new Float64Array([1]) : new Float32Array([1]) } });
  if (weight && elemTypeOrThrow(c, weight, c.where) !== type) w = b.op('Cast', [w], { to: type });
  if (ignored) w = b.op('Where', [ignored, scalarLike(c, like, 0), w]);
  return { w, safeLabel };
}

/** Σ w, or 1 where it is 0 (the kernel's guard: all labels ignored gives 0, not NaN). */
function guardedSum(c: LowerContext, w: string, like: string): string {
  const { b } = c;
  const s = reduceSum(c, w, undefined, false);
  return b.op('Where', [b.op('Equal', [s, scalarLike(c, like, 0)]), scalarLike(c, like, 1), s]);
}

function dLogits(c: LowerContext, dY: string, logProb: string, label: string, weight: string, ignore: string | number | undefined): string {
  const { b } = c;
  const rank = rankOrThrow(c, logProb, c.node.opType);
  const { w, safeLabel } = weights(c, label, weight, ignore, logProb);
  const classes = b.op('Gather', [b.op('Shape', [logProb]), int64s(c, [1])], { axis: 0 });
  const scalar = (v: number) => b.constant('sce/i', DataType.INT64, [], [v]);
  const range = b.op('Range', [scalar(0), squeeze(c, classes, [0]), scalar(1)]);
  const classIds = b.op('Reshape', [range, int64s(c, [1, -1, ...new Array(rank - 2).fill(1)])]);
  const onehot = b.op('Cast', [b.op('Equal', [unsqueeze(c, safeLabel, [1]), classIds])], { to: elemTypeOrThrow(c, logProb, c.where) });
  const diff = b.op('Sub', [b.op('Exp', [logProb]), onehot]);
  const red = reductionOf(c);
  const scale = red === 'mean' ? b.op('Div', [dY, guardedSum(c, w, logProb)]) : dY;
  return b.op('Mul', [diff, unsqueeze(c, b.op('Mul', [w, scale]), [1])]);
}

export const softmaxCrossEntropyLossGrad: OrtLowering = {
  domain: MS,
  opType: 'SoftmaxCrossEntropyLossGrad',
  minInputs: 3,
  lower: (c) => [dLogits(c, c.I(0), c.I(1), c.I(2), c.I(3), attrInt(c.node, 'ignore_index'))],
};

export const softmaxCrossEntropyLossInternalGrad: OrtLowering = {
  domain: MS,
  opType: 'SoftmaxCrossEntropyLossInternalGrad',
  minInputs: 3,
  lower: (c) => {
    let d = dLogits(c, c.I(0), c.I(1), c.I(2), c.I(3), c.I(4) || -1);
    if (c.I(5)) d = c.b.op('Add', [d, c.I(5)]);
    const to = attrInt(c.node, 'output_type');
    return [to !== undefined ? c.b.op('Cast', [d], { to }) : d];
  },
};

export const softmaxCrossEntropyLossInternal: OrtLowering = {
  domain: MS,
  opType: 'SoftmaxCrossEntropyLossInternal',
  minInputs: 2,
  lower: (c) => {
    const { b } = c;
    const [scores, label, weight, ignore] = [c.I(0), c.I(1), c.I(2), c.I(3) || -1];
    const logProb = b.op('LogSoftmax', [scores], { axis: 1 });
    const { w, safeLabel } = weights(c, label, weight, ignore, scores);
    const picked = squeeze(c, b.op('GatherElements', [logProb, unsqueeze(c, safeLabel, [1])], { axis: 1 }), [1]);
    const perPosition = b.op('Mul', [b.op('Neg', [picked]), w]);
    const red = reductionOf(c);
    let loss = red === 'none' ? perPosition : reduceSum(c, perPosition, undefined, false);
    if (red === 'mean') loss = b.op('Div', [loss, guardedSum(c, w, scores)]);
    const to = attrInt(c.node, 'output_type');
    const cast = (x: string) => (to !== undefined ? b.op('Cast', [x], { to }) : x);
    return [cast(loss), c.used(1) ? cast(logProb) : ''];
  },
};
