/**
 * Reading and checking paths defensively. lion-onnx reads regular files only: a FIFO would block
 * the process forever and a device could stream without end, so every file is opened
 * non-blocking and refused unless fstat says it is a regular file. Inside directories lion-onnx
 * owns (artifacts, checkpoint runs), files must not be symlinks either: everything read or
 * written through such a directory stays inside it (openInside, checkRealDir).
 */
import { closeSync, constants, fstatSync, lstatSync, openSync, readSync, type Stats } from 'node:fs';
import { DataError } from '../errors.js';

/** What a non-regular file is, for messages. */
export function kindOf(st: Stats): string {
  if (st.isDirectory()) return 'a folder';
  if (st.isSymbolicLink()) return 'a symlink';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  return 'not a regular file';
}

export interface ReadOptions {
  /** How the file is named in messages (default: its path). */
  label?: string;
  /** Refuse a symlink as the last path component (files inside lion-onnx's own folders). */
  noFollow?: boolean;
  /** Refuse files larger than this many bytes before reading them. */
  maxBytes?: number;
}

/** The lstat of `path`, or null when nothing is there. */
export function lstatOrNull(path: string): Stats | null {
  try {
    return lstatSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') return null;
    throw e;
  }
}

/**
 * Opens a regular file for reading; returns its descriptor and size. A missing file, a folder,
 * a FIFO, a device, or (with noFollow) a symlink is refused with one line, without blocking.
 */
export function openRegularFile(path: string, opts: ReadOptions = {}): { fd: number; size: number } {
  const label = opts.label ?? path;
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | (opts.noFollow ? constants.O_NOFOLLOW : 0));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new DataError(`${label}: file not found`);
    if (code === 'ELOOP') throw new DataError(`${label} is a symlink; lion-onnx reads only files inside its own folders, not links out of them — replace the link by the file`);
    if (code === 'EACCES' || code === 'EPERM') throw new DataError(`${label}: no permission to read it (${code})`);
    if (code === 'ENXIO') throw new DataError(`${label} is a socket or a device, not a regular file`);
    throw new DataError(`${label}: cannot open it (${code ?? String(e)})`);
  }
  const st = fstatSync(fd);
  if (!st.isFile()) {
    closeSync(fd);
    throw new DataError(`${label} is ${kindOf(st)}, not a regular file; give a file`);
  }
  if (opts.maxBytes !== undefined && st.size > opts.maxBytes) {
    closeSync(fd);
    throw new DataError(`${label}: ${st.size} bytes is more than the ${opts.maxBytes} this file may have`);
  }
  return { fd, size: st.size };
}

/** The whole content of a regular file (see openRegularFile). */
export function readRegularFile(path: string, opts: ReadOptions = {}): Buffer {
  const { fd, size } = openRegularFile(path, opts);
  try {
    const buf = Buffer.allocUnsafe(size);
    let done = 0;
    while (done < size) {
      const n = readSync(fd, buf, done, size - done, done);
      if (n === 0) break;
      done += n;
    }
    return done === size ? buf : buf.subarray(0, done);
  } catch (e) {
    throw new DataError(`${opts.label ?? path}: cannot read it (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  } finally {
    closeSync(fd);
  }
}

/**
 * Checks that `path` is a real folder, not a symlink to one (a folder lion-onnx writes into or
 * deletes from); returns false when nothing is there. `label` names it in messages.
 */
export function checkRealDir(path: string, label: string): boolean {
  const st = lstatOrNull(path);
  if (!st) return false;
  if (st.isSymbolicLink())
    throw new DataError(`${label} is a symlink; lion-onnx writes and deletes only inside its own folders, never through links — replace the link by a folder`);
  if (!st.isDirectory()) throw new DataError(`${label} is ${kindOf(st)}, not a folder`);
  return true;
}
