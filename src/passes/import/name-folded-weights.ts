/**
 * name-folded-weights (torch exports): the tensors torch.onnx.export's constant folding made
 * under generated names get torch's names back, and ties it broke are restored.
 *
 * - A Linear applied to a 3-D input (or without a bias) is exported as MatMul(x, onnx::MatMul_N)
 *   with N = weight^T. N takes the module's name (`/blocks.0/attn/qkv/MatMul` →
 *   `blocks.0.attn.qkv.weight`, torch-names.ts) and is recorded as transposed, so export writes
 *   torch's layout back. (Training W^T is training W: the update is element-wise.)
 * - When N is bit for bit the transpose of a named tensor M (an output head tied to an
 *   embedding, exported as a second copy), N is replaced by Transpose(M): one tensor again, as
 *   torch trains it, with N's torch name recorded as another name of M.
 * - A Conv reading onnx::Conv_N had a BatchNormalization folded into it (eval-mode export): the
 *   BN's parameters are gone. It is trained as the conv it now is, and the report says so.
 * - Any other onnx:: tensor is one the exporter computed from a parameter (a slice, a view, a
 *   scale): trained, with no torch name.
 */
import { cloneModel } from '../../ir/clone.js';
import { namesIn } from '../../ir/builder.js';
import { allGraphs, type Graph, type Model, type Node } from '../../ir/graph.js';
import type { TensorOrigin } from '../../ir/program.js';
import { attrInt } from '../../ir/attributes.js';
import { DataType, type TypedArray } from '../../onnx/data-types.js';
import type { Tensor } from '../../onnx/tensor.js';
import type { Pass } from '../pass.js';
import { isTorchExport } from './constants-to-initializers.js';
import { TorchScopes, isExporterName, scopeOf } from './torch-names.js';

/** value -> (node, input index) of every node reading it. */
export type ReaderIndex = Map<string, { node: Node; input: number }[]>;

export function readerIndex(g: Graph): ReaderIndex {
  const idx: ReaderIndex = new Map();
  for (const n of g.nodes)
    n.inputs.forEach((x, i) => {
      if (!x) return;
      const list = idx.get(x);
      if (list) list.push({ node: n, input: i });
      else idx.set(x, [{ node: n, input: i }]);
    });
  return idx;
}

/** The nodes that read `name`, looking through Identity copies (a module called twice). */
function readers(idx: ReaderIndex, name: string): { node: Node; input: number }[] {
  const out: { node: Node; input: number }[] = [];
  const seen = new Set<string>();
  const walk = (v: string) => {
    if (seen.has(v)) return;
    seen.add(v);
    for (const r of idx.get(v) ?? []) {
      if (r.node.opType === 'Identity') walk(r.node.outputs[0]);
      else out.push(r);
    }
  };
  walk(name);
  return out;
}

/** The torch name of a weight read as a Linear's (MatMul input 1, or Gemm input 1) in its readers' scope, or null. */
export function linearWeightName(idx: ReaderIndex, scopes: TorchScopes, name: string): { torch: string; transposed: boolean } | null {
  const rs = readers(idx, name);
  if (!rs.length) return null;
  const names = new Set<string>();
  let transposed = true;
  for (const { node, input } of rs) {
    if (input !== 1 || (node.opType !== 'MatMul' && node.opType !== 'Gemm')) return null;
    if (node.opType === 'Gemm') transposed = !attrInt(node, 'transB', 0);
    const scope = scopeOf(node.name);
    if (!scope) return null;
    names.add(`${scopes.prefixOf(scope)}.weight`);
  }
  return names.size === 1 ? { torch: [...names][0], transposed } : null;
}

const values = (t: Tensor) => t.data as TypedArray;

/** Whether `a` [r, c] is bit for bit the transpose of `b` [c, r]. */
function isTransposeOf(a: Tensor, b: Tensor): boolean {
  if (a.dims.length !== 2 || b.dims.length !== 2 || a.dims[0] !== b.dims[1] || a.dims[1] !== b.dims[0] || a.dataType !== b.dataType) return false;
  const [r, c] = a.dims;
  const x = values(a);
  const y = values(b);
  if (!x || !y || Array.isArray(x) || Array.isArray(y)) return false;
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) if (!Object.is(x[i * c + j], y[j * r + i])) return false;
  return true;
}

