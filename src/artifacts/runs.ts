/**
 * Training runs. Every `train` that does not resume starts a run: a folder of its own under the
 * checkpoint root (DIR/checkpoints, or --checkpoint-dir), named run-0001, run-0002, … in the
 * order they started. Its checkpoints carry the run's name, pruning keeps the newest of that run
 * only, and `--resume` / `export` take the newest run that has a checkpoint (or the run named
 * with --run), so one run never deletes, shadows or continues another.
 *
 * The root and the run folders must be real folders: a symlinked checkpoints/ would make
 * pruning delete files wherever it points.
 */
import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../errors.js';
import { checkRealDir, lstatOrNull } from '../util/safe-fs.js';

const RUN_NAME = /^run-(\d{4,9})$/;

export interface Run {
  name: string;
  dir: string;
}

export function isRunName(name: string): boolean {
  return RUN_NAME.test(name);
}

/**
 * Checks the checkpoint root before anything is trained: a real folder, or one that can be
 * made (made now when `create`). A file or a symlink there is refused.
 */
export function prepareRoot(root: string, flag: string, create: boolean): void {
  const st = lstatOrNull(root);
  if (st && !st.isSymbolicLink() && !st.isDirectory()) throw new UsageError(`${flag} ${root} is a file, not a folder; name a folder for the checkpoints`);
  if (checkRealDir(root, `${flag} ${root}`)) return;
  if (!create) return;
  try {
    mkdirSync(root, { recursive: true });
  } catch (e) {
    throw new UsageError(`${flag} ${root}: cannot create the folder (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
}

/** The runs under `root`, oldest first (real folders only). */
export function listRuns(root: string): Run[] {
  if (!checkRealDir(root, root)) return [];
  // A run-NNNN that is a symlink is refused, not skipped: it would hide a run or point elsewhere.
  return readdirSync(root)
    .filter((f) => RUN_NAME.test(f) && checkRealDir(join(root, f), join(root, f)))
    .sort((a, b) => Number(RUN_NAME.exec(a)![1]) - Number(RUN_NAME.exec(b)![1]))
    .map((name) => ({ name, dir: join(root, name) }));
}

/** Starts a new run: the next free run-NNNN, made atomically (mkdir fails if another process took it). */
export function createRun(root: string): Run {
  const last = listRuns(root).at(-1);
  let n = last ? Number(RUN_NAME.exec(last.name)![1]) + 1 : 1;
  for (;;) {
    const name = `run-${String(n).padStart(4, '0')}`;
    const dir = join(root, name);
    try {
      mkdirSync(dir);
      return { name, dir };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new UsageError(`cannot create the run folder ${dir} (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
      n++;
    }
  }
}

/** A run by name under `root`, checked to be a real run folder. */
export function findRun(root: string, name: string): Run {
  if (!RUN_NAME.test(name)) throw new UsageError(`--run '${name}' is not a run name (run-0001, run-0002, …)`);
  const dir = join(root, name);
  if (!checkRealDir(dir, dir)) {
    const names = listRuns(root).map((r) => r.name);
    throw new UsageError(`there is no run ${name} in ${root}${names.length ? `; its runs are ${names.join(', ')}` : ' (no runs yet)'}`);
  }
  return { name, dir };
}
