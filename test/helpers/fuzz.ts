/**
 * Fuzzing with fast-check (seeded, and it shrinks a failure to a minimal case): mutators for the
 * seed corpus (byte-level: bit flips, truncation, splices, varint bombs; structure-aware: ONNX
 * nodes, tensors, types, names, opsets; .npy headers; safetensors and JSON documents) and the
 * oracle that runs a mutated input through the API functions the CLI calls.
 *
 * The oracle's contract: every failure is a LionOnnxError whose message is one line; nothing
 * else escapes (TypeError, RangeError, a native abort), and no stage takes more than
 * HANG_MS. Stages that reach onnxruntime run in a child process (sandbox.ts), where an abort
 * is reported instead of killing the runner.
 */
import fc from 'fast-check';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LionOnnxError } from '../../src/errors.js';
import { loadModel, loadModelFromBytes, modelToBytes } from '../../src/ir/model-io.js';
import { ModelProtoType, decodePlain, encodePlain, type GraphProto, type ModelProto, type NodeProto, type TensorProto } from '../../src/onnx/schema.js';
import { formatReport, inspectFile, inspectModel } from '../../src/api/inspect.js';
import { buildFromFile } from '../../src/api/build.js';
import { rewriteTrainingModel } from '../../src/api/rewrite.js';
import { exportTrained } from '../../src/api/export.js';
import { decodeNpy } from '../../src/data/npy.js';
import { decodeSafetensors } from '../../src/artifacts/safetensors.js';
import { openArtifacts } from '../../src/artifacts/read.js';
import { newestCheckpoint, readCheckpoint } from '../../src/artifacts/checkpoint.js';
import { Sandbox, type SandboxJob, type SandboxResult } from './sandbox.js';
import { ONNX_SEEDS, SEED_DIR, readSeed, type OnnxSeed } from './fuzz-seeds.js';

/** A stage slower than this counts as a hang. */
export const HANG_MS = 10_000;

/** What the oracle found wrong; fast-check shrinks the case that threw it. */
export class FuzzFailure extends Error {}

// ---------------------------------------------------------------------------------------------
// Byte-level mutations (positions are taken modulo the length, so they shrink toward byte 0).

export type ByteOp =
  | { op: 'flip'; pos: number; bit: number }
  | { op: 'set'; pos: number; value: number }
  | { op: 'truncate'; len: number }
  | { op: 'insert'; pos: number; bytes: number[] }
  | { op: 'delete'; pos: number; len: number }
  | { op: 'copy'; from: number; len: number; to: number }
  | { op: 'varint'; pos: number; value: number };

export const byteOpArb: fc.Arbitrary<ByteOp> = fc.oneof(
  { arbitrary: fc.record({ op: fc.constant('flip' as const), pos: fc.nat(), bit: fc.nat(7) }), weight: 3 },
  fc.record({ op: fc.constant('set' as const), pos: fc.nat(), value: fc.oneof(fc.constantFrom(0, 1, 0x7f, 0x80, 0xff), fc.nat(255)) }),
  { arbitrary: fc.record({ op: fc.constant('truncate' as const), len: fc.nat() }), weight: 2 },
  fc.record({ op: fc.constant('insert' as const), pos: fc.nat(), bytes: fc.array(fc.nat(255), { minLength: 1, maxLength: 16 }) }),
  fc.record({ op: fc.constant('delete' as const), pos: fc.nat(), len: fc.integer({ min: 1, max: 64 }) }),
  fc.record({ op: fc.constant('copy' as const), from: fc.nat(), len: fc.integer({ min: 1, max: 128 }), to: fc.nat() }),
  fc.record({ op: fc.constant('varint' as const), pos: fc.nat(), value: fc.constantFrom(0x7fffffff, 0xffffffff, 2 ** 40, 2 ** 53 - 1) }),
);

function varint(v: number): number[] {
  const out: number[] = [];
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return out;
}

export function applyByteOps(input: Uint8Array, ops: ByteOp[]): Uint8Array {
  let b: Uint8Array = Uint8Array.from(input);
  for (const o of ops) {
    const n = b.length;
    if (n === 0) break;
    if (o.op === 'flip') b[o.pos % n] ^= 1 << o.bit;
    else if (o.op === 'set') b[o.pos % n] = o.value;
    else if (o.op === 'truncate') b = b.slice(0, o.len % n);
    else if (o.op === 'insert') b = concat(b.subarray(0, o.pos % (n + 1)), Uint8Array.from(o.bytes), b.subarray(o.pos % (n + 1)));
    else if (o.op === 'delete') b = concat(b.subarray(0, o.pos % n), b.subarray((o.pos % n) + o.len));
    else if (o.op === 'copy') {
      const from = o.from % n;
      const chunk = b.slice(from, from + o.len);
      const to = o.to % (n + 1);
      b = concat(b.subarray(0, to), chunk, b.subarray(to));
    } else {
      const v = varint(o.value);
      const at = o.pos % n;
      b = concat(b.subarray(0, at), Uint8Array.from(v), b.subarray(Math.min(n, at + v.length)));
    }
  }
  return b;
}

/** A fresh Uint8Array (not a Buffer, whose slice() would be a view) holding the parts in order. */
const concat = (...parts: Uint8Array[]): Uint8Array => new Uint8Array(Buffer.concat(parts));

// ---------------------------------------------------------------------------------------------
// Structure-aware ONNX mutations, applied to the decoded ModelProto and encoded again.

