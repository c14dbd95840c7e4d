/**
 * Output files are checked before any work: lion-onnx replaces a file only when it wrote that
 * file itself (each writer knows its own mark: an exported model's metadata, a log's lines, a
 * plot's comment) or the user passed --overwrite; never a folder, a FIFO, a symlink, or one of
 * the files the same command reads.
 */
import { closeSync, readSync, realpathSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { UsageError } from '../errors.js';
import { kindOf, lstatOrNull, openRegularFile } from './safe-fs.js';

export interface OutputCheck {
  /** How the option is named in messages (`-o`, `--log`, `--export`). */
  flag: string;
  /** Files the command reads (or owns), which the output must not be. */
  protect?: { path: string; what: string }[];
  /** Whether an existing file at the path is one lion-onnx wrote, and may be replaced. */
  isOwn?: (path: string) => boolean;
  /** The user's explicit consent to replace an existing file that is not lion-onnx's. */
  overwrite?: boolean;
  /** The writer makes a missing folder itself (else a missing folder is refused now, not after the work). */
  createsFolder?: boolean;
}

/** The real path of `p`, or (when it does not exist) its real folder joined with its name. */
export function realOrIntended(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    try {
      return resolve(realpathSync(dirname(resolve(p))), basename(p));
    } catch {
      return resolve(p);
    }
  }
}

/** Throws a one-line UsageError when `path` may not be written as an output file. */
export function checkOutputFile(path: string, c: OutputCheck): void {
  const where = `${c.flag} ${path}`;
  const target = realOrIntended(path);
  for (const p of c.protect ?? [])
    if (realOrIntended(p.path) === target) throw new UsageError(`${where} is ${p.what}, which this command reads; choose another file name`);
  const st = lstatOrNull(path);
  if (st) {
    if (st.isDirectory()) throw new UsageError(`${where} is a folder; name a file to write`);
    if (st.isSymbolicLink()) throw new UsageError(`${where} is a symlink; lion-onnx does not write through links — name a regular file`);
    if (!st.isFile()) throw new UsageError(`${where} is ${kindOf(st)}; name a regular file to write`);
    if (!c.overwrite && !(c.isOwn?.(path) ?? false))
      throw new UsageError(`${where} already exists and was not written by lion-onnx; choose another name, or pass --overwrite to replace it`);
  }
  const folder = dirname(resolve(path));
  const fst = lstatOrNull(folder);
  if (!fst) {
    if (!c.createsFolder) throw new UsageError(`${where}: folder ${dirname(path)} does not exist; create it first`);
  } else if (!fst.isDirectory() && !(fst.isSymbolicLink() && lstatOrNull(realOrIntended(folder))?.isDirectory()))
    throw new UsageError(`${where}: ${dirname(path)} is not a folder`);
}

/** The first `n` bytes of a regular file ('' when it cannot be read). */
export function fileHead(path: string, n: number): Buffer {
  try {
    const { fd, size } = openRegularFile(path);
    try {
      const buf = Buffer.alloc(Math.min(n, size));
      let done = 0;
      while (done < buf.length) {
        const k = readSync(fd, buf, done, buf.length - done, done);
        if (k === 0) break;
        done += k;
      }
      return buf.subarray(0, done);
    } finally {
      closeSync(fd);
    }
  } catch {
    return Buffer.alloc(0);
  }
}
