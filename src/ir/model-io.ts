/**
 * Loading and saving ONNX models: bytes <-> ModelProto <-> IR, external data included.
 */
import { rmSync, statSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { ExternalDataError, LionOnnxError, ModelFormatError, oneLine } from '../errors.js';
import { modelFromProto, modelToProto } from './convert.js';
import { allGraphs, type Model } from './graph.js';
import { commitTemps, writeTemp } from '../util/atomic-write.js';
import { readRegularFile } from '../util/safe-fs.js';
import { dataTypeInfo } from '../onnx/data-types.js';
import { checkLocation, externalReader } from '../onnx/external-data.js';
import { KNOWN_IR_VERSION, ModelProtoType, decodePlain, encodePlain, type ModelProto } from '../onnx/schema.js';
import { tensorBytes, type ExternalPlacement, type Tensor } from '../onnx/tensor.js';
import { MAX_MESSAGE_DEPTH, NestingTooDeep, scanFields, type FieldScan } from '../onnx/unknown-fields.js';

/**
 * Most nodes (all graphs together) a model may have. torch exports of billion-parameter
 * transformers have 10^4 to 10^5; past this, build's time and memory grow out of hand.
 */
export const MAX_NODES = 500_000;

/** protobuf cannot encode a message of 2 GiB or more; stay clear of it. */
const PROTOBUF_LIMIT = 2 ** 31 - 1;
const INLINE_BUDGET = 1.5 * 2 ** 30;

export interface LoadedModel extends Model {
  /** Fields the schema does not know, found while decoding; saving such a model is refused. */
  unknownFields?: string[];
  /** File the model came from, for messages. */
  source?: string;
}

/** Decodes ModelProto bytes to a plain object, turning protobuf errors into one clear line. */
export function decodeModelProto(bytes: Uint8Array, source = 'model'): ModelProto {
  if (bytes.length === 0) throw new ModelFormatError(`${source}: the file is empty; expected an ONNX model`);
  try {
    return decodePlain<ModelProto>(ModelProtoType, bytes);
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    throw new ModelFormatError(`${source}: not a valid ONNX model (protobuf decode failed: ${why}); the file is truncated or not ONNX`);
  }
}

export interface LoadOptions {
  /** Folder external data is resolved in; default the model file's folder. */
  baseDir?: string;
  /** Name used in messages. */
  source?: string;
}

export function loadModelFromBytes(bytes: Uint8Array, opts: LoadOptions = {}): LoadedModel {
  const source = opts.source ?? 'model';
  // Scanned before decoding: decoding allocates objects per node, a graph bomb would exhaust memory first.
  const scan = scanFieldsSafe(bytes, source);
  if (scan && scan.nodes > MAX_NODES)
    throw new ModelFormatError(`${source}: the model has ${scan.nodes} nodes, more than the ${MAX_NODES} lion-onnx handles; nothing was decoded`);
  const proto = decodeModelProto(bytes, source);
  if (!proto.graph) throw new ModelFormatError(`${source}: not an ONNX model (no graph found); check the file`);
  const unknown = scan ? scan.unknown : ['(unreadable field structure)'];
  const ext = opts.baseDir !== undefined ? externalReader(opts.baseDir) : null;
  let model: LoadedModel;
  try {
    model = modelFromProto(proto, ext ? ext.read : null);
  } catch (e) {
    if (e instanceof LionOnnxError) {
      e.message = oneLine(`${source}: ${e.message}`);
    }
    throw e;
  } finally {
    ext?.close();
  }
  model.source = source;
  if (unknown.length) model.unknownFields = unknown;
  return model;
}

/** The wire scan, or null when the bytes are not well-formed protobuf (decoding then says why). */
function scanFieldsSafe(bytes: Uint8Array, source: string): FieldScan | null {
  try {
    return scanFields(bytes, ModelProtoType);
  } catch (e) {
    if (e instanceof NestingTooDeep)
      throw new ModelFormatError(`${source}: ${e.message} (subgraphs inside subgraphs, about ${Math.floor(MAX_MESSAGE_DEPTH / 3)} levels); lion-onnx refuses models nested this deep`);
    return null;
  }
}

/**
 * Loads an .onnx file. Only a regular file is read (a FIFO or device is refused at once);
 * `noFollow` also refuses a symlink (graphs inside an artifacts directory).
 */
export function loadModel(path: string, opts: Omit<LoadOptions, 'baseDir'> & { noFollow?: boolean } = {}): LoadedModel {
  let bytes: Buffer;
  try {
    const st = statSync(path);
    if (st.isDirectory()) throw new ModelFormatError(`${path}: is a folder; expected an .onnx file`);
    if (st.size > PROTOBUF_LIMIT) throw new ModelFormatError(`${path}: ${st.size} bytes is over protobuf's 2 GB limit; large models keep their weights in external data`);
  } catch (e) {
    if (e instanceof LionOnnxError) throw e;
    throw new ModelFormatError(`${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  bytes = readRegularFile(path, { noFollow: opts.noFollow, maxBytes: PROTOBUF_LIMIT });
  return loadModelFromBytes(bytes, { baseDir: dirname(resolve(path)), source: opts.source ?? path });
}

export interface SaveOptions {
  /**
   * 'auto' (default): tensors that came from external data stay external, and when the inline
   * tensors would exceed protobuf's limit, every tensor of at least `threshold` bytes moves out.
   * 'all': every tensor of at least `threshold` bytes goes to external data. 'none': all inline.
   */
  externalData?: 'auto' | 'all' | 'none';
  /** External data file name, relative to the model's folder. Default `<model file>.data`. */
  location?: string;
  /** Smallest tensor (bytes) moved to external data. Default 1024. */
  threshold?: number;
  /**
   * Most tensor bytes kept inline before 'auto' moves tensors out (and 'none' refuses).
   * Default 1.5 GiB, clear of protobuf's 2 GB message limit.
   */
  inlineLimit?: number;
}

function refuseUnknown(model: LoadedModel): void {
  if (model.unknownFields?.length) {
    const ir = model.irVersion !== undefined ? ` (IR version ${model.irVersion}; this build knows up to ${KNOWN_IR_VERSION})` : '';
    throw new ModelFormatError(
      `${model.source ?? 'model'} has fields this version of lion-onnx does not know${ir}: ${model.unknownFields.join(', ')}; writing would drop them, so nothing was written — upgrade lion-onnx or re-export the model with an older ONNX`,
    );
  }
}

/** Encodes a model whose tensors are all inline. */
export function modelToBytes(model: Model): Uint8Array {
  refuseUnknown(model);
  for (const g of allGraphs(model.graph))
    for (const t of g.initializers)
      if (t.storage === 'external') throw new ModelFormatError(`tensor '${t.name}' uses external data; save the model to a file with saveModel`);
  return encodeChecked(modelToProto(model, () => null));
}

function encodeChecked(proto: ModelProto): Uint8Array {
  try {
    return encodePlain(ModelProtoType, proto);
  } catch (e) {
    throw new ModelFormatError(`cannot encode the model: ${e instanceof Error ? e.message : String(e)}`);
  }
}

function tensorByteSize(t: Tensor): number {
  if (Array.isArray(t.data)) return t.data.reduce((s, x) => s + x.length, 0);
  return (t.data as ArrayBufferView).byteLength;
}

/** Writes the model (and its external data file, if any) atomically. */
export function saveModel(model: Model, path: string, opts: SaveOptions = {}): void {
  refuseUnknown(model);
  const mode = opts.externalData ?? 'auto';
  const threshold = opts.threshold ?? 1024;
  const inlineLimit = opts.inlineLimit ?? INLINE_BUDGET;
  const location = opts.location ?? `${basename(path)}.data`;
  checkLocation(location, '(output)');
  if (resolve(dirname(path), location) === resolve(path))
    throw new ExternalDataError(`${path}: external data location '${location}' is the model file itself; choose another name`);

  const tensors: Tensor[] = [];
  for (const g of allGraphs(model.graph)) tensors.push(...g.initializers);
  const numeric = (t: Tensor) => !Array.isArray(t.data) && dataTypeInfo(t.dataType)?.array;
  let inlineBytes = tensors.reduce((s, t) => s + tensorByteSize(t), 0);
  const external = new Set<Tensor>();
  if (mode === 'all') {
    for (const t of tensors) if (numeric(t) && tensorByteSize(t) >= threshold) external.add(t);
  } else if (mode === 'auto') {
    for (const t of tensors) if (t.storage === 'external' && numeric(t)) external.add(t);
    if (inlineBytes > inlineLimit) for (const t of tensors) if (numeric(t) && tensorByteSize(t) >= threshold) external.add(t);
  }
  for (const t of external) inlineBytes -= tensorByteSize(t);
  if (inlineBytes > inlineLimit)
    throw new ModelFormatError(
      `${path}: ${inlineBytes} bytes of tensors is over the ${inlineLimit}-byte inline limit (protobuf cannot encode 2 GB); save with external data`,
    );

  const placements = new Map<Tensor, ExternalPlacement>();
  const chunks: Uint8Array[] = [];
  let offset = 0;
  const ALIGN = 64;
  for (const t of tensors) {
    if (!external.has(t)) continue;
    const pad = (ALIGN - (offset % ALIGN)) % ALIGN;
    if (pad) chunks.push(new Uint8Array(pad));
    offset += pad;
    const bytes = tensorBytes(t);
    placements.set(t, { location, offset, length: bytes.length });
    chunks.push(bytes);
    offset += bytes.length;
  }
  const proto = modelToProto(model, (t) => placements.get(t) ?? null);
  const bytes = encodeChecked(proto);
  if (bytes.length > PROTOBUF_LIMIT) throw new ModelFormatError(`${path}: the encoded model exceeds protobuf's 2 GB limit`);
  const dataPath = resolve(dirname(path), location);
  const temps: [string, string][] = [];
  try {
    if (placements.size) temps.push([writeTemp(dataPath, chunks), dataPath]);
    temps.push([writeTemp(path, [bytes]), path]);
  } catch (e) {
    for (const [tmp] of temps) rmSync(tmp, { force: true });
    throw e;
  }
  commitTemps(temps);
}
