/**
 * After a build that a signal cut short (its worker terminated): what it leaves must go — its
 * temp folders (artifacts/write.ts names them with this process's pid) and the folders it was
 * about to make, when they are empty.
 */
import { removeBuildTemps } from '../artifacts/write.js';
import { missingFolders, removeEmptyFolders } from '../util/made-folders.js';

/** The folders a build into `out` would make (call before it starts). */
export function foldersFor(out: string): string[] {
  return missingFolders(out);
}

export function cleanUpInterruptedBuild(out: string, made: string[]): void {
  removeBuildTemps(out);
  removeEmptyFolders(made);
}
