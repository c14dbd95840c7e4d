/**
 * ModelProto (plain object) <-> IR. Everything not modelled goes to `extra` and back, so the
 * conversion is lossless; tensors become TypedArrays (see onnx/tensor.ts).
 */
import { ModelFormatError } from '../errors.js';
import type { AttributeProto, GraphProto, ModelProto, NodeProto, TensorProto, ValueInfoProto } from '../onnx/schema.js';
import { tensorFromProto, tensorToProto, type ExternalPlacement, type ExternalReader, type Tensor } from '../onnx/tensor.js';
import { AttrType, Graph, type Attribute, type Model, type Node, type ValueInfo } from './graph.js';

const rest = (o: Record<string, unknown>): Record<string, unknown> | undefined => (Object.keys(o).length ? o : undefined);

function setIf<T extends object, K extends keyof T>(obj: T, key: K, v: T[K] | undefined): void {
  if (v !== undefined) obj[key] = v;
}

export interface FromProtoContext {
  readExternal: ExternalReader | null;
  /** Guards against graphs nested absurdly deep in attributes. */
  depth: number;
}

const MAX_SUBGRAPH_DEPTH = 64;

export function modelFromProto(p: ModelProto, readExternal: ExternalReader | null): Model {
  const { ir_version, opset_import, producer_name, producer_version, domain, model_version, doc_string, graph, metadata_props, ...extra } = p;
  if (!graph) throw new ModelFormatError('the model has no graph (is this an ONNX model file?)');
  const model: Model = {
    opsetImports: (opset_import ?? []).map((o) => {
      const v = Number(o.version ?? 0);
      const imp: { domain?: string; version: number } = { version: v };
      if (o.domain !== undefined) imp.domain = o.domain;
      return imp;
    }),
    graph: graphFromProto(graph, { readExternal, depth: 0 }),
  };
  setIf(model, 'irVersion', ir_version);
  setIf(model, 'producerName', producer_name);
  setIf(model, 'producerVersion', producer_version);
  setIf(model, 'domain', domain);
  setIf(model, 'modelVersion', model_version);
  setIf(model, 'docString', doc_string);
  setIf(model, 'metadataProps', metadata_props);
  setIf(model, 'extra', rest(extra));
  return model;
}

export function graphFromProto(p: GraphProto, ctx: FromProtoContext): Graph {
  if (ctx.depth > MAX_SUBGRAPH_DEPTH) throw new ModelFormatError(`subgraphs nested more than ${MAX_SUBGRAPH_DEPTH} deep`);
  const { node, name, initializer, doc_string, input, output, value_info, ...extra } = p;
  const g = new Graph();
  setIf(g, 'name', name);
  setIf(g, 'docString', doc_string);
  g.inputs = (input ?? []).map(valueInfoFromProto);
  g.outputs = (output ?? []).map(valueInfoFromProto);
  g.valueInfo = (value_info ?? []).map(valueInfoFromProto);
  g.initializers = (initializer ?? []).map((t) => tensorFromProto(t, ctx.readExternal, 'initializer'));
  g.nodes = (node ?? []).map((n) => nodeFromProto(n, ctx));
  setIf(g, 'extra', rest(extra));
  return g;
}

function valueInfoFromProto(p: ValueInfoProto): ValueInfo {
  const { name, type, doc_string, ...extra } = p;
  const v: ValueInfo = { name: name ?? '' };
  setIf(v, 'type', type);
  setIf(v, 'docString', doc_string);
  setIf(v, 'extra', rest(extra));
  return v;
}

function nodeFromProto(p: NodeProto, ctx: FromProtoContext): Node {
  const { input, output, name, op_type, domain, attribute, doc_string, ...extra } = p;
  const n: Node = {
    opType: op_type ?? '',
    inputs: input ?? [],
    outputs: output ?? [],
    attributes: (attribute ?? []).map((a) => attributeFromProto(a, ctx, name ?? op_type ?? '')),
  };
  setIf(n, 'name', name);
  setIf(n, 'domain', domain);
  setIf(n, 'docString', doc_string);
  setIf(n, 'extra', rest(extra));
  return n;
}

/** Which AttributeProto field holds the value for each attribute type. */
const ATTR_FIELD: Record<number, string> = {
  [AttrType.FLOAT]: 'f',
  [AttrType.INT]: 'i',
  [AttrType.STRING]: 's',
  [AttrType.TENSOR]: 't',
  [AttrType.GRAPH]: 'g',
  [AttrType.SPARSE_TENSOR]: 'sparse_tensor',
  [AttrType.TYPE_PROTO]: 'tp',
  [AttrType.FLOATS]: 'floats',
  [AttrType.INTS]: 'ints',
  [AttrType.STRINGS]: 'strings',
  [AttrType.TENSORS]: 'tensors',
  [AttrType.GRAPHS]: 'graphs',
  [AttrType.SPARSE_TENSORS]: 'sparse_tensors',
  [AttrType.TYPE_PROTOS]: 'type_protos',
};

