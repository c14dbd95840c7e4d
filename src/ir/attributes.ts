/** Reading node attributes with defaults, and making new ones. */
import { GraphError } from '../errors.js';
import type { Tensor } from '../onnx/tensor.js';
import { AttrType, Graph, type Attribute, type Node } from './graph.js';

function find(node: Node, name: string): Attribute | undefined {
  return node.attributes.find((a) => a.name === name);
}

function wrong(node: Node, name: string, want: string): GraphError {
  return new GraphError(`node '${node.name ?? node.opType}' (${node.opType}): attribute '${name}' is not ${want}`);
}

const toNum = (v: unknown) => (typeof v === 'bigint' ? (v > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : v < BigInt(Number.MIN_SAFE_INTEGER) ? Number.MIN_SAFE_INTEGER : Number(v)) : (v as number));

export function attrInt(node: Node, name: string): number | undefined;
export function attrInt(node: Node, name: string, dflt: number): number;
export function attrInt(node: Node, name: string, dflt?: number): number | undefined {
  const a = find(node, name);
  if (!a) return dflt;
  if (a.type !== AttrType.INT) throw wrong(node, name, 'an int');
  return toNum(a.value ?? 0);
}

export function attrFloat(node: Node, name: string): number | undefined;
export function attrFloat(node: Node, name: string, dflt: number): number;
export function attrFloat(node: Node, name: string, dflt?: number): number | undefined {
  const a = find(node, name);
  if (!a) return dflt;
  if (a.type !== AttrType.FLOAT) throw wrong(node, name, 'a float');
  return (a.value as number) ?? 0;
}

export function attrInts(node: Node, name: string): number[] | undefined {
  const a = find(node, name);
  if (!a) return undefined;
  if (a.type !== AttrType.INTS) throw wrong(node, name, 'a list of ints');
  return ((a.value as unknown[]) ?? []).map(toNum);
}

export function attrString(node: Node, name: string): string | undefined;
export function attrString(node: Node, name: string, dflt: string): string;
export function attrString(node: Node, name: string, dflt?: string): string | undefined {
  const a = find(node, name);
  if (!a) return dflt;
  if (a.type !== AttrType.STRING) throw wrong(node, name, 'a string');
  return new TextDecoder().decode((a.value as Uint8Array) ?? new Uint8Array());
}

export function attrTensor(node: Node, name: string): Tensor | undefined {
  const a = find(node, name);
  if (!a) return undefined;
  if (a.type !== AttrType.TENSOR) throw wrong(node, name, 'a tensor');
  return a.value as Tensor;
}

/** Attribute values accepted by makeAttribute; numbers that are integers become INT. */
export type AttrInput = number | string | number[] | string[] | Tensor | Graph | { float: number } | { floats: number[] };

export function makeAttribute(name: string, v: AttrInput): Attribute {
  if (typeof v === 'number') return Number.isInteger(v) ? { name, type: AttrType.INT, value: v } : { name, type: AttrType.FLOAT, value: v };
  if (typeof v === 'string') return { name, type: AttrType.STRING, value: new TextEncoder().encode(v) };
  if (v instanceof Graph) return { name, type: AttrType.GRAPH, value: v };
  if (Array.isArray(v)) {
    if (v.length && typeof v[0] === 'string') return { name, type: AttrType.STRINGS, value: (v as string[]).map((s) => new TextEncoder().encode(s)) };
    if ((v as number[]).every(Number.isInteger)) return { name, type: AttrType.INTS, value: [...(v as number[])] };
    return { name, type: AttrType.FLOATS, value: [...(v as number[])] };
  }
  if ('float' in v) return { name, type: AttrType.FLOAT, value: v.float };
  if ('floats' in v) return { name, type: AttrType.FLOATS, value: [...v.floats] };
  return { name, type: AttrType.TENSOR, value: v };
}
