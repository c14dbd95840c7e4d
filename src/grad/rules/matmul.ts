/** Gradients of MatMul (batched, broadcast, 1-D operands) and Gemm (every transA/transB/alpha/beta form). */
import { attrFloat, attrInt } from '../../ir/attributes.js';
import { dimOf, ifNeeded, int64s, rankOrThrow, scalarLike, squeeze, transposeLast2, unsqueeze } from '../emit.js';
import type { GradContext, GradRule } from '../types.js';
import { unbroadcast } from '../unbroadcast.js';

/**
 * Y = A @ B. 1-D operands are promoted as MatMul does (A [K] -> [1, K], B [K] -> [K, 1]) and the
 * gradient gets the dropped axis back; batch broadcasting is undone by unbroadcast.
 */
export const matMulGrad: GradRule = {
  opType: 'MatMul',
  backward: (ctx) => {
    const { b } = ctx;
    const g = ctx.GO(0)!;
    const [A, B] = [ctx.I(0), ctx.I(1)];
    const [ra, rb] = [rankOrThrow(ctx, A, 'MatMul'), rankOrThrow(ctx, B, 'MatMul')];
    if (ra === 1 && rb === 1) return [ifNeeded(ctx, 0, () => b.op('Mul', [g, B])), ifNeeded(ctx, 1, () => b.op('Mul', [g, A]))];
    const A2 = ra === 1 ? unsqueeze(ctx, A, [0]) : A;
    const B2 = rb === 1 ? unsqueeze(ctx, B, [1]) : B;
    const g2 = ra === 1 ? unsqueeze(ctx, g, [-2]) : rb === 1 ? unsqueeze(ctx, g, [-1]) : g;
    return [
      ifNeeded(ctx, 0, () => unbroadcast(ctx, b.op('MatMul', [g2, transposeLast2(ctx, B2, Math.max(rb, 2))]), A)),
      ifNeeded(ctx, 1, () => {
        if (rb === 2 && ra > 2) return weightGrad(ctx, A, g);
        const dB2 = b.op('MatMul', [transposeLast2(ctx, A2, Math.max(ra, 2)), g2]);
        return unbroadcast(ctx, rb === 1 ? squeeze(ctx, dB2, [-1]) : dB2, B);
      }),
    ];
  },
};

/**
 * The common x[..., K] @ W[K, N] case: one 2-D product over all leading positions instead of a
 * batched product followed by a sum over the batch.
 */
function weightGrad(ctx: GradContext, A: string, g: string): string {
  const { b } = ctx;
  const flat = (x: string) => b.op('Reshape', [x, b.op('Concat', [int64s(ctx, [-1]), dimOf(ctx, x, -1)], { axis: 0 })]);
  return b.op('Gemm', [flat(A), flat(g)], { transA: 1 });
}

/**
 * Y = alpha·A'·B' + beta·C with A' = transA ? Aᵀ : A (B' likewise). Each case is one Gemm:
 * dA' = alpha·g·B'ᵀ and dB' = alpha·A'ᵀ·g, transposed back where the forward transposed.
 */
export const gemmGrad: GradRule = {
  opType: 'Gemm',
  backward: (ctx) => {
    const { b, node } = ctx;
    const g = ctx.GO(0)!;
    const [A, B, C] = [ctx.I(0), ctx.I(1), ctx.I(2)];
    const alpha = attrFloat(node, 'alpha', 1);
    const beta = attrFloat(node, 'beta', 1);
    const ta = attrInt(node, 'transA', 0);
    const tb = attrInt(node, 'transB', 0);
    const gemm = (x: string, y: string, transA: number, transB: number) =>
      b.op('Gemm', [x, y], { transA, transB, ...(alpha !== 1 ? { alpha: { float: alpha } } : {}) });
    return [
      ifNeeded(ctx, 0, () => (ta ? gemm(B, g, tb, 1) : gemm(g, B, 0, tb ? 0 : 1))),
      ifNeeded(ctx, 1, () => (tb ? gemm(g, A, 1, ta) : gemm(A, g, ta ? 0 : 1, 0))),
      ifNeeded(ctx, 2, () => unbroadcast(ctx, beta === 1 ? g : b.op('Mul', [g, scalarLike(ctx, ctx.O(0), beta)]), C)),
    ];
  },
};
