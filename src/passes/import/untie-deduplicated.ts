/**
 * untie-deduplicated (torch exports): in eval mode, torch.onnx.export merges initializers whose
 * values are equal — fresh LayerNorm weights are all ones, fresh biases all zeros — keeping one
 * and turning the others into Identity(kept) -> <their name>. Those are different parameters in
 * torch; trained as one, they would move together and the run would leave torch's after the
 * first step. Each gets its own initializer under its own name (same values), and the Identity
 * goes. A tensor torch really shares (an embedding tied to a head, a module called twice)
 * appears as one initializer used twice, or as an Identity between two generated names that
 * resolve to the same module: those stay tied. `--tie-deduplicated` keeps the merged form.
 */
import { cloneModel } from '../../ir/clone.js';
import type { TensorOrigin } from '../../ir/program.js';
import type { Pass } from '../pass.js';
import { isTorchExport } from './constants-to-initializers.js';
import { linearWeightName, readerIndex } from './name-folded-weights.js';
import { TorchScopes, isExporterName } from './torch-names.js';

export const untieDeduplicatedPass: Pass<{ keep?: boolean }> = {
  name: 'untie-deduplicated',
  stage: 'import',
  needs: 'a model (acts on torch exports only)',
  gives: 'each value-deduplicated tensor as its own initializer under its own name',
  run: (model, opts) => {
    if (opts.keep || !isTorchExport(model)) return { model, modified: false };
    const g0 = model.graph;
    const inits = new Map(g0.initializers.map((t) => [t.name, t]));
    const outputs = new Set(g0.outputs.map((o) => o.name));
    const candidates = [...g0.nodes.keys()].filter((i) => {
      const n = g0.nodes[i];
      return n.opType === 'Identity' && !n.domain && inits.has(n.inputs[0]) && !!n.outputs[0] && !outputs.has(n.outputs[0]) && !inits.has(n.outputs[0]);
    });
    if (!candidates.length) return { model, modified: false };
    const scopes = new TorchScopes(g0);
    const idx = readerIndex(g0);
    // A module called twice: both generated names resolve to one torch name; that tie is real.
    const realTie = (x: string, y: string) => {
      if (!isExporterName(x) || !isExporterName(y)) return false;
      const a = linearWeightName(idx, scopes, x);
      const b = linearWeightName(idx, scopes, y);
      return !!a && !!b && a.torch === b.torch;
    };
    const untie = new Set(candidates.filter((i) => !realTie(g0.nodes[i].inputs[0], g0.nodes[i].outputs[0])));
    if (!untie.size) return { model, modified: false };
    const out = cloneModel(model);
    const g = out.graph;
    const origins: TensorOrigin[] = [...(out.program?.origins ?? [])];
    // The copy's nodes are in the same order as the original's.
    g.nodes = g.nodes.filter((n, i) => {
      if (!untie.has(i)) return true;
      const src = inits.get(n.inputs[0])!;
      g.initializers.push({ ...src, name: n.outputs[0], dims: [...src.dims] });
      origins.push({ name: n.outputs[0], source: 'untied', from: src.name });
      return false;
    });
    out.program = { ...out.program, origins };
    return { model: out, modified: true };
  },
};
