/** `lion-onnx build`: inference model -> artifacts directory (autodiff + loss + Lion). */
import { loadModel } from '../onnx/model-io.js';
import { writeArtifacts } from '../artifacts/write.js';
import { buildIdentity } from '../artifacts/build-id.js';
import type { Manifest } from '../artifacts/manifest.js';
import type { Model } from '../ir/graph.js';
import { buildTrainingProgram, type BuildOptions, type TrainingProgram } from '../passes/build-training.js';

export type { BuildOptions } from '../passes/build-training.js';

export interface OutputOptions {
  /** Replace a directory holding training runs of another build, deleting those runs. */
  overwrite?: boolean;
  /** The build's identity when the caller computed it already (it hashes the model file). */
  build?: Manifest['build'];
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
    optimizer: opts.optimizer ?? 'lion',
    hyperparameters: opts.hyperparameters,
    nonFinite: opts.nonFinite ?? 'skip',
  };
}

export function writeTrainingProgram(outDir: string, p: TrainingProgram, opts: BuildOptions, build: Manifest['build'], sourceFile?: string, out: OutputOptions = {}): Manifest {
  return writeArtifacts(outDir, p.step, {
    command: 'build',
    build,
    evalModel: p.evalModel,
    inferenceModel: p.inferenceModel,
    inferenceSourceFile: sourceFile,
    gradModel: p.gradModel,
    applyModel: p.apply.model,
    loss: p.loss,
    groups: { noDecay: opts.noDecay, frozen: opts.frozen },
    overwrite: out.overwrite,
  });
}

export function buildModel(model: Model, outDir: string, opts: BuildOptions, out: OutputOptions = {}): Manifest {
  return writeTrainingProgram(outDir, buildTrainingProgram(model, opts), opts, buildIdentity('build', buildOptionsKey(opts)), undefined, out);
}

export function buildFromFile(modelPath: string, outDir: string, opts: BuildOptions, out: OutputOptions = {}): Manifest {
  const program = buildTrainingProgram(loadModel(modelPath), opts);
  return writeTrainingProgram(outDir, program, opts, out.build ?? buildIdentity('build', buildOptionsKey(opts), modelPath), modelPath, out);
}
