/** Gradients of BatchNormalization (inference form), LayerNormalization, InstanceNormalization and GroupNormalization. */
import { GraphError } from '../../errors.js';
import { attrFloat, attrInt } from '../../ir/attributes.js';
import { ifNeeded, int64s, rankOrThrow, reduceMean, reduceSum, scalarLike, shapeOf, unsqueeze } from '../emit.js';
import type { GradContext, GradRule } from '../types.js';
import { unbroadcast } from '../unbroadcast.js';

const range = (from: number, to: number) => Array.from({ length: Math.max(0, to - from) }, (_, i) => from + i);

/** 1 / sqrt(v + epsilon), typed like v. */
function invStd(ctx: GradContext, v: string, eps: number): string {
  const { b } = ctx;
  return b.op('Reciprocal', [b.op('Sqrt', [b.op('Add', [v, scalarLike(ctx, v, eps)])])]);
}

/**
 * Y = scale·(X - mean)/sqrt(var + eps) + B with the running mean and var as inputs (a model
 * exported in eval mode). They are statistics, not weights: no gradient flows to them. A node in
 * training mode normalizes by batch statistics, which this rule does not differentiate.
 */
export const batchNormalizationGrad: GradRule = {
  opType: 'BatchNormalization',
  backward: (ctx) => {
    const { b, node } = ctx;
    if (attrInt(node, 'training_mode', 0) === 1 || (ctx.opset < 14 && node.outputs.filter(Boolean).length > 1))
      throw new GraphError(
        `BatchNormalization '${node.name ?? ''}' is in training mode (batch statistics), which has no gradient rule; export the model in eval mode (model.eval() before torch.onnx.export)`,
      );
    const g = ctx.GO(0)!;
    const [X, scale, mean, variance] = [ctx.I(0), ctx.I(1), ctx.I(3), ctx.I(4)];
    const rank = rankOrThrow(ctx, X, 'BatchNormalization');
    // Per-channel [C] vectors broadcast along axis 1 of [N, C, spatial...].
    const perChannel = (v: string) => (rank > 2 ? unsqueeze(ctx, v, range(1, rank - 1)) : v);
    const axes = [0, ...range(2, rank)];
    let inv: string | undefined;
    const invstd = () => (inv ??= invStd(ctx, variance, attrFloat(node, 'epsilon', 1e-5)));
    return [
      ifNeeded(ctx, 0, () => b.op('Mul', [g, perChannel(b.op('Mul', [scale, invstd()]))])),
      ifNeeded(ctx, 1, () => b.op('Mul', [reduceSum(ctx, b.op('Mul', [g, b.op('Sub', [X, perChannel(mean)])]), axes, false), invstd()])),
      ifNeeded(ctx, 2, () => reduceSum(ctx, g, axes, false)),
      null,
      null,
    ];
  },
};

/**
 * Y = x̂·Scale + B, x̂ = (X - mean)·invstd over the axes from `axis` on. With gs = dY·Scale and
 * means over those axes: dX = invstd·(gs - mean(gs) - x̂·mean(gs·x̂)). Mean and invstd are
 * recomputed in X's type rather than read from the optional outputs (those may be stashed in
 * float32, per stash_type).
 */
export const layerNormalizationGrad: GradRule = {
  opType: 'LayerNormalization',
  backward: (ctx) => {
    const { b, node } = ctx;
    if (ctx.GO(1) || ctx.GO(2))
      throw new GraphError(`the loss depends on the Mean or InvStdDev output of LayerNormalization '${node.name ?? ''}'; only the gradient through its normalized output Y is supported`);
    const g = ctx.GO(0)!;
    const [X, scale, bias] = [ctx.I(0), ctx.I(1), ctx.I(2)];
    const rank = rankOrThrow(ctx, X, 'LayerNormalization');
    const axis = attrInt(node, 'axis', -1);
    const normAxes = range(axis < 0 ? axis + rank : axis, rank);
    let memo: [string, string] | undefined;
    const normalized = () => (memo ??= standardize(ctx, X, normAxes, attrFloat(node, 'epsilon', 1e-5)));
    return [
      ifNeeded(ctx, 0, () => {
        const [xhat, inv] = normalized();
        return standardizedInputGrad(ctx, b.op('Mul', [g, scale]), xhat, inv, normAxes);
      }),
      ifNeeded(ctx, 1, () => unbroadcast(ctx, b.op('Mul', [g, normalized()[0]]), scale)),
      ifNeeded(ctx, 2, () => unbroadcast(ctx, g, bias)),
    ];
  },
};