const OPS = ['Add', 'Sub', 'Mul', 'Div', 'MatMul', 'Gemm', 'Relu', 'Sigmoid', 'Tanh', 'Softmax', 'LogSoftmax', 'Reshape', 'Transpose', 'Concat', 'Gather', 'Slice', 'Squeeze', 'Unsqueeze', 'Expand', 'Tile', 'Pad', 'Conv', 'MaxPool', 'AveragePool', 'GlobalAveragePool', 'ReduceSum', 'ReduceMean', 'ReduceMax', 'Where', 'Cast', 'Sign', 'Sum', 'Identity', 'Shape', 'ConstantOfShape', 'Constant', 'Range', 'Split', 'TopK', 'Einsum', 'GatherND', 'ScatterElements', 'OneHot', 'CumSum', 'Sqrt', 'Neg', 'Abs', 'Flatten', 'LayerNormalization', 'BatchNormalization', 'Dropout', 'Erf', 'Pow', 'Equal', 'Not', 'If', 'Loop', 'Scan', 'ArgMax', 'Clip', 'NoSuchOp', ''];
const ATTRS = ['axis', 'axes', 'perm', 'to', 'keepdims', 'transA', 'transB', 'alpha', 'beta', 'epsilon', 'kernel_shape', 'pads', 'strides', 'dilations', 'group', 'value', 'then_branch', 'else_branch', 'body', 'noop_with_empty_axes', 'k', 'num_outputs', 'split', 'allowzero', 'stash_type', 'ceil_mode', 'auto_pad', 'reduction', 'equation', 'mode'];
const INTS: (number | bigint)[] = [0, 1, -1, 2, -2, 3, 7, 2 ** 31 - 1, -(2 ** 31), 2 ** 32, 2 ** 53 - 1, -(2 ** 53 - 1), 1e12, 9223372036854775807n, -9223372036854775808n];
const FLOATS = [0, -0, 1, -1, 0.5, 1e-45, 3.4e38, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY];
const DIMS: (number | bigint)[] = [0, 1, 2, 3, 4, 7, 8, -1, 1e12, 2 ** 53, 4611686018427387904n];
const ELEM_TYPES = [0, 1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 16, 17, 21, 23, 26, 27, 100];
const NAMES = ['', 'x', 'target', 'loss', 'logits', 'lion.lr', 'lion.beta1', 'fc1.weight', 'fc1.weight.lion_m', 'W_grad', 'fc1.weight_grad', 'onnx::x', '..', '../x', 'a'.repeat(300), 'ünï/cødé', 'two\nlines', 'tab\there'];
const LOCATIONS = ['data.bin', 'missing.bin', '../outside.bin', '/etc/hostname', 'sub/../../outside.bin', 'link.bin', '', 'C:\\x.bin', 'nul\0byte', 'fifo.bin', '.'];
const OPSETS = [1, 6, 7, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 26, 100, 2 ** 31 - 1];
const DOMAINS = ['', 'ai.onnx', 'com.microsoft', 'ai.onnx.ml', 'ai.onnx.preview.training', 'x.y'];

type AttrSpec =
  | { kind: 'i'; v: number | bigint }
  | { kind: 'f'; v: number }
  | { kind: 'ints'; v: (number | bigint)[] }
  | { kind: 's'; v: string }
  | { kind: 't'; dims: (number | bigint)[]; dtype: number; values: number }
  | { kind: 'g' };

const attrSpecArb: fc.Arbitrary<AttrSpec> = fc.oneof(
  fc.record({ kind: fc.constant('i' as const), v: fc.constantFrom(...INTS) }),
  fc.record({ kind: fc.constant('f' as const), v: fc.constantFrom(...FLOATS) }),
  fc.record({ kind: fc.constant('ints' as const), v: fc.array(fc.constantFrom(...INTS), { maxLength: 5 }) }),
  fc.record({ kind: fc.constant('s' as const), v: fc.constantFrom('', 'NOTSET', 'SAME_UPPER', 'constant', 'ij,jk->ik', 'bad') }),
  fc.record({ kind: fc.constant('t' as const), dims: fc.array(fc.constantFrom(...DIMS), { maxLength: 3 }), dtype: fc.constantFrom(...ELEM_TYPES), values: fc.nat(5) }),
  fc.record({ kind: fc.constant('g' as const) }),
);

export type StructOp =
  | { op: 'opType'; g: number; n: number; value: string }
  | { op: 'dropInput'; g: number; n: number; i: number }
  | { op: 'emptyName'; g: number; n: number; i: number; output: boolean }
  | { op: 'rewire'; g: number; n: number; i: number; src: number }
  | { op: 'addInput'; g: number; n: number; src: number }
  | { op: 'dropOutput'; g: number; n: number }
  | { op: 'deleteNode'; g: number; n: number }
  | { op: 'duplicateNode'; g: number; n: number }
  | { op: 'swapNodes'; g: number; n: number; m: number }
  | { op: 'setAttr'; g: number; n: number; name: string; value: AttrSpec }
  | { op: 'dropAttrs'; g: number; n: number }
  | { op: 'nodeDomain'; g: number; n: number; value: string }
  | { op: 'dims'; g: number; t: number; i: number; value: number | bigint }
  | { op: 'dtype'; g: number; t: number; value: number }
  | { op: 'rawLength'; g: number; t: number; delta: number }
  | { op: 'external'; g: number; t: number; location: string; offset: number; length: number | null }
  | { op: 'dropInitializer'; g: number; t: number }
  | { op: 'ioType'; g: number; which: 'input' | 'output' | 'value_info'; k: number; elemType: number | null; dims: (number | string)[] | null }
  | { op: 'rename'; g: number; which: 'input' | 'output' | 'initializer' | 'node'; k: number; value: string }
  | { op: 'dropGraphIo'; g: number; which: 'input' | 'output'; k: number }
  | { op: 'opset'; domain: string; version: number }
  | { op: 'irVersion'; value: number };

