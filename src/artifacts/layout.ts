/**
 * The files lion-onnx owns in an artifacts directory, by name. Replacing a build removes these
 * and nothing else; anything else in the folder is the user's and stays untouched.
 *
 *   manifest.json, state.safetensors, step/loop/eval/inference/grad/apply.onnx (and their
 *   external data `<graph>.onnx.data`), train.lock, checkpoints/run-NNNN/ (runtime/runs.ts),
 *   and the temp folders of an interrupted build (`.lion-onnx-build-<pid>-<time>` inside,
 *   `.<DIR>.lion-onnx-tmp-<pid>-<time>` beside the directory).
 */
import type { Manifest } from './manifest.js';

export const MANIFEST_FILE = 'manifest.json';
export const LOCK_FILE = 'train.lock';
export const CHECKPOINTS_DIR = 'checkpoints';

/** Graph and state files a manifest names, with the external-data files saveModel may add. */
export function ownedFiles(m: Pick<Manifest, 'graphs' | 'state'>): string[] {
  const graphs = Object.values(m.graphs).filter((f): f is string => typeof f === 'string');
  return [MANIFEST_FILE, m.state, ...graphs, ...graphs.map((g) => `${g}.data`)];
}

/** Temp folder names an interrupted build leaves: inside the directory, and beside it. */
export const BUILD_TEMP_INSIDE = /^\.lion-onnx-build-(\d+)-\d+$/;
export function buildTempBeside(name: string): RegExp {
  return new RegExp(`^\\.${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.lion-onnx-tmp-(\\d+)-\\d+$`);
}
