/**
 * `train MODEL.onnx --loss …`: the artifacts directory for a model, built on the fly into
 * `--out` (default runs/<model name>). A directory already built from the same model bytes
 * with the same options is reused, so its runs continue beside the new one; `--resume` needs
 * exactly that. A directory of another build is replaced only while it has no training runs
 * (artifacts/write.ts refuses otherwise, unless --overwrite).
 */
import { basename, join } from 'node:path';
import { UsageError } from '../errors.js';
import { buildIdentity } from '../artifacts/build-id.js';
import { CHECKPOINTS_DIR, ownedFiles } from '../artifacts/layout.js';
import { readManifest } from '../artifacts/read.js';
import { fileOps } from '../util/atomic-write.js';
import { lstatOrNull } from '../util/safe-fs.js';
import { missingFolders, removeEmptyFolders } from '../util/made-folders.js';
import type { LossKind } from '../grad/losses.js';
import { buildFromFile, buildOptionsKey, type BuildOptions } from './build.js';
import { verbosePasses } from '../passes/pass.js';

export interface ModelBuildSpec {
  model: string;
  loss?: LossKind;
  optimizer?: string;
  optimizerOptions?: Record<string, boolean | undefined>;
  hyperparameters?: Record<string, number | undefined>;
  /** The artifacts directory (default runs/<model name>). */
  out?: string;
  /** Continue a run: the directory must be this model's build. */
  resume?: boolean;
  overwrite?: boolean;
  /** Check every pass's contract and log a line per pass (--verbose). */
  verbose?: boolean;
}

export interface ModelArtifacts {
  dir: string;
  /** What happened, for the user: built, or reused. */
  note: string;
  /** Whether this call built the directory from nothing (undoBuild may remove it again). */
  builtHere: boolean;
  /** Folders this call made (the directory and missing parents), outermost first. */
  made: string[];
}

export function defaultArtifactsDir(model: string): string {
  return join('runs', basename(model).replace(/\.onnx$/i, ''));
}

export function artifactsForModel(spec: ModelBuildSpec): ModelArtifacts {
  if (!spec.loss) throw new UsageError(`${spec.model} is a model file: pass --loss cross-entropy|mse|bce to build it, or train an artifacts directory`);
  const dir = spec.out ?? defaultArtifactsDir(spec.model);
  const opts: BuildOptions = { loss: spec.loss, optimizer: spec.optimizer, optimizerOptions: spec.optimizerOptions, hyperparameters: spec.hyperparameters };
  const identity = buildIdentity('build', buildOptionsKey(opts), spec.model);
  let existing: string | undefined;
  let hasManifest = false;
  if (lstatOrNull(join(dir, 'manifest.json'))) {
    hasManifest = true;
    try {
      existing = readManifest(dir).build.id;
    } catch {
      existing = undefined;
    }
  }
  if (existing === identity.id) return { dir, note: `using ${dir} (built earlier from ${spec.model} with these options)`, builtHere: false, made: [] };
  if (spec.resume)
    throw new UsageError(
      hasManifest
        ? `--resume: ${dir} was built from another model or with other options than ${spec.model} --loss ${spec.loss}${spec.optimizer ? ` --optimizer ${spec.optimizer}` : ''}; resume with the same model and options, or train ${dir} itself`
        : `--resume: ${dir} holds no build of ${spec.model} to resume; start without --resume`,
    );
  const made = missingFolders(dir);
  buildFromFile(spec.model, dir, opts, { overwrite: spec.overwrite, build: identity, passes: verbosePasses(spec.verbose) });
  return { dir, note: `built ${dir} from ${spec.model}`, builtHere: made.length > 0, made };
}

/**
 * Removes a directory artifactsForModel built from nothing (training never started): only the
 * files the build wrote, then the folders it made, each only if empty.
 */
export function undoBuild(a: ModelArtifacts): void {
  if (!a.builtHere) return;
  let names: string[] = [];
  try {
    names = ownedFiles(readManifest(a.dir));
  } catch {
    return;
  }
  for (const f of names) if (lstatOrNull(join(a.dir, f))?.isFile()) fileOps.remove(join(a.dir, f));
  removeEmptyFolders([...a.made, join(a.dir, CHECKPOINTS_DIR)]);
}
