/**
 * Checkpoints: `checkpoint-<step>.safetensors` (parameters under their model names, optimizer
 * state under its slot names, e.g. `<param>.lion_m`) plus `checkpoint-<step>.json` (step,
 * hyperparameters, data order, the run it belongs to, and the identity of the build it fits).
 *
 * Commit protocol (util/atomic-write.ts for each file): the state file is written to a temp
 * name, fsynced, renamed into place and its folder fsynced; then the JSON the same way. A
 * checkpoint exists once its JSON does, so a crash at any moment leaves the previous
 * checkpoint intact and never a JSON without its state. Pruning then deletes older
 * checkpoints of the same folder (a run, runtime/runs.ts), JSON first.
 */
import { readdirSync, rmdirSync, statSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { DataError, UsageError } from '../errors.js';
import type { Tensor } from '../onnx/tensor.js';
import { decodeSafetensors, encodeSafetensors } from './safetensors.js';
import { commitTemps, fileOps, isTempFor, writeTemp } from '../util/atomic-write.js';
import { checkRealDir, lstatOrNull, readRegularFile } from '../util/safe-fs.js';
import { findRun, listRuns, type Run } from './runs.js';
import type { Hyperparameters } from '../optim/types.js';

export const CHECKPOINT_FORMAT = 'lion-onnx/checkpoint';
/** 2: `build` (the artifacts' identity) and `run`. */
export const CHECKPOINT_VERSION = 2;
/** Checkpoints a run keeps (the newest ones). */
export const KEEP_CHECKPOINTS = 3;

export interface CheckpointInfo {
  format: typeof CHECKPOINT_FORMAT;
  version: typeof CHECKPOINT_VERSION;
  step: number;
  /** The safetensors file beside this JSON. */
  state: string;
  /** The build (manifest `build.id`) whose parameters these are. */
  build: string;
  /** The training run (runtime/runs.ts), when written by `train`. */
  run?: string;
  /** Artifacts directory, relative to the checkpoint's folder. */
  artifacts: string;
  hyperparameters: Hyperparameters;
  /** Anything the trainer needs to continue exactly (data order, schedule, ...). */
  trainer?: Record<string, unknown>;
}

export interface Checkpoint {
  info: CheckpointInfo;
  tensors: Map<string, Tensor>;
  /** Absolute path of the artifacts directory the JSON names. */
  artifactsDir: string;
  path: string;
}

const JSON_NAME = /^checkpoint-(\d+)\.json$/;
const STATE_NAME = /^checkpoint-(\d+)\.safetensors$/;

export function checkpointName(step: number): string {
  return `checkpoint-${String(step).padStart(7, '0')}`;
}

export interface WriteCheckpointInfo {
  step: number;
  build: string;
  run?: string;
  artifactsDir: string;
  hyperparameters: Hyperparameters;
  trainer?: Record<string, unknown>;
}

/** Writes a checkpoint into `dir` (which must exist) and prunes it to the newest `keep`; returns the JSON path. */
export function writeCheckpoint(dir: string, info: WriteCheckpointInfo, tensors: Tensor[], keep = KEEP_CHECKPOINTS): string {
  if (!Number.isInteger(keep) || keep < 1) throw new UsageError(`checkpoints to keep must be a whole number >= 1, got ${keep}`);
  const base = checkpointName(info.step);
  const statePath = join(dir, `${base}.safetensors`);
  const jsonPath = join(dir, `${base}.json`);
  const { artifactsDir, ...rest } = info;
  const json: CheckpointInfo = {
    format: CHECKPOINT_FORMAT,
    version: CHECKPOINT_VERSION,
    ...rest,
    state: basename(statePath),
    artifacts: relative(resolve(dir), resolve(artifactsDir)) || '.',
  };
  // State first, then the JSON that makes it a checkpoint.
  commitTemps([[writeTemp(statePath, encodeSafetensors(tensors, { format: CHECKPOINT_FORMAT, step: String(info.step) })), statePath]]);
  commitTemps([[writeTemp(jsonPath, [new TextEncoder().encode(JSON.stringify(json, null, 2) + '\n')]), jsonPath]]);
  prune(dir, keep);
  return jsonPath;
}

/** Keeps the newest `keep` checkpoints of `dir`; removes the older ones, each JSON before its state. */
export function prune(dir: string, keep: number): string[] {
  const all = listCheckpoints(dir);
  const removed: string[] = [];
  for (const p of all.slice(0, Math.max(0, all.length - keep))) {
    fileOps.remove(p);
    fileOps.remove(stateOf(p));
    removed.push(p);
  }
  return removed;
}

const stateOf = (json: string) => json.replace(/\.json$/, '.safetensors');

/** Regular files (not symlinks) in `dir` whose names match. */
function regularFiles(dir: string, name: RegExp): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names.filter((f) => name.test(f) && lstatOrNull(join(dir, f))?.isFile());
}

