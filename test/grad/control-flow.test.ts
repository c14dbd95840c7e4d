/**
 * Gradients through If (grad/rules/control-flow.ts) against finite differences: values the
 * branches read from the enclosing graph — one used by both branches, one by a single branch
 * (zeros from the other), one used twice — with the condition true and false, a branch with
 * several nodes, and two If outputs of which only one reaches the loss.
 */
import { describe, expect, it } from 'vitest';
import type { GraphBuilder } from '../../src/ir/builder.js';
import { Graph } from '../../src/ir/graph.js';
import { tensorType } from '../../src/ir/value-type.js';
import { checkVjp } from './check-vjp.js';

/** A branch graph: `emit` appends nodes with the builder `b` (shared names) and returns its outputs. */
function branch(b: GraphBuilder, name: string, floatType: number, shape: number[], emit: (bb: GraphBuilder) => string[]): Graph {
  const g = new Graph();
  g.name = b.fresh(name);
  const bb = b.onGraph(g, `${name}/`);
  g.outputs = emit(bb).map((o) => ({ name: o, type: tensorType(floatType, shape) }));
  return g;
}

const cond = (v: boolean) => ({ shape: [], type: 'bool' as const, values: [v ? 1 : 0] });

describe('If', () => {
  for (const c of [true, false])
    it(`condition ${c}: captured values used by both branches, by one, and twice`, async () => {
      const r = await checkVjp({
        inputs: [cond(c), { shape: [3, 4] }, { shape: [4] }, { shape: [3, 4] }],
        build: (b, [p, x, w, v], ft) => [
          b.add('If', [p], {
            then_branch: branch(b, 'then', ft, [3, 4], (bb) => [bb.op('Mul', [bb.op('Tanh', [x]), w])]),
            else_branch: branch(b, 'else', ft, [3, 4], (bb) => [bb.op('Add', [bb.op('Mul', [x, x]), bb.op('Mul', [v, w])])]),
          })[0],
        ],
      });
      expect(r.dtype).toBe('float64');
      expect(r.maxGrad).toBeGreaterThan(0.1);
    });

  it('two outputs, only one entering the loss; a constant branch', async () => {
    await checkVjp({
      inputs: [cond(true), { shape: [2, 3] }, { shape: [2, 3] }],
      outputs: 2,
      lossOutputs: [1],
      build: (b, [p, x, y], ft) =>
        b.add(
          'If',
          [p],
          {
            then_branch: branch(b, 'then', ft, [2, 3], (bb) => [bb.op('Sigmoid', [x]), bb.op('Mul', [x, y])]),
            else_branch: branch(b, 'else', ft, [2, 3], (bb) => [bb.op('Identity', [y]), bb.op('Identity', [bb.constant('k', ft, [2, 3], [1, 2, 3, 4, 5, 6])])]),
          },
          { outputs: 2 },
        ),
    });
  });

  it('an If inside an If', async () => {
    for (const [a, bval] of [[true, false], [false, true], [true, true]] as const)
      await checkVjp({
        inputs: [cond(a), cond(bval), { shape: [4] }, { shape: [4] }],
        build: (b, [p, q, x, w], ft) => [
          b.add('If', [p], {
            then_branch: branch(b, 'outer_then', ft, [4], (bb) => [
              bb.add('If', [q], {
                then_branch: branch(bb, 'inner_then', ft, [4], (ib) => [ib.op('Mul', [x, w])]),
                else_branch: branch(bb, 'inner_else', ft, [4], (ib) => [ib.op('Exp', [w])]),
              })[0],
            ]),
            else_branch: branch(b, 'outer_else', ft, [4], (bb) => [bb.op('Sub', [x, w])]),
          })[0],
        ],
      });
  });
});
