/**
 * One trainer per artifacts directory: `train` holds DIR/train.lock (created exclusively, with
 * its pid, host and start time inside) for the whole run, and a second `train`, or a `build`
 * that would replace the directory, stops with exit 2 while the holder lives. A lock left by a
 * process that no longer exists (SIGKILL, power cut) is stale and taken over.
 */
import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { DataError, UsageError } from '../errors.js';
import { LOCK_FILE } from './layout.js';
import { processAlive } from '../util/process-alive.js';
import { lstatOrNull } from '../util/safe-fs.js';

export interface LockInfo {
  pid: number;
  host: string;
  started: string;
}

export interface TrainLock {
  readonly path: string;
  release(): void;
}

function readLock(path: string): { info: LockInfo | null; text: string } | null {
  const st = lstatOrNull(path);
  if (!st) return null;
  if (!st.isFile()) throw new DataError(`${path} is not a regular file; lion-onnx's lock must be one — remove it if no training runs there`);
  let text = '';
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return null;
  }
  try {
    const o = JSON.parse(text) as LockInfo;
    if (Number.isSafeInteger(o.pid) && typeof o.host === 'string') return { info: o, text };
  } catch {
    // A lock cut short by a crash while it was written: nobody holds it.
  }
  return { info: null, text };
}

/** The live process holding DIR's lock, or null when there is none or it is stale. */
export function lockHolder(dir: string): LockInfo | null {
  const l = readLock(join(dir, LOCK_FILE));
  if (!l?.info) return null;
  // On another host (a shared filesystem) liveness cannot be checked: assume it is held.
  if (l.info.host !== hostname()) return l.info;
  return processAlive(l.info.pid) ? l.info : null;
}

export function describeHolder(h: LockInfo): string {
  return `process ${h.pid}${h.host !== hostname() ? ` on ${h.host}` : ''}, since ${h.started}`;
}

/** Takes DIR's lock or throws UsageError naming the holder. */
export function acquireTrainLock(dir: string): TrainLock {
  const path = join(dir, LOCK_FILE);
  const info: LockInfo = { pid: process.pid, host: hostname(), started: new Date().toISOString() };
  for (let attempt = 0; attempt < 3; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, 'wx');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new UsageError(`cannot create the lock ${path} (${(e as NodeJS.ErrnoException).code}); is the artifacts directory writable?`);
      const held = readLock(path);
      const holder = held?.info && (held.info.host !== hostname() || processAlive(held.info.pid)) ? held.info : null;
      if (holder)
        throw new UsageError(`${dir} is being trained by ${describeHolder(holder)} (${path}); wait for it to finish, or train a copy of the directory`);
      // Stale: remove it only if it is still the one just read, then try again.
      const again = readLock(path);
      if (again && held && again.text === held.text) rmSync(path, { force: true });
      continue;
    }
    try {
      writeSync(fd, JSON.stringify(info) + '\n');
    } finally {
      closeSync(fd);
    }
    let released = false;
    return {
      path,
      release: () => {
        if (released) return;
        released = true;
        // Only our own lock: never one another process took over meanwhile.
        const now = readLock(path);
        if (now?.info && now.info.pid === info.pid && now.info.started === info.started) rmSync(path, { force: true });
      },
    };
  }
  throw new UsageError(`could not take the lock ${path}: another process keeps taking it; try again`);
}
