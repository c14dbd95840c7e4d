/**
 * Gradient of Resize (opset 11+): nearest, linear and cubic modes, every coordinate transform but
 * tf_crop_and_resize, scales or sizes, known at build time or only at run time. Rather than
 * re-deriving the runtime's coordinate arithmetic, the backward asks the runtime: the same Resize
 * node, run on index or identity tensors, yields exactly the map the forward pass applied.
 */
import { GraphError } from '../../errors.js';
import { attrInts, attrString, attrTensor } from '../../ir/attributes.js';
import type { Attribute, Node } from '../../ir/graph.js';
import { DataType } from '../../onnx/data-types.js';
import { makeTensor, tensorToNumbers } from '../../onnx/tensor.js';
import { constLike, dimOf, elemTypeOrThrow, floatsOf, int64s, rankOrThrow, shapeOf } from '../emit.js';
import type { GradContext, GradRule } from '../types.js';

/** Appends a Resize with the forward node's attributes (less `drop`); returns its output. */
function resizeLike(ctx: GradContext, inputs: string[], drop: string[] = []): string {
  const { b, node } = ctx;
  const out = b.fresh(`${node.name ?? 'Resize'}/grad/resize`);
  const attributes: Attribute[] = node.attributes.filter((a) => !drop.includes(a.name)).map((a) => ({ ...a }));
  b.graph.nodes.push({ opType: 'Resize', inputs, outputs: [out], attributes, name: b.fresh(`${out}/node`) });
  return out;
}

/**
 * Nearest: each output copies one input. The node replayed on X's flat positions (int32) gives
 * which, and dY is scatter-added there (an input can feed several outputs: opset 16's reduction).
 */
function nearestGrad(ctx: GradContext, g: string): string {
  const { b, node } = ctx;
  const X = ctx.I(0);
  if (ctx.opset < 16)
    throw new GraphError(`the gradient of Resize '${node.name ?? ''}' (nearest) needs ScatterElements with reduction (opset 16); the model has opset ${ctx.opset}, convert it to opset 16 or later`);
  const size = b.op('Size', [X]);
  const [zero, one] = [0, 1].map((v) => b.constant('grad/i', DataType.INT32, [], [v]));
  const positions = b.op('Reshape', [b.op('Range', [zero, b.op('Cast', [size], { to: DataType.INT32 }), one]), shapeOf(ctx, X)]);
  const source = b.op('Cast', [resizeLike(ctx, [positions, ...node.inputs.slice(1)])], { to: DataType.INT64 });
  const flat = (v: string) => b.op('Reshape', [v, int64s(ctx, [-1])]);
  const zeros = b.op('ConstantOfShape', [b.op('Reshape', [size, int64s(ctx, [1])])], { value: makeTensor('', elemTypeOrThrow(ctx, X, 'the gradient of Resize'), [1], [0]) });
  return b.op('Reshape', [b.op('ScatterElements', [zeros, flat(source), flat(g)], { axis: 0, reduction: 'add' }), shapeOf(ctx, X)]);
}

/**
 * Linear and cubic resizes are separable: Y = X ×_a A_a over the resized axes, so dX = dY ×_a A_aᵀ.
 * A_aᵀ [in, out] is the node's own Resize, along axis a only, of the identity laid out
 * [in, 1, 1, in]: the runtime treats the two outer axes as batch and the unit axis stays put.
 */
