/** Renaming values inside a graph and its subgraphs. */
import { allGraphs, type Graph } from './graph.js';

/** Renames every name `map` maps, in node inputs/outputs and names, graph I/O, value_info, initializers. */
export function renameAll(g: Graph, map: Map<string, string>): void {
  const r = (n: string) => map.get(n) ?? n;
  for (const sg of allGraphs(g)) {
    for (const v of [...sg.inputs, ...sg.outputs, ...sg.valueInfo]) v.name = r(v.name);
    for (const t of sg.initializers) t.name = r(t.name);
    for (const n of sg.nodes) {
      n.inputs = n.inputs.map((x) => (x ? r(x) : x));
      n.outputs = n.outputs.map((x) => (x ? r(x) : x));
      if (n.name) n.name = r(n.name);
    }
  }
}

/** Every name a graph (and its subgraphs) defines: inputs, initializers, node outputs and names. */
export function definedNames(g: Graph): Set<string> {
  const defined = new Set<string>();
  for (const sg of allGraphs(g)) {
    for (const v of sg.inputs) defined.add(v.name);
    for (const t of sg.initializers) defined.add(t.name);
    for (const n of sg.nodes) {
      for (const o of n.outputs) if (o) defined.add(o);
      if (n.name) defined.add(n.name);
    }
  }
  return defined;
}
