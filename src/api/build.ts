/** `lion-onnx build`: inference model -> artifacts directory (the build pipeline, then serialized). */
import { loadModel } from '../ir/model-io.js';
import type { Model } from '../ir/graph.js';
import { writeArtifacts } from '../artifacts/write.js';
import { buildIdentity } from '../artifacts/build-id.js';
import type { Manifest } from '../artifacts/manifest.js';
import { compileBuild, type BuildOptions, type TrainingProgram } from '../passes/pipeline.js';
import type { PassContext } from '../passes/pass.js';
import { DEFAULT_OPTIMIZER } from '../optim/registry.js';
import { UsageError } from '../errors.js';
import { readNpy } from '../data/npy.js';
import type { ConstantValue } from '../passes/import/bind-constants.js';

export type { BuildOptions } from '../passes/pipeline.js';

/** `--constant NAME=VALUE`'s value: a number, a JSON list of numbers, or an .npy file. */
export function parseConstant(name: string, value: string): ConstantValue {
  const v = value.trim();
  if (v.endsWith('.npy')) return readNpy(v, name);
  if (v.startsWith('[')) {
    let list: unknown;
    try {
      list = JSON.parse(v);
    } catch {
      list = undefined;
    }
    if (!Array.isArray(list) || !list.every((x) => typeof x === 'number' && Number.isFinite(x)))
      throw new UsageError(`--constant ${name}=${value}: not a JSON list of numbers`);
    return list as number[];
  }
  const n = Number(v);
  if (v === '' || !Number.isFinite(n)) throw new UsageError(`--constant ${name}=${value}: give a number, a JSON list like [1,2] or an .npy file`);
  return n;
}

/** `--batch-axis NAME=AXIS`'s axis. */
export function parseBatchAxis(name: string, value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n)) throw new UsageError(`--batch-axis ${name}=${value}: the axis must be a whole number >= 0`);
  return n;
}

export interface OutputOptions {
  /** Replace a directory holding training runs of another build, deleting those runs. */
  overwrite?: boolean;
  /** The build's identity when the caller computed it already (it hashes the model file). */
  build?: Manifest['build'];
  /** Pass checks and the per-pass log (--verbose). */
  passes?: PassContext;
}

/** The options that decide what a build makes (its identity). */
export function buildOptionsKey(opts: BuildOptions): Record<string, unknown> {
  return {
    loss: opts.loss,
    output: opts.output,
    targetName: opts.targetName,
    params: opts.params,
    frozen: opts.frozen,
    noDecay: opts.noDecay,
    optimizer: opts.optimizer ?? DEFAULT_OPTIMIZER,
    optimizerOptions: opts.optimizerOptions,
    hyperparameters: opts.hyperparameters,
    nonFinite: opts.nonFinite ?? 'skip',
    tieDeduplicated: opts.tieDeduplicated,
    fixedBatch: opts.fixedBatch,
    constants: opts.constants,
    batchAxes: opts.batchAxes,
  };
}

export function writeTrainingProgram(outDir: string, p: TrainingProgram, opts: BuildOptions, build: Manifest['build'], sourceFile?: string, out: OutputOptions = {}): Manifest {
  return writeArtifacts(outDir, p, {
    command: 'build',
    build,
    // The source's bytes, when the import passes left its tensors as they were.
    inferenceSourceFile: p.inference.program ? undefined : sourceFile,
    groups: { noDecay: opts.noDecay, frozen: opts.frozen },
    overwrite: out.overwrite,
  });
}

export function buildModel(model: Model, outDir: string, opts: BuildOptions, out: OutputOptions = {}): Manifest {
  return writeTrainingProgram(outDir, compileBuild(model, opts, out.passes), opts, out.build ?? buildIdentity('build', buildOptionsKey(opts)), undefined, out);
}

export function buildFromFile(modelPath: string, outDir: string, opts: BuildOptions, out: OutputOptions = {}): Manifest {
  const program = compileBuild(loadModel(modelPath), opts, out.passes);
  return writeTrainingProgram(outDir, program, opts, out.build ?? buildIdentity('build', buildOptionsKey(opts), modelPath), modelPath, out);
}