/** All elements equal (zeros, ones): such tensors match by coincidence, never by a tie. */
function isUniform(t: Tensor): boolean {
  const x = values(t);
  for (let i = 1; i < x.length; i++) if (!Object.is(x[i], x[0])) return false;
  return true;
}

function renameEverywhere(m: Model, from: string, to: string): void {
  for (const g of allGraphs(m.graph)) {
    for (const n of g.nodes) n.inputs = n.inputs.map((x) => (x === from ? to : x));
    for (const v of g.valueInfo) if (v.name === from) v.name = to;
    for (const t of g.initializers) if (t.name === from) t.name = to;
  }
}

export const nameFoldedWeightsPass: Pass = {
  name: 'name-folded-weights',
  stage: 'import',
  needs: 'a model (acts on torch exports only)',
  gives: "folded Linear weights under torch's names (recorded as transposed), broken ties restored, BN-folded convs and other exporter tensors noted",
  run: (model) => {
    // Tensors already looked at (this pass run before) are not looked at again.
    const seen = new Set((model.program?.origins ?? []).map((o) => o.name));
    const todo = (t: Tensor) => isExporterName(t.name) && !seen.has(t.name) && (t.dataType === DataType.FLOAT || t.dataType === DataType.DOUBLE) && t.dims.length > 0;
    if (!isTorchExport(model) || !model.graph.initializers.some(todo)) return { model, modified: false };
    const out = cloneModel(model);
    const g = out.graph;
    const scopes = new TorchScopes(g);
    const idx = readerIndex(g);
    const used = namesIn(g);
    const origins: TensorOrigin[] = [...(out.program?.origins ?? [])];
    const named = g.initializers.filter((t) => !isExporterName(t.name) && (t.dataType === DataType.FLOAT || t.dataType === DataType.DOUBLE) && t.dims.length === 2 && !isUniform(t));
    let modified = false;
    for (const t of [...g.initializers]) {
      if (!todo(t)) continue;
      const linear = t.dims.length === 2 ? linearWeightName(idx, scopes, t.name) : null;
      if (linear && linear.transposed) {
        const tied = named.find((m) => isTransposeOf(t, m));
        if (tied) {
          // One tensor again: N = Transpose(M), and N's module name is another name of M.
          g.initializers = g.initializers.filter((x) => x !== t);
          g.nodes.unshift({ opType: 'Transpose', inputs: [tied.name], outputs: [t.name], attributes: [{ name: 'perm', type: 7, value: [1, 0] }], name: `/lion-onnx/retie/${linear.torch}` });
          const o = origins.find((x) => x.name === tied.name);
          if (o) o.torch = { name: o.torch?.name ?? tied.name, ...o.torch, aliases: [...(o.torch?.aliases ?? []), linear.torch] };
          else origins.push({ name: tied.name, source: 'initializer', torch: { name: tied.name, aliases: [linear.torch] } });
          modified = true;
          continue;
        }
      }
      if (linear && !used.has(linear.torch)) {
        const generatedName = t.name;
        renameEverywhere(out, generatedName, linear.torch);
        used.add(linear.torch);
        origins.push({ name: linear.torch, source: 'folded', from: generatedName, torch: { name: linear.torch, ...(linear.transposed ? { transposed: true } : {}) } });
        modified = true;
        continue;
      }
      const conv = readers(idx, t.name).find((r) => r.node.opType === 'Conv' && r.input >= 1);
      if (conv && /^onnx::Conv_/.test(t.name)) {
        const where = scopeOf(conv.node.name)?.join('.') ?? conv.node.name ?? 'a Conv';
        origins.push({
          name: t.name,
          source: 'folded',
          note: `the ${conv.input === 1 ? 'weight' : 'bias'} of ${where} with a BatchNormalization folded in by the eval-mode export: the BN's own parameters and running statistics are not in the model (re-export with model.eval() and training=torch.onnx.TrainingMode.PRESERVE to train them)`,
        });
      } else if (linear)
        origins.push({ name: t.name, source: 'folded', note: `a transposed Linear weight whose torch name ${linear.torch} is taken by another tensor` });
      else origins.push({ name: t.name, source: 'folded', note: 'computed by the exporter from a parameter (a folded slice, view, scale or a weight used at the top level): no torch name' });
      modified = true;
    }
    out.program = { ...out.program, origins };
    return { model: modified ? out : model, modified };
  },
};
