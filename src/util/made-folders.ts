/**
 * Folders a command is about to make, so that it can take them away again on failure, and only
 * those: removed deepest first, each only while empty (never a folder with anything in it).
 */
import { rmdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { lstatOrNull } from './safe-fs.js';

/** The folders that do not exist yet on the way to `path` (itself included), outermost first. */
export function missingFolders(path: string): string[] {
  const out: string[] = [];
  for (let d = resolve(path); !lstatOrNull(d) && d !== dirname(d); d = dirname(d)) out.unshift(d);
  return out;
}

/** Removes the given folders deepest first, each only if it is empty. */
export function removeEmptyFolders(folders: string[]): void {
  for (const d of [...folders].reverse()) {
    try {
      rmdirSync(d);
    } catch {
      // Not empty (someone put something there), or gone: it stays as it is.
    }
  }
}
