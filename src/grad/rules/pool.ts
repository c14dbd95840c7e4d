/** Gradients of MaxPool, AveragePool and GlobalAveragePool. */
import { GraphError } from '../../errors.js';
import { attrInt, attrInts, attrString } from '../../ir/attributes.js';
import { DataType } from '../../onnx/data-types.js';
import { makeTensor } from '../../onnx/tensor.js';
import { constLike, elemTypeOrThrow, int64s, rankOrThrow, scalarLike, shapeOf } from '../emit.js';
import { isStatic } from '../../ir/shape-info.js';
import type { GradContext, GradRule } from '../types.js';
import { concatVec, dimsOf, padsOf, vecName, windowOf, windowTranspose, type Window } from './conv.js';

/** The window attributes of a pooling node, to replay it (storage_order left at row-major). */
function poolAttrs(ctx: GradContext) {
  const n = ctx.node;
  const attrs: Record<string, number | number[] | string> = { kernel_shape: kernelOf(ctx), auto_pad: attrString(n, 'auto_pad', 'NOTSET') };
  for (const k of ['strides', 'pads', 'dilations']) {
    const v = attrInts(n, k);
    if (v) attrs[k] = v;
  }
  for (const k of ['ceil_mode', 'count_include_pad']) {
    const v = attrInt(n, k);
    if (v !== undefined) attrs[k] = v;
  }
  return attrs;
}

function kernelOf(ctx: GradContext): number[] {
  const k = attrInts(ctx.node, 'kernel_shape');
  if (!k) throw new GraphError(`${ctx.node.opType} node '${ctx.node.name ?? ''}' has no kernel_shape, which ONNX requires`);
  return k;
}

/** Whether no input position lies in two windows (each then receives at most one gradient). */
const disjoint = (w: Window) => w.kernel.every((k, i) => w.strides[i] >= w.dilations[i] * (k - 1) + 1);

/**
 * Pads for a MaxUnpool that writes onto X's grid, or null when it cannot be used. onnxruntime
 * checks the given output shape against (out − 1)·stride + kernel − pads and refuses a smaller
 * one (which ceil_mode and dilations can produce), so the check needs static spatial sizes.
 */
function maxUnpoolPads(ctx: GradContext, w: Window, X: string): number[] | null {
  const rank = ctx.shape(X)?.length;
  if (rank === undefined) return null;
  const inDims = dimsOf(ctx, X, 2, rank);
  const outDims = ctx.shape(ctx.O(0))?.slice(2);
  if (typeof inDims === 'string' || !isStatic(outDims)) return null;
  const { begin, end } = padsOf(ctx, w, X, inDims);
  if (typeof begin === 'string' || typeof end === 'string') return null;
  const fits = inDims.every((n, i) => (outDims[i] - 1) * w.strides[i] + w.kernel[i] - begin[i] - end[i] <= n);
  return fits ? [...begin, ...end] : null;
}

/**
 * Each output's gradient goes to the input position its maximum came from. The forward op is
 * replayed with its Indices output (or that output reused), which ONNX defines as flat offsets
 * into X (batch and channel included), and the gradient is scatter-added into flat zeros.
 * Overlapping windows can pick one position twice, so the scatter must add: ScatterElements'
 * reduction arrived in opset 16. Disjoint windows need no reduction and work at any opset; in
 * float32 they use MaxUnpool, which is that very scatter (same values, bit for bit) without the
 * zeros input: 0.2 ms against 3.5 ms for ConstantOfShape + ScatterElements on LeNet's first
 * pooling at batch 64. onnxruntime has MaxUnpool kernels for float32 only.
 */
export const maxPoolGrad: GradRule = {
  opType: 'MaxPool',
  backward: (ctx) => {
    const { b, node } = ctx;
    const X = ctx.I(0);
    const g = ctx.GO(0);
    if (!g) return [null];
    const w = windowOf(node, kernelOf(ctx));
    const add = !disjoint(w);
    if (add && ctx.opset < 16)
      throw new GraphError(`the gradient of MaxPool '${node.name ?? ''}' with overlapping windows needs ScatterElements with reduction (opset 16); the model has opset ${ctx.opset}, convert it to opset 16 or later`);
    const indices = node.outputs[1] && attrInt(node, 'storage_order', 0) === 0 ? ctx.O(1) : b.add('MaxPool', [X], poolAttrs(ctx), { outputs: 2 })[1];
    const unpoolPads = !add && ctx.elemType(X) === DataType.FLOAT ? maxUnpoolPads(ctx, w, X) : null;
    if (unpoolPads) return [b.op('MaxUnpool', [g, indices, shapeOf(ctx, X)], { kernel_shape: w.kernel, strides: w.strides, pads: unpoolPads })];
    const sx = ctx.shape(X);
    const size = isStatic(sx) ? int64s(ctx, [sx.reduce((p, d) => p * d, 1)]) : b.op('Reshape', [b.op('Size', [X]), int64s(ctx, [1])]);
    const zeros = b.op('ConstantOfShape', [size], { value: makeTensor('', elemTypeOrThrow(ctx, X, 'the gradient of MaxPool'), [1], [0]) });
    const flat = (v: string) => b.op('Reshape', [v, int64s(ctx, [-1])]);
    const scattered = b.op('ScatterElements', [zeros, flat(indices), flat(g)], { axis: 0, ...(add ? { reduction: 'add' } : {}) });
    return [b.op('Reshape', [scattered, shapeOf(ctx, X)])];
  },
};

