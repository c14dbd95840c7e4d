/**
 * Writes an artifacts directory (layout in manifest.ts) all at once: everything goes to a
 * temp folder beside DIR which then replaces DIR, so a failure leaves no half-written folder.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { UsageError } from '../errors.js';
import { saveModel, type LoadedModel } from '../onnx/model-io.js';
import { allGraphs, type Model } from '../ir/graph.js';
import type { StepProgram } from '../passes/insert-optimizer.js';
import { loopSteps } from '../passes/loop-steps.js';
import { MANIFEST_FORMAT, MANIFEST_VERSION, type Manifest } from './manifest.js';
import { encodeSafetensors, type ZerosEntry } from './safetensors.js';
import { commitTemps, fsyncDir, writeTemp } from '../util/atomic-write.js';
import { VERSION } from '../version.js';

export interface WriteArtifactsOptions {
  command: string;
  evalModel?: Model;
  inferenceModel?: Model;
  /**
   * The file `inferenceModel` was loaded from, unchanged: copied byte for byte instead of
   * re-encoded (no second copy of the weights in memory) when it has no external data.
   */
  inferenceSourceFile?: string;
  /** Gradient accumulation graphs (see passes/split-update.ts). */
  gradModel?: Model;
  applyModel?: Model;
  loss?: Manifest['loss'];
  groups?: { noDecay?: string; frozen?: string };
}

/** Zero optimizer state (every slot of every trained parameter), written without allocating it. */
export function initialState(program: StepProgram): ZerosEntry[] {
  const byName = new Map(program.initialParams.map((t) => [t.name, t]));
  return program.parameters.flatMap((p) =>
    (p.state ?? []).map((s) => {
      const t = byName.get(p.name)!;
      return { name: s.name, dataType: t.dataType, dims: [...t.dims], zeros: true as const };
    }),
  );
}

export function stateMetadata(step: number): Record<string, string> {
  return { format: 'lion-onnx/state', step: String(step) };
}

export function buildManifest(program: StepProgram, opts: WriteArtifactsOptions): Manifest {
  const h = program.hyperparameters;
  const m: Manifest = {
    format: MANIFEST_FORMAT,
    version: MANIFEST_VERSION,
    createdBy: `lion-onnx ${VERSION} ${opts.command}`,
    optimizer: { name: program.optimizer, hyperparameters: { ...h }, nonFinite: program.nonFinite },
    graphs: { step: 'step.onnx', loop: 'loop.onnx' },
    state: 'state.safetensors',
    parameters: program.parameters,
    inputs: program.inputs,
    outputs: program.outputs,
    dataInputs: program.dataInputs,
    hyperparameterInputs: { ...program.hyperparameterInputs },
    perStep: [...program.perStep],
  };
  if (opts.groups?.noDecay) m.optimizer.noDecay = opts.groups.noDecay;
  if (opts.groups?.frozen) m.optimizer.frozen = opts.groups.frozen;
  if (opts.evalModel) m.graphs.eval = 'eval.onnx';
  if (opts.inferenceModel) m.graphs.inference = 'inference.onnx';
  if (opts.gradModel) m.graphs.grad = 'grad.onnx';
  if (opts.applyModel) m.graphs.apply = 'apply.onnx';
  if (opts.loss) m.loss = opts.loss;
  else if (program.loss) m.loss = { name: program.loss };
  return m;
}

export function writeArtifacts(dir: string, program: StepProgram, opts: WriteArtifactsOptions): Manifest {
  const target = resolve(dir);
  if (existsSync(target)) {
    if (!statSync(target).isDirectory()) throw new UsageError(`--out ${dir} exists and is not a folder`);
    const entries = readdirSync(target);
    if (entries.length && !entries.includes('manifest.json'))
      throw new UsageError(`--out ${dir} is a non-empty folder that is not an artifacts directory; choose an empty or new folder`);
  }
  // The folders made here go again on failure, so a refused build leaves nothing behind.
  let made: string | null = null;
  for (let d = dirname(target); !existsSync(d); d = dirname(d)) made = d;
  mkdirSync(dirname(target), { recursive: true });
  const tmp = join(dirname(target), `.${basename(target)}.tmp-${process.pid}-${Date.now()}`);
  mkdirSync(tmp);
  try {
    const manifest = buildManifest(program, opts);
    saveModel(program.model, join(tmp, manifest.graphs.step));
    saveModel(loopSteps(program), join(tmp, manifest.graphs.loop!));
    if (opts.evalModel) saveModel(opts.evalModel, join(tmp, 'eval.onnx'));
    if (opts.inferenceModel) {
      const external = [...allGraphs(opts.inferenceModel.graph)].some((g) => g.initializers.some((t) => t.storage === 'external'));
      if (opts.inferenceSourceFile && !external && !(opts.inferenceModel as LoadedModel).unknownFields?.length) copyFileSync(opts.inferenceSourceFile, join(tmp, 'inference.onnx'));
      else saveModel(opts.inferenceModel, join(tmp, 'inference.onnx'));
    }
    if (opts.gradModel) saveModel(opts.gradModel, join(tmp, 'grad.onnx'));
    if (opts.applyModel) saveModel(opts.applyModel, join(tmp, 'apply.onnx'));
    const state = [...program.initialParams, ...initialState(program)];
    commitTemps([[writeTemp(join(tmp, manifest.state), encodeSafetensors(state, stateMetadata(0))), join(tmp, manifest.state)]]);
    writeFileSync(join(tmp, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
    fsyncDir(tmp);
    if (existsSync(target)) {
      const old = `${tmp}.old`;
      renameSync(target, old);
      renameSync(tmp, target);
      rmSync(old, { recursive: true, force: true });
    } else renameSync(tmp, target);
    fsyncDir(dirname(target));
    return manifest;
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    if (made) rmSync(made, { recursive: true, force: true });
    throw e;
  }
}
