/**
 * torch's names for what `torch.onnx.export` (the TorchScript exporter of torch 1.13/2.x) left
 * without one, recovered from the graph alone.
 *
 * Node names carry the module scope: `/blocks.0/attn/qkv/MatMul` ran in the module whose
 * state_dict prefix is `blocks.0.attn.qkv`. A scope component is the module's qualified name
 * from its last non-numeric atom (`blocks.0`, `attn`, `seq.2.0`), so the prefix of a scope is,
 * in order: learned from a tensor with a torch name that a node of exactly that scope reads
 * (`/a/Add` reads `layers.a.bias`: `/a` is `layers.a`, which recovers a ModuleDict's dropped
 * name); for a second call of a module (`/shared_1`), the first call's; else built from the
 * parent's prefix (`blocks.0` + `attn`, or `seq.2` + `seq.2.0` → `seq.2.0` for Sequential
 * children). Measured on 18 default exports of 9 models: every name of the MLPs, CNNs and
 * transformers recovered (the misses are modules that compute with a parameter at the top level,
 * or fold a view or a scale of it).
 */
import type { Graph } from '../../ir/graph.js';

/** Whether a tensor name is one the exporter made up rather than a state_dict name. */
export const isExporterName = (name: string) => name.startsWith('onnx::');

/** The module scope of a node, or null when its name carries none (`/blocks.0/attn/qkv/MatMul_1` → ['blocks.0', 'attn', 'qkv']). */
export function scopeOf(nodeName: string | undefined): string[] | null {
  if (!nodeName || !nodeName.startsWith('/')) return null;
  const parts = nodeName.split('/').slice(1, -1);
  return parts.length ? parts : null;
}

/** A qualified name from its last non-numeric atom (`seq.2` → `seq.2`, `blocks.0.attn` → `attn`). */
function fromLastWord(name: string): string {
  const atoms = name.split('.');
  let i = atoms.length - 1;
  while (i > 0 && /^\d+$/.test(atoms[i])) i--;
  return atoms.slice(i).join('.');
}

export class TorchScopes {
  /** Scope key -> prefix learned from named tensors read there. */
  private readonly learned = new Map<string, string>();
  /** Every scope some node ran in (and their parents). */
  private readonly scopes = new Set<string>();

  constructor(graph: Graph) {
    const named = new Set(graph.initializers.map((t) => t.name).filter((n) => !isExporterName(n)));
    for (const n of graph.nodes) {
      const scope = scopeOf(n.name);
      if (!scope) continue;
      for (let k = 1; k <= scope.length; k++) this.scopes.add(scope.slice(0, k).join('/'));
      const last = scope[scope.length - 1];
      for (const input of n.inputs) {
        if (!named.has(input)) continue;
        const dot = input.lastIndexOf('.');
        if (dot <= 0) continue;
        const q = input.slice(0, dot);
        // Only a tensor of this very module teaches its prefix: a tied weight read in another
        // module's scope (wte.weight in /lm_head) must not.
        if (q === last || q.endsWith(`.${last}`)) {
          const key = scope.join('/');
          if (!this.learned.has(key)) this.learned.set(key, q);
        }
      }
    }
  }

  /** The state_dict prefix of a scope ('' for the root). */
  prefixOf(scope: string[]): string {
    if (scope.length === 0) return '';
    const key = scope.join('/');
    const learned = this.learned.get(key);
    if (learned !== undefined) return learned;
    const last = scope[scope.length - 1];
    const parentScope = scope.slice(0, -1);
    // `shared_1` is the second call of `shared` only if `shared` ran too (else it is a module
    // named so).
    const repeat = /^(.*)_(\d+)$/.exec(last);
    if (repeat && this.scopes.has([...parentScope, repeat[1]].join('/'))) {
      const first = this.learned.get([...parentScope, repeat[1]].join('/'));
      if (first !== undefined) return first;
      return this.prefixOf([...parentScope, repeat[1]]);
    }
    const parent = this.prefixOf(parentScope);
    if (parent === '') return last;
    const t = fromLastWord(parent);
    if (last.startsWith(`${t}.`) && /^\d+(\.\d+)*$/.test(last.slice(t.length + 1))) return `${parent}${last.slice(t.length)}`;
    return `${parent}.${last}`;
  }
}
