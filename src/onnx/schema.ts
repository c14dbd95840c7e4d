/**
 * The ONNX protobuf schema, loaded with protobufjs reflection from ONNX's own onnx.proto
 * (proto2, IR version 14; see scripts/gen-onnx-schema.mjs). We do not use the onnx-proto
 * package's static code: it is generated from ONNX 1.10 (IR 8) and cannot represent the
 * float8/int4/float4 types or the fields newer exporters write.
 */
import protobuf from 'protobufjs';
import { onnxSchemaJson } from './schema.generated.js';

const root = protobuf.Root.fromJSON(onnxSchemaJson as unknown as protobuf.INamespace);

export const ModelProtoType = root.lookupType('onnx.ModelProto');
export const GraphProtoType = root.lookupType('onnx.GraphProto');
export const TensorProtoType = root.lookupType('onnx.TensorProto');

/** IR version this build of lion-onnx knows every field of. */
export const KNOWN_IR_VERSION = 14;

/** int64 fields in decoded protos: a number when exact, a bigint beyond 2^53. */
export type Int64 = number | bigint;

/* Plain-object views of the protos (field names as in onnx.proto). Only fields the code reads are
 * typed; everything else is carried through untouched. */
export interface StringStringEntryProto {
  key?: string;
  value?: string;
}
export interface OperatorSetIdProto {
  domain?: string;
  version?: Int64;
}
export interface TensorShapeDimProto {
  dim_value?: Int64;
  dim_param?: string;
  denotation?: string;
}
export interface TypeProto {
  tensor_type?: { elem_type?: number; shape?: { dim?: TensorShapeDimProto[] } };
  sequence_type?: { elem_type?: TypeProto };
  map_type?: unknown;
  optional_type?: unknown;
  sparse_tensor_type?: unknown;
  denotation?: string;
  [k: string]: unknown;
}
export interface ValueInfoProto {
  name?: string;
  type?: TypeProto;
  doc_string?: string;
  [k: string]: unknown;
}
export interface TensorProto {
  dims?: Int64[];
  data_type?: number;
  segment?: unknown;
  float_data?: number[];
  int32_data?: number[];
  string_data?: Uint8Array[];
  int64_data?: Int64[];
  name?: string;
  doc_string?: string;
  raw_data?: Uint8Array;
  external_data?: StringStringEntryProto[];
  data_location?: number;
  double_data?: number[];
  uint64_data?: Int64[];
  [k: string]: unknown;
}
export interface AttributeProto {
  name?: string;
  ref_attr_name?: string;
  doc_string?: string;
  type?: number;
  f?: number;
  i?: Int64;
  s?: Uint8Array;
  t?: TensorProto;
  g?: GraphProto;
  sparse_tensor?: unknown;
  tp?: TypeProto;
  floats?: number[];
  ints?: Int64[];
  strings?: Uint8Array[];
  tensors?: TensorProto[];
  graphs?: GraphProto[];
  sparse_tensors?: unknown[];
  type_protos?: TypeProto[];
  [k: string]: unknown;
}
export interface NodeProto {
  input?: string[];
  output?: string[];
  name?: string;
  op_type?: string;
  domain?: string;
  overload?: string;
  attribute?: AttributeProto[];
  doc_string?: string;
  [k: string]: unknown;
}
export interface GraphProto {
  node?: NodeProto[];
  name?: string;
  initializer?: TensorProto[];
  doc_string?: string;
  input?: ValueInfoProto[];
  output?: ValueInfoProto[];
  value_info?: ValueInfoProto[];
  [k: string]: unknown;
}
export interface ModelProto {
  ir_version?: Int64;
  opset_import?: OperatorSetIdProto[];
  producer_name?: string;
  producer_version?: string;
  domain?: string;
  model_version?: Int64;
  doc_string?: string;
  graph?: GraphProto;
  metadata_props?: StringStringEntryProto[];
  functions?: unknown[];
  [k: string]: unknown;
}

/** long.js, which protobufjs loads for 64-bit fields. */
const Long = protobuf.util.Long as unknown as { fromString(s: string, unsigned: boolean): object };

const INT64_TYPES = new Set(['int64', 'uint64', 'sint64', 'fixed64', 'sfixed64']);

/** Decimal strings (protobufjs' exact form for int64) become numbers when exact, else bigints. */
function fromLongString(s: string): Int64 {
  const n = Number(s);
  return Number.isSafeInteger(n) ? n : BigInt(s);
}

/**
 * Walks a plain object of the given message type and rewrites every int64 field with `fn`.
 * Used after decoding: decimal string -> number|bigint. (Encoding goes the other way in
 * structuredCloneShallowForInt64: bigint -> Long, since protobufjs does not take bigints.)
 */
function mapInt64(obj: Record<string, unknown>, type: protobuf.Type, fn: (v: unknown) => unknown): void {
  for (const field of type.fieldsArray) {
    const v = obj[field.name];
    if (v === undefined || v === null) continue;
    field.resolve();
    if (field.resolvedType instanceof protobuf.Type) {
      const sub = field.resolvedType;
      if (field.repeated) for (const item of v as Record<string, unknown>[]) mapInt64(item, sub, fn);
      else mapInt64(v as Record<string, unknown>, sub, fn);
    } else if (INT64_TYPES.has(field.type)) {
      if (field.repeated) {
        const arr = v as unknown[];
        for (let i = 0; i < arr.length; i++) arr[i] = fn(arr[i]);
      } else obj[field.name] = fn(v);
    }
  }
}

/** Decodes protobuf bytes into a plain object (int64 as number|bigint, bytes as Uint8Array). */
export function decodePlain<T>(type: protobuf.Type, bytes: Uint8Array): T {
  const msg = type.decode(bytes);
  const obj = type.toObject(msg, { longs: String, enums: Number, defaults: false, arrays: false });
  mapInt64(obj, type, (v) => fromLongString(v as string));
  return obj as T;
}

/** Encodes a plain object produced by decodePlain (or built by hand) back to bytes. */
export function encodePlain(type: protobuf.Type, obj: object): Uint8Array {
  const copy = structuredCloneShallowForInt64(obj, type);
  const err = type.verify(copy);
  if (err) throw new Error(`internal: cannot encode ${type.name}: ${err}`);
  return type.encode(type.fromObject(copy)).finish();
}

/** Clone only along paths that hold int64 fields so the caller's object is never mutated. */
function structuredCloneShallowForInt64(obj: object, type: protobuf.Type): Record<string, unknown> {
  const out: Record<string, unknown> = { ...(obj as Record<string, unknown>) };
  for (const field of type.fieldsArray) {
    const v = out[field.name];
    if (v === undefined || v === null) continue;
    field.resolve();
    if (field.resolvedType instanceof protobuf.Type) {
      const sub = field.resolvedType;
      out[field.name] = field.repeated
        ? (v as object[]).map((item) => structuredCloneShallowForInt64(item, sub))
        : structuredCloneShallowForInt64(v as object, sub);
    } else if (INT64_TYPES.has(field.type)) {
      // A Long, not a decimal string: verify() rejects strings, and Long keeps all 64 bits.
      const unsigned = field.type === 'uint64' || field.type === 'fixed64';
      const conv = (x: unknown) => (typeof x === 'bigint' ? Long.fromString(x.toString(), unsigned) : x);
      out[field.name] = field.repeated ? (v as unknown[]).map(conv) : conv(v);
    }
  }
  return out;
}
