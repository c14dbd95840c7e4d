/**
 * Finds protobuf fields the schema does not know (written by a newer ONNX). protobufjs drops
 * them when decoding, so a model holding any is refused for writing rather than silently
 * losing data (see model-io.ts).
 */
import protobuf from 'protobufjs';

export function findUnknownFields(bytes: Uint8Array, type: protobuf.Type, limit = 8): string[] {
  const found: string[] = [];
  const reader = protobuf.Reader.create(bytes);
  scan(reader, bytes.length, type, type.name, found, limit);
  return found;
}

function scan(reader: protobuf.Reader, end: number, type: protobuf.Type, path: string, found: string[], limit: number): void {
  while (reader.pos < end && found.length < limit) {
    const tag = reader.uint32();
    const id = tag >>> 3;
    const wireType = tag & 7;
    const field = type.fieldsById[id];
    if (!field) {
      found.push(`${path} field #${id}`);
      reader.skipType(wireType);
      continue;
    }
    field.resolve();
    if (field.resolvedType instanceof protobuf.Type && wireType === 2) {
      const len = reader.uint32();
      const sub = reader.pos + len;
      scan(reader, sub, field.resolvedType, `${path}.${field.name}`, found, limit);
      reader.pos = sub;
    } else reader.skipType(wireType);
  }
}
