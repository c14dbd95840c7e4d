/**
 * `lion-onnx export`: trained weights (the newest checkpoint of an artifacts directory's newest
 * run, a run named with --run, a checkpoint given by path, or the initial state) into the
 * inference model. A checkpoint is exported only through the build it was trained with.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { DataError, UsageError } from '../errors.js';
import { openArtifacts, readInitialState, type Artifacts } from '../artifacts/read.js';
import { checkStateTensors } from '../artifacts/check-state.js';
import { newestCheckpoint, readCheckpoint, type Checkpoint } from '../artifacts/checkpoint.js';
import { CHECKPOINTS_DIR } from '../artifacts/layout.js';
import type { Tensor } from '../onnx/tensor.js';
import { checkExportOutputs, writeExport } from '../runtime/export-model.js';

export interface ExportTrainedOptions {
  safetensors?: string;
  /** With an artifacts directory: export this run's newest checkpoint (default: the newest run's). */
  run?: string;
  /** Replace existing output files that lion-onnx did not write. */
  overwrite?: boolean;
}

export interface ExportResult {
  /** Where the weights came from (a checkpoint path, or the initial state). */
  from: string;
  step?: number;
  run?: string;
  /** Tensors the safetensors (torch's state_dict) left out: they have no torch name. */
  leftOut?: string[];
}

function isDirectory(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

export function exportTrained(source: string, output: string, opts: ExportTrainedOptions = {}): ExportResult {
  let artifacts: Artifacts;
  let checkpoint: Checkpoint | null = null;
  if (isDirectory(source)) {
    artifacts = openArtifacts(source);
    const found = newestCheckpoint(join(source, CHECKPOINTS_DIR), opts.run);
    checkExportOutputs(artifacts, output, { safetensors: opts.safetensors, overwrite: opts.overwrite, reads: found ? [found.path] : [] });
    if (found) checkpoint = readCheckpoint(found.path);
  } else {
    if (opts.run) throw new UsageError('--run selects a run of an artifacts directory; with a checkpoint file, the file says which run it is');
    checkpoint = readCheckpoint(source);
    artifacts = openArtifacts(checkpoint.artifactsDir);
    checkExportOutputs(artifacts, output, { safetensors: opts.safetensors, overwrite: opts.overwrite, reads: [checkpoint.path] });
  }
  if (checkpoint && checkpoint.info.build !== artifacts.manifest.build.id)
    throw new DataError(
      `${checkpoint.path} belongs to another build (${checkpoint.info.build.slice(0, 12)}…) than ${artifacts.dir} (${artifacts.manifest.build.id.slice(0, 12)}…), so its weights would go into another model; export it from the directory it was trained in`,
    );
  let weights: Map<string, Tensor>;
  let from: string;
  if (checkpoint) {
    checkStateTensors(artifacts.manifest, checkpoint.tensors, checkpoint.path, { state: false });
    weights = checkpoint.tensors;
    from = checkpoint.path;
  } else {
    const state = readInitialState(artifacts);
    checkStateTensors(artifacts.manifest, state.tensors, artifacts.path(artifacts.manifest.state), { state: false });
    weights = state.tensors;
    from = `${artifacts.path(artifacts.manifest.state)} (initial state: no checkpoint yet)`;
  }
  const params = new Map(artifacts.manifest.parameters.map((p) => [p.name, weights.get(p.name)!]));
  const run = checkpoint?.info.run;
  const { leftOut } = writeExport(artifacts, params, output, { safetensors: opts.safetensors, overwrite: opts.overwrite, reads: checkpoint ? [checkpoint.path] : [], from: { run, step: checkpoint?.info.step } });
  return { from, step: checkpoint?.info.step, ...(run ? { run } : {}), ...(leftOut.length ? { leftOut } : {}) };
}
