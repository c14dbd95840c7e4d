/**
 * External data: tensors whose bytes live in a file beside the model. A `location` must name a
 * file inside the model's folder: absolute paths, `..` segments and symlinks that lead out are
 * refused (ONNX's own loader had CVEs of exactly this class). Offsets and lengths are checked
 * against the file's size before anything is allocated.
 */
import { closeSync, fstatSync, openSync, readSync, realpathSync, statSync } from 'node:fs';
import { isAbsolute, join, relative, sep } from 'node:path';
import { ExternalDataError } from '../errors.js';
import type { ExternalReader, ExternalRef } from './tensor.js';

/** Refuses locations that could leave the model's folder; returns the path segments. */
export function checkLocation(location: string, tensorName: string): string[] {
  const where = `external data of tensor '${tensorName}'`;
  if (location.includes('\0')) throw new ExternalDataError(`${where}: location contains a NUL byte`);
  if (isAbsolute(location) || location.startsWith('\\') || /^[a-zA-Z]:/.test(location))
    throw new ExternalDataError(`${where}: location '${location}' is an absolute path; external data must be a relative path inside the model's folder`);
  const parts = location.split(/[\\/]+/).filter((s) => s !== '' && s !== '.');
  if (parts.includes('..'))
    throw new ExternalDataError(`${where}: location '${location}' leaves the model's folder with '..'; move the data file next to the model`);
  if (parts.length === 0) throw new ExternalDataError(`${where}: location '${location}' names no file`);
  return parts;
}

/**
 * A reader for external tensors of a model in `modelDir`. Files are opened once and kept open
 * until `close()`.
 */
export function externalReader(modelDir: string): { read: ExternalReader; close: () => void } {
  const open = new Map<string, { fd: number; size: number }>();
  let realDir: string | null = null;
  const read: ExternalReader = (ref: ExternalRef, tensorName: string) => {
    const where = `external data of tensor '${tensorName}'`;
    const parts = checkLocation(ref.location, tensorName);
    const path = join(modelDir, ...parts);
    let file = open.get(path);
    if (!file) {
      let real: string;
      try {
        realDir ??= realpathSync(modelDir);
        real = realpathSync(path);
      } catch {
        throw new ExternalDataError(`${where}: file '${ref.location}' not found next to the model (looked in ${modelDir})`);
      }
      const rel = relative(realDir, real);
      if (rel === '' || rel.startsWith('..' + sep) || rel === '..' || isAbsolute(rel))
        throw new ExternalDataError(`${where}: '${ref.location}' resolves through a symlink to ${real}, outside the model's folder; copy the file in instead`);
      // Checked before opening too: opening a FIFO for reading would block until a writer comes.
      if (!statSync(real).isFile()) throw new ExternalDataError(`${where}: '${ref.location}' is not a regular file`);
      const fd = openSync(real, 'r');
      const st = fstatSync(fd);
      if (!st.isFile()) {
        closeSync(fd);
        throw new ExternalDataError(`${where}: '${ref.location}' is not a regular file`);
      }
      file = { fd, size: st.size };
      open.set(path, file);
    }
    if (ref.offset + ref.length > file.size)
      throw new ExternalDataError(
        `${where}: needs bytes ${ref.offset}..${ref.offset + ref.length} of '${ref.location}', but the file has ${file.size}; the data file is truncated or belongs to another model`,
      );
    const buf = new Uint8Array(ref.length);
    let done = 0;
    while (done < ref.length) {
      const n = readSync(file.fd, buf, done, ref.length - done, ref.offset + done);
      if (n === 0) throw new ExternalDataError(`${where}: unexpected end of '${ref.location}'`);
      done += n;
    }
    return buf;
  };
  const close = () => {
    for (const { fd } of open.values()) closeSync(fd);
    open.clear();
  };
  return { read, close };
}
