/**
 * Lossless rewrites, through the CLI: a model carrying every kind of field a user or exporter
 * writes (doc strings at every level, metadata_props on the model, graph, nodes, values and
 * tensors, value_info, node and graph names, producer, domain, model version, an extra opset
 * import, a model-local function, type denotations, attribute doc strings) comes out of
 *  - build: inference.onnx identical field for field; step.onnx keeps every user node (name,
 *    op, attributes, doc string, metadata) and the model's own fields;
 *  - export: identical but for the trained values of the parameters;
 *  - rewrite: inference.onnx identical to the training graph; step.onnx keeps its nodes.
 * Fields from a newer ONNX than this build knows are never dropped silently: build, rewrite,
 * export and train refuse with one line and write nothing.
 */
import { describe, expect, it } from 'vitest';
import { cpSync, existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import protobuf from 'protobufjs';
import { DataType } from '../../src/onnx/data-types.js';
import { decodeModelProto } from '../../src/ir/model-io.js';
import { ModelProtoType, encodePlain, type ModelProto, type NodeProto, type TensorProto } from '../../src/onnx/schema.js';
import { firstDifference } from '../onnx/roundtrip.js';
import { SEED_DIR } from '../helpers/fuzz-seeds.js';
import { runCli } from '../helpers/cli.js';
import { normals, rng } from '../helpers/graphs.js';
import { tempDir } from '../helpers/tmp.js';

const dir = tempDir('lion-onnx-lossless-');
const meta = (k: string) => [{ key: `${k}.note`, value: `about ${k}` }];
const F = DataType.FLOAT;
const r = rng(5);
const tensor = (name: string, dims: number[], form: 'raw' | 'typed'): TensorProto => {
  const v = normals(r, dims.reduce((a, b) => a * b, 1)).map((x) => Math.fround(x * 0.3));
  return { name, dims, data_type: F, doc_string: `the ${name} tensor`, metadata_props: meta(name), ...(form === 'raw' ? { raw_data: new Uint8Array(Float32Array.from(v).buffer) } : { float_data: v }) };
};
const type = (dims: (number | string)[], denotation?: string) => ({
  tensor_type: { elem_type: F, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dim_value: d } : { dim_param: d, denotation: 'DATA_BATCH' })) } },
  ...(denotation ? { denotation } : {}),
});
const node = (op: string, input: string[], output: string[], name: string, attribute: NodeProto['attribute'] = []): NodeProto => ({
  op_type: op,
  input,
  output,
  name,
  doc_string: `node ${name}, as exported`,
  metadata_props: meta(name),
  attribute,
});

/** The rich inference model: x [batch, 4] -> Gemm -> Relu -> Gemm -> logits [batch, 3]. */
function richModel(): ModelProto {
  return {
    ir_version: 10,
    producer_name: 'rich-exporter',
    producer_version: '9.9.9',
    domain: 'org.example.models',
    model_version: 42,
    doc_string: 'A model with every field filled in.',
    metadata_props: [
      { key: 'license', value: 'Apache-2.0' },
      { key: 'author', value: 'fuzz team' },
    ],
    opset_import: [
      { domain: '', version: 17 },
      { domain: 'com.example', version: 1 },
    ],
    functions: [{ name: 'Unused', domain: 'com.example', input: ['a'], output: ['b'], node: [{ op_type: 'Identity', input: ['a'], output: ['b'] }], opset_import: [{ domain: '', version: 17 }], doc_string: 'a model-local function' }],
    graph: {
      name: 'rich_graph',
      doc_string: 'the graph',
      metadata_props: meta('graph'),
      input: [{ name: 'x', type: type(['batch', 4], 'TENSOR'), doc_string: 'features', metadata_props: meta('x') }],
      output: [{ name: 'logits', type: type(['batch', 3]), doc_string: 'class scores' }],
      value_info: [{ name: 'h', type: type(['batch', 8]), doc_string: 'hidden activations', metadata_props: meta('h') }],
      initializer: [tensor('fc1.weight', [8, 4], 'raw'), tensor('fc1.bias', [8], 'typed'), tensor('fc2.weight', [3, 8], 'raw'), tensor('fc2.bias', [3], 'raw')],
      node: [
        node('Gemm', ['x', 'fc1.weight', 'fc1.bias'], ['h0'], 'encoder/fc1', [{ name: 'transB', type: 2, i: 1, doc_string: 'weights are [out, in]' }, { name: 'alpha', type: 1, f: 1 }]),
        node('Relu', ['h0'], ['h'], 'encoder/act'),
        node('Gemm', ['h', 'fc2.weight', 'fc2.bias'], ['logits'], 'head/fc2', [{ name: 'transB', type: 2, i: 1 }]),
      ],
    },
  };
}