const sel = { g: fc.nat(3), n: fc.nat(200) };
const structOpArb: fc.Arbitrary<StructOp> = fc.oneof(
  { arbitrary: fc.record({ op: fc.constant('opType' as const), ...sel, value: fc.constantFrom(...OPS) }), weight: 3 },
  { arbitrary: fc.record({ op: fc.constant('dropInput' as const), ...sel, i: fc.nat(4) }), weight: 2 },
  fc.record({ op: fc.constant('emptyName' as const), ...sel, i: fc.nat(4), output: fc.boolean() }),
  { arbitrary: fc.record({ op: fc.constant('rewire' as const), ...sel, i: fc.nat(4), src: fc.nat(400) }), weight: 3 },
  fc.record({ op: fc.constant('addInput' as const), ...sel, src: fc.nat(400) }),
  fc.record({ op: fc.constant('dropOutput' as const), ...sel }),
  fc.record({ op: fc.constant('deleteNode' as const), ...sel }),
  fc.record({ op: fc.constant('duplicateNode' as const), ...sel }),
  fc.record({ op: fc.constant('swapNodes' as const), ...sel, m: fc.nat(200) }),
  { arbitrary: fc.record({ op: fc.constant('setAttr' as const), ...sel, name: fc.constantFrom(...ATTRS), value: attrSpecArb }), weight: 3 },
  fc.record({ op: fc.constant('dropAttrs' as const), ...sel }),
  fc.record({ op: fc.constant('nodeDomain' as const), ...sel, value: fc.constantFrom(...DOMAINS) }),
  { arbitrary: fc.record({ op: fc.constant('dims' as const), g: sel.g, t: fc.nat(20), i: fc.nat(4), value: fc.constantFrom(...DIMS) }), weight: 2 },
  fc.record({ op: fc.constant('dtype' as const), g: sel.g, t: fc.nat(20), value: fc.constantFrom(...ELEM_TYPES) }),
  fc.record({ op: fc.constant('rawLength' as const), g: sel.g, t: fc.nat(20), delta: fc.constantFrom(-8, -4, -1, 1, 4, 8) }),
  fc.record({
    op: fc.constant('external' as const),
    g: sel.g,
    t: fc.nat(20),
    location: fc.constantFrom(...LOCATIONS),
    offset: fc.constantFrom(0, 8, 64, 2 ** 40),
    length: fc.constantFrom(null, 0, 16, 2 ** 40),
  }),
  fc.record({ op: fc.constant('dropInitializer' as const), g: sel.g, t: fc.nat(20) }),
  {
    arbitrary: fc.record({
      op: fc.constant('ioType' as const),
      g: sel.g,
      which: fc.constantFrom('input' as const, 'output' as const, 'value_info' as const),
      k: fc.nat(20),
      elemType: fc.option(fc.constantFrom(...ELEM_TYPES)),
      dims: fc.option(fc.array(fc.oneof(fc.constantFrom(0, 1, 2, 3, 4, 64, -1, 1e12), fc.constantFrom('batch', 'N', '')), { maxLength: 4 })),
    }),
    weight: 2,
  },
  {
    arbitrary: fc.record({ op: fc.constant('rename' as const), g: sel.g, which: fc.constantFrom('input' as const, 'output' as const, 'initializer' as const, 'node' as const), k: fc.nat(200), value: fc.constantFrom(...NAMES) }),
    weight: 2,
  },
  fc.record({ op: fc.constant('dropGraphIo' as const), g: sel.g, which: fc.constantFrom('input' as const, 'output' as const), k: fc.nat(20) }),
  fc.record({ op: fc.constant('opset' as const), domain: fc.constantFrom(...DOMAINS), version: fc.constantFrom(...OPSETS) }),
  fc.record({ op: fc.constant('irVersion' as const), value: fc.constantFrom(0, 1, 3, 6, 7, 8, 9, 10, 13, 14, 15, 100) }),
);

function graphsOf(m: ModelProto): GraphProto[] {
  const out: GraphProto[] = [];
  const stack = m.graph ? [m.graph] : [];
  while (stack.length) {
    const g = stack.pop()!;
    out.push(g);
    for (const n of g.node ?? [])
      for (const a of n.attribute ?? []) {
        if (a.g) stack.push(a.g);
        for (const sg of a.graphs ?? []) stack.push(sg);
      }
  }
  return out;
}

function namesOf(g: GraphProto): string[] {
  return [...(g.input ?? []).map((v) => v.name ?? ''), ...(g.initializer ?? []).map((t) => t.name ?? ''), ...(g.node ?? []).flatMap((n) => n.output ?? []), ...NAMES];
}

const BYTES_PER: Record<number, number> = { 1: 4, 2: 1, 3: 1, 5: 2, 6: 4, 7: 8, 9: 1, 10: 2, 11: 8, 12: 4, 13: 8, 16: 2 };

function attrFrom(name: string, s: AttrSpec): Record<string, unknown> {
  if (s.kind === 'i') return { name, type: 2, i: s.v };
  if (s.kind === 'f') return { name, type: 1, f: s.v };
  if (s.kind === 'ints') return { name, type: 7, ints: s.v };
  if (s.kind === 's') return { name, type: 3, s: new TextEncoder().encode(s.v) };
  if (s.kind === 'g') return { name, type: 5, g: { name: 'sub', node: [{ op_type: 'Identity', input: ['x'], output: ['sub_out'] }], output: [{ name: 'sub_out' }] } };
  return { name, type: 4, t: { dims: s.dims, data_type: s.dtype, raw_data: new Uint8Array(s.values * (BYTES_PER[s.dtype] ?? 1)) } };
}

