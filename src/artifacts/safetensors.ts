/**
 * safetensors read/write (https://github.com/huggingface/safetensors, format: 8-byte LE header
 * length, JSON header, little-endian tensor bytes), so PyTorch and Hugging Face tools can read
 * lion-onnx state and checkpoints directly.
 */
import { DataError } from '../errors.js';
import { DataType, dataTypeInfo, type TypedArray } from '../onnx/data-types.js';
import { elementCount, tensorBytes, type Tensor } from '../onnx/tensor.js';
import { commitTemps, writeTemp } from '../util/atomic-write.js';
import { readRegularFile } from '../util/safe-fs.js';

const DTYPES: [number, string][] = [
  [DataType.FLOAT, 'F32'],
  [DataType.DOUBLE, 'F64'],
  [DataType.FLOAT16, 'F16'],
  [DataType.BFLOAT16, 'BF16'],
  [DataType.INT64, 'I64'],
  [DataType.INT32, 'I32'],
  [DataType.INT16, 'I16'],
  [DataType.INT8, 'I8'],
  [DataType.UINT8, 'U8'],
  [DataType.UINT16, 'U16'],
  [DataType.UINT32, 'U32'],
  [DataType.UINT64, 'U64'],
  [DataType.BOOL, 'BOOL'],
  [DataType.FLOAT8E4M3FN, 'F8_E4M3'],
  [DataType.FLOAT8E5M2, 'F8_E5M2'],
];
const TO_ST = new Map(DTYPES);
const FROM_ST = new Map(DTYPES.map(([a, b]) => [b, a]));

/** Header larger than this is refused (the format's own limit is 100 MB). */
const MAX_HEADER = 100_000_000;

export interface SafetensorsFile {
  tensors: Map<string, Tensor>;
  metadata: Record<string, string>;
}

/** Serializes tensors (in the given order) and metadata to chunks ready to write. */
/** A tensor of zeros known only by its type and shape: written without allocating it. */
export interface ZerosEntry {
  name: string;
  dataType: number;
  dims: number[];
  zeros: true;
}

/** Zero chunk reused for every ZerosEntry, so fresh optimizer state costs no memory to write. */
const ZERO_CHUNK = new Uint8Array(1 << 20);

function zeroChunks(bytes: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let left = bytes; left > 0; left -= ZERO_CHUNK.length) out.push(left >= ZERO_CHUNK.length ? ZERO_CHUNK : ZERO_CHUNK.subarray(0, left));
  return out;
}

export function encodeSafetensors(tensors: Iterable<Tensor | ZerosEntry>, metadata: Record<string, string> = {}): Uint8Array[] {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  const bodies: Uint8Array[] = [];
  let offset = 0;
  for (const t of tensors) {
    if (t.name === '__metadata__' || Object.hasOwn(header, t.name))
      throw new DataError(`safetensors cannot store two tensors named '${t.name}' (or one named __metadata__)`);
    const dtype = TO_ST.get(t.dataType);
    if (!dtype) throw new DataError(`safetensors cannot store tensor '${t.name}' of type ${dataTypeInfo(t.dataType)?.name ?? t.dataType}`);
    const chunks = 'zeros' in t ? zeroChunks(elementCount(t.dims) * (dataTypeInfo(t.dataType)!.bits / 8)) : [tensorBytes(t)];
    const length = chunks.reduce((n, c) => n + c.length, 0);
    header[t.name] = { dtype, shape: t.dims, data_offsets: [offset, offset + length] };
    bodies.push(...chunks);
    offset += length;
  }
  let json = JSON.stringify(header);
  // Pad the header with spaces so the data starts 8-byte aligned, as the reference writer does.
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const headerBytes = new TextEncoder().encode(json);
  const len = new Uint8Array(8);
  new DataView(len.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  return [len, headerBytes, ...bodies];
}

export function writeSafetensors(path: string, tensors: Iterable<Tensor>, metadata: Record<string, string> = {}): void {
  commitTemps([[writeTemp(path, encodeSafetensors(tensors, metadata)), path]]);
}

export function decodeSafetensors(bytes: Uint8Array, source = 'safetensors'): SafetensorsFile {
  const bad = (why: string) => new DataError(`${source}: not a valid safetensors file (${why})`);
  if (bytes.length < 8) throw bad('shorter than its 8-byte header length');
  const declared = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (declared > MAX_HEADER || 8n + declared > BigInt(bytes.length)) throw bad(`header length ${declared} exceeds the file`);
  const n = Number(declared);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n)));
  } catch {
    throw bad('header is not JSON');
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw bad('header is not a JSON object');
  const dataStart = 8 + n;
  const dataLen = bytes.length - dataStart;
  const tensors = new Map<string, Tensor>();
  const spans: [start: number, end: number, name: string][] = [];
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      if (typeof entry !== 'object' || entry === null) throw bad('__metadata__ is not an object');
      metadata = Object.fromEntries(Object.entries(entry).map(([k, v]) => [k, String(v)]));
      continue;
    }
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) throw bad(`tensor '${name}' is not an object with dtype, shape and data_offsets`);
    const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const dataType = typeof e.dtype === 'string' ? FROM_ST.get(e.dtype) : undefined;
    if (dataType === undefined) throw bad(`tensor '${name}' has unsupported dtype ${JSON.stringify(e.dtype)}`);
    if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw bad(`tensor '${name}' has an invalid shape`);
    const offs = e.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((d) => Number.isSafeInteger(d) && d >= 0) || offs[0] > offs[1] || offs[1] > dataLen)
      throw bad(`tensor '${name}' has data_offsets outside the file`);
    const info = dataTypeInfo(dataType)!;
    const dims = e.shape as number[];
    const count = elementCount(dims);
    const need = count * (info.bits / 8);
    if (offs[1] - offs[0] !== need) throw bad(`tensor '${name}': ${dims.join('x')} ${e.dtype} needs ${need} bytes, the entry holds ${offs[1] - offs[0]}`);
    spans.push([offs[0], offs[1], name]);
    const data = new info.array!(count) as TypedArray;
    new Uint8Array(data.buffer).set(bytes.subarray(dataStart + offs[0], dataStart + offs[1]));
    tensors.set(name, { name, dataType, dims, data });
  }
  // As the format requires (and the reference reader checks): the tensors tile the data
  // exactly, with no overlap and no hole where other content could hide.
  spans.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let end = 0;
  for (const [start, stop, name] of spans) {
    if (start !== end) throw bad(`tensor '${name}' starts at byte ${start} of the data, expected ${end} (${start < end ? 'overlap' : 'hole'})`);
    end = stop;
  }
  if (end !== dataLen) throw bad(`the tensors cover ${end} bytes of data but the file holds ${dataLen}`);
  return { tensors, metadata };
}

/** Reads a safetensors file (a regular file; with noFollow, not a symlink either). */
export function readSafetensors(path: string, opts: { noFollow?: boolean } = {}): SafetensorsFile {
  return decodeSafetensors(readRegularFile(path, { noFollow: opts.noFollow }), path);
}
