/**
 * Gradient of Conv (1-D, 2-D, 3-D: strides, pads, auto_pad, dilations, group, bias), and the
 * window geometry the pooling rules share: a strided window op's adjoint is a ConvTranspose,
 * cropped or padded back onto the input grid.
 */
import { GraphError } from '../../errors.js';
import { attrInt, attrInts, attrString } from '../../ir/attributes.js';
import type { Node } from '../../ir/graph.js';
import { dimOf, ifNeeded, int64s, rankOrThrow, reduceSum } from '../emit.js';
import { isStatic } from '../../ir/shape-info.js';
import type { Emitter, GradContext, GradRule } from '../types.js';

/** An int64 vector: its values when known before running, else the name of a 1-D int64 value. */
export type IntVec = number[] | string;

export const vecName = (e: Emitter, v: IntVec): string => (typeof v === 'string' ? v : int64s(e, v));

/** Concatenation of int64 vectors: constants fold, anything dynamic makes a Concat. */
export function concatVec(e: Emitter, parts: IntVec[]): IntVec {
  if (parts.every((p) => typeof p !== 'string')) return (parts as number[][]).flat();
  return e.b.op('Concat', parts.map((p) => vecName(e, p)), { axis: 0 });
}

/** Dims start..end-1 of `x`: static when all are known, else a slice of Shape(x). */
export function dimsOf(e: Emitter, x: string, start: number, end: number): IntVec {
  const s = e.shape(x)?.slice(start, end);
  if (isStatic(s) && s.length === end - start) return s;
  return e.b.op('Slice', [e.b.op('Shape', [x]), int64s(e, [start]), int64s(e, [end])]);
}

/** Strides, dilations and padding of a Conv or pooling node along its `spatial` axes. */
export interface Window {
  kernel: number[];
  strides: number[];
  dilations: number[];
  autoPad: string;
  /** Explicit pads [begin..., end...] (zeros for VALID; unused for SAME_*). */
  pads: number[];
}

export function windowOf(node: Node, kernel: number[]): Window {
  const d = kernel.length;
  const autoPad = attrString(node, 'auto_pad', 'NOTSET');
  if (!['NOTSET', 'VALID', 'SAME_UPPER', 'SAME_LOWER'].includes(autoPad))
    throw new GraphError(`node '${node.name ?? node.opType}' (${node.opType}): unknown auto_pad '${autoPad}'`);
  return {
    kernel,
    strides: attrInts(node, 'strides') ?? new Array<number>(d).fill(1),
    dilations: attrInts(node, 'dilations') ?? new Array<number>(d).fill(1),
    autoPad,
    pads: autoPad === 'NOTSET' ? (attrInts(node, 'pads') ?? new Array<number>(2 * d).fill(0)) : new Array<number>(2 * d).fill(0),
  };
}

const span = (w: Window, i: number) => w.dilations[i] * (w.kernel[i] - 1) + 1;
const isSame = (w: Window) => w.autoPad.startsWith('SAME');

/**
 * Begin and end pads per spatial axis, with auto_pad SAME_* resolved as ONNX Runtime does
 * (total = (ceil(in/s) - 1)·s + span - in, the odd unit at the end for SAME_UPPER). Static when
 * the pads are explicit or the input's spatial dims are known, else computed at run time.
 */
export function padsOf(e: Emitter, w: Window, X: string, inDims: IntVec): { begin: IntVec; end: IntVec } {
  const d = w.kernel.length;
  if (!isSame(w)) return { begin: w.pads.slice(0, d), end: w.pads.slice(d) };
  const upper = w.autoPad === 'SAME_UPPER';
  if (typeof inDims !== 'string') {
    // A negative total (stride longer than the window) just leaves trailing input unread: clamp.
    const total = inDims.map((n, i) => Math.max(0, (Math.ceil(n / w.strides[i]) - 1) * w.strides[i] + span(w, i) - n));
    const begin = total.map((t) => (upper ? Math.floor(t / 2) : t - Math.floor(t / 2)));
    return { begin, end: total.map((t, i) => t - begin[i]) };
  }
  const { b } = e;
  const s = int64s(e, w.strides);
  const outs = b.op('Div', [b.op('Add', [inDims, int64s(e, w.strides.map((v) => v - 1))]), s]);
  const reach = b.op('Add', [b.op('Mul', [b.op('Sub', [outs, int64s(e, new Array<number>(d).fill(1))]), s]), int64s(e, w.kernel.map((_, i) => span(w, i)))]);
  const total = b.op('Max', [b.op('Sub', [reach, inDims]), int64s(e, new Array<number>(d).fill(0))]);
  const half = b.op('Div', [upper ? total : b.op('Add', [total, int64s(e, new Array<number>(d).fill(1))]), int64s(e, new Array<number>(d).fill(2))]);
  return { begin: half, end: b.op('Sub', [total, half]) };
}