function applyStructOp(m: ModelProto, o: StructOp): void {
  if (o.op === 'opset') {
    m.opset_import = [...(m.opset_import ?? []).filter((x) => (x.domain ?? '') !== o.domain), { domain: o.domain, version: o.version }];
    return;
  }
  if (o.op === 'irVersion') {
    m.ir_version = o.value;
    return;
  }
  const graphs = graphsOf(m);
  if (!graphs.length) return;
  const g = graphs[o.g % graphs.length];
  const nodes = (g.node ??= []);
  const inits = (g.initializer ??= []);
  const node = (n: number): NodeProto | undefined => nodes[n % Math.max(1, nodes.length)];
  const tensor = (t: number): TensorProto | undefined => inits[t % Math.max(1, inits.length)];
  const names = namesOf(g);
  switch (o.op) {
    case 'opType': {
      const n = node(o.n);
      if (n) n.op_type = o.value;
      break;
    }
    case 'dropInput': {
      const n = node(o.n);
      if (n?.input?.length) n.input.splice(o.i % n.input.length, 1);
      break;
    }
    case 'emptyName': {
      const n = node(o.n);
      const list = o.output ? n?.output : n?.input;
      if (list?.length) list[o.i % list.length] = '';
      break;
    }
    case 'rewire': {
      const n = node(o.n);
      if (n?.input?.length) n.input[o.i % n.input.length] = names[o.src % names.length];
      break;
    }
    case 'addInput': {
      const n = node(o.n);
      if (n) n.input = [...(n.input ?? []), names[o.src % names.length]];
      break;
    }
    case 'dropOutput': {
      const n = node(o.n);
      n?.output?.pop();
      break;
    }
    case 'deleteNode':
      if (nodes.length) nodes.splice(o.n % nodes.length, 1);
      break;
    case 'duplicateNode': {
      const n = node(o.n);
      if (n) nodes.splice(o.n % nodes.length, 0, structuredClone(n));
      break;
    }
    case 'swapNodes':
      if (nodes.length) {
        const a = o.n % nodes.length;
        const b = o.m % nodes.length;
        [nodes[a], nodes[b]] = [nodes[b], nodes[a]];
      }
      break;
    case 'setAttr': {
      const n = node(o.n);
      if (n) n.attribute = [...(n.attribute ?? []).filter((a) => a.name !== o.name), attrFrom(o.name, o.value) as never];
      break;
    }
    case 'dropAttrs': {
      const n = node(o.n);
      if (n) n.attribute = [];
      break;
    }
    case 'nodeDomain': {
      const n = node(o.n);
      if (n) n.domain = o.value;
      break;
    }
    case 'dims': {
      const t = tensor(o.t);
      if (!t) break;
      const dims = (t.dims ??= []);
      if (dims.length) dims[o.i % dims.length] = o.value;
      else dims.push(o.value);
      break;
    }
    case 'dtype': {
      const t = tensor(o.t);
      if (t) t.data_type = o.value;
      break;
    }
    case 'rawLength': {
      const t = tensor(o.t);
      if (t?.raw_data) t.raw_data = o.delta < 0 ? t.raw_data.subarray(0, Math.max(0, t.raw_data.length + o.delta)) : concat(t.raw_data, new Uint8Array(o.delta));
      break;
    }
    case 'external': {
      const t = tensor(o.t);
      if (!t) break;
      delete t.raw_data;
      delete t.float_data;
      delete t.int64_data;
      t.data_location = 1;
      t.external_data = [{ key: 'location', value: o.location }, { key: 'offset', value: String(o.offset) }];
      if (o.length !== null) t.external_data.push({ key: 'length', value: String(o.length) });
      break;
    }
    case 'dropInitializer':
      if (inits.length) inits.splice(o.t % inits.length, 1);
      break;
    case 'ioType': {
      const list = (g[o.which] ??= []) as { type?: { tensor_type?: { elem_type?: number; shape?: unknown } } }[];
      const v = list[o.k % Math.max(1, list.length)];
      if (!v) break;
      v.type ??= { tensor_type: {} };
      v.type.tensor_type ??= {};
      if (o.elemType !== null) v.type.tensor_type.elem_type = o.elemType;
      if (o.dims !== null) v.type.tensor_type.shape = { dim: o.dims.map((d) => (typeof d === 'number' ? { dim_value: d } : { dim_param: d })) };
      break;
    }
    case 'rename': {
      if (o.which === 'node') {
        const n = node(o.k);
        if (n?.output?.length) n.output[0] = o.value;
      } else if (o.which === 'initializer') {
        const t = tensor(o.k);
        if (t) t.name = o.value;
      } else {
        const list = g[o.which] ?? [];
        const v = list[o.k % Math.max(1, list.length)];
        if (v) v.name = o.value;
      }
      break;
    }
    case 'dropGraphIo': {
      const list = g[o.which] ?? [];
      if (list.length) list.splice(o.k % list.length, 1);
      break;
    }
  }
}

export interface OnnxCase {
  seed: number;
  struct: StructOp[];
  bytes: ByteOp[];
}

export const onnxCaseArb: fc.Arbitrary<OnnxCase> = fc
  .record({
    seed: fc.nat(ONNX_SEEDS.length - 1),
    // Mostly one or two structural edits: enough survive loading to reach build, train and export.
    struct: fc.oneof({ arbitrary: fc.constant<StructOp[]>([]), weight: 1 }, { arbitrary: fc.array(structOpArb, { minLength: 1, maxLength: 2 }), weight: 4 }, { arbitrary: fc.array(structOpArb, { minLength: 3, maxLength: 5 }), weight: 1 }),
    bytes: fc.oneof({ arbitrary: fc.constant<ByteOp[]>([]), weight: 3 }, { arbitrary: fc.array(byteOpArb, { minLength: 1, maxLength: 3 }), weight: 1 }),
  })
  .filter((c) => c.struct.length + c.bytes.length > 0);

