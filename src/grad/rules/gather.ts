/**
 * Gradients of Gather and GatherElements: the output gradient is scatter-added into zeros of the
 * data's shape. Repeated indices (the same embedding row used twice) must accumulate, so this
 * uses ScatterND / ScatterElements with reduction='add', which needs opset 16. A OneHot-MatMul
 * formulation would work at 13 but costs memory proportional to vocabulary × tokens; the build
 * pass raises every model to 16 anyway, so below 16 the rule refuses instead.
 */
import { GraphError } from '../../errors.js';
import { attrInt } from '../../ir/attributes.js';
import type { Node } from '../../ir/graph.js';
import { DataType } from '../../onnx/data-types.js';
import { makeTensor } from '../../onnx/tensor.js';
import { dimOf, elemTypeOrThrow, int64s, rankOrThrow, shapeOf, unsqueeze, zerosLike } from '../emit.js';
import { isStatic } from '../../ir/shape-info.js';
import type { GradContext, GradRule } from '../types.js';
import { softmaxCrossEntropyGrad } from './softmax-cross-entropy.js';

function needOpset16(ctx: GradContext, node: Node): void {
  if (ctx.opset < 16)
    throw new GraphError(`the gradient of ${node.opType} node '${node.name ?? node.outputs[0]}' needs opset 16 (scatter with reduction='add'), the model has ${ctx.opset}; raise the model's opset to 16 (lion-onnx build does)`);
}

/**
 * Y = Gather(D, idx, axis). With the gathered axis moved to the front (D' = [D[a], pre, post])
 * and the index axes of g moved to the front likewise (g' = [idx..., pre, post]), the gradient
 * is ScatterND(zeros(D'), idx[..., None], g', reduction='add'), moved back.
 */
export const gatherGrad: GradRule = {
  opType: 'Gather',
  backward: (ctx) => {
    needOpset16(ctx, ctx.node);
    const { b } = ctx;
    const [D, idx] = [ctx.I(0), ctx.I(1)];
    const r = rankOrThrow(ctx, D, 'Gather');
    const q = rankOrThrow(ctx, idx, 'Gather');
    const a = ((attrInt(ctx.node, 'axis', 0) % r) + r) % r;
    let i64 = ctx.elemType(idx) === DataType.INT64 ? idx : b.op('Cast', [idx], { to: DataType.INT64 });
    // ScatterND wants indices in [0, n); Gather also takes negative ones.
    if (!(ctx.value(idx)?.every((v) => v >= 0) ?? false)) i64 = b.op('Mod', [i64, dimScalar(ctx, D, a)]);
    const range = (from: number, to: number) => Array.from({ length: Math.max(0, to - from) }, (_, k) => from + k);
    const dPerm = [a, ...range(0, a), ...range(a + 1, r)];
    const gPerm = [...range(a, a + q), ...range(0, a), ...range(a + q, r + q - 1)];
    const moved = a === 0 ? null : dPerm;
    const zeros = moved ? movedZeros(ctx, D, moved) : zerosLike(ctx, D);
    const g = moved ? b.op('Transpose', [ctx.GO(0)!], { perm: gPerm }) : ctx.GO(0)!;
    const summed = b.op('ScatterND', [zeros, unsqueeze(ctx, i64, [-1]), g], { reduction: 'add' });
    if (!moved) return [summed, null];
    const back = new Array<number>(r);
    dPerm.forEach((p, k) => (back[p] = k));
    return [b.op('Transpose', [summed], { perm: back }), null];
  },
};

/** Zeros shaped like Transpose(D, perm). */
function movedZeros(ctx: GradContext, D: string, perm: number[]): string {
  const s = ctx.shape(D);
  const shape = isStatic(s) ? int64s(ctx, perm.map((p) => s[p])) : ctx.b.op('Gather', [shapeOf(ctx, D), int64s(ctx, perm)], { axis: 0 });
  return ctx.b.op('ConstantOfShape', [shape], { value: zerosValue(ctx, D) });
}

function zerosValue(ctx: GradContext, D: string) {
  return makeTensor('', elemTypeOrThrow(ctx, D, 'the gradient of Gather'), [1], [0]);
}

/** Dim `axis` of D as a scalar, to wrap negative indices without changing their shape. */
function dimScalar(ctx: GradContext, D: string, axis: number): string {
  const d = ctx.shape(D)?.[axis];
  if (typeof d === 'number') return ctx.b.constant('grad/i', DataType.INT64, [], [d]);
  return ctx.b.op('Reshape', [dimOf(ctx, D, axis), int64s(ctx, [])]);
}

/**
 * Y = GatherElements(D, idx, axis): dD = ScatterElements(zeros(D), idx, g, axis, reduction='add');
 * of a LogSoftmax (a cross-entropy), the gradient of both in one (softmax-cross-entropy.ts).
 */
export const gatherElementsGrad: GradRule = {
  opType: 'GatherElements',
  backward: (ctx) => {
    const fused = softmaxCrossEntropyGrad(ctx);
    if (fused) return fused;
    needOpset16(ctx, ctx.node);
    const axis = attrInt(ctx.node, 'axis', 0);
    return [ctx.b.op('ScatterElements', [zerosLike(ctx, ctx.I(0)), ctx.I(1), ctx.GO(0)!], { axis, reduction: 'add' }), null];
  },
};
