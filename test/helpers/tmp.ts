import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';

/** A fresh temp folder, removed after the file's tests. */
export function tempDir(prefix = 'lion-onnx-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  afterAll(() => rmSync(d, { recursive: true, force: true }));
  return d;
}
