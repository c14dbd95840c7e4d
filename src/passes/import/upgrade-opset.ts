/**
 * upgrade-opset: raises the default-domain opset to the one lion-onnx works in (16).
 *
 * Every node, in the main graph and in every subgraph, is walked through the versions of its
 * op's schema between the model's opset and 16 (ONNX's operator changelog, as the tables in
 * opset-adapters.ts record it): a version that keeps an old node's meaning needs nothing, one
 * that changes it rewrites the node in the new form (Softmax's 2-D coercion, attributes that
 * became inputs, Upsample → Resize, Scatter → ScatterElements, ...). A change the tables do not
 * convert is refused in one line naming the node, the op and the opset: never a silent guess.
 * Models from opset 7 on are upgraded; older ones are refused.
 */
import { GraphError } from '../../errors.js';
import { GraphBuilder } from '../../ir/builder.js';
import { cloneModel } from '../../ir/clone.js';
import { attrTensor } from '../../ir/attributes.js';
import { allGraphs, defaultOpset, Graph, type Model, type Node } from '../../ir/graph.js';
import { ShapeInfo } from '../../ir/shape-info.js';
import { topoSort } from '../../ir/topo.js';
import { OP_ARITY } from '../../onnx/op-schemas.generated.js';
import type { Tensor } from '../../onnx/tensor.js';
import { expectThat, type Pass } from '../pass.js';
import { EXPERIMENTAL, SAME, stepAt, type StepContext } from './opset-adapters.js';

export const MIN_OPSET = 7;
export const WORKING_OPSET = 16;
/** Opset 16 needs IR version 8. */
const WORKING_IR = 8;

const isDefault = (n: Node) => !n.domain || n.domain === 'ai.onnx';

function subgraphs(n: Node): Graph[] {
  const out: Graph[] = [];
  for (const a of n.attributes) {
    if (a.value instanceof Graph) out.push(a.value);
    else if (Array.isArray(a.value)) for (const v of a.value) if (v instanceof Graph) out.push(v);
  }
  return out;
}

/** Names read anywhere in `g` (nodes, nested subgraphs) or returned by it. */
function readNames(g: Graph): Set<string> {
  const s = new Set<string>();
  for (const sg of allGraphs(g)) {
    for (const n of sg.nodes) for (const i of n.inputs) if (i) s.add(i);
    for (const o of sg.outputs) s.add(o.name);
  }
  return s;
}

/** Where a graph sits: its ShapeInfo and constants, and those of the graphs around it. */
interface Scope {
  graph: Graph;
  info: ShapeInfo;
  constants: Map<string, Tensor>;
  outer?: Scope;
}

function lookupConstant(scope: Scope | undefined, name: string): Tensor | undefined {
  for (let s = scope; s; s = s.outer) {
    const t = s.constants.get(name) ?? s.graph.initializer(name);
    if (t) return t;
  }
  return undefined;
}

/**
 * ONNX's experimental ops, dropped at opset 10 (onnxruntime runs them only in old models); the
 * ones opset-adapters.ts has no standard form for are refused.
 */
const DROPPED_EXPERIMENTAL = new Set(['ATen', 'Affine', 'ConstantFill', 'Crop', 'DynamicSlice', 'GRUUnit', 'GivenTensorFill', 'ImageScaler', 'ParametricSoftplus', 'Scale', 'ScaledTanh', 'ThresholdedRelu', 'MeanVarianceNormalization']);

/**
 * The schema versions of `op` after `from` up to WORKING_OPSET: [] for an op ONNX does not have
 * at WORKING_OPSET either (onnxruntime's own ops in the default domain, LayerNormalization before
 * 17: their meaning does not follow the opset), null when ONNX had no `op` at `from` yet.
 */
function versionsAfter(op: string, from: number): number[] | null {
  const since = OP_ARITY[op]?.map((v) => v[0]);
  if (!since || since[0] > WORKING_OPSET) return [];
  if (since[0] > from) return null;
  return since.filter((v) => v > from && v <= WORKING_OPSET);
}