const write = (name: string, m: ModelProto) => {
  const path = join(dir, name);
  writeFileSync(path, encodePlain(ModelProtoType, m));
  return path;
};
const decode = (path: string) => decodeModelProto(readFileSync(path), path);
const data = ['--data', `x=${join(SEED_DIR, 'x4.npy')}`, '--data', `target=${join(SEED_DIR, 'target3.npy')}`];

function expectUserNodesKept(step: ModelProto, original: ModelProto): void {
  const byName = new Map((step.graph!.node ?? []).map((n) => [n.name, n]));
  for (const n of original.graph!.node!) {
    const kept = byName.get(n.name);
    expect(kept, `node ${n.name}`).toBeDefined();
    expect(firstDifference(n, kept), `node ${n.name}`).toBeNull();
  }
  for (const k of ['producer_name', 'producer_version', 'domain', 'model_version', 'doc_string', 'metadata_props', 'functions'] as const)
    expect(firstDifference(original[k], step[k]), k).toBeNull();
  for (const o of original.opset_import!.filter((x) => x.domain)) expect(step.opset_import).toContainEqual(o);
  expect(step.graph!.name).toBe(original.graph!.name);
  expect(step.graph!.doc_string).toBe(original.graph!.doc_string);
  expect(step.graph!.metadata_props).toEqual(original.graph!.metadata_props);
  expect(step.graph!.value_info!.find((v) => v.name === 'h')).toEqual(original.graph!.value_info![0]);
}

describe('build, export and rewrite keep what the user wrote', () => {
  const original = richModel();
  const modelPath = write('rich.onnx', original);
  const out = join(dir, 'built');

  it('build: inference.onnx is the model, field for field; step.onnx keeps the user nodes and model fields', () => {
    const b = runCli(['build', modelPath, '--loss', 'cross-entropy', '--out', out]);
    expect(b.code, b.stderr).toBe(0);
    expect(firstDifference(decode(modelPath), decode(join(out, 'inference.onnx')))).toBeNull();
    expect(Buffer.compare(readFileSync(modelPath), readFileSync(join(out, 'inference.onnx')))).toBe(0);
    expectUserNodesKept(decode(join(out, 'step.onnx')), decode(modelPath));
    expectUserNodesKept(decode(join(out, 'eval.onnx')), decode(modelPath));
  });

  it('export after training: everything but the parameters\u2019 values is identical', () => {
    const t = runCli(['train', out, ...data, '--steps', '3', '--batch-size', '4', '--lr', '1e-2']);
    expect(t.code, t.stderr).toBe(0);
    const exported = join(dir, 'exported.onnx');
    const e = runCli(['export', out, '-o', exported]);
    expect(e.code, e.stderr).toBe(0);
    const got = decode(exported);
    const want = decode(modelPath);
    // Values changed (trained) and typed float_data is written as raw_data; the model's
    // metadata gains exactly lion-onnx's export mark (after the user's own); nothing else differs.
    const mark = got.metadata_props!.at(-1)!;
    expect(mark.key).toBe('lion-onnx.export');
    expect(JSON.parse(mark.value!)).toMatchObject({ run: 'run-0001', step: 3 });
    got.metadata_props = got.metadata_props!.slice(0, -1);
    for (const m of [got, want])
      for (const t of m.graph!.initializer!) {
        expect(t.raw_data ?? t.float_data, t.name).toBeDefined();
        delete t.raw_data;
        delete t.float_data;
      }
    expect(firstDifference(want, got)).toBeNull();
    const trained = decode(exported).graph!.initializer!.find((t) => t.name === 'fc1.weight')!;
    expect(Buffer.compare(Buffer.from(trained.raw_data!), Buffer.from(original.graph!.initializer![0].raw_data!))).not.toBe(0);
  });

  it('rewrite: inference.onnx is the training graph as given; step.onnx keeps its nodes', () => {
    const training = richModel();
    const g = training.graph!;
    // Gradients fed as inputs, named as ONNX Runtime's training graphs name them.
    for (const t of g.initializer!) {
      g.input!.push({ name: `g:${t.name}`, type: type(t.dims as number[]), doc_string: `gradient of ${t.name}` });
      g.node!.push(node('Identity', [`g:${t.name}`], [`${t.name}_grad`], `grads/${t.name}`));
      g.output!.push({ name: `${t.name}_grad`, type: type(t.dims as number[]) });
    }
    const path = write('rich-training.onnx', training);
    const rw = join(dir, 'rewritten');
    const r2 = runCli(['rewrite', path, '--out', rw]);
    expect(r2.code, r2.stderr).toBe(0);
    expect(Buffer.compare(readFileSync(path), readFileSync(join(rw, 'inference.onnx')))).toBe(0);
    const step = decode(join(rw, 'step.onnx'));
    const given = decode(path);
    expectUserNodesKept(step, { ...given, graph: { ...given.graph!, node: given.graph!.node!.filter((x) => !x.name!.startsWith('grads/')) } });
  });
});