/** x̂ = (X − mean)·invstd over `axes` (statistics recomputed in X's type), and invstd. */
function standardize(ctx: GradContext, X: string, axes: number[], eps: number): [xhat: string, inv: string] {
  const { b } = ctx;
  const xc = b.op('Sub', [X, reduceMean(ctx, X, axes, true)]);
  const inv = invStd(ctx, reduceMean(ctx, b.op('Mul', [xc, xc]), axes, true), eps);
  return [b.op('Mul', [xc, inv]), inv];
}

/** dX of x̂ over `axes` given gs = dY·scale: invstd·(gs − mean(gs) − x̂·mean(gs·x̂)). */
function standardizedInputGrad(ctx: GradContext, gs: string, xhat: string, inv: string, axes: number[]): string {
  const { b } = ctx;
  const mean = (v: string) => reduceMean(ctx, v, axes, true);
  const centered = b.op('Sub', [gs, mean(gs)]);
  return b.op('Mul', [inv, b.op('Sub', [centered, b.op('Mul', [xhat, mean(b.op('Mul', [gs, xhat]))])])]);
}

/** Y = scale_c·x̂ + B_c, x̂ standardized over the spatial axes of each (n, c). */
export const instanceNormalizationGrad: GradRule = {
  opType: 'InstanceNormalization',
  backward: (ctx) => {
    const { b, node } = ctx;
    const g = ctx.GO(0)!;
    const [X, scale] = [ctx.I(0), ctx.I(1)];
    const rank = rankOrThrow(ctx, X, 'InstanceNormalization');
    const spatial = range(2, rank);
    let memo: [string, string] | undefined;
    const normalized = () => (memo ??= standardize(ctx, X, spatial, attrFloat(node, 'epsilon', 1e-5)));
    const perChannel = (v: string) => unsqueeze(ctx, v, range(1, rank - 1));
    return [
      ifNeeded(ctx, 0, () => standardizedInputGrad(ctx, b.op('Mul', [g, perChannel(scale)]), ...normalized(), spatial)),
      ifNeeded(ctx, 1, () => reduceSum(ctx, b.op('Mul', [g, normalized()[0]]), [0, ...spatial], false)),
      ifNeeded(ctx, 2, () => reduceSum(ctx, g, [0, ...spatial], false)),
    ];
  },
};

/**
 * GroupNormalization (opset 18): X [N, C, ...] standardized over each group of C / num_groups
 * channels and their spatial axes, i.e. over the last axis of X reshaped to [N, G, -1]. Scale and
 * bias are per group ([G]) at opset 18 and per channel ([C]) from opset 21, which changed them.
 */
export const groupNormalizationGrad: GradRule = {
  opType: 'GroupNormalization',
  backward: (ctx) => {
    const { b, node } = ctx;
    const g = ctx.GO(0)!;
    const [X, scale] = [ctx.I(0), ctx.I(1)];
    const rank = rankOrThrow(ctx, X, 'GroupNormalization');
    const groups = attrInt(node, 'num_groups');
    if (groups === undefined) throw new GraphError(`GroupNormalization '${node.name ?? ''}' has no num_groups, which ONNX requires`);
    const perChannel = ctx.opset >= 21;
    const grouped = (v: string) => b.op('Reshape', [v, int64s(ctx, [0, groups, -1])]);
    const back = (v: string) => b.op('Reshape', [v, shapeOf(ctx, X)]);
    let memo: [string, string] | undefined;
    const normalized = () => (memo ??= standardize(ctx, grouped(X), [2], attrFloat(node, 'epsilon', 1e-5)));
    const channelAxes = (v: string) => (perChannel ? unsqueeze(ctx, v, range(1, rank - 1)) : b.op('Reshape', [v, int64s(ctx, [groups, 1])]));
    const paramGrad = (v: string) => (perChannel ? reduceSum(ctx, v, [0, ...range(2, rank)], false) : reduceSum(ctx, grouped(v), [0, 2], false));
    return [
      ifNeeded(ctx, 0, () => {
        const gs = perChannel ? grouped(b.op('Mul', [g, channelAxes(scale)])) : b.op('Mul', [grouped(g), channelAxes(scale)]);
        return back(standardizedInputGrad(ctx, gs, ...normalized(), [2]));
      }),
      ifNeeded(ctx, 1, () => paramGrad(b.op('Mul', [g, back(normalized()[0])]))),
      ifNeeded(ctx, 2, () => paramGrad(g)),
    ];
  },
};
