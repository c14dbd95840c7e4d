/**
 * FusedMatMul(A, B) (contrib, fused_matmul.cc; also its older name TransposeMatMul):
 * Y = alpha·A'·B', numpy-broadcast, where transA/transB swap the last two axes and
 * transBatchA/transBatchB move axis 0 behind the batch axes (perm 1…r−2, 0, r−1; with both set,
 * 1…r−2, r−1, 0). Rank-1 operands are not transposed.
 */
import { attrFloat, attrInt } from '../../../ir/attributes.js';
import { rankOrThrow, scalarLike } from '../../../grad/emit.js';
import type { LowerContext, OrtLowering } from './types.js';

function perm(rank: number, trans: boolean, transBatch: boolean): number[] {
  let p = Array.from({ length: rank }, (_, i) => i);
  if (transBatch) p = [...p.slice(1, rank - 1), 0, rank - 1];
  if (trans) [p[rank - 2], p[rank - 1]] = [p[rank - 1], p[rank - 2]];
  return p;
}

function operand(c: LowerContext, x: string, trans: number, transBatch: number): string {
  if (!trans && !transBatch) return x;
  const rank = rankOrThrow(c, x, c.node.opType);
  if (rank < 2) return x;
  return c.b.op('Transpose', [x], { perm: perm(rank, !!trans, !!transBatch) });
}

function fusedMatMul(opType: string): OrtLowering {
  return {
    domain: 'com.microsoft',
    opType,
    minInputs: 2,
    lower: (c) => {
      const n = c.node;
      const a = operand(c, c.I(0), attrInt(n, 'transA', 0), attrInt(n, 'transBatchA', 0));
      const b = operand(c, c.I(1), attrInt(n, 'transB', 0), attrInt(n, 'transBatchB', 0));
      const y = c.b.op('MatMul', [a, b]);
      const alpha = attrFloat(n, 'alpha', 1);
      return [alpha === 1 ? y : c.b.op('Mul', [y, scalarLike(c, c.I(0), alpha)])];
    },
  };
}

export const fusedMatMulLowering = fusedMatMul('FusedMatMul');
export const transposeMatMulLowering = fusedMatMul('TransposeMatMul');
