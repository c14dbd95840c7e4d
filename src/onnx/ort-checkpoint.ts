/**
 * ONNX Runtime's on-device-training checkpoint (`generate_artifacts`' `checkpoint`): a
 * FlatBuffer with file identifier `ODTC` (schema onnxruntime/core/flatbuffers/schema/
 * ort_training_checkpoint.fbs, Tensor from ort.fbs), read by hand — the reader is the few lines
 * below, not worth the `flatbuffers` package. Every offset is bounds-checked: a truncated or
 * hostile file is refused with its position, never read past its end.
 *
 *   Checkpoint  { 0 version:int32; 1 module_state:ModuleState; 2 optimizer_groups; 3 property_bag }
 *   ModuleState { 0 requires_grad_params:[Tensor]; 1 frozen_params:[Tensor]; 2 is_nominal_state:bool;
 *                 3 has_external_data:bool }
 *   Tensor      { 0 name:string; 1 doc_string; 2 dims:[int64]; 3 data_type:int32 (ONNX's values);
 *                 4 raw_data:[uint8]; 5 string_data; 6 external_data_offset:int64 = -1 }
 *
 * Also the 2022 form ORT wrote before the FlatBuffer: a folder `checkpoint.ckpt/` holding
 * `paramtrain_tensors.pbseq` (and `paramfrozen_tensors.pbseq`): a varint32 count, then each
 * TensorProto prefixed by its varint32 size (protobuf_message_sequence.h).
 */
import { ModelFormatError } from '../errors.js';
import { dataTypeInfo } from './data-types.js';
import { TensorProtoType, decodePlain, type TensorProto } from './schema.js';
import { tensorFromProto, type Tensor } from './tensor.js';

export interface OrtCheckpoint {
  version: number;
  trainable: Tensor[];
  frozen: Tensor[];
}