export function mutateOnnx(c: OnnxCase): Uint8Array {
  let bytes = readSeed(ONNX_SEEDS[c.seed].file);
  if (c.struct.length) {
    const m = decodePlain<ModelProto>(ModelProtoType, bytes);
    for (const o of c.struct) applyStructOp(m, o);
    bytes = encodePlain(ModelProtoType, m);
  }
  return applyByteOps(bytes, c.bytes);
}

// ---------------------------------------------------------------------------------------------
// The oracle.

export interface FuzzContext {
  root: string;
  sandbox: Sandbox;
  cases: number;
  /** Outcome counts per stage, e.g. "build: ok", "load: refused". */
  stats: Map<string, number>;
  /** Seconds spent per stage. */
  time: Map<string, number>;
}

export function fuzzContext(root: string): FuzzContext {
  mkdirSync(root, { recursive: true });
  return { root, sandbox: new Sandbox(), cases: 0, stats: new Map(), time: new Map() };
}

function count(ctx: FuzzContext, key: string): void {
  ctx.stats.set(key, (ctx.stats.get(key) ?? 0) + 1);
}

/** Line breaks, and control characters that could drive a terminal, have no place in an error line. */
export const CONTROL = /[\x00-\x08\x0a-\x1f\x7f\u2028\u2029]/;

/** The failure message a typed error must have; anything else is a FuzzFailure. */
export function checkTyped(e: unknown, where: string): string {
  if (e instanceof FuzzFailure) throw e;
  if (!(e instanceof LionOnnxError)) {
    const err = e as Error;
    throw new FuzzFailure(`${where}: ${err?.constructor?.name ?? typeof e} escaped instead of a LionOnnxError: ${err?.message ?? String(e)}\n${err?.stack ?? ''}`);
  }
  if (CONTROL.test(e.message)) throw new FuzzFailure(`${where}: ${e.constructor.name} message is not one clean line: ${JSON.stringify(e.message)}`);
  if (e.message.trim() === '') throw new FuzzFailure(`${where}: ${e.constructor.name} with an empty message`);
  return e.message;
}

type Outcome<T> = { ok: true; value: T } | { ok: false; message: string };

/** Runs one in-process stage: a typed, one-line refusal or a value, within HANG_MS. */
export function stage<T>(ctx: FuzzContext, name: string, f: () => T): Outcome<T> {
  const t0 = performance.now();
  let r: Outcome<T>;
  try {
    r = { ok: true, value: f() };
  } catch (e) {
    r = { ok: false, message: checkTyped(e, name) };
  }
  const ms = performance.now() - t0;
  ctx.time.set(name, (ctx.time.get(name) ?? 0) + ms / 1000);
  if (ms > HANG_MS) throw new FuzzFailure(`${name}: took ${(ms / 1000).toFixed(1)} s (limit ${HANG_MS / 1000} s)`);
  count(ctx, `${name}: ${r.ok ? 'ok' : 'refused'}`);
  return r;
}

/** Runs one stage in the sandbox; a death, a timeout or an untyped error is a FuzzFailure. */
export async function sandboxStage(ctx: FuzzContext, name: string, job: SandboxJob): Promise<Outcome<Record<string, unknown>>> {
  const t0 = performance.now();
  const r: SandboxResult = await ctx.sandbox.run(job, HANG_MS + 5_000);
  ctx.time.set(name, (ctx.time.get(name) ?? 0) + (performance.now() - t0) / 1000);
  if (r.status === 'died') throw new FuzzFailure(`${name}: the process died (${r.signal ?? `exit code ${r.exitCode}`}); stderr: ${r.stderr}`);
  if (r.status === 'timeout') throw new FuzzFailure(`${name}: no answer within ${r.ms / 1000} s (a hang)`);
  if (r.status === 'untyped') throw new FuzzFailure(`${name}: ${r.name} escaped instead of a LionOnnxError: ${r.message}\n${r.stack}`);
  count(ctx, `${name}: ${r.status === 'ok' ? 'ok' : 'refused'}`);
  if (r.status === 'ok') return { ok: true, value: r.value };
  if (CONTROL.test(r.message)) throw new FuzzFailure(`${name}: message is not one clean line: ${JSON.stringify(r.message)}`);
  return { ok: false, message: r.message };
}

