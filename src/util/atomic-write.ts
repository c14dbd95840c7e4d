/**
 * Atomic file writes, the commit protocol every file lion-onnx writes goes through:
 *
 *   1. write the bytes to a temp file beside the target (`.<name>.tmp-<pid>-<n>`)
 *   2. fsync the temp file
 *   3. rename it over the target
 *   4. fsync the folder, so the rename itself survives a power cut
 *
 * A reader (or a crash at any point) sees the old file or the new one, never half of either;
 * a failure cleans up its temp files. The file operations go through `fileOps` so tests can
 * inject a fault or a crash at each step (test/util/atomic-write.test.ts).
 */
import { closeSync, fsyncSync, ftruncateSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';
import { UsageError } from '../errors.js';

/** The file operations of the protocol, replaceable in tests. */
export const fileOps = {
  open: (path: string, flags: string): number => openSync(path, flags),
  write: (fd: number, data: Uint8Array, offset: number, length: number): number => writeSync(fd, data, offset, length),
  fsync: (fd: number): void => fsyncSync(fd),
  close: (fd: number): void => closeSync(fd),
  rename: (from: string, to: string): void => renameSync(from, to),
  remove: (path: string): void => rmSync(path, { force: true }),
  truncate: (fd: number, length: number): void => ftruncateSync(fd, length),
};

let counter = 0;

/** Matches the temp names tempPathFor makes for `name` (to clean up after a crash). */
export function isTempFor(file: string, name: string): boolean {
  return file.startsWith(`.${name}.tmp-`) && /^\d+-\d+$/.test(file.slice(name.length + 6));
}

export function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${counter++}`);
}

/** Writes chunks to a temp file and fsyncs it; returns the temp path (caller renames). */
export function writeTemp(path: string, chunks: Iterable<Uint8Array>): string {
  const tmp = tempPathFor(path);
  let fd: number;
  try {
    fd = fileOps.open(tmp, 'wx');
  } catch (e) {
    throw writeError(e, path);
  }
  try {
    for (const c of chunks) {
      let off = 0;
      while (off < c.length) off += fileOps.write(fd, c, off, c.length - off);
    }
    fileOps.fsync(fd);
  } catch (e) {
    try {
      fileOps.close(fd);
    } catch {
      // Closing failed too: the temp file goes all the same.
    }
    fileOps.remove(tmp);
    throw writeError(e, path);
  }
  try {
    fileOps.close(fd);
  } catch (e) {
    fileOps.remove(tmp);
    throw writeError(e, path);
  }
  return tmp;
}

export function fsyncDir(dir: string): void {
  let fd: number;
  try {
    fd = fileOps.open(dir, 'r');
  } catch {
    return;
  }
  try {
    fileOps.fsync(fd);
  } catch {
    // Some filesystems refuse fsync on directories; the rename is still atomic.
  } finally {
    fileOps.close(fd);
  }
}

/** A write that fails for a reason the user can fix (no such folder, no permission, disk full) is bad input, not a crash. */
export function writeError(e: unknown, path: string): unknown {
  const err = e as NodeJS.ErrnoException;
  const folder = dirname(path);
  if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return new UsageError(`cannot write ${path}: folder ${folder} does not exist; create it first`);
  if (err.code === 'EISDIR') return new UsageError(`cannot write ${path}: it is a folder; name a file`);
  if (err.code === 'EACCES' || err.code === 'EPERM' || err.code === 'EROFS') return new UsageError(`cannot write ${path}: no permission to write in ${folder} (${err.code})`);
  if (err.code === 'ENOSPC' || err.code === 'EDQUOT') return new UsageError(`cannot write ${path}: no space left on the device (${err.code})`);
  if (err.code === 'EFBIG') return new UsageError(`cannot write ${path}: the file is too large for the filesystem (${err.code})`);
  return e;
}

/**
 * Renames temp files into place (in order) and fsyncs their folders. If a rename fails, the
 * temp files not yet renamed are removed (the ones renamed stay: each is a whole file).
 */
export function commitTemps(pairs: [tmp: string, path: string][]): void {
  for (let i = 0; i < pairs.length; i++) {
    const [tmp, path] = pairs[i];
    try {
      fileOps.rename(tmp, path);
    } catch (e) {
      for (const [t] of pairs.slice(i)) fileOps.remove(t);
      throw writeError(e, path);
    }
  }
  for (const d of new Set(pairs.map(([, p]) => dirname(p)))) fsyncDir(d);
}

export function writeFileAtomic(path: string, data: Uint8Array | string): void {
  const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
  commitTemps([[writeTemp(path, [bytes]), path]]);
}