/** A bounds-checked view of a FlatBuffer. */
class FlatBuffer {
  private readonly dv: DataView;
  constructor(
    readonly bytes: Uint8Array,
    private readonly source: string,
  ) {
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  private need(p: number, n: number): void {
    if (!Number.isSafeInteger(p) || p < 0 || p + n > this.bytes.length)
      throw new ModelFormatError(`${this.source}: truncated or corrupt ONNX Runtime checkpoint (offset ${p} + ${n} outside its ${this.bytes.length} bytes)`);
  }
  u8(p: number): number {
    this.need(p, 1);
    return this.bytes[p];
  }
  u16(p: number): number {
    this.need(p, 2);
    return this.dv.getUint16(p, true);
  }
  u32(p: number): number {
    this.need(p, 4);
    return this.dv.getUint32(p, true);
  }
  i32(p: number): number {
    this.need(p, 4);
    return this.dv.getInt32(p, true);
  }
  i64(p: number): number {
    this.need(p, 8);
    const v = this.dv.getBigInt64(p, true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) throw new ModelFormatError(`${this.source}: an int64 at offset ${p} is out of range`);
    return Number(v);
  }
  /** Position of field `id` of the table at `t`, or 0 when absent. */
  field(t: number, id: number): number {
    const vt = t - this.i32(t);
    const size = this.u16(vt);
    const o = 4 + 2 * id;
    if (o + 2 > size) return 0;
    const rel = this.u16(vt + o);
    return rel ? t + rel : 0;
  }
  deref(p: number): number {
    return p + this.u32(p);
  }
  table(t: number, id: number): number {
    const p = this.field(t, id);
    return p ? this.deref(p) : 0;
  }
  vector(t: number, id: number, elem: number): { start: number; length: number } | undefined {
    const p = this.field(t, id);
    if (!p) return undefined;
    const v = this.deref(p);
    const length = this.u32(v);
    this.need(v + 4, length * elem);
    return { start: v + 4, length };
  }
  tables(t: number, id: number): number[] {
    const v = this.vector(t, id, 4);
    return v ? Array.from({ length: v.length }, (_, i) => this.deref(v.start + 4 * i)) : [];
  }
  string(t: number, id: number): string | undefined {
    const p = this.field(t, id);
    if (!p) return undefined;
    const s = this.deref(p);
    const n = this.u32(s);
    this.need(s + 4, n);
    return new TextDecoder().decode(this.bytes.subarray(s + 4, s + 4 + n));
  }
}

function readTensor(fb: FlatBuffer, t: number, source: string): Tensor {
  const name = fb.string(t, 0);
  if (!name) throw new ModelFormatError(`${source}: a tensor without a name`);
  const dimsVec = fb.vector(t, 2, 8);
  const dims = dimsVec ? Array.from({ length: dimsVec.length }, (_, i) => fb.i64(dimsVec.start + 8 * i)) : [];
  const typeAt = fb.field(t, 3);
  const dataType = typeAt ? fb.i32(typeAt) : 0;
  const info = dataTypeInfo(dataType);
  if (!info) throw new ModelFormatError(`${source}: tensor '${name}' has data type ${dataType}, which lion-onnx does not read`);
  const ext = fb.field(t, 6);
  if (ext && fb.i64(ext) >= 0) throw new ModelFormatError(`${source}: tensor '${name}' keeps its data in an external file (${source}.data); lion-onnx reads checkpoints with their data inside`);
  if (dims.some((d) => d < 0)) throw new ModelFormatError(`${source}: tensor '${name}' has a negative dimension [${dims.join(', ')}]`);
  const raw = fb.vector(t, 4, 1);
  // Copied: raw_data is not aligned for a typed-array view. tensorFromProto checks its size.
  const raw_data = raw ? fb.bytes.slice(raw.start, raw.start + raw.length) : new Uint8Array(0);
  const { storage: _s, ...tensor } = tensorFromProto({ name, dims, data_type: dataType, raw_data }, null, source);
  return tensor;
}

export function isOrtCheckpoint(bytes: Uint8Array): boolean {
  return bytes.length >= 8 && new TextDecoder().decode(bytes.subarray(4, 8)) === 'ODTC';
}

/** Reads a FlatBuffer checkpoint (versions 1 and 2: the same layout for what is read here). */
export function decodeOrtCheckpoint(bytes: Uint8Array, source: string): OrtCheckpoint {
  if (!isOrtCheckpoint(bytes)) throw new ModelFormatError(`${source}: not an ONNX Runtime checkpoint (no ODTC identifier)`);
  const fb = new FlatBuffer(bytes, source);
  const root = fb.u32(0);
  const versionAt = fb.field(root, 0);
  const version = versionAt ? fb.i32(versionAt) : 0;
  if (version < 1 || version > 2) throw new ModelFormatError(`${source}: ONNX Runtime checkpoint version ${version}; lion-onnx reads versions 1 and 2`);
  const ms = fb.table(root, 1);
  if (!ms) throw new ModelFormatError(`${source}: the checkpoint has no module state (no parameters)`);
  const flag = (id: number) => {
    const p = fb.field(ms, id);
    return p ? fb.u8(p) !== 0 : false;
  };
  if (flag(2)) throw new ModelFormatError(`${source}: a nominal checkpoint (names and shapes, no values); give the checkpoint ONNX Runtime wrote after loading or training the weights`);
  if (flag(3)) throw new ModelFormatError(`${source}: the checkpoint keeps its data in an external file (${source}.data); lion-onnx reads checkpoints with their data inside`);
  return { version, trainable: fb.tables(ms, 0).map((t) => readTensor(fb, t, source)), frozen: fb.tables(ms, 1).map((t) => readTensor(fb, t, source)) };
}

/** A varint32-counted sequence of varint32-sized TensorProtos (ORT's 2022 `.pbseq`). */
export function decodePbseq(bytes: Uint8Array, source: string): Tensor[] {
  let p = 0;
  const varint = () => {
    let v = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      if (p >= bytes.length) throw new ModelFormatError(`${source}: truncated (a length runs past the end)`);
      const b = bytes[p++];
      v += (b & 0x7f) * 2 ** shift;
      if (!(b & 0x80)) return v;
    }
    throw new ModelFormatError(`${source}: corrupt (a length longer than 5 bytes)`);
  };
  const count = varint();
  const out: Tensor[] = [];
  for (let i = 0; i < count; i++) {
    const size = varint();
    if (p + size > bytes.length) throw new ModelFormatError(`${source}: truncated (tensor ${i + 1} of ${count} runs past the end)`);
    let proto: TensorProto;
    try {
      proto = decodePlain<TensorProto>(TensorProtoType, bytes.subarray(p, p + size));
    } catch (e) {
      throw new ModelFormatError(`${source}: tensor ${i + 1} of ${count} is not a valid TensorProto (${(e as Error).message})`);
    }
    out.push(tensorFromProto(proto, null, source));
    p += size;
  }
  if (p !== bytes.length) throw new ModelFormatError(`${source}: ${bytes.length - p} bytes after the ${count} tensors it declares`);
  return out;
}
