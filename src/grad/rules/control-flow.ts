/**
 * Gradients through control flow. An If's outputs depend on the values its branches read from
 * the enclosing graph (parameters included); its condition is not differentiable. The gradient
 * is itself an If on the same condition: each branch is the forward branch (its values renamed,
 * so no name repeats in the model) plus its own backward walk, computing the vector-Jacobian
 * product of the branch outputs with the gradients arriving at the If's outputs, d/dc Σ⟨o_i,
 * GO_i⟩, for every captured value c — zeros where a branch does not use c.
 */
import { GraphError } from '../../errors.js';
import { cloneGraph } from '../../ir/clone.js';
import { Graph } from '../../ir/graph.js';
import { definedNames, renameAll } from '../../ir/rename.js';
import { capturedNames } from '../../ir/topo.js';
import { tensorType } from '../../ir/value-type.js';
import type { GradContext, GradRule } from '../types.js';

function branch(ctx: GradContext, name: string): Graph {
  const a = ctx.node.attributes.find((x) => x.name === name);
  if (!a || !(a.value instanceof Graph)) throw new GraphError(`If node '${ctx.node.name ?? ctx.O(0)}' has no ${name}`);
  return a.value;
}

/** One branch's backward: the branch (renamed), Σ⟨o_i, GO_i⟩, and the gradients of `caps` as its outputs. */
function branchGradient(ctx: GradContext, g: Graph, caps: string[], label: string): Graph {
  const B = cloneGraph(g);
  const suffix = `/${label}_grad`;
  renameAll(B, new Map([...definedNames(B)].map((n) => [n, ctx.b.fresh(n + suffix)])));
  B.name = ctx.b.fresh(`${g.name ?? label}_grad`);
  const bb = ctx.b.onGraph(B, 'grad/');
  const terms: string[] = [];
  B.outputs.forEach((o, i) => {
    const go = ctx.GO(i);
    if (go) terms.push(bb.op('ReduceSum', [bb.op('Mul', [o.name, go])], { keepdims: 0 }));
  });
  const total = terms.length === 1 ? terms[0] : bb.op('Sum', terms);
  const grads = ctx.backwardOf(B, total, caps, bb);
  B.outputs = caps.map((c) => ({ name: grads.get(c)!, type: tensorType(ctx.elemType(c)!, ctx.shape(c)) }));
  return B;
}

export const ifGrad: GradRule = {
  opType: 'If',
  backward: (ctx) => {
    const thenG = branch(ctx, 'then_branch');
    const elseG = branch(ctx, 'else_branch');
    const caps = [...new Set([...capturedNames(thenG), ...capturedNames(elseG)])].filter((c) => ctx.needsCaptured(c) && ctx.elemType(c) !== undefined);
    if (!caps.length) return { inputs: [null], captured: {} };
    const thenGrad = branchGradient(ctx, thenG, caps, 'then');
    const elseGrad = branchGradient(ctx, elseG, caps, 'else');
    const outs = caps.map((c) => ctx.b.fresh(`${c}_if_grad`));
    ctx.b.add('If', [ctx.I(0)], { then_branch: thenGrad, else_branch: elseGrad }, { exact: outs });
    return { inputs: [null], captured: Object.fromEntries(caps.map((c, i) => [c, outs[i]])) };
  },
};