/** A fresh folder for one case, with the files external-data mutations may name. */
export function caseDir(ctx: FuzzContext): string {
  const dir = join(ctx.root, `case-${ctx.cases++}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'data.bin'), new Uint8Array(4096).map((_, i) => i * 7));
  if (!existsSync(join(ctx.root, 'outside.bin'))) writeFileSync(join(ctx.root, 'outside.bin'), new Uint8Array(4096));
  symlinkSync(join(ctx.root, 'outside.bin'), join(dir, 'link.bin'));
  return dir;
}

/**
 * One ONNX input through inspect, write-back, build, rewrite, train and export. Throws
 * FuzzFailure on a broken contract; returns the furthest stage reached.
 */
export async function runOnnxInput(ctx: FuzzContext, bytes: Uint8Array, seed: OnnxSeed, keep = false): Promise<string> {
  const dir = caseDir(ctx);
  let furthest = 'load';
  try {
    const file = join(dir, 'model.onnx');
    writeFileSync(file, bytes);
    const loaded = stage(ctx, 'load', () => loadModelFromBytes(bytes, { source: 'fuzz.onnx', baseDir: dir }));
    if (loaded.ok) {
      furthest = 'inspect';
      stage(ctx, 'inspect', () => formatReport(inspectModel(loaded.value)));
      stage(ctx, 'inspect-file', () => formatReport(inspectFile(file)));
      const written = stage(ctx, 'write', () => modelToBytes(loaded.value));
      // What lion-onnx wrote, it must read back.
      if (written.ok) {
        const back = stage(ctx, 'reload', () => loadModelFromBytes(written.value, { source: 'written.onnx', baseDir: dir }));
        if (!back.ok) throw new FuzzFailure(`reload: a model lion-onnx wrote cannot be read back: ${back.message}`);
      }
    }
    const built: string[] = [];
    const build = stage(ctx, 'build', () => buildFromFile(file, join(dir, 'built'), { loss: seed.loss }));
    if (build.ok) built.push(join(dir, 'built'));
    const rewrite = stage(ctx, 'rewrite', () => rewriteTrainingModel(file, join(dir, 'rewritten')));
    if (rewrite.ok) built.push(join(dir, 'rewritten'));
    if (built.length) furthest = 'built';
    for (const a of built) {
      // Three steps, two per run: the Loop graph (loop.onnx) and the single-step graph both run.
      const trained = await sandboxStage(ctx, 'train', { kind: 'train', dir: a, steps: 3 });
      if (!trained.ok) continue;
      furthest = 'trained';
      const out = join(a, 'exported.onnx');
      const exported = stage(ctx, 'export', () => exportTrained(a, out, { safetensors: join(a, 'exported.safetensors') }));
      if (exported.ok) {
        furthest = 'exported';
        const back = stage(ctx, 'reload-export', () => loadModel(out));
        if (!back.ok) throw new FuzzFailure(`reload-export: an exported model cannot be read back: ${back.message}`);
      }
    }
    count(ctx, `furthest: ${furthest}`);
    return furthest;
  } finally {
    if (!keep) rmSync(dir, { recursive: true, force: true });
  }
}

export async function runOnnxCase(ctx: FuzzContext, c: OnnxCase): Promise<string> {
  let bytes: Uint8Array;
  try {
    bytes = mutateOnnx(c);
  } catch (e) {
    // A structural mutation the encoder refuses is the harness's limit, not a finding.
    count(ctx, 'mutation: not encodable');
    bytes = applyByteOps(readSeed(ONNX_SEEDS[c.seed].file), c.bytes.length ? c.bytes : [{ op: 'flip', pos: c.struct.length * 7919, bit: 3 }]);
    void e;
  }
  return runOnnxInput(ctx, bytes, ONNX_SEEDS[c.seed]);
}

// ---------------------------------------------------------------------------------------------
// Data files: .npy, safetensors, manifest.json, checkpoint JSON.

/** A JSON document edit: `path` picks one of the document's (container, key) slots in a fixed order. */
export type JsonOp =
  | { op: 'replace'; path: number; value: unknown }
  | { op: 'delete'; path: number }
  | { op: 'rename'; path: number; name: string }
  | { op: 'duplicate'; path: number };

const JSON_VALUES: unknown[] = [-1, 0, 1, 0.5, 1e12, 2 ** 53 + 2, -1e308, '', '..', '../x', '/etc/passwd', 'step.onnx', 'inference.onnx', 'x', 'target', 'lion.lr', 'fc1.weight', 'param', 'state', 'data', 'loss', 'float64', 'int64', 'float16', 'F16', 'I64', 'BOOL', 'two\nlines', null, true, [], {}, [1e12, 1e12], [0], [-1], ['x'], [0, 1e12]];
const jsonOpArb: fc.Arbitrary<JsonOp> = fc.oneof(
  { arbitrary: fc.record({ op: fc.constant('replace' as const), path: fc.nat(), value: fc.oneof({ arbitrary: fc.constantFrom(...JSON_VALUES), weight: 4 }, fc.jsonValue({ maxDepth: 2 })) }), weight: 4 },
  fc.record({ op: fc.constant('delete' as const), path: fc.nat() }),
  fc.record({ op: fc.constant('rename' as const), path: fc.nat(), name: fc.constantFrom('__proto__', 'constructor', '', 'x', 'fc1.weight', '__metadata__', 'name') }),
  fc.record({ op: fc.constant('duplicate' as const), path: fc.nat() }),
);

function slots(doc: unknown): [Record<string, unknown> | unknown[], string | number][] {
  const out: [Record<string, unknown> | unknown[], string | number][] = [];
  const stack: unknown[] = [doc];
  while (stack.length) {
    const v = stack.shift();
    if (Array.isArray(v)) v.forEach((x, i) => (out.push([v, i]), stack.push(x)));
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) out.push([v as Record<string, unknown>, k]), stack.push(x);
  }
  return out;
}

export function applyJsonOps(doc: unknown, ops: JsonOp[]): unknown {
  const root = { doc: structuredClone(doc) };
  for (const o of ops) {
    const all = slots(root);
    if (!all.length) break;
    const [container, key] = all[o.path % all.length];
    if (o.op === 'replace') (container as Record<string, unknown>)[key as string] = structuredClone(o.value);
    else if (o.op === 'delete') {
      if (Array.isArray(container)) container.splice(key as number, 1);
      else delete container[key as string];
    } else if (o.op === 'rename' && !Array.isArray(container)) {
      const v = container[key as string];
      delete container[key as string];
      Object.defineProperty(container, o.name, { value: v, enumerable: true, writable: true, configurable: true });
    } else if (o.op === 'duplicate') {
      if (Array.isArray(container)) container.push(structuredClone(container[key as number]));
      else Object.defineProperty(container, `${String(key)}_copy`, { value: structuredClone(container[key as string]), enumerable: true, writable: true, configurable: true });
    }
  }
  return root.doc;
}

export type NpyHeaderOp =
  | { op: 'descr'; value: string }
  | { op: 'shape'; value: string }
  | { op: 'fortran'; value: string }
  | { op: 'version'; value: number }
  | { op: 'headerLength'; value: number }
  | { op: 'fitBody' };

const npyHeaderOpArb: fc.Arbitrary<NpyHeaderOp> = fc.oneof(
  fc.record({ op: fc.constant('descr' as const), value: fc.constantFrom('<f4', '<f8', '>f4', '|O', '<i8', '<i4', '<U8', '<c8', '|b1', '<f2', '', "'") }),
  {
    arbitrary: fc.record({
      op: fc.constant('shape' as const),
      value: fc.constantFrom('()', '(0,)', '(1000000000000, 4)', '(8, 4, 1)', '(-1, 4)', '(8,)', '(18446744073709551616,)', '(9007199254740993, 4)', '(8, 4)', '(4, 8)', '(1e3, 4)', '(8, 1, 4, 4)', '(2, 2)', '(', '(8L, 4L)'),
    }),
    weight: 3,
  },
  fc.record({ op: fc.constant('fortran' as const), value: fc.constantFrom('True', 'False', '1') }),
  fc.record({ op: fc.constant('version' as const), value: fc.constantFrom(0, 1, 2, 3, 4, 255) }),
  fc.record({ op: fc.constant('headerLength' as const), value: fc.constantFrom(0, 1, 10, 0xffff, 0x7fffffff) }),
  // Resize the data to what the (mutated) header declares, so the file decodes and the wrong
  // shape or type reaches train's checks.
  { arbitrary: fc.constant({ op: 'fitBody' as const }), weight: 3 },
);

/** Rewrites the header of a version-1 .npy written by encodeNpy. */
export function applyNpyHeaderOps(bytes: Uint8Array, ops: NpyHeaderOp[]): Uint8Array {
  if (!ops.length) return bytes;
  const len = bytes[8] | (bytes[9] << 8);
  let header = new TextDecoder('latin1').decode(bytes.subarray(10, 10 + len));
  let body = bytes.subarray(10 + len);
  let version = 1;
  let forcedLength: number | null = null;
  for (const o of ops) {
    if (o.op === 'descr') header = header.replace(/'descr': '[^']*'/, `'descr': '${o.value}'`);
    else if (o.op === 'shape') header = header.replace(/'shape': \([^)]*\)/, `'shape': ${o.value}`);
    else if (o.op === 'fortran') header = header.replace(/'fortran_order': \w+/, `'fortran_order': ${o.value}`);
    else if (o.op === 'version') version = o.value;
    else if (o.op === 'headerLength') forcedLength = o.value;
    else {
      const size = Number(/'descr': '.\w(\d+)'/.exec(header)?.[1] ?? NaN);
      const dims = (/'shape': \(([^)]*)\)/.exec(header)?.[1] ?? 'x').split(',').filter((d) => d.trim() !== '').map(Number);
      const want = dims.reduce((a, b) => a * b, 1) * size;
      if (Number.isSafeInteger(want) && want >= 0 && want <= 1 << 20) body = Uint8Array.from({ length: want }, (_, i) => body[i % Math.max(1, body.length)] ?? 0);
    }
  }
  const h = new TextEncoder().encode(header);
  const wide = version === 2 || version === 3;
  const pre = new Uint8Array(wide ? 12 : 10);
  pre.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]);
  const dv = new DataView(pre.buffer);
  if (wide) dv.setUint32(8, forcedLength ?? h.length, true);
  else dv.setUint16(8, (forcedLength ?? h.length) & 0xffff, true);
  body = body.length > 1 << 20 ? body.subarray(0, 1 << 20) : body;
  return concat(pre, h, body);
}

export type DataCase =
  | { kind: 'npy'; file: number; as: number; header: NpyHeaderOp[]; bytes: ByteOp[] }
  | { kind: 'safetensors'; target: 'state' | 'checkpoint'; json: JsonOp[]; retile: boolean; bytes: ByteOp[] }
  | { kind: 'manifest'; json: JsonOp[]; bytes: ByteOp[] }
  | { kind: 'checkpoint'; json: JsonOp[]; bytes: ByteOp[] };

const someBytes = fc.oneof({ arbitrary: fc.constant([] as ByteOp[]), weight: 3 }, { arbitrary: fc.array(byteOpArb, { minLength: 1, maxLength: 3 }), weight: 2 });
const someJson = fc.array(jsonOpArb, { minLength: 0, maxLength: 3 });

export const dataCaseArb: fc.Arbitrary<DataCase> = fc
  .oneof(
    { arbitrary: fc.record({ kind: fc.constant('npy' as const), file: fc.nat(1), as: fc.nat(1), header: fc.array(npyHeaderOpArb, { maxLength: 3 }), bytes: someBytes }), weight: 3 },
    { arbitrary: fc.record({ kind: fc.constant('safetensors' as const), target: fc.constantFrom('state' as const, 'checkpoint' as const), json: someJson, retile: fc.boolean(), bytes: someBytes }), weight: 3 },
    { arbitrary: fc.record({ kind: fc.constant('manifest' as const), json: someJson, bytes: someBytes }), weight: 3 },
    { arbitrary: fc.record({ kind: fc.constant('checkpoint' as const), json: someJson, bytes: someBytes }), weight: 2 },
  )
  .filter((c) => (c.kind === 'npy' ? c.header.length : c.json.length) + c.bytes.length > 0);

/** The seed artifacts directory for data cases: mlp.onnx built, trained 2 steps (a checkpoint). */
export async function dataTemplate(ctx: FuzzContext): Promise<string> {
  const dir = join(ctx.root, 'template');
  if (existsSync(join(dir, 'checkpoints'))) return dir;
  buildFromFile(join(SEED_DIR, 'mlp.onnx'), dir, { loss: 'cross-entropy' });
  const r = await ctx.sandbox.run({ kind: 'train', dir, data: seedData(), steps: 2 }, 60_000);
  if (r.status !== 'ok') throw new Error(`the data template did not train: ${JSON.stringify(r)}`);
  return dir;
}

function seedData(): Record<string, string> {
  return { x: join(SEED_DIR, 'x4.npy'), target: join(SEED_DIR, 'target3.npy') };
}

function encodeSafetensorsDoc(header: unknown, data: Uint8Array): Uint8Array {
  const h = new TextEncoder().encode(JSON.stringify(header));
  const len = new Uint8Array(8);
  new DataView(len.buffer).setBigUint64(0, BigInt(h.length), true);
  return concat(len, h, data);
}

const ST_SIZES: Record<string, number> = { F64: 8, I64: 8, U64: 8, F32: 4, I32: 4, U32: 4, F16: 2, BF16: 2, I16: 2, U16: 2, I8: 1, U8: 1, BOOL: 1 };

/** Recomputes data_offsets to tile the data in header order, sized by each entry's shape and dtype (so an edited shape or dtype still decodes). */
function retiled(header: unknown, body: Uint8Array): Uint8Array {
  if (!header || typeof header !== 'object' || Array.isArray(header)) return encodeSafetensorsDoc(header, body);
  let offset = 0;
  for (const [name, e] of Object.entries(header as Record<string, { dtype?: unknown; shape?: unknown; data_offsets?: unknown }>)) {
    if (name === '__metadata__' || !e || typeof e !== 'object' || !Array.isArray(e.shape)) continue;
    const n = (e.shape as unknown[]).reduce<number>((a, d) => a * (typeof d === 'number' ? d : NaN), 1) * (ST_SIZES[String(e.dtype)] ?? NaN);
    if (!Number.isSafeInteger(n) || n < 0 || n > 1 << 20) continue;
    e.data_offsets = [offset, offset + n];
    offset += n;
  }
  return encodeSafetensorsDoc(header, Uint8Array.from({ length: offset }, (_, i) => body[i % Math.max(1, body.length)] ?? 0));
}

function splitSafetensors(bytes: Uint8Array): { header: unknown; data: Uint8Array } {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  return { header: JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))), data: bytes.subarray(8 + n) };
}

/** One malformed data file through decode, train (sandbox) and export. */
export async function runDataCase(ctx: FuzzContext, c: DataCase): Promise<string> {
  const template = await dataTemplate(ctx);
  const dir = join(ctx.root, `case-${ctx.cases++}`);
  cpSync(template, dir, { recursive: true });
  let furthest = 'decode';
  try {
    const data = seedData();
    const ckptDir = join(dir, 'checkpoints');
    const ckptJson = newestCheckpoint(ckptDir)!.path;
    if (c.kind === 'npy') {
      const name = (['x', 'target'] as const)[c.as];
      const seedFile = ['x4.npy', 'target3.npy'][c.file];
      const bytes = applyByteOps(applyNpyHeaderOps(readSeed(seedFile), c.header), c.bytes);
      const decoded = stage(ctx, 'npy', () => decodeNpy(bytes, 'fuzz.npy'));
      if (!decoded.ok) return 'decode';
      const file = join(dir, 'fuzz.npy');
      writeFileSync(file, bytes);
      data[name] = file;
    } else if (c.kind === 'safetensors') {
      const path = c.target === 'state' ? join(dir, 'state.safetensors') : ckptJson.replace(/\.json$/, '.safetensors');
      const { header, data: body } = splitSafetensors(readFileSync(path));
      const edited = applyJsonOps(header, c.json);
      const bytes = applyByteOps(c.retile ? retiled(edited, body) : encodeSafetensorsDoc(edited, body), c.bytes);
      writeFileSync(path, bytes);
      const decoded = stage(ctx, 'safetensors', () => decodeSafetensors(bytes, 'fuzz.safetensors'));
      if (!decoded.ok) return 'decode';
    } else {
      const path = c.kind === 'manifest' ? join(dir, 'manifest.json') : ckptJson;
      const doc = JSON.parse(readFileSync(path, 'utf8'));
      const text = new TextEncoder().encode(JSON.stringify(applyJsonOps(doc, c.json), null, 2));
      writeFileSync(path, applyByteOps(text, c.bytes));
      const opened = c.kind === 'manifest' ? stage(ctx, 'manifest', () => openArtifacts(dir)) : stage(ctx, 'checkpoint', () => readCheckpoint(ckptDir));
      if (!opened.ok) return 'decode';
    }
    furthest = 'decoded';
    const exported = stage(ctx, 'export', () => exportTrained(dir, join(dir, 'exported.onnx')));
    if (exported.ok) {
      const back = stage(ctx, 'reload-export', () => loadModel(join(dir, 'exported.onnx')));
      if (!back.ok) throw new FuzzFailure(`reload-export: an exported model cannot be read back: ${back.message}`);
    }
    const resume = c.kind === 'checkpoint' || (c.kind === 'safetensors' && c.target === 'checkpoint');
    const trained = await sandboxStage(ctx, 'train', { kind: 'train', dir, data, steps: resume ? 3 : 2, resume });
    if (trained.ok) furthest = 'trained';
    return furthest;
  } finally {
    count(ctx, `furthest: ${c.kind} ${furthest}`);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Stage outcome counts and time, for the test log. */
export function summary(ctx: FuzzContext): string {
  const stats = [...ctx.stats].sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k} ${v}`);
  const time = [...ctx.time].sort(([, a], [, b]) => b - a).map(([k, v]) => `${k} ${v.toFixed(1)}s`);
  return `${ctx.cases} cases\n  ${stats.join('\n  ')}\n  time: ${time.join(', ')}`;
}

/** Lists the regression fixtures (test/fixtures/fuzz/regressions/<name>/case.json). */
export function regressionCases(root: string): string[] {
  return existsSync(root) ? readdirSync(root).filter((d) => existsSync(join(root, d, 'case.json'))).sort() : [];
}
