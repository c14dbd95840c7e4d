/**
 * Structural copies for passes: a pass works on a copy so the caller's model is unchanged.
 * Tensor data is shared, not copied (passes never write into tensor data).
 */
import { Graph, type Attribute, type Model, type Node } from './graph.js';
import type { ProgramInfo } from './program.js';

export function cloneGraph(g: Graph): Graph {
  const c = new Graph();
  if (g.name !== undefined) c.name = g.name;
  if (g.docString !== undefined) c.docString = g.docString;
  if (g.extra) c.extra = { ...g.extra };
  c.inputs = g.inputs.map((v) => ({ ...v }));
  c.outputs = g.outputs.map((v) => ({ ...v }));
  c.valueInfo = g.valueInfo.map((v) => ({ ...v }));
  c.initializers = g.initializers.map((t) => ({ ...t, dims: [...t.dims] }));
  c.nodes = g.nodes.map(cloneNode);
  return c;
}

export function cloneNode(n: Node): Node {
  return { ...n, inputs: [...n.inputs], outputs: [...n.outputs], attributes: n.attributes.map(cloneAttribute) };
}

function cloneAttribute(a: Attribute): Attribute {
  if (a.value instanceof Graph) return { ...a, value: cloneGraph(a.value) };
  if (Array.isArray(a.value)) return { ...a, value: a.value.map((v) => (v instanceof Graph ? cloneGraph(v) : v)) };
  return { ...a };
}

export function cloneModel<M extends Model>(m: M): M {
  const c = { ...m, opsetImports: m.opsetImports.map((o) => ({ ...o })), graph: cloneGraph(m.graph) };
  if (m.program) c.program = cloneProgram(m.program);
  return c;
}

/** The annotations, copied as deep as passes write them (lists and maps; tensors shared). */
export function cloneProgram(p: ProgramInfo): ProgramInfo {
  const c: ProgramInfo = {};
  if (p.origins) c.origins = p.origins.map((x) => ({ ...x }));
  if (p.parameters) c.parameters = p.parameters.map((x) => ({ ...x, shape: [...x.shape] }));
  if (p.loss) c.loss = { ...p.loss };
  if (p.gradients) c.gradients = p.gradients.map((x) => ({ ...x }));
  if (p.constants) c.constants = [...p.constants];
  if (p.batchAxes) c.batchAxes = { ...p.batchAxes };
  if (p.init) c.init = { ...p.init, bound: [...p.init.bound], unused: [...p.init.unused] };
  if (p.ortGradients) c.ortGradients = p.ortGradients.map((x) => ({ ...x }));
  if (p.folded) c.folded = p.folded.map((x) => ({ ...x }));
  if (p.batch) c.batch = { ...p.batch, ...(p.batch.freed ? { freed: [...p.batch.freed] } : {}) };
  if (p.step) c.step = { ...p.step };
  return c;
}