/**
 * Σ over windows scattered back: ConvTranspose(g, kernel) on the grid of X, i.e. the adjoint of
 * the forward window op. ConvTranspose alone cannot always land on X's size (when the stride does
 * not divide in + pads - span, the forward op never read the last few inputs), so:
 * - static sizes and floor rounding: crop with end pads, or grow with output_padding (< stride);
 * - otherwise (dynamic sizes, ceil_mode): no pads and output_padding = stride - 1, which covers
 *   every input position, then Slice [begin, begin + in) on the spatial axes.
 */
export function windowTranspose(e: Emitter, g: string, kernel: string, w: Window, group: number, X: string, rank: number, ceilMode = false): string {
  const { b } = e;
  const d = rank - 2;
  const inDims = dimsOf(e, X, 2, rank);
  const { begin, end } = padsOf(e, w, X, inDims);
  const attrs = { strides: w.strides, dilations: w.dilations, ...(group !== 1 ? { group } : {}) };
  if (!ceilMode && typeof inDims !== 'string' && typeof begin !== 'string' && typeof end !== 'string') {
    const padEnd: number[] = [];
    const outPad: number[] = [];
    for (let i = 0; i < d; i++) {
      const out = Math.floor((inDims[i] + begin[i] + end[i] - span(w, i)) / w.strides[i]) + 1;
      const extra = w.strides[i] * (out - 1) + span(w, i) - begin[i] - inDims[i];
      padEnd.push(Math.max(0, extra));
      outPad.push(Math.max(0, -extra));
    }
    const grow: Record<string, number[]> = outPad.some((p) => p !== 0) ? { output_padding: outPad } : {};
    return b.op('ConvTranspose', [g, kernel], { ...attrs, pads: [...begin, ...padEnd], ...grow });
  }
  const full = b.op('ConvTranspose', [g, kernel], { ...attrs, output_padding: w.strides.map((s) => s - 1) });
  const ends = typeof inDims !== 'string' && typeof begin !== 'string' ? inDims.map((n, i) => n + begin[i]) : b.op('Add', [vecName(e, inDims), vecName(e, begin)]);
  const axes = Array.from({ length: d }, (_, i) => i + 2);
  return b.op('Slice', [full, vecName(e, begin), vecName(e, ends), int64s(e, axes)]);
}

/** Kernel spatial size from kernel_shape or the weight's static shape. */
function kernelOf(ctx: GradContext, W: string, rank: number): number[] {
  const k = attrInts(ctx.node, 'kernel_shape') ?? ctx.shape(W)?.slice(2);
  if (!isStatic(k) || k.length !== rank - 2)
    throw new GraphError(`the gradient of Conv '${ctx.node.name ?? ''}' needs the kernel size: give the node kernel_shape or the weight '${W}' a static shape`);
  return k;
}

/**
 * dW[m, c, κ] = Σ_{n, o} dY[n, m, o] · X[n, g·Cg + c, o·s + κ·dil - pad]: a Conv over X with N as
 * channels and C as batch, dY (with M and N swapped) as kernel, strides and dilations swapped.
 * For group > 1 the channels of X are regrouped [C, N] -> [Cg, g·N] so that one grouped Conv
 * computes only the diagonal blocks. Its output runs past the kernel when the stride leaves a
 * remainder; the excess is sliced off.
 */
