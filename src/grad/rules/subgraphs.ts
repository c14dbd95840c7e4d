/**
 * What the rules of ops with subgraphs share: reading a body, copying it under fresh names, and
 * differentiating a node through an equivalent expression in ops that have rules (a Loop as a
 * Scan, an LSTM as its cell math in a Scan), which the backward walk then differentiates.
 */
import { GraphError } from '../../errors.js';
import { cloneGraph } from '../../ir/clone.js';
import { Graph, type Node } from '../../ir/graph.js';
import { definedNames, renameAll } from '../../ir/rename.js';
import { removeDeadNodes } from '../../ir/topo.js';
import { FLOAT_TYPES } from '../../ir/shape-info.js';
import { tensorType } from '../../ir/value-type.js';
import type { TypeProto } from '../../onnx/schema.js';
import type { Emitter, GradContext, GradResult } from '../types.js';

export const nodeLabel = (n: Node) => `'${n.name ?? n.outputs[0] ?? ''}' (${n.opType})`;

export function subgraphOf(n: Node, name: string): Graph {
  const a = n.attributes.find((x) => x.name === name);
  if (!a || !(a.value instanceof Graph)) throw new GraphError(`${n.opType} node ${nodeLabel(n)} has no ${name} graph; the model is malformed — re-export it`);
  return a.value;
}

/** A copy of `g` whose every defined name is fresh (`<name><suffix>`), so the copy can live beside the original. */
export function renamedCopy(ctx: Emitter, g: Graph, suffix: string): Graph {
  const c = cloneGraph(g);
  renameAll(c, new Map([...definedNames(c)].map((n) => [n, ctx.b.fresh(n + suffix)])));
  c.name = ctx.b.fresh(`${g.name ?? 'body'}${suffix}`);
  return c;
}

export const isFloat = (t: number | undefined) => t !== undefined && FLOAT_TYPES.has(t);

/** The declared type, or one made from what is known about an outer value. */
export function typeFor(ctx: Emitter, declared: TypeProto | undefined, like: string): TypeProto | undefined {
  if (declared?.tensor_type?.elem_type) return declared;
  const t = ctx.elemType(like);
  return t === undefined ? declared : tensorType(t, ctx.shape(like));
}

/** Σ_i ⟨outs_i, GO_i⟩ over the outputs that get a gradient: the scalar whose gradient is the VJP. */
export function vjpLoss(e: Emitter, outs: string[], gos: (string | null)[]): string | null {
  const terms = outs.flatMap((o, i) => (gos[i] ? [e.b.op('ReduceSum', [e.b.op('Mul', [o, gos[i]!])], { keepdims: 0 })] : []));
  if (!terms.length) return null;
  return terms.length === 1 ? terms[0] : e.b.op('Sum', terms);
}

/**
 * The gradient of the node in `ctx` computed through `emit`, an expression of the node's outputs
 * in other ops reading the node's inputs (and `captured`, values its subgraphs read): the
 * expression is built in a scratch graph, differentiated there by the backward walk, and only
 * the nodes the gradients need are moved into the graph being built (the expression's forward
 * values are recomputed where the gradients use them).
 */
export function gradientThrough(ctx: GradContext, emit: (e: Emitter) => string[], captured: string[] = []): GradResult {
  const node = ctx.node;
  const scratch = new Graph();
  scratch.name = ctx.b.fresh(`${node.name ?? node.opType}_as_expression`);
  const b = ctx.b.onGraph(scratch, 'grad/');
  const e: Emitter = { b, opset: ctx.opset, shape: ctx.shape, elemType: ctx.elemType, value: ctx.value };
  const outs = emit(e);
  const loss = vjpLoss(e, outs, node.outputs.map((_, i) => (outs[i] ? ctx.GO(i) : null)));
  const wanted = node.inputs.filter((x, i) => ctx.needsGI(i) && node.inputs.indexOf(x) === i);
  const caps = captured.filter((c) => ctx.needsCaptured(c) && isFloat(ctx.elemType(c)) && !wanted.includes(c));
  if (!loss || !wanted.length && !caps.length) return { inputs: node.inputs.map(() => null), captured: {} };
  const grads = ctx.backwardOf(scratch, loss, [...wanted, ...caps], b);
  scratch.outputs = [...grads.values()].map((name) => ({ name }));
  removeDeadNodes(scratch);
  ctx.b.graph.nodes.push(...scratch.nodes);
  ctx.b.graph.initializers.push(...scratch.initializers);
  // An input listed twice gets its whole gradient once (the walk sums what rules return per input).
  return {
    inputs: node.inputs.map((x, i) => (ctx.needsGI(i) && node.inputs.indexOf(x) === i ? grads.get(x)! : null)),
    captured: Object.fromEntries(caps.map((c) => [c, grads.get(c)!])),
  };
}
