/**
 * Shape rules: ops with subgraphs (If, Loop, Scan) and the recurrent layers (LSTM, GRU, RNN).
 * Subgraph outputs are read from their declared types (exporters declare them); a nested
 * inference per subgraph is what the passes that look inside do themselves (fold-constant-if).
 */
import type { ShapeRule } from './types.js';
import { attrInt, attrInts, attrString } from '../attributes.js';
import { Graph, type Node } from '../graph.js';
import { elemTypeOf, shapeOf, type Dim } from '../value-type.js';
import { normAxis } from './facts.js';

function subgraph(n: Node, name: string): Graph | undefined {
  const a = n.attributes.find((x) => x.name === name);
  return a?.value instanceof Graph ? a.value : undefined;
}

/** A dim both descriptions agree on; symbolic names the exporter made up per branch do not carry over. */
function agree(a: Dim, b: Dim): Dim {
  return a === b ? a : null;
}

export const ifRule: ShapeRule = {
  ops: ['If'],
  infer: (c) => {
    const { node: n, out, V } = c;
    const [t, e] = [subgraph(n, 'then_branch'), subgraph(n, 'else_branch')];
    if (!t || !e) return;
    const cond = V(0);
    n.outputs.forEach((_, i) => {
      const [tt, et] = [t.outputs[i]?.type, e.outputs[i]?.type];
      const elemType = elemTypeOf(tt) || elemTypeOf(et) || undefined;
      // A known condition picks its branch's declaration; else only what both branches agree on.
      if (cond?.length === 1) return out(i, { elemType, shape: shapeOf(cond[0] ? tt : et) });
      const [st, se] = [shapeOf(tt), shapeOf(et)];
      out(i, { elemType, shape: st && se && st.length === se.length ? st.map((d, k) => agree(d, se[k])) : undefined });
    });
  },
};

export const loopRule: ShapeRule = {
  ops: ['Loop'],
  infer: (c) => {
    const { node: n, out, S, T, V } = c;
    const body = subgraph(n, 'body');
    if (!body) return;
    const carried = n.inputs.length - 2;
    const trips = V(0);
    n.outputs.forEach((_, i) => {
      const decl = body.outputs[1 + i]?.type;
      if (i < carried) return out(i, { elemType: T(2 + i) ?? (elemTypeOf(decl) || undefined), shape: S(2 + i) ?? shapeOf(decl) });
      // Scan outputs stack one slice per iteration; the count is M when M is known (cond stays true).
      const s = shapeOf(decl);
      out(i, { elemType: elemTypeOf(decl) || undefined, shape: s ? [trips?.length === 1 ? trips[0] : null, ...s] : undefined });
    });
  },
};

export const scanRule: ShapeRule = {
  ops: ['Scan'],
  infer: (c) => {
    const { node: n, out, S, T } = c;
    const body = subgraph(n, 'body');
    if (!body) return;
    const k = attrInt(n, 'num_scan_inputs', 0);
    const states = n.inputs.length - k;
    const first = S(states);
    const inAxes = attrInts(n, 'scan_input_axes') ?? [];
    const length = first ? (first[normAxis(inAxes[0] ?? 0, first.length)] ?? null) : null;
    const outAxes = attrInts(n, 'scan_output_axes') ?? [];
    n.outputs.forEach((_, i) => {
      const decl = body.outputs[i]?.type;
      if (i < states) return out(i, { elemType: T(i) ?? (elemTypeOf(decl) || undefined), shape: S(i) ?? shapeOf(decl) });
      const s = shapeOf(decl);
      if (!s) return out(i, { elemType: elemTypeOf(decl) || undefined });
      const axis = normAxis(outAxes[i - states] ?? 0, s.length + 1);
      out(i, { elemType: elemTypeOf(decl) || undefined, shape: [...s.slice(0, axis), length, ...s.slice(axis)] });
    });
  },
};

export const recurrentRule: ShapeRule = {
  ops: ['LSTM', 'GRU', 'RNN'],
  infer: (c) => {
    const { node: n, out, S, T } = c;
    const x = S(0);
    const hidden = attrInt(n, 'hidden_size');
    const dirs = attrString(n, 'direction', 'forward') === 'bidirectional' ? 2 : 1;
    const batchFirst = attrInt(n, 'layout', 0) === 1;
    const elemType = T(0);
    if (!x || x.length !== 3) {
      n.outputs.forEach((_, i) => out(i, { elemType }));
      return;
    }
    const [seq, batch] = batchFirst ? [x[1], x[0]] : [x[0], x[1]];
    const h: Dim = hidden ?? null;
    out(0, { elemType, shape: batchFirst ? [batch, seq, dirs, h] : [seq, dirs, batch, h] });
    const state = batchFirst ? [batch, dirs, h] : [dirs, batch, h];
    out(1, { elemType, shape: state });
    if (n.opType === 'LSTM') out(2, { elemType, shape: state });
  },
};
