/**
 * A model file's metadata_props, read without decoding the model: a walk over ModelProto's
 * top-level fields that skips the graph by its length. Cheap for a 2 GB file (it reads a few
 * bytes per field), so `export` can check whether an existing output is a model lion-onnx
 * exported before replacing it.
 */
import { closeSync, readSync } from 'node:fs';
import { openRegularFile } from '../util/safe-fs.js';

/** ModelProto.metadata_props: field 14, length-delimited StringStringEntryProto (key 1, value 2). */
const METADATA_FIELD = 14;

/** The key lion-onnx's exports carry in metadata_props. */
export const EXPORT_MARK = 'lion-onnx.export';

class Cursor {
  private buf = Buffer.alloc(16);
  constructor(
    private readonly fd: number,
    readonly size: number,
    public pos = 0,
  ) {}

  varint(): number {
    let result = 0;
    let shift = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.size) throw new Error('truncated');
      readSync(this.fd, this.buf, 0, 1, this.pos++);
      const b = this.buf[0];
      result += (b & 0x7f) * shift;
      if (!(b & 0x80)) return result;
      shift *= 128;
    }
    throw new Error('bad varint');
  }

  bytes(n: number): Buffer {
    if (this.pos + n > this.size) throw new Error('truncated');
    const out = Buffer.alloc(n);
    readSync(this.fd, out, 0, n, this.pos);
    this.pos += n;
    return out;
  }
}

function decodeEntry(b: Buffer): { key: string; value: string } {
  let key = '';
  let value = '';
  for (let p = 0; p < b.length; ) {
    const tag = b[p++];
    let len = 0;
    let shift = 1;
    for (;;) {
      const x = b[p++];
      len += (x & 0x7f) * shift;
      if (!(x & 0x80)) break;
      shift *= 128;
    }
    const s = b.subarray(p, p + len).toString('utf8');
    p += len;
    if (tag === 0x0a) key = s;
    else if (tag === 0x12) value = s;
  }
  return { key, value };
}

/** The file's metadata_props, or null when it is not readable as an ONNX model. */
export function readModelMetadata(path: string): { key: string; value: string }[] | null {
  let fd: number;
  let size: number;
  try {
    ({ fd, size } = openRegularFile(path));
  } catch {
    return null;
  }
  try {
    const c = new Cursor(fd, size);
    const out: { key: string; value: string }[] = [];
    while (c.pos < size) {
      const tag = c.varint();
      const field = Math.floor(tag / 8);
      const wire = tag % 8;
      if (wire === 0) c.varint();
      else if (wire === 1) c.pos += 8;
      else if (wire === 5) c.pos += 4;
      else if (wire === 2) {
        const len = c.varint();
        if (field === METADATA_FIELD && len < 1 << 20) out.push(decodeEntry(c.bytes(len)));
        else c.pos += len;
      } else return null;
      if (c.pos > size) return null;
    }
    return out;
  } catch {
    return null;
  } finally {
    closeSync(fd);
  }
}

/** Whether `path` is a model lion-onnx exported (its metadata carries EXPORT_MARK). */
export function isLionOnnxExport(path: string): boolean {
  return readModelMetadata(path)?.some((e) => e.key === EXPORT_MARK) ?? false;
}
