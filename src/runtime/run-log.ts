/**
 * The --log file: one JSON object per step, `{"run", "step", "loss", "lr", "time"}` (plus
 * `"skipped": true` on a step skipped for non-finite gradients). Lines go out one run of steps
 * at a time through a descriptor kept open; a write that fails (disk full) is cut back to the
 * last whole line, so the file never holds half a line, and the failure is one clear error.
 */
import { fstatSync } from 'node:fs';
import { UsageError } from '../errors.js';
import { fileOps, writeError, writeFileAtomic } from '../util/atomic-write.js';
import { readRegularFile } from '../util/safe-fs.js';
import { fileHead } from '../util/output-path.js';

export interface LogLine {
  run?: string;
  step: number;
  loss: number;
  lr: number;
  time: number;
  skipped?: boolean;
}

/** Whether `path` holds a lion-onnx training log (its first line is a step record). */
export function isLionOnnxLog(path: string): boolean {
  const head = fileHead(path, 4096).toString('utf8');
  if (head.length === 0) return true;
  const first = head.split('\n')[0];
  try {
    const o = JSON.parse(first);
    return typeof o === 'object' && o !== null && typeof o.step === 'number' && 'loss' in o;
  } catch {
    return false;
  }
}

/** The run a log belongs to (its first line's "run"), or undefined. */
export function logRun(path: string): string | undefined {
  try {
    const o = JSON.parse(fileHead(path, 4096).toString('utf8').split('\n')[0]);
    return typeof o?.run === 'string' ? o.run : undefined;
  } catch {
    return undefined;
  }
}

export class RunLog {
  private fd: number;
  private size: number;

  /**
   * Opens the log for a fresh run (emptied) or a resumed one (kept up to `resumeAt` steps, so a
   * resumed run does not log steps twice).
   */
  constructor(
    readonly path: string,
    opts: { resumeAt?: number },
  ) {
    if (opts.resumeAt !== undefined) truncateLog(path, opts.resumeAt);
    try {
      this.fd = fileOps.open(path, opts.resumeAt !== undefined ? 'a' : 'w');
    } catch (e) {
      throw writeError(e, path);
    }
    this.size = fstatSync(this.fd).size;
  }

  /** Appends whole lines; on failure the file is cut back to what it held before, and a UsageError says why. */
  append(text: string): void {
    if (!text) return;
    const bytes = Buffer.from(text, 'utf8');
    try {
      for (let off = 0; off < bytes.length; ) off += fileOps.write(this.fd, bytes, off, bytes.length - off);
      this.size += bytes.length;
    } catch (e) {
      try {
        fileOps.truncate(this.fd, this.size);
      } catch {
        // The cut itself failed: the next read of the log drops an unterminated last line.
      }
      const err = writeError(e, this.path);
      throw err instanceof UsageError ? new UsageError(`--log: ${err.message}`) : err;
    }
  }

  close(): void {
    try {
      fileOps.close(this.fd);
    } catch {
      // Already closed.
    }
  }
}

/** Keeps only whole log lines up to `step`. */
function truncateLog(path: string, step: number): void {
  let text: string;
  try {
    text = readRegularFile(path).toString('utf8');
  } catch {
    return;
  }
  const kept = text.split('\n').filter((l, i, all) => {
    if (!l.trim() || (i === all.length - 1 && !text.endsWith('\n'))) return false;
    try {
      return JSON.parse(l).step <= step;
    } catch {
      return false;
    }
  });
  writeFileAtomic(path, kept.map((l) => l + '\n').join(''));
}