export function weightGrad(ctx: GradContext, X: string, W: string, g: string, w: Window, group: number, rank: number): string {
  const { b } = ctx;
  const d = rank - 2;
  const swap01 = [1, 0, ...Array.from({ length: d }, (_, i) => i + 2)];
  const inDims = dimsOf(ctx, X, 2, rank);
  let { begin, end } = padsOf(ctx, w, X, inDims);
  let x = X;
  if (typeof begin === 'string' || typeof end === 'string') {
    x = b.op('Pad', [X, vecName(ctx, concatVec(ctx, [[0, 0], begin, [0, 0], end]))]);
    begin = end = new Array<number>(d).fill(0);
  }
  if (group === 1) x = b.op('Transpose', [x], { perm: swap01 });
  else {
    const cg = ctx.shape(W)?.[1];
    const xDims = dimsOf(ctx, x, 2, rank);
    const split = concatVec(ctx, [dimsOf(ctx, x, 0, 1), [group], typeof cg === 'number' ? [cg] : dimOf(ctx, W, 1), xDims]);
    const grouped = b.op('Transpose', [b.op('Reshape', [x, vecName(ctx, split)])], { perm: [2, 1, 0, ...Array.from({ length: d }, (_, i) => i + 3)] });
    x = b.op('Reshape', [grouped, vecName(ctx, concatVec(ctx, [[0, -1], xDims]))]);
  }
  const kernelT = b.op('Transpose', [g], { perm: swap01 });
  let dw = b.op('Conv', [x, kernelT], { strides: w.dilations, dilations: w.strides, pads: [...(begin as number[]), ...(end as number[])], ...(group !== 1 ? { group } : {}) });
  const sizes = typeof inDims === 'string' ? undefined : inDims.map((n, i) => n + (begin as number[])[i] + (end as number[])[i]);
  const fits = sizes?.every((p, i) => {
    const out = Math.floor((p - span(w, i)) / w.strides[i]) + 1;
    return Math.floor((p - w.strides[i] * (out - 1) - 1) / w.dilations[i]) + 1 === w.kernel[i];
  });
  if (!fits) dw = b.op('Slice', [dw, int64s(ctx, new Array<number>(d).fill(0)), int64s(ctx, w.kernel), int64s(ctx, Array.from({ length: d }, (_, i) => i + 2))]);
  return b.op('Transpose', [dw], { perm: swap01 });
}

/**
 * dX of a stride-1, ungrouped Conv as a Conv of dY with W flipped in space and with its two
 * channel axes swapped: dX[i] = Σ_κ dY[i + b − d·κ]·W[κ] is a correlation of dY with the
 * reversed kernel, padded by d·(k−1) − b at the start and d·(k−1) − e at the end. Same sums as
 * the ConvTranspose, but onnxruntime's Conv kernel runs them faster (2.6 vs 4.0 ms on LeNet's
 * second layer, batch 64). Null when it does not apply (strides, groups, pads wider than the
 * kernel's span, or pads only known at run time); the caller then uses the ConvTranspose.
 */
function inputGradByConv(ctx: GradContext, g: string, W: string, w: Window, group: number, X: string, rank: number): string | null {
  if (group !== 1 || w.strides.some((s) => s !== 1)) return null;
  const d = rank - 2;
  const { begin, end } = padsOf(ctx, w, X, dimsOf(ctx, X, 2, rank));
  if (typeof begin === 'string' || typeof end === 'string') return null;
  const pads = [...begin.map((p, i) => span(w, i) - 1 - p), ...end.map((p, i) => span(w, i) - 1 - p)];
  if (pads.some((p) => p < 0)) return null;
  const { b } = ctx;
  const axes = Array.from({ length: d }, (_, i) => i + 2);
  const swapped = b.op('Transpose', [W], { perm: [1, 0, ...axes] });
  const flipped = b.op('Slice', [swapped, int64s(ctx, new Array<number>(d).fill(-1)), int64s(ctx, new Array<number>(d).fill(Number.MIN_SAFE_INTEGER)), int64s(ctx, axes), int64s(ctx, new Array<number>(d).fill(-1))]);
  return b.op('Conv', [g, flipped], { dilations: w.dilations, pads });
}

/**
 * Y = Conv(X, W) + B. dX is the ConvTranspose of dY by W (or, for stride 1, the equivalent
 * Conv above); dB sums dY over batch and space.
 */
export const convGrad: GradRule = {
  opType: 'Conv',
  backward: (ctx) => {
    const g = ctx.GO(0)!;
    const [X, W] = [ctx.I(0), ctx.I(1)];
    const rank = ctx.shape(X)?.length ?? rankOrThrow(ctx, W, 'Conv');
    const w = windowOf(ctx.node, kernelOf(ctx, W, rank));
    const group = attrInt(ctx.node, 'group', 1);
    return [
      ifNeeded(ctx, 0, () => inputGradByConv(ctx, g, W, w, group, X, rank) ?? windowTranspose(ctx, g, W, w, group, X, rank)),
      ifNeeded(ctx, 1, () => weightGrad(ctx, X, W, g, w, group, rank)),
      ifNeeded(ctx, 2, () => reduceSum(ctx, g, [0, ...Array.from({ length: rank - 2 }, (_, i) => i + 2)], false)),
    ];
  },
};