/** Complete checkpoints in `dir` (JSON and state both there), oldest first. */
export function listCheckpoints(dir: string): string[] {
  const states = new Set(regularFiles(dir, STATE_NAME));
  return regularFiles(dir, JSON_NAME)
    .filter((f) => states.has(f.replace(/\.json$/, '.safetensors')))
    .sort((a, b) => Number(JSON_NAME.exec(a)![1]) - Number(JSON_NAME.exec(b)![1]))
    .map((f) => join(dir, f));
}

/** The newest complete checkpoint in `dir`, or null. */
export function latestCheckpoint(dir: string): string | null {
  return listCheckpoints(dir).at(-1) ?? null;
}

/**
 * Files a crash left in a checkpoint folder, which only lion-onnx makes: temp files of the
 * commit protocol, and state files whose JSON was never written. Matched exactly; removed
 * by cleanLeftovers when the run starts again (under its lock, so nobody is writing them).
 */
export function leftovers(dir: string): string[] {
  const jsons = new Set(regularFiles(dir, JSON_NAME));
  const orphans = regularFiles(dir, STATE_NAME).filter((f) => !jsons.has(f.replace(/\.safetensors$/, '.json')));
  let names: string[] = [];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const temps = names.filter((f) => {
    const m = /^\.(checkpoint-\d+\.(?:json|safetensors))\.tmp-/.exec(f);
    return m && isTempFor(f, m[1]) && lstatOrNull(join(dir, f))?.isFile();
  });
  return [...temps, ...orphans].map((f) => join(dir, f));
}

export function cleanLeftovers(dir: string): string[] {
  const found = leftovers(dir);
  for (const f of found) fileOps.remove(f);
  return found;
}

/**
 * Removes the runs under `root` that hold no complete checkpoint: a crash before a run's first
 * checkpoint leaves its folder empty, or holding only temp files and a state file without its
 * JSON (leftovers, matched exactly). Only for a root no other process writes into.
 */
export function removeAbandonedRuns(root: string): void {
  for (const r of listRuns(root)) {
    if (latestCheckpoint(r.dir)) continue;
    cleanLeftovers(r.dir);
    try {
      rmdirSync(r.dir);
    } catch {
      // Something that is not lion-onnx's is in it: the folder stays.
    }
  }
}

/** The newest checkpoint of the named run, or of the newest run that has one, under a checkpoint root. */
export function newestCheckpoint(root: string, runName?: string): { run: Run; path: string } | null {
  const runs = runName ? [findRun(root, runName)] : listRuns(root);
  for (let i = runs.length - 1; i >= 0; i--) {
    checkRealDir(runs[i].dir, runs[i].dir);
    const path = latestCheckpoint(runs[i].dir);
    if (path) return { run: runs[i], path };
  }
  return null;
}

/**
 * Reads a checkpoint from its .json or .safetensors path, or the newest one in a folder: a
 * run's folder, or a checkpoint root (its newest run's newest).
 */
export function readCheckpoint(path: string): Checkpoint {
  let jsonPath = path;
  let isDir = false;
  try {
    isDir = statSync(path).isDirectory();
  } catch {
    isDir = false;
  }
  if (isDir) {
    const latest = latestCheckpoint(path) ?? newestCheckpoint(path)?.path;
    if (!latest) throw new UsageError(`${path} holds no checkpoint (checkpoint-*.json with its .safetensors, or runs holding them)`);
    jsonPath = latest;
  } else if (path.endsWith('.safetensors')) jsonPath = path.replace(/\.safetensors$/, '.json');
  const bytes = readRegularFile(jsonPath, { noFollow: true, maxBytes: 64 * 2 ** 20, label: jsonPath });
  let info: CheckpointInfo;
  try {
    info = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new DataError(`${jsonPath}: not valid JSON, so not a lion-onnx checkpoint`);
  }
  const isStr = (x: unknown) => typeof x === 'string' && x.length > 0;
  if (typeof info !== 'object' || info === null || info.format !== CHECKPOINT_FORMAT)
    throw new DataError(`${jsonPath}: not a lion-onnx checkpoint (no "format": "${CHECKPOINT_FORMAT}" marker)`);
  if (info.version !== CHECKPOINT_VERSION)
    throw new DataError(`${jsonPath}: a checkpoint of another version of lion-onnx (this one reads version ${CHECKPOINT_VERSION}); export or resume it with the lion-onnx that wrote it`);
  if (!Number.isSafeInteger(info.step) || info.step < 0 || !isStr(info.state) || !isStr(info.artifacts) || !isStr(info.build) || /[\\/]/.test(info.state) || (info.run !== undefined && !isStr(info.run)))
    throw new DataError(`${jsonPath}: a damaged lion-onnx checkpoint (step, state, build or artifacts missing or invalid)`);
  const dir = dirname(jsonPath);
  const statePath = join(dir, info.state);
  const st = decodeSafetensors(readRegularFile(statePath, { noFollow: true }), statePath);
  return { info, tensors: st.tensors, artifactsDir: resolve(dir, info.artifacts), path: jsonPath };
}