/**
 * Y = Σ_window X / divisor. The gradient divides dY by each window's divisor, then spreads it
 * over the window: a ConvTranspose with a ones kernel, with N·C folded into the batch so one
 * [1, 1, k...] kernel serves every channel. The divisor is the kernel size unless padding is
 * excluded from the count or ceil_mode clips the last windows; then 1/divisor is read off the
 * forward op itself as AveragePool(ones) / WindowSum(ones) over a one-channel ones image, which
 * follows ONNX Runtime's counting whatever it is.
 */
export const averagePoolGrad: GradRule = {
  opType: 'AveragePool',
  backward: (ctx) => {
    const { b, node } = ctx;
    const X = ctx.I(0);
    const g = ctx.GO(0)!;
    const rank = rankOrThrow(ctx, X, 'AveragePool');
    const d = rank - 2;
    const w = windowOf(node, kernelOf(ctx));
    const ceil = attrInt(node, 'ceil_mode', 0) === 1;
    const K = w.kernel.reduce((p, k) => p * k, 1);
    const ones = constLike(ctx, X, new Array<number>(K).fill(1), [1, 1, ...w.kernel]);
    const inDims = dimsOf(ctx, X, 2, rank);
    const pads = padsOf(ctx, w, X, inDims);
    const unpadded = [pads.begin, pads.end].every((p) => typeof p !== 'string' && p.every((v) => v === 0));
    let scaled: string;
    if (!ceil && (unpadded || attrInt(node, 'count_include_pad', 0) === 1)) scaled = b.op('Mul', [g, scalarLike(ctx, X, 1 / K)]);
    else {
      const t = elemTypeOrThrow(ctx, X, 'the gradient of AveragePool');
      let image = b.op('ConstantOfShape', [vecName(ctx, concatVec(ctx, [[1, 1], inDims]))], { value: makeTensor('', t, [1], [1]) });
      const avg = b.op('AveragePool', [image], poolAttrs(ctx));
      let { begin, end } = pads;
      if (typeof begin === 'string' || typeof end === 'string') {
        image = b.op('Pad', [image, vecName(ctx, concatVec(ctx, [[0, 0], begin, [0, 0], end]))]);
        begin = end = new Array<number>(d).fill(0);
      }
      // ceil_mode adds windows that start inside but run past the padded input: pad the count
      // by stride - 1 more, then keep as many windows as the pool has (read at run time: ONNX
      // Runtime drops a last window that would start in the end padding).
      const endPads = (end as number[]).map((p, i) => p + (ceil ? w.strides[i] - 1 : 0));
      let count = b.op('Conv', [image, ones], { strides: w.strides, dilations: w.dilations, pads: [...(begin as number[]), ...endPads] });
      if (ceil) count = b.op('Slice', [count, int64s(ctx, new Array<number>(d).fill(0)), b.op('Slice', [b.op('Shape', [avg]), int64s(ctx, [2]), int64s(ctx, [rank])]), int64s(ctx, Array.from({ length: d }, (_, i) => i + 2))]);
      scaled = b.op('Mul', [g, b.op('Div', [avg, count])]);
    }
    const folded = b.op('Reshape', [scaled, int64s(ctx, [-1, 1, ...new Array<number>(d).fill(0)])]);
    return [b.op('Reshape', [windowTranspose(ctx, folded, ones, w, 1, X, rank, ceil), shapeOf(ctx, X)])];
  },
};

/** Y = mean over the spatial axes: dX = dY / (spatial size), broadcast back over them. */
export const globalAveragePoolGrad: GradRule = {
  opType: 'GlobalAveragePool',
  backward: (ctx) => {
    const { b } = ctx;
    const [X, Y] = [ctx.I(0), ctx.O(0)];
    const sx = ctx.shape(X);
    let scale: string;
    if (isStatic(sx)) scale = scalarLike(ctx, X, 1 / sx.slice(2).reduce((p, v) => p * v, 1));
    else {
      const t = elemTypeOrThrow(ctx, X, 'the gradient of GlobalAveragePool');
      const half = t === DataType.FLOAT16 || t === DataType.BFLOAT16;
      const size = (v: string) => b.op('Cast', [b.op('Size', [v])], { to: half ? DataType.FLOAT : t });
      scale = b.op('Div', [size(Y), size(X)]);
      if (half) scale = b.op('Cast', [scale], { to: t });
    }
    return [b.op('Expand', [b.op('Mul', [ctx.GO(0)!, scale]), shapeOf(ctx, X)])];
  },
};