function attributeFromProto(p: AttributeProto, ctx: FromProtoContext, nodeName: string): Attribute {
  let type = p.type ?? 0;
  const typeOmitted = p.type === undefined || p.type === 0;
  if (typeOmitted) {
    // Old exporters left `type` unset; the field that is present tells it.
    const found = Object.entries(ATTR_FIELD).find(([, f]) => p[f] !== undefined && !(Array.isArray(p[f]) && (p[f] as unknown[]).length === 0));
    type = found ? Number(found[0]) : 0;
  }
  const field = ATTR_FIELD[type];
  const { name, ref_attr_name, doc_string, type: _t, ...others } = p;
  const extra: Record<string, unknown> = { ...others };
  let value: unknown;
  if (field) {
    value = p[field];
    delete extra[field];
  }
  const sub: FromProtoContext = { ...ctx, depth: ctx.depth + 1 };
  if (type === AttrType.TENSOR && value) value = tensorFromProto(value as TensorProto, ctx.readExternal, `attribute '${name}' of node '${nodeName}'`);
  else if (type === AttrType.TENSORS) value = ((value as TensorProto[]) ?? []).map((t) => tensorFromProto(t, ctx.readExternal, `attribute '${name}'`));
  else if (type === AttrType.GRAPH && value) value = graphFromProto(value as GraphProto, sub);
  else if (type === AttrType.GRAPHS) value = ((value as GraphProto[]) ?? []).map((g) => graphFromProto(g, sub));
  else if (value === undefined && field && ['floats', 'ints', 'strings', 'tensors', 'graphs', 'sparse_tensors', 'type_protos'].includes(field)) value = [];
  const a: Attribute = { name: name ?? '', type, value };
  if (typeOmitted) a.typeOmitted = true;
  setIf(a, 'refAttrName', ref_attr_name);
  setIf(a, 'docString', doc_string);
  setIf(a, 'extra', rest(extra));
  return a;
}

/** Decides, per tensor, whether it goes to external data (and where); null keeps it inline. */
export type PlaceTensor = (t: Tensor) => ExternalPlacement | null;

export function modelToProto(m: Model, place: PlaceTensor): ModelProto {
  const p: ModelProto = { ...(m.extra ?? {}) };
  setIf(p, 'ir_version', m.irVersion);
  p.opset_import = m.opsetImports.map((o) => (o.domain !== undefined ? { domain: o.domain, version: o.version } : { version: o.version }));
  setIf(p, 'producer_name', m.producerName);
  setIf(p, 'producer_version', m.producerVersion);
  setIf(p, 'domain', m.domain);
  setIf(p, 'model_version', m.modelVersion);
  setIf(p, 'doc_string', m.docString);
  p.graph = graphToProto(m.graph, place);
  setIf(p, 'metadata_props', m.metadataProps);
  return p;
}

export function graphToProto(g: Graph, place: PlaceTensor): GraphProto {
  const p: GraphProto = { ...(g.extra ?? {}) };
  p.node = g.nodes.map((n) => nodeToProto(n, place));
  setIf(p, 'name', g.name);
  p.initializer = g.initializers.map((t) => tensorToProto(t, place(t) ?? undefined));
  setIf(p, 'doc_string', g.docString);
  p.input = g.inputs.map(valueInfoToProto);
  p.output = g.outputs.map(valueInfoToProto);
  p.value_info = g.valueInfo.map(valueInfoToProto);
  return p;
}

function valueInfoToProto(v: ValueInfo): ValueInfoProto {
  const p: ValueInfoProto = { ...(v.extra ?? {}), name: v.name };
  setIf(p, 'type', v.type);
  setIf(p, 'doc_string', v.docString);
  return p;
}

function nodeToProto(n: Node, place: PlaceTensor): NodeProto {
  const p: NodeProto = { ...(n.extra ?? {}) };
  p.input = n.inputs;
  p.output = n.outputs;
  setIf(p, 'name', n.name);
  p.op_type = n.opType;
  setIf(p, 'domain', n.domain);
  p.attribute = n.attributes.map((a) => attributeToProto(a, place));
  setIf(p, 'doc_string', n.docString);
  return p;
}

function attributeToProto(a: Attribute, place: PlaceTensor): AttributeProto {
  const p: AttributeProto = { ...(a.extra ?? {}), name: a.name };
  setIf(p, 'ref_attr_name', a.refAttrName);
  setIf(p, 'doc_string', a.docString);
  if (!a.typeOmitted) p.type = a.type;
  const field = ATTR_FIELD[a.type];
  if (field && a.value !== undefined) {
    let v = a.value;
    if (a.type === AttrType.TENSOR) v = tensorToProto(v as Tensor, place(v as Tensor) ?? undefined);
    else if (a.type === AttrType.TENSORS) v = (v as Tensor[]).map((t) => tensorToProto(t, place(t) ?? undefined));
    else if (a.type === AttrType.GRAPH) v = graphToProto(v as Graph, place);
    else if (a.type === AttrType.GRAPHS) v = (v as Graph[]).map((g) => graphToProto(g, place));
    p[field] = v;
  }
  return p;
}
