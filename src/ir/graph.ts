/**
 * A small mutable graph IR over ONNX. Values are named by strings, as in ONNX; nodes list the
 * names they read and write. Fields the IR does not model are kept in `extra` and written back,
 * so load -> save loses nothing.
 */
import type { Tensor } from '../onnx/tensor.js';
import type { Int64, TypeProto } from '../onnx/schema.js';
import type { ProgramInfo } from './program.js';

export interface ValueInfo {
  name: string;
  type?: TypeProto;
  docString?: string;
  extra?: Record<string, unknown>;
}

export const AttrType = {
  UNDEFINED: 0,
  FLOAT: 1,
  INT: 2,
  STRING: 3,
  TENSOR: 4,
  GRAPH: 5,
  FLOATS: 6,
  INTS: 7,
  STRINGS: 8,
  TENSORS: 9,
  GRAPHS: 10,
  SPARSE_TENSOR: 11,
  SPARSE_TENSORS: 12,
  TYPE_PROTO: 13,
  TYPE_PROTOS: 14,
} as const;

export type AttrValue =
  | number
  | Int64
  | Uint8Array
  | Tensor
  | Graph
  | number[]
  | Int64[]
  | Uint8Array[]
  | Tensor[]
  | Graph[]
  | unknown;

export interface Attribute {
  name: string;
  type: number;
  value: AttrValue;
  /** Set when the file omitted `type` (old exporters); the value's field told us the type. */
  typeOmitted?: boolean;
  refAttrName?: string;
  docString?: string;
  extra?: Record<string, unknown>;
}

export interface Node {
  opType: string;
  inputs: string[];
  outputs: string[];
  attributes: Attribute[];
  name?: string;
  domain?: string;
  docString?: string;
  extra?: Record<string, unknown>;
}

export interface OpsetImport {
  domain?: string;
  version: number;
}

export class Graph {
  name?: string;
  docString?: string;
  inputs: ValueInfo[] = [];
  outputs: ValueInfo[] = [];
  valueInfo: ValueInfo[] = [];
  initializers: Tensor[] = [];
  nodes: Node[] = [];
  extra?: Record<string, unknown>;

  initializer(name: string): Tensor | undefined {
    return this.initializers.find((t) => t.name === name);
  }

  input(name: string): ValueInfo | undefined {
    return this.inputs.find((v) => v.name === name);
  }

  /** value name -> the node that writes it. */
  producers(): Map<string, Node> {
    const m = new Map<string, Node>();
    for (const n of this.nodes) for (const o of n.outputs) if (o) m.set(o, n);
    return m;
  }

  /** value name -> nodes that read it (a node reading a value twice appears twice). */
  consumers(): Map<string, Node[]> {
    const m = new Map<string, Node[]>();
    for (const n of this.nodes)
      for (const i of n.inputs) {
        if (!i) continue;
        const list = m.get(i);
        if (list) list.push(n);
        else m.set(i, [n]);
      }
    return m;
  }

  /** Type of a value from inputs, outputs, value_info or an initializer, when known. */
  typeOf(name: string): TypeProto | undefined {
    for (const list of [this.inputs, this.outputs, this.valueInfo]) {
      const vi = list.find((v) => v.name === name);
      if (vi?.type) return vi.type;
    }
    const init = this.initializer(name);
    if (init) return { tensor_type: { elem_type: init.dataType, shape: { dim: init.dims.map((d) => ({ dim_value: d })) } } };
    return undefined;
  }
}

export interface Model {
  irVersion?: Int64;
  opsetImports: OpsetImport[];
  producerName?: string;
  producerVersion?: string;
  domain?: string;
  modelVersion?: Int64;
  docString?: string;
  metadataProps?: { key?: string; value?: string }[];
  graph: Graph;
  /** ModelProto fields the IR does not model (functions, training_info, ...), verbatim. */
  extra?: Record<string, unknown>;
  /** What the passes know about it as a training program (ir/program.ts); never saved. */
  program?: ProgramInfo;
}

/**
 * Opset version of the default ONNX domain the model imports (0 when none). A model that
 * imports the domain twice (ORT's custom-ops test model has 7 and 14) is read as onnxruntime
 * reads it: the last entry wins.
 */
export function defaultOpset(model: Model): number {
  const imps = model.opsetImports.filter((o) => !o.domain || o.domain === 'ai.onnx');
  return imps.at(-1)?.version ?? 0;
}

/** Every graph in the model: the main graph and subgraphs in attributes, depth first. */
export function* allGraphs(g: Graph): Generator<Graph> {
  yield g;
  for (const n of g.nodes)
    for (const a of n.attributes) {
      if (a.value instanceof Graph) yield* allGraphs(a.value);
      else if (Array.isArray(a.value) && a.value[0] instanceof Graph) for (const sg of a.value as Graph[]) yield* allGraphs(sg);
    }
}
