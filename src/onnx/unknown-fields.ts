/**
 * One pass over a model's protobuf wire format, before anything is decoded: the fields the
 * schema does not know (written by a newer ONNX; protobufjs drops them when decoding, so a model
 * holding any is refused for writing rather than silently losing data, see model-io.ts), and how
 * many nodes the model has at any depth, so a graph bomb is refused before decoding allocates a
 * JS object per node. Iterative with a depth limit: nesting cannot overflow the stack.
 */
import protobuf from 'protobufjs';

/** Messages nested deeper than this are refused (protobufjs's own decoder stops at 100 too). */
export const MAX_MESSAGE_DEPTH = 100;

export interface FieldScan {
  /** Up to `limit` unknown fields, by path. */
  unknown: string[];
  /** NodeProto messages anywhere (graphs, subgraphs, functions). */
  nodes: number;
}

/** Thrown when messages nest deeper than MAX_MESSAGE_DEPTH. */
export class NestingTooDeep extends Error {}

export function scanFields(bytes: Uint8Array, type: protobuf.Type, limit = 8): FieldScan {
  const found: string[] = [];
  let nodes = 0;
  const reader = protobuf.Reader.create(bytes);
  // Field names along the way, joined only when an unknown field is found.
  const stack: { end: number; type: protobuf.Type; name: string }[] = [{ end: bytes.length, type, name: type.name }];
  const path = () => stack.map((s) => s.name).join('.');
  while (stack.length) {
    const top = stack[stack.length - 1];
    if (reader.pos >= top.end) {
      if (reader.pos > top.end) throw new Error(`${path()} runs past its length`);
      stack.pop();
      continue;
    }
    const tag = reader.uint32();
    const id = tag >>> 3;
    const wireType = tag & 7;
    const field = top.type.fieldsById[id];
    if (!field) {
      if (found.length < limit) found.push(`${path()} field #${id}`);
      reader.skipType(wireType);
      continue;
    }
    field.resolve();
    if (field.resolvedType instanceof protobuf.Type && wireType === 2) {
      const len = reader.uint32();
      const end = reader.pos + len;
      if (end > top.end) throw new Error(`${path()}.${field.name} runs past its parent`);
      if (stack.length >= MAX_MESSAGE_DEPTH) throw new NestingTooDeep(`messages nested more than ${MAX_MESSAGE_DEPTH} deep`);
      if (field.resolvedType.name === 'NodeProto') nodes++;
      stack.push({ end, type: field.resolvedType, name: field.name });
    } else reader.skipType(wireType);
  }
  return { unknown: found, nodes };
}
