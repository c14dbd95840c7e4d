/**
 * Atomic file writes: temp file in the same folder, fsync, rename, fsync the folder. A reader
 * (or a crash) sees the old file or the new one, never half of either.
 */
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';
import { UsageError } from '../errors.js';

let counter = 0;

export function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${counter++}`);
}

/** Writes chunks to a temp file and fsyncs it; returns the temp path (caller renames). */
export function writeTemp(path: string, chunks: Iterable<Uint8Array>): string {
  const tmp = tempPathFor(path);
  let fd: number;
  try {
    fd = openSync(tmp, 'w');
  } catch (e) {
    throw writeError(e, path);
  }
  try {
    for (const c of chunks) {
      let off = 0;
      while (off < c.length) off += writeSync(fd, c, off, c.length - off);
    }
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw writeError(e, path);
  }
  closeSync(fd);
  return tmp;
}

export function fsyncDir(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // Some filesystems refuse fsync on directories; the rename is still atomic.
  }
}

/** A write that fails for a reason the user can fix (no such folder, no permission, disk full) is bad input, not a crash. */
export function writeError(e: unknown, path: string): unknown {
  const err = e as NodeJS.ErrnoException;
  const folder = dirname(path);
  if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return new UsageError(`cannot write ${path}: folder ${folder} does not exist; create it first`);
  if (err.code === 'EACCES' || err.code === 'EPERM' || err.code === 'EROFS') return new UsageError(`cannot write ${path}: no permission to write in ${folder} (${err.code})`);
  if (err.code === 'ENOSPC' || err.code === 'EDQUOT') return new UsageError(`cannot write ${path}: no space left on the device (${err.code})`);
  return e;
}

/** Renames temp files into place (in order) and fsyncs their folders. */
export function commitTemps(pairs: [tmp: string, path: string][]): void {
  for (const [tmp, path] of pairs) renameSync(tmp, path);
  for (const d of new Set(pairs.map(([, p]) => dirname(p)))) fsyncDir(d);
}

export function writeFileAtomic(path: string, data: Uint8Array | string): void {
  const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
  commitTemps([[writeTemp(path, [bytes]), path]]);
}
