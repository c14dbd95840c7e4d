/**
 * Writing a trained model out of an artifacts directory: the inference model with the trained
 * weights (passes/extract-inference.ts), and optionally the weights as safetensors. Both carry
 * lion-onnx's mark (metadata_props `lion-onnx.export`, safetensors metadata format
 * `lion-onnx/export`), which is what lets a later export replace them; any other existing file
 * is replaced only with `overwrite`. The outputs are checked before anything is done, and may
 * never be one of the directory's own files.
 */
import { realpathSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { UsageError } from '../errors.js';
import { loadModel, saveModel } from '../ir/model-io.js';
import { EXPORT_MARK, isLionOnnxExport } from '../onnx/model-metadata.js';
import type { Tensor } from '../onnx/tensor.js';
import { extractInference } from '../passes/export/extract-inference.js';
import { checkOutputFile, fileHead, realOrIntended } from '../util/output-path.js';
import type { Artifacts } from '../artifacts/read.js';
import { CHECKPOINTS_DIR, LOCK_FILE, ownedFiles } from '../artifacts/layout.js';
import { writeSafetensors } from '../artifacts/safetensors.js';
import { torchState } from './torch-state.js';

export const SAFETENSORS_EXPORT_FORMAT = 'lion-onnx/export';

export interface ExportOptions {
  /** Also write the weights as safetensors here. */
  safetensors?: string;
  /** Replace existing files lion-onnx did not write. */
  overwrite?: boolean;
  /** Files the command reads besides the directory's own (a checkpoint given by path). */
  reads?: string[];
  /** Where the weights come from, recorded in the mark. */
  from?: { run?: string; step?: number };
  /** Flag names for messages. */
  flags?: { model?: string; safetensors?: string };
}

/** Whether `path` is a safetensors file lion-onnx exported. */
export function isLionOnnxSafetensors(path: string): boolean {
  const head = fileHead(path, 1 << 16);
  if (head.length < 8) return false;
  const n = Number(head.readBigUInt64LE(0));
  if (n > head.length - 8) return false;
  try {
    const h = JSON.parse(head.subarray(8, 8 + n).toString('utf8'));
    return h?.__metadata__?.format === SAFETENSORS_EXPORT_FORMAT;
  } catch {
    return false;
  }
}

/** Refuses an output inside the artifacts directory that is (or would be) one of lion-onnx's own files there. */
function checkNotOwned(artifacts: Artifacts, output: string, flag: string): void {
  let dir: string;
  try {
    dir = realpathSync(artifacts.dir);
  } catch {
    return;
  }
  const target = realOrIntended(output);
  const rel = relative(dir, target);
  if (rel.startsWith('..') || rel === '' || rel.startsWith(sep)) return;
  const own = new Set([...ownedFiles(artifacts.manifest), LOCK_FILE]);
  if (own.has(rel) || rel === CHECKPOINTS_DIR || rel.startsWith(CHECKPOINTS_DIR + sep))
    throw new UsageError(`${flag} ${output} is one of the artifacts directory's own files (${rel}); choose a file outside it, or another name`);
}

/** Checks the export's output paths, before any work (train checks them before step 1). */
export function checkExportOutputs(artifacts: Artifacts, output: string, opts: ExportOptions = {}): void {
  const mflag = opts.flags?.model ?? '-o';
  const sflag = opts.flags?.safetensors ?? '--safetensors';
  if (!artifacts.manifest.graphs.inference) throw new UsageError(`${artifacts.dir} has no inference model to export into`);
  const reads = [
    { path: join(artifacts.dir, artifacts.manifest.graphs.inference), what: 'the inference model it exports into' },
    ...(opts.reads ?? []).map((p) => ({ path: p, what: 'the checkpoint it exports' })),
  ];
  checkNotOwned(artifacts, output, mflag);
  checkOutputFile(output, { flag: mflag, protect: reads, isOwn: isLionOnnxExport, overwrite: opts.overwrite });
  if (opts.safetensors !== undefined) {
    if (realOrIntended(opts.safetensors) === realOrIntended(output)) throw new UsageError(`${sflag} ${opts.safetensors} is the same file as ${mflag}; give the weights a file of their own`);
    checkNotOwned(artifacts, opts.safetensors, sflag);
    checkOutputFile(opts.safetensors, { flag: sflag, protect: reads, isOwn: isLionOnnxSafetensors, overwrite: opts.overwrite });
  }
}

/**
 * Writes the inference model with `weights` (one per parameter), and the safetensors when asked:
 * for a build, torch's state_dict (torch-state.ts); for a rewrite, the parameters under their
 * names. Returns the tensors the safetensors left out (no torch name).
 */
export function writeExport(artifacts: Artifacts, weights: Map<string, Tensor>, output: string, opts: ExportOptions = {}): { leftOut: string[] } {
  checkExportOutputs(artifacts, output, opts);
  const source = artifacts.path(artifacts.manifest.graphs.inference!);
  const inference = loadModel(source, { noFollow: true });
  const model = extractInference(inference, weights);
  const mark = JSON.stringify({ build: artifacts.manifest.build.id, ...(opts.from?.run ? { run: opts.from.run } : {}), ...(opts.from?.step !== undefined ? { step: opts.from.step } : {}) });
  model.metadataProps = [...(model.metadataProps ?? []).filter((e) => e.key !== EXPORT_MARK), { key: EXPORT_MARK, value: mark }];
  saveModel(model, output);
  if (!opts.safetensors) return { leftOut: [] };
  const state = artifacts.manifest.tensors ? torchState(artifacts.manifest, inference, weights) : { tensors: [...weights.values()], leftOut: [] };
  writeSafetensors(opts.safetensors, state.tensors, {
    format: SAFETENSORS_EXPORT_FORMAT,
    build: artifacts.manifest.build.id,
    ...(opts.from?.step !== undefined ? { step: String(opts.from.step) } : {}),
  });
  return { leftOut: state.leftOut };
}
