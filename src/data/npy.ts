/**
 * NumPy .npy files (format versions 1-3): little-endian numeric arrays in C order. Every field
 * of the header is checked, and the payload length must match the shape before anything else is
 * allocated, so a hostile or truncated file fails with one line.
 */
import { DataError } from '../errors.js';
import { DataType, type TypedArray } from '../onnx/data-types.js';
import { elementCount, type Tensor } from '../onnx/tensor.js';
import { writeFileAtomic } from '../util/atomic-write.js';
import { readRegularFile } from '../util/safe-fs.js';

const DESCR: Record<string, number> = {
  '<f4': DataType.FLOAT,
  '<f8': DataType.DOUBLE,
  '<f2': DataType.FLOAT16,
  '<i8': DataType.INT64,
  '<i4': DataType.INT32,
  '<i2': DataType.INT16,
  '|i1': DataType.INT8,
  '|u1': DataType.UINT8,
  '<u2': DataType.UINT16,
  '<u4': DataType.UINT32,
  '<u8': DataType.UINT64,
  '|b1': DataType.BOOL,
};
const CTORS: Record<number, { new (n: number): TypedArray; BYTES_PER_ELEMENT: number }> = {
  [DataType.FLOAT]: Float32Array,
  [DataType.DOUBLE]: Float64Array,
  [DataType.FLOAT16]: Uint16Array,
  [DataType.INT64]: BigInt64Array as never,
  [DataType.INT32]: Int32Array,
  [DataType.INT16]: Int16Array,
  [DataType.INT8]: Int8Array,
  [DataType.UINT8]: Uint8Array,
  [DataType.UINT16]: Uint16Array,
  [DataType.UINT32]: Uint32Array,
  [DataType.UINT64]: BigUint64Array as never,
  [DataType.BOOL]: Uint8Array,
};
const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

export function decodeNpy(bytes: Uint8Array, source = 'npy', name = ''): Tensor {
  const bad = (why: string) => new DataError(`${source}: not a valid .npy file (${why})`);
  if (bytes.length < 10 || !MAGIC.every((b, i) => bytes[i] === b)) throw bad('missing the \\x93NUMPY magic');
  const major = bytes[6];
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerLen: number;
  let start: number;
  if (major === 1) {
    headerLen = dv.getUint16(8, true);
    start = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) throw bad('truncated header');
    headerLen = dv.getUint32(8, true);
    start = 12;
  } else throw bad(`format version ${major} is not supported`);
  if (start + headerLen > bytes.length) throw bad('header runs past the end of the file');
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(start, start + headerLen));
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) throw bad('header lacks descr, fortran_order or shape');
  if (fortran === 'True') throw bad('Fortran-order arrays are not supported; save with np.ascontiguousarray');
  const dataType = DESCR[descr === '<b1' ? '|b1' : descr];
  if (dataType === undefined)
    throw bad(`dtype '${descr}' is not supported (use little-endian float32/float64/float16 or an integer type)`);
  const dims = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((s) => {
      const n = Number(s.replace(/L$/, ''));
      if (!Number.isSafeInteger(n) || n < 0) throw bad(`invalid dimension '${s}'`);
      return n;
    });
  const count = elementCount(dims);
  const Ctor = CTORS[dataType];
  const payload = start + headerLen;
  const need = count * Ctor.BYTES_PER_ELEMENT;
  if (!Number.isSafeInteger(need) || bytes.length - payload !== need)
    throw bad(`shape (${dims.join(', ')}) of ${descr} needs ${need} bytes of data, the file has ${bytes.length - payload}`);
  const data = new Ctor(count);
  new Uint8Array(data.buffer).set(bytes.subarray(payload));
  return { name, dataType, dims, data };
}

/** Reads a .npy file; a FIFO, device or folder is refused at once (reading one would block or never end). */
export function readNpy(path: string, name = ''): Tensor {
  return decodeNpy(readRegularFile(path), path, name);
}

export function encodeNpy(t: Tensor): Uint8Array {
  const descr = Object.entries(DESCR).find(([, dt]) => dt === t.dataType)?.[0];
  if (!descr) throw new DataError(`cannot write tensor '${t.name}' as .npy: unsupported type`);
  const shape = t.dims.length === 1 ? `(${t.dims[0]},)` : `(${t.dims.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`;
  header += ' '.repeat((64 - ((10 + header.length + 1) % 64)) % 64) + '\n';
  const data = t.data as TypedArray;
  const out = new Uint8Array(10 + header.length + data.byteLength);
  out.set(MAGIC);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(new TextEncoder().encode(header), 10);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), 10 + header.length);
  return out;
}

export function writeNpy(path: string, t: Tensor): void {
  writeFileAtomic(path, encodeNpy(t));
}
