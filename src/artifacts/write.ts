/**
 * Writes an artifacts directory (layout in manifest.ts and layout.ts). Everything is written to
 * a temp folder first, so a failure leaves no half-written directory:
 *
 * - a new DIR: the temp folder beside it is renamed to DIR in one step;
 * - an existing empty folder, or an existing lion-onnx artifacts directory (its manifest.json
 *   carries the format marker): the files move in one by one, manifest.json last, then the
 *   files of the old build that the new one does not have are removed. Only lion-onnx's own
 *   files are touched; anything else in the folder stays. Training runs (checkpoints) of an
 *   earlier, different build are kept unless `overwrite` says to delete them.
 *
 * Any other non-empty folder is refused. lion-onnx never deletes a folder it did not make.
 */
import { copyFileSync, mkdirSync, readdirSync, realpathSync, renameSync, rmdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { UsageError } from '../errors.js';
import { saveModel, type LoadedModel } from '../ir/model-io.js';
import { allGraphs, type Model } from '../ir/graph.js';
import type { StepContract } from '../ir/program.js';
import { MANIFEST_FORMAT, MANIFEST_VERSION, type Manifest } from './manifest.js';
import { encodeSafetensors, type ZerosEntry } from './safetensors.js';
import { BUILD_TEMP_INSIDE, CHECKPOINTS_DIR, MANIFEST_FILE, buildTempBeside, ownedFiles } from './layout.js';
import { commitTemps, fsyncDir, writeTemp } from '../util/atomic-write.js';
import { processAlive } from '../util/process-alive.js';
import { lstatOrNull, readRegularFile } from '../util/safe-fs.js';
import { missingFolders, removeEmptyFolders } from '../util/made-folders.js';
import { acquireTrainLock, describeHolder, lockHolder } from './lock.js';
import { listRuns } from './runs.js';
import { cleanLeftovers, listCheckpoints } from './checkpoint.js';
import { VERSION } from '../version.js';
import { buildIdentity } from './build-id.js';

/** The models of a training program (passes/pipeline.ts makes them), and the step's contract. */
export interface ProgramModels {
  step: StepContract & { model: Model };
  loop: Model;
  eval?: Model;
  /** Gradient accumulation: the gradients alone, and the update alone. */
  grad?: Model;
  apply?: Model;
  inference?: Model;
  loss?: Manifest['loss'];
  parameters?: Manifest['tensors'];
  batch?: Manifest['batch'];
  init?: Manifest['init'];
  batchAxes?: Manifest['batchAxes'];
  constants?: Manifest['constants'];
}

export interface WriteArtifactsOptions {
  command: string;
  /** The build's identity (artifacts/build-id.ts); default: a fresh random one. */
  build?: Manifest['build'];
  /**
   * The file the inference model was loaded from, unchanged: copied byte for byte instead of
   * re-encoded (no second copy of the weights in memory) when it has no external data.
   */
  inferenceSourceFile?: string;
  groups?: { noDecay?: string; frozen?: string };
  /** Replace a directory that holds training runs of another build, deleting those runs. */
  overwrite?: boolean;
}

/** Zero optimizer state (every slot of every trained parameter), written without allocating it. */
export function initialState(program: StepContract): ZerosEntry[] {
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

export function buildManifest(models: ProgramModels, opts: WriteArtifactsOptions & { build: Manifest['build'] }): Manifest {
  const program = models.step;
  const h = program.hyperparameters;
  const m: Manifest = {
    format: MANIFEST_FORMAT,
    version: MANIFEST_VERSION,
    createdBy: `lion-onnx ${VERSION} ${opts.command}`,
    build: opts.build,
    optimizer: { name: program.optimizer, ...(Object.keys(program.optimizerOptions).length ? { options: { ...program.optimizerOptions } } : {}), hyperparameters: { ...h }, nonFinite: program.nonFinite },
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
  if (program.nonFinite !== 'propagate') m.loopSkip = 'replay';
  if (models.eval) m.graphs.eval = 'eval.onnx';
  if (models.inference) m.graphs.inference = 'inference.onnx';
  if (models.grad) m.graphs.grad = 'grad.onnx';
  if (models.apply) m.graphs.apply = 'apply.onnx';
  if (models.loss) m.loss = models.loss;
  else if (program.loss) m.loss = { name: program.loss };
  if (models.parameters) m.tensors = models.parameters;
  if (models.batch) m.batch = models.batch;
  if (models.init) m.init = models.init;
  if (models.batchAxes) m.batchAxes = models.batchAxes;
  if (models.constants) m.constants = models.constants;
  return m;
}

/** What is at the --out path: nothing, an empty folder, a lion-onnx artifacts directory, or something to refuse. */
type Target = { kind: 'new' } | { kind: 'empty' } | { kind: 'artifacts'; old: Pick<Manifest, 'graphs' | 'state'> & { build?: { id?: string } } };

/** The old manifest's names, when manifest.json carries lion-onnx's format marker (any version). */
function ownManifest(dir: string): (Pick<Manifest, 'graphs' | 'state'> & { build?: { id?: string } }) | null {
  const st = lstatOrNull(join(dir, MANIFEST_FILE));
  if (!st?.isFile()) return null;
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(readRegularFile(join(dir, MANIFEST_FILE), { noFollow: true, maxBytes: 256 * 2 ** 20 }).toString('utf8'));
  } catch {
    return null;
  }
  if (typeof o !== 'object' || o === null || o.format !== MANIFEST_FORMAT) return null;
  const plain = (f: unknown) => typeof f === 'string' && f !== '' && !/[\\/]|^\.\.?$/.test(f);
  const graphs = Object.fromEntries(Object.entries((o.graphs as Record<string, unknown>) ?? {}).filter(([, f]) => plain(f))) as Manifest['graphs'];
  const build = o.build as { id?: string } | undefined;
  return { graphs, state: plain(o.state) ? (o.state as string) : 'state.safetensors', build: typeof build?.id === 'string' ? { id: build.id } : undefined };
}

function inspectTarget(dir: string, target: string): Target {
  let st;
  try {
    st = statSync(target);
  } catch {
    return { kind: 'new' };
  }
  if (!st.isDirectory()) throw new UsageError(`--out ${dir} exists and is not a folder; choose a new or empty folder`);
  const entries = readdirSync(target).filter((f) => !BUILD_TEMP_INSIDE.test(f));
  if (entries.length === 0) return { kind: 'empty' };
  const old = ownManifest(target);
  if (!old)
    throw new UsageError(
      `--out ${dir} is a non-empty folder that is not a lion-onnx artifacts directory (no manifest.json with the "${MANIFEST_FORMAT}" marker); lion-onnx writes only into new or empty folders or its own directories — choose another --out`,
    );
  return { kind: 'artifacts', old };
}

/** Removes temp folders of builds whose process is gone (only names lion-onnx makes, matched exactly). */
function removeStaleTemps(folder: string, pattern: RegExp): void {
  let names: string[];
  try {
    names = readdirSync(folder);
  } catch {
    return;
  }
  for (const f of names) {
    const m = pattern.exec(f);
    if (m && !processAlive(Number(m[1])) && lstatOrNull(join(folder, f))?.isDirectory()) rmSync(join(folder, f), { recursive: true, force: true });
  }
}

/** Deletes the training runs under DIR/checkpoints: only checkpoint files, then the folders if empty. */
function deleteRuns(dir: string): void {
  const root = join(dir, CHECKPOINTS_DIR);
  for (const run of listRuns(root)) {
    for (const c of listCheckpoints(run.dir)) {
      rmSync(c, { force: true });
      rmSync(c.replace(/\.json$/, '.safetensors'), { force: true });
    }
    cleanLeftovers(run.dir);
    removeIfEmpty(run.dir);
  }
  removeIfEmpty(root);
}

function removeIfEmpty(dir: string): void {
  try {
    rmdirSync(dir);
  } catch {
    // Not empty (the user's files are there), or gone: either way it stays as it is.
  }
}

function checkReplaceable(dir: string, target: string, old: { build?: { id?: string } }, opts: WriteArtifactsOptions & { build: Manifest['build'] }): void {
  const holder = lockHolder(target);
  if (holder) throw new UsageError(`--out ${dir} is being trained by ${describeHolder(holder)}; wait for it to finish or choose another --out`);
  const runs = listRuns(join(target, CHECKPOINTS_DIR)).filter((r) => listCheckpoints(r.dir).length > 0);
  if (runs.length && old.build?.id !== opts.build.id && !opts.overwrite)
    throw new UsageError(
      `--out ${dir} holds ${runs.length} training run${runs.length > 1 ? 's' : ''} (${runs.map((r) => r.name).join(', ')}) of a different build; choose another --out, or pass --overwrite to replace the build and delete those runs`,
    );
}

/** Refuses an --out that would replace the model being built from. */
function checkNotInput(dir: string, target: string, names: string[], inputs: string[]): void {
  for (const input of inputs) {
    let real: string;
    try {
      real = realpathSync(input);
    } catch {
      continue;
    }
    for (const n of names) {
      let own: string;
      try {
        own = realpathSync(join(target, n));
      } catch {
        continue;
      }
      if (own === real) throw new UsageError(`--out ${dir} would replace ${input}, the model this build reads; choose another --out`);
    }
  }
}

export function writeArtifacts(dir: string, models: ProgramModels, options: WriteArtifactsOptions): Manifest {
  const opts = { ...options, build: options.build ?? buildIdentity(options.command, {}) };
  const program = models.step;
  const target = resolve(dir);
  const found = inspectTarget(dir, target);
  const manifest = buildManifest(models, opts);
  const newFiles = ownedFiles(manifest);
  if (found.kind === 'artifacts') {
    checkReplaceable(dir, target, found.old, opts);
    checkNotInput(dir, target, [...newFiles, ...ownedFiles(found.old)], opts.inferenceSourceFile ? [opts.inferenceSourceFile] : []);
  }
  // The folders made here go again on failure (deepest first, only while empty).
  const made = missingFolders(found.kind === 'new' ? dirname(target) : target);
  const parent = dirname(target);
  mkdirSync(parent, { recursive: true });
  const inPlace = found.kind !== 'new';
  if (inPlace) removeStaleTemps(target, BUILD_TEMP_INSIDE);
  else removeStaleTemps(parent, buildTempBeside(basename(target)));
  const tmp = inPlace ? join(target, `.lion-onnx-build-${process.pid}-${Date.now()}`) : join(parent, `.${basename(target)}.lion-onnx-tmp-${process.pid}-${Date.now()}`);
  mkdirSync(tmp);
  let committed = false;
  try {
    saveModel(program.model, join(tmp, manifest.graphs.step));
    saveModel(models.loop, join(tmp, manifest.graphs.loop!));
    if (models.eval) saveModel(models.eval, join(tmp, 'eval.onnx'));
    if (models.inference) {
      const external = [...allGraphs(models.inference.graph)].some((g) => g.initializers.some((t) => t.storage === 'external'));
      if (opts.inferenceSourceFile && !external && !(models.inference as LoadedModel).unknownFields?.length) copyFileSync(opts.inferenceSourceFile, join(tmp, 'inference.onnx'));
      else saveModel(models.inference, join(tmp, 'inference.onnx'));
    }
    if (models.grad) saveModel(models.grad, join(tmp, 'grad.onnx'));
    if (models.apply) saveModel(models.apply, join(tmp, 'apply.onnx'));
    const state = [...program.initialParams, ...initialState(program)];
    commitTemps([[writeTemp(join(tmp, manifest.state), encodeSafetensors(state, stateMetadata(0))), join(tmp, manifest.state)]]);
    writeFileSync(join(tmp, MANIFEST_FILE), JSON.stringify(manifest, null, 2) + '\n');
    fsyncDir(tmp);
    if (!inPlace) {
      renameSync(tmp, target);
      committed = true;
      fsyncDir(parent);
      return manifest;
    }
    // In place: under the directory's lock, so no trainer starts while files are swapped.
    const lock = acquireTrainLock(target);
    try {
      if (found.kind === 'artifacts' && found.old.build?.id !== opts.build.id && opts.overwrite) deleteRuns(target);
      const written = readdirSync(tmp).filter((f) => f !== MANIFEST_FILE);
      for (const f of written) renameSync(join(tmp, f), join(target, f));
      renameSync(join(tmp, MANIFEST_FILE), join(target, MANIFEST_FILE));
      committed = true;
      fsyncDir(target);
      if (found.kind === 'artifacts') {
        const keep = new Set([...written, MANIFEST_FILE]);
        for (const f of ownedFiles(found.old)) if (!keep.has(f) && lstatOrNull(join(target, f))?.isFile()) rmSync(join(target, f), { force: true });
      }
    } finally {
      lock.release();
    }
    rmSync(tmp, { recursive: true, force: true });
    return manifest;
  } catch (e) {
    if (!committed) {
      rmSync(tmp, { recursive: true, force: true });
      removeEmptyFolders(made);
    }
    throw e;
  }
}

/** After an interrupted build (signal): removes this process's temp folders for `dir`, and the folders it made. */
export function removeBuildTemps(dir: string, pid = process.pid): void {
  const target = resolve(dir);
  const beside = buildTempBeside(basename(target));
  for (const [folder, pattern] of [[dirname(target), beside], [target, BUILD_TEMP_INSIDE]] as const) {
    let names: string[];
    try {
      names = readdirSync(folder);
    } catch {
      continue;
    }
    for (const f of names) {
      const m = pattern.exec(f);
      if (m && Number(m[1]) === pid && lstatOrNull(join(folder, f))?.isDirectory()) rmSync(join(folder, f), { recursive: true, force: true });
    }
  }
}