describe('fields from a newer ONNX are kept or refused, never dropped', () => {
  /** The rich model with field #99 (unknown to this build) appended to its first node. */
  function withUnknownField(m: ModelProto): Uint8Array {
    const g = m.graph!;
    const [first, ...rest] = g.node!;
    const nodeType = ModelProtoType.root.lookupType('onnx.NodeProto');
    const graphType = ModelProtoType.root.lookupType('onnx.GraphProto');
    const nodeBytes = protobuf.Writer.create().bytes(nodeType.encode(nodeType.fromObject(first)).finish()).finish();
    const futureNode = new Uint8Array([...nodeBytes.subarray(nodeBytes[0] < 128 ? 1 : 2), ...protobuf.Writer.create().uint32((99 << 3) | 2).string('from ONNX 2.0').finish()]);
    const graphRest = encodePlain(graphType, { ...g, node: rest });
    const graph = new Uint8Array([...protobuf.Writer.create().uint32((1 << 3) | 2).bytes(futureNode).finish(), ...graphRest]);
    const model = encodePlain(ModelProtoType, { ...m, graph: undefined });
    return new Uint8Array([...model, ...protobuf.Writer.create().uint32((7 << 3) | 2).bytes(graph).finish()]);
  }
  const refusal = /has fields this version of lion-onnx does not know \(IR version 10; this build knows up to \d+\): ModelProto\.graph\.node field #99; writing would drop them, so nothing was written/;

  function expectRefused(args: string[], cwd: string): void {
    const r = runCli(args, { cwd });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/^error: [^\n]*\n$/);
    expect(r.stderr).toMatch(refusal);
  }

  it('the model still loads and inspects (the field is only unknown, not harmful)', () => {
    const path = join(dir, 'future.onnx');
    writeFileSync(path, withUnknownField(richModel()));
    const r = runCli(['inspect', path]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('produced by rich-exporter 9.9.9');
  });

  it('build, train (building on the fly) and rewrite exit 2 with one line and write nothing', () => {
    const work = tempDir('lion-onnx-future-');
    writeFileSync(join(work, 'future.onnx'), withUnknownField(richModel()));
    expectRefused(['build', 'future.onnx', '--loss', 'cross-entropy', '--out', 'out'], work);
    expectRefused(['train', 'future.onnx', '--loss', 'cross-entropy', ...data, '--steps', '1'], work);
    const training = richModel();
    training.graph!.node!.push(node('Identity', ['fc1.weight'], ['fc1.weight_grad'], 'grad'));
    training.graph!.output!.push({ name: 'fc1.weight_grad' });
    writeFileSync(join(work, 'future-training.onnx'), withUnknownField(training));
    expectRefused(['rewrite', 'future-training.onnx', '--out', 'out'], work);
    expect(readdirSync(work).sort(), JSON.stringify(readdirSync(work, { recursive: true }))).toEqual(['future-training.onnx', 'future.onnx']);
  });

  it('export of an artifacts directory whose inference.onnx has one: exit 2, no output file', () => {
    const work = tempDir('lion-onnx-future-export-');
    cpSync(join(dir, 'built'), join(work, 'built'), { recursive: true });
    writeFileSync(join(work, 'built', 'inference.onnx'), withUnknownField(richModel()));
    const r = runCli(['export', join(work, 'built'), '-o', join(work, 'trained.onnx')]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/^error: [^\n]*\n$/);
    expect(r.stderr).toMatch(/ModelProto\.graph\.node field #99; writing would drop them, so nothing was written/);
    expect(existsSync(join(work, 'trained.onnx'))).toBe(false);
    expect(readdirSync(work).filter((f) => f.startsWith('.') || f.includes('trained'))).toEqual([]);
  });
});
