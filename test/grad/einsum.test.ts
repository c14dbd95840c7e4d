/**
 * Einsum's gradient against finite differences (float64), one row per contraction exporters emit
 * (batched matmul, attention scores, matrix-vector, row-wise dot, transposes, sums over an axis,
 * full contractions, the ellipsis and the implicit form).
 */
import { describe, expect, it } from 'vitest';
import { checkVjp, type InputSpec, type VjpSpec } from './check-vjp.js';

const x = (...shape: number[]): InputSpec => ({ shape });
const einsum = (equation: string, ...inputs: InputSpec[]): VjpSpec => ({ op: 'Einsum', attrs: { equation }, inputs });

type Case = [name: string, spec: VjpSpec];

const cases: Case[] = [
  ['bij,bjk->bik (batched matmul)', einsum('bij,bjk->bik', x(2, 3, 4), x(2, 4, 5))],
  ['bhid,bhjd->bhij (attention scores)', einsum('bhid,bhjd->bhij', x(2, 2, 3, 4), x(2, 2, 5, 4))],
  ['bhij,bhjd->bhid (attention values)', einsum('bhij,bhjd->bhid', x(1, 2, 3, 5), x(1, 2, 5, 4))],
  ['ij,j->i (matrix-vector)', einsum('ij,j->i', x(3, 4), x(4))],
  ['bi,bi->b (row-wise dot)', einsum('bi,bi->b', x(3, 4), x(3, 4))],
  ['ij->ji (transpose)', einsum('ij->ji', x(3, 4))],
  ['ij->i (sum over an axis only the operand has)', einsum('ij->i', x(3, 4))],
  ['bchw,bchw->bc (torch, summed spatial)', einsum('bchw,bchw->bc', x(2, 3, 2, 2), x(2, 3, 2, 2))],
  ['ij,ij-> (full contraction to a scalar)', einsum('ij,ij->', x(3, 4), x(3, 4))],
  ['ij-> (sum of everything)', einsum('ij->', x(3, 4))],
  ['i,j->ij (outer product)', einsum('i,j->ij', x(3), x(4))],
  ['bn,nd,bd->b (three operands)', einsum('bn,nd,bd->b', x(2, 3), x(3, 4), x(2, 4))],
  ['ik,kj (implicit output ij)', einsum('ik,kj', x(3, 4), x(4, 2))],
  ['...ij,...jk->...ik (ellipsis)', einsum('...ij,...jk->...ik', x(2, 3, 3, 4), x(2, 3, 4, 2))],
  ['b...d,d->b... (ellipsis in the middle, spaces)', einsum('b ... d, d -> b ...', x(2, 3, 2, 4), x(4))],
  ['bij,bjk->bik dynamic', { ...einsum('bij,bjk->bik', x(2, 3, 4), x(2, 4, 5)), dynamic: true }],
  ['bij->bi dynamic', { ...einsum('bij->bi', x(2, 3, 4)), dynamic: true }],
];

describe('Einsum gradient against finite differences', () => {
  for (const [name, spec] of cases)
    it(name, async () => {
      const r = await checkVjp(spec);
      expect(r.dtype).toBe('float64');
      expect(r.maxGrad).toBeGreaterThan(1e-3);
    });
});

describe('Einsum gradient: refusals', () => {
  it('a diagonal (a subscript repeated in one operand) is refused in one line', async () => {
    await expect(checkVjp(einsum('ii->i', x(3, 3)))).rejects.toThrow(/repeats a subscript/);
  });
  it('a size-1 dim broadcast against a larger one is refused', async () => {
    await expect(checkVjp(einsum('...ij,...jk->...ik', x(1, 3, 4), x(2, 4, 5)))).rejects.toThrow(/broadcasts sizes/);
  });
});
