/**
 * A build's identity (manifest `build`): the SHA-256 of what made it — lion-onnx's version, the
 * command, the source model's bytes and the options. The same model built with the same options
 * gets the same id, so `train MODEL.onnx` can tell whether an existing directory is the build
 * it would make, and a checkpoint (which records the id) is never applied to another program.
 */
import { createHash, randomUUID } from 'node:crypto';
import { basename } from 'node:path';
import { openRegularFile } from '../util/safe-fs.js';
import { closeSync, readSync } from 'node:fs';
import { VERSION } from '../version.js';
import type { Manifest } from './manifest.js';

/** SHA-256 of a file, read in chunks (models can be large). */
export function fileSha256(path: string): string {
  const { fd } = openRegularFile(path);
  const hash = createHash('sha256');
  const buf = Buffer.allocUnsafe(1 << 20);
  try {
    for (let pos = 0; ; ) {
      const n = readSync(fd, buf, 0, buf.length, pos);
      if (n === 0) break;
      hash.update(buf.subarray(0, n));
      pos += n;
    }
  } finally {
    closeSync(fd);
  }
  return hash.digest('hex');
}

/** Options with unset values dropped and keys sorted, so equal options hash equally. */
function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v && typeof v === 'object')
    return Object.fromEntries(
      Object.entries(v as Record<string, unknown>)
        .filter(([, x]) => x !== undefined)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([k, x]) => [k, canonical(x)]),
    );
  return v;
}

/**
 * The identity of building `sourceFile` (or an in-memory model, which gets a random id) with
 * `options` by `command`.
 */
export function buildIdentity(command: string, options: Record<string, unknown>, sourceFile?: string): Manifest['build'] {
  const opts = canonical(options) as Record<string, unknown>;
  const source = sourceFile ? { file: basename(sourceFile), sha256: fileSha256(sourceFile) } : undefined;
  const id = createHash('sha256')
    .update(JSON.stringify({ lionOnnx: VERSION, command, source: source?.sha256 ?? randomUUID(), options: opts }))
    .digest('hex')
    .slice(0, 32);
  return { id, ...(source ? { source } : {}), options: opts };
}