function upgradeNode(n: Node, from: number, cx: Omit<StepContext, 'refuse'>, emit: (n: Node) => void): void {
  const name = `node '${n.name || n.outputs[0] || ''}' (${n.opType})`;
  const refuse = (why: string): never => {
    throw new GraphError(`${name} at opset ${from}: ${why}; lion-onnx cannot upgrade it to opset ${WORKING_OPSET} — re-export the model at opset 13 or later`);
  };
  const step = { ...cx, refuse };
  let node = n;
  let at = from;
  for (;;) {
    const experimental = EXPERIMENTAL[node.opType];
    const standard = OP_ARITY[node.opType]?.[0][0];
    if (at < 10 && DROPPED_EXPERIMENTAL.has(node.opType) && (standard === undefined || standard > at)) {
      if (!experimental) refuse(`${node.opType} was one of ONNX's experimental ops, which opset 10 dropped`);
      const r = experimental!(node, step);
      if (r === null) return;
      if (!r) break;
      node = r.node;
      at = r.at;
      continue;
    }
    const versions = versionsAfter(node.opType, at);
    if (versions === null) refuse(`ONNX has no ${node.opType} at opset ${at}`);
    let replaced = false;
    for (const v of versions!) {
      const s = stepAt(node.opType, v);
      if (s === undefined) refuse(`${node.opType} changed at opset ${v} in a way lion-onnx does not convert`);
      if (s === SAME) continue;
      const r = s!(node, step);
      if (r === null) return;
      if (r) {
        node = r.node;
        at = r.at;
        replaced = true;
        break;
      }
    }
    if (!replaced) break;
  }
  emit(node);
}

function upgradeGraph(g: Graph, from: number, b: GraphBuilder, outer?: Scope): void {
  const old = topoSort(g);
  const used = readNames(g);
  g.nodes = [];
  const scope: Scope = { graph: g, info: new ShapeInfo(g, WORKING_OPSET, outer?.info), constants: new Map(), outer };
  for (const n of old)
    if (n.opType === 'Constant' && isDefault(n) && n.outputs[0] && n.attributes.length === 1 && n.attributes[0].name === 'value') scope.constants.set(n.outputs[0], attrTensor(n, 'value')!);
  for (const n of old) {
    if (!isDefault(n)) {
      g.nodes.push(n);
      continue;
    }
    const after: (() => void)[] = [];
    upgradeNode(n, from, { b, info: scope.info, from, constant: (x) => lookupConstant(scope, x), used: (x) => used.has(x), after: (f) => after.push(f) }, (x) => g.nodes.push(x));
    for (const f of after) f();
  }
  for (const n of g.nodes) for (const sg of subgraphs(n)) upgradeGraph(sg, from, b.onGraph(sg), scope);
}

/**
 * The model at opset WORKING_OPSET with the same meaning: the model itself when it is there
 * already, else a new one (the caller's is unchanged). Throws GraphError for a model below
 * MIN_OPSET and for a node whose change it does not convert.
 */
export function upgradeOpset(model: Model): Model {
  const from = defaultOpset(model);
  if (from < MIN_OPSET)
    throw new GraphError(`the model imports ONNX opset ${from || '(none)'}; lion-onnx upgrades opset ${MIN_OPSET} and later — re-export it (torch.onnx.export(..., opset_version=17))`);
  if (from >= WORKING_OPSET) return model;
  const out = cloneModel(model);
  upgradeGraph(out.graph, from, new GraphBuilder(out.graph, { scope: 'upgrade/' }));
  for (const o of out.opsetImports) if (!o.domain || o.domain === 'ai.onnx') o.version = WORKING_OPSET;
  if (out.irVersion === undefined || Number(out.irVersion) < WORKING_IR) out.irVersion = WORKING_IR;
  return out;
}

export const upgradeOpsetPass: Pass = {
  name: 'upgrade-opset',
  stage: 'import',
  needs: `a model importing the default ONNX domain at opset ${MIN_OPSET} or later`,
  gives: `the same model (same outputs for the same inputs) at opset ${WORKING_OPSET} or later`,
  requires: (model) => {
    const opset = defaultOpset(model);
    if (opset < MIN_OPSET)
      throw new GraphError(`the model imports ONNX opset ${opset || '(none)'}; lion-onnx upgrades opset ${MIN_OPSET} and later — re-export it (torch.onnx.export(..., opset_version=17))`);
  },
  ensures: (out) => expectThat('upgrade-opset', 'ensures', defaultOpset(out) >= WORKING_OPSET, `the result imports opset ${defaultOpset(out)}`),
  run: (model) => {
    const out = upgradeOpset(model);
    return { model: out, modified: out !== model };
  },
};
