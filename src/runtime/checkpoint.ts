/**
 * Checkpoints: `checkpoint-<step>.safetensors` (parameters under their model names, momenta
 * as `<param>.lion_m`, or each slot of another optimizer's state) plus `checkpoint-<step>.json` (step, hyperparameters, schedule position,
 * data order, and the artifacts directory). Each file is written atomically (temp, fsync,
 * rename), the JSON last: a checkpoint exists once its JSON does, so a crash at any moment
 * leaves the previous checkpoint intact.
 */
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { DataError, UsageError } from '../errors.js';
import type { Tensor } from '../onnx/tensor.js';
import { readSafetensors, encodeSafetensors } from '../artifacts/safetensors.js';
import { commitTemps, writeTemp } from '../util/atomic-write.js';
import type { Hyperparameters } from '../optim/optimizer.js';

export const CHECKPOINT_FORMAT = 'lion-onnx/checkpoint';

export interface CheckpointInfo {
  format: typeof CHECKPOINT_FORMAT;
  version: 1;
  step: number;
  /** The safetensors file beside this JSON. */
  state: string;
  /** Artifacts directory, relative to the checkpoint's folder. */
  artifacts: string;
  hyperparameters: Hyperparameters;
  /** Anything the trainer needs to continue exactly (data order, schedule, ...). */
  trainer?: Record<string, unknown>;
}

export interface Checkpoint {
  info: CheckpointInfo;
  tensors: Map<string, Tensor>;
  /** Absolute path of the artifacts directory. */
  artifactsDir: string;
  path: string;
}

const NAME = /^checkpoint-(\d+)\.json$/;

export function checkpointName(step: number): string {
  return `checkpoint-${String(step).padStart(7, '0')}`;
}

export function writeCheckpoint(dir: string, info: Omit<CheckpointInfo, 'format' | 'version' | 'state' | 'artifacts'> & { artifactsDir: string }, tensors: Tensor[], keep = 3): string {
  const base = checkpointName(info.step);
  const statePath = join(dir, `${base}.safetensors`);
  const jsonPath = join(dir, `${base}.json`);
  const { artifactsDir, ...rest } = info;
  const json: CheckpointInfo = {
    format: CHECKPOINT_FORMAT,
    version: 1,
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

/** Keeps the newest `keep` checkpoints; removes older ones and stray temp files. */
function prune(dir: string, keep: number): void {
  const steps = listCheckpoints(dir);
  for (const p of steps.slice(0, Math.max(0, steps.length - keep))) {
    rmSync(p, { force: true });
    rmSync(p.replace(/\.json$/, '.safetensors'), { force: true });
  }
}

/** Checkpoint JSON paths in `dir`, oldest first. */
export function listCheckpoints(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => NAME.test(f))
    .sort((a, b) => Number(NAME.exec(a)![1]) - Number(NAME.exec(b)![1]))
    .map((f) => join(dir, f));
}

/** The newest complete checkpoint in `dir`, or null. */
export function latestCheckpoint(dir: string): string | null {
  const all = listCheckpoints(dir);
  for (let i = all.length - 1; i >= 0; i--) if (existsSync(all[i].replace(/\.json$/, '.safetensors'))) return all[i];
  return null;
}

/** Reads a checkpoint from its .json or .safetensors path, or the newest one in a folder. */
export function readCheckpoint(path: string): Checkpoint {
  let jsonPath = path;
  if (existsSync(path) && statSync(path).isDirectory()) {
    const latest = latestCheckpoint(path);
    if (!latest) throw new UsageError(`${path} holds no checkpoint (checkpoint-*.json)`);
    jsonPath = latest;
  } else if (path.endsWith('.safetensors')) jsonPath = path.replace(/\.safetensors$/, '.json');
  let info: CheckpointInfo;
  try {
    info = JSON.parse(readFileSync(jsonPath, 'utf8'));
  } catch (e) {
    throw new DataError(`${jsonPath}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'checkpoint not found' : `not valid JSON (${(e as Error).message})`}`);
  }
  if (info?.format !== CHECKPOINT_FORMAT || !Number.isSafeInteger(info.step) || info.step < 0 || typeof info.state !== 'string' || typeof info.artifacts !== 'string' || /[\\/]/.test(info.state))
    throw new DataError(`${jsonPath}: not a lion-onnx checkpoint (format, step, state or artifacts missing)`);
  const dir = dirname(jsonPath);
  const st = readSafetensors(join(dir, info.state));
  return { info, tensors: st.tensors, artifactsDir: resolve(dir, info.artifacts), path: jsonPath };
}