function separableGrad(ctx: GradContext, g: string, rank: number): string {
  const { b, node } = ctx;
  const X = ctx.I(0);
  const shape = ctx.shape(X);
  const axesAttr = attrInts(node, 'axes')?.map((a) => (a < 0 ? a + rank : a));
  const sizes = ctx.I(3);
  const scales = sizes ? undefined : floatsOf(ctx, ctx.I(2));
  const partialSizes = sizes ? ctx.partial?.(sizes) : undefined;
  const legacy = ctx.opset < 13;
  const emptyFloats = () => b.constant('grad/empty', DataType.FLOAT, [0], []);
  const axes = axesAttr ?? Array.from({ length: rank }, (_, a) => a);
  let out = g;
  axes.forEach((a, j) => {
    const n = shape?.[a];
    // An axis the node leaves as it is: at scale 1 every transform but tf_half_pixel_for_nearest
    // (gone since opset 13) maps each coordinate onto itself.
    if (scales && scales[j] === 1) return;
    // Sizes made from Shape(X) keep X's (possibly symbolic) dims: torch's F.interpolate(size=...).
    if (partialSizes && n !== undefined && n !== null && partialSizes[j] === n) return;
    const dim = dimOf(ctx, X, a);
    let eye: string;
    if (typeof n === 'number') eye = constLike(ctx, X, Array.from({ length: n * n }, (_, k) => (k % (n + 1) === 0 ? 1 : 0)), [n, 1, 1, n]);
    else {
      const square = b.op('ConstantOfShape', [b.op('Concat', [dim, dim], { axis: 0 })], { value: makeTensor('', elemTypeOrThrow(ctx, X, 'the gradient of Resize'), [1], [0]) });
      eye = b.op('Reshape', [b.op('EyeLike', [square]), b.op('Concat', [dim, int64s(ctx, [1, 1]), dim], { axis: 0 })]);
    }
    const roi = legacy ? emptyFloats() : '';
    const entry = (v: string) => b.op('Slice', [v, int64s(ctx, [j]), int64s(ctx, [j + 1])]);
    const inputs = sizes
      ? [eye, roi, legacy ? emptyFloats() : '', b.op('Concat', [dim, int64s(ctx, [1, 1]), typeof partialSizes?.[j] === 'number' ? int64s(ctx, [partialSizes[j] as number]) : entry(sizes)], { axis: 0 })]
      : [eye, roi, scales ? b.constant('grad/scales', DataType.FLOAT, [4], [1, 1, 1, scales[j]]) : b.op('Concat', [b.constant('grad/scales', DataType.FLOAT, [3], [1, 1, 1]), entry(ctx.I(2))], { axis: 0 })];
    const mapT = b.op('Reshape', [resizeLike(ctx, inputs, ['axes', 'keep_aspect_ratio_policy']), int64s(ctx, [0, -1])]);
    if (a === rank - 2) out = b.op('MatMul', [mapT, out]);
    else {
      const perm = [...Array.from({ length: rank }, (_, i) => i).filter((i) => i !== a), a];
      const inverse = perm.map((_, i) => perm.indexOf(i));
      const moved = a === rank - 1 ? out : b.op('Transpose', [out], { perm });
      const contracted = b.op('MatMul', [moved, b.op('Transpose', [mapT], { perm: [1, 0] })]);
      out = a === rank - 1 ? contracted : b.op('Transpose', [contracted], { perm: inverse });
    }
  });
  return out;
}

export const resizeGrad: GradRule = {
  opType: 'Resize',
  backward: (ctx) => {
    const { node } = ctx;
    const where = `Resize '${node.name ?? ''}'`;
    if (ctx.opset < 11) throw new GraphError(`the gradient of ${where} needs opset 11 or later (roi, scales and sizes inputs); the model has opset ${ctx.opset}`);
    const mode = attrString(node, 'mode', 'nearest');
    const transform = attrString(node, 'coordinate_transformation_mode', 'half_pixel');
    if (!['nearest', 'linear', 'cubic'].includes(mode)) throw new GraphError(`${where} has mode '${mode}', which has no gradient rule`);
    if (transform === 'tf_crop_and_resize') throw new GraphError(`the gradient of ${where} does not support coordinate_transformation_mode tf_crop_and_resize`);
    if (ctx.I(3) && attrString(node, 'keep_aspect_ratio_policy', 'stretch') !== 'stretch')
      throw new GraphError(`the gradient of ${where} supports keep_aspect_ratio_policy stretch only; give the node scales or the sizes it resizes to`);
    const g = ctx.GO(0)!;
    const rank = rankOrThrow(ctx, ctx.I(0), 'Resize');
    return [mode === 'nearest' ? nearestGrad(ctx, g) : separableGrad(ctx, g, rank), null, null, null];
  },
};
