/**
 * fold-constant-if: an If whose condition is known before running is replaced by the branch it
 * takes, inlined. Exporters that script a model (torch.jit.script) keep Python's `if`s on
 * shapes as If nodes — silero VAD has `Cast<bool>(Shape(h)[0])` with h declared [2, batch, 64],
 * and `Shape(x)[1] == 1` where that dim is static — and the weights they choose between live
 * inside the branches, where discover-parameters does not see them.
 *
 * A condition is known when shape inference (ir/shape-info.ts) gives its value: an initializer,
 * a Constant, or shape arithmetic over static dims. Ifs at any depth are folded (inside a branch
 * that stays, with the enclosing graphs' facts), repeatedly, since a folded If can make the next
 * condition known. The taken branch's values get names no other value of the model has (their
 * own when free), its outputs become the If's outputs, its initializers move to the graph that
 * held the If. An If on a run-time condition stays: the If gradient rule differentiates it.
 */
import { allGraphs, defaultOpset, Graph, type Model, type Node } from '../../ir/graph.js';
import { cloneGraph, cloneModel } from '../../ir/clone.js';
import { GraphBuilder, namesIn } from '../../ir/builder.js';
import { definedNames, renameAll } from '../../ir/rename.js';
import { ShapeInfo } from '../../ir/shape-info.js';
import { topoSort } from '../../ir/topo.js';
import { expectThat, type Pass } from '../pass.js';

/** The condition's value when it is known (a one-element bool), else undefined. */
function knownCondition(n: Node, info: ShapeInfo): boolean | undefined {
  if (n.opType !== 'If' || (n.domain && n.domain !== 'ai.onnx')) return undefined;
  const v = info.value(n.inputs[0]);
  return v?.length === 1 ? v[0] !== 0 : undefined;
}

function branchOf(n: Node, taken: boolean): Graph | undefined {
  const a = n.attributes.find((x) => x.name === (taken ? 'then_branch' : 'else_branch'));
  return a?.value instanceof Graph ? a.value : undefined;
}

/** Every If whose condition is known in `g`, found with what is known there. */
function foldable(g: Graph, opset: number, outer: ShapeInfo | undefined): { node: Node; taken: boolean }[] {
  const info = new ShapeInfo(g, opset, outer);
  const found: { node: Node; taken: boolean }[] = [];
  for (const node of topoSort(g)) {
    const taken = knownCondition(node, info);
    // A branch with sparse initializers is left as it is: the IR keeps them verbatim, unrenamed.
    const branch = taken === undefined ? undefined : branchOf(node, taken);
    if (branch && !branch.extra?.sparse_initializer) found.push({ node, taken: taken! });
  }
  return found;
}

/** Replaces `node` in `g` by its taken branch; `root` is the model's graph (for the names in use). */
function inline(root: Graph, g: Graph, node: Node, taken: boolean): void {
  const at = g.nodes.indexOf(node);
  const branch = cloneGraph(branchOf(node, taken)!);
  // The names in use elsewhere in the model: everything but this If (and its branches).
  g.nodes.splice(at, 1);
  const used = namesIn(root);
  for (const o of node.outputs) if (o) used.add(o);
  const b = new GraphBuilder(g, { used });
  const producers = branch.producers();
  const map = new Map<string, string>();
  const identities: [string, string][] = [];
  branch.outputs.forEach((o, i) => {
    const y = node.outputs[i];
    if (!y) return;
    // A value a branch node writes takes the If output's name; anything else (an outer value, an
    // initializer, an output listed twice) is passed on by an Identity.
    if (producers.has(o.name) && !map.has(o.name)) map.set(o.name, y);
    else identities.push([o.name, y]);
  });
  for (const d of definedNames(branch)) if (!map.has(d)) map.set(d, b.fresh(d));
  renameAll(branch, map);
  const rename = (v: string) => map.get(v) ?? v;
  const passOn: Node[] = identities.map(([from, to]) => ({ opType: 'Identity', inputs: [rename(from)], outputs: [to], attributes: [], name: b.fresh(`${node.name ?? to}/folded`) }));
  g.nodes.splice(at, 0, ...branch.nodes, ...passOn);
  g.initializers.push(...branch.initializers);
  g.valueInfo.push(...branch.valueInfo);
}

type Folded = NonNullable<NonNullable<Model['program']>['folded']>;

/** Folds in `g` and, below it, in every subgraph that stays; records each If folded. */
function foldIn(root: Graph, g: Graph, opset: number, outer: ShapeInfo | undefined, folded: Folded): void {
  for (let found = foldable(g, opset, outer); found.length; found = foldable(g, opset, outer))
    for (const { node, taken } of found) {
      inline(root, g, node, taken);
      folded.push({ node: node.name ?? node.outputs[0], branch: taken ? 'then' : 'else' });
    }
  const info = new ShapeInfo(g, opset, outer);
  for (const n of g.nodes)
    for (const a of n.attributes) {
      const subs = a.value instanceof Graph ? [a.value] : Array.isArray(a.value) && a.value[0] instanceof Graph ? (a.value as Graph[]) : [];
      for (const sg of subs) foldIn(root, sg, opset, info, folded);
    }
}

/** Ifs whose condition is known, at any depth (what the pass must leave none of). */
function knownIfs(model: Model): string[] {
  const opset = defaultOpset(model);
  const left: string[] = [];
  const walk = (g: Graph, outer: ShapeInfo | undefined) => {
    const info = new ShapeInfo(g, opset, outer);
    for (const n of g.nodes) {
      const cond = knownCondition(n, info);
      if (cond !== undefined && !branchOf(n, cond)?.extra?.sparse_initializer) left.push(n.name ?? n.outputs[0]);
      for (const a of n.attributes) if (a.value instanceof Graph) walk(a.value, info);
    }
  };
  walk(model.graph, undefined);
  return left;
}

export const foldConstantIfPass: Pass = {
  name: 'fold-constant-if',
  stage: 'import',
  needs: 'a model, with If nodes or without',
  gives: 'the same computation with every If whose condition is known at build time replaced by the branch it takes; Ifs on run-time conditions stay',
  ensures: (out, input) => {
    const left = knownIfs(out);
    expectThat('fold-constant-if', 'ensures', left.length === 0, `If nodes with a known condition remain: ${left.join(', ')}`);
    const count = (m: Model) => [...allGraphs(m.graph)].reduce((k, g) => k + g.nodes.filter((n) => n.opType === 'If').length, 0);
    expectThat('fold-constant-if', 'ensures', count(out) <= count(input), 'the result has more If nodes than the input');
  },
  run: (model) => {
    if (knownIfs(model).length === 0) return { model, modified: false };
    const out = cloneModel(model);
    const folded: Folded = [];
    foldIn(out.graph, out.graph, defaultOpset(out), undefined, folded);
    // Recorded on the IR: export then writes into this model, which holds the moved weights.
    out.program = { ...out.program, folded: [...(out.program?.folded ?? []), ...folded] };
    return { model: out, modified: true };
  },
};
