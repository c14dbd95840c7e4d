/**
 * Fields this build does not know (written by a newer ONNX) are found at any depth; a model
 * holding any loads, but writing it is refused by name, since protobufjs would drop them.
 * Bytes that are not an ONNX model fail with one ModelFormatError line.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import protobuf from 'protobufjs';
import { LionOnnxError, ModelFormatError } from '../../src/errors.js';
import { DataType } from '../../src/onnx/data-types.js';
import { loadModel, loadModelFromBytes, modelToBytes, saveModel } from '../../src/ir/model-io.js';
import { GraphProtoType, ModelProtoType, encodePlain, type GraphProto, type ModelProto, type NodeProto } from '../../src/onnx/schema.js';
import { AttrType, Graph, type Model } from '../../src/ir/graph.js';
import { REPO } from '../helpers/cli.js';
import { rng } from '../helpers/graphs.js';
import { tempDir } from '../helpers/tmp.js';

const dir = tempDir();
const NodeProtoType = ModelProtoType.root.lookupType('onnx.NodeProto');

const concat = (...parts: Uint8Array[]): Uint8Array => new Uint8Array(Buffer.concat(parts));

/** Field `id` as a length-delimited field holding `payload`. */
const lengthDelimited = (id: number, payload: Uint8Array) => protobuf.Writer.create().uint32((id << 3) | 2).bytes(payload).finish();
/** Field `id` as a varint. */
const varint = (id: number, v: number) => protobuf.Writer.create().uint32(id << 3).uint64(v).finish();

const header: ModelProto = { ir_version: 8, opset_import: [{ domain: '', version: 13 }], producer_name: 'test' };
const io = (name: string) => ({ name, type: { tensor_type: { elem_type: DataType.FLOAT, shape: { dim: [{ dim_value: 2 }] } } } });
const relu = (i: string, o: string): NodeProto => ({ op_type: 'Relu', input: [i], output: [o], name: `relu_${o}` });

/** A graph's bytes with `nodeBytes` as its node entries (an encoded message may be split anywhere along fields). */
function graphBytes(nodeBytes: Uint8Array[], rest: GraphProto): Uint8Array {
  return concat(...nodeBytes.map((b) => lengthDelimited(1, b)), encodePlain(GraphProtoType, rest));
}

function modelBytes(graph: Uint8Array): Uint8Array {
  return concat(encodePlain(ModelProtoType, header), lengthDelimited(7, graph));
}

/** Relu(x) -> y whose NodeProto carries field #42 (a string), which onnx.proto does not define. */
function nodeWithUnknownField(): Uint8Array {
  return concat(encodePlain(NodeProtoType, relu('x', 'y')), lengthDelimited(42, new TextEncoder().encode('from the future')));
}

function expectRefusedToWrite(m: Model, field: RegExp): void {
  let err: Error | undefined;
  try {
    modelToBytes(m);
  } catch (e) {
    err = e as Error;
  }
  expect(err).toBeInstanceOf(ModelFormatError);
  expect(err!.message).toMatch(field);
  expect(err!.message).toMatch(/nothing was written/);
  expect(err!.message).not.toContain('\n');
  const out = join(dir, `refused-${Math.random().toString(36).slice(2)}`);
  expect(() => saveModel(m, `${out}.onnx`, { externalData: 'all', threshold: 0 })).toThrow(field);
  expect(readdirSync(dir).filter((f) => f.startsWith(out.split('/').pop()!))).toEqual([]);
}

describe('unknown fields', () => {
  it('a model without unknown fields has none and writes back (the baseline)', () => {
    const bytes = modelBytes(graphBytes([encodePlain(NodeProtoType, relu('x', 'y'))], { name: 'g', input: [io('x')], output: [io('y')] }));
    const m = loadModelFromBytes(bytes);
    expect(m.unknownFields).toBeUndefined();
    expect(loadModelFromBytes(modelToBytes(m)).graph.nodes[0].opType).toBe('Relu');
  });

  it('a varint field #99 on ModelProto is listed, and writing is refused naming it', () => {
    const good = modelBytes(graphBytes([encodePlain(NodeProtoType, relu('x', 'y'))], { name: 'g', input: [io('x')], output: [io('y')] }));
    const m = loadModelFromBytes(concat(good, varint(99, 123456)), { source: 'future.onnx' });
    expect(m.unknownFields).toEqual(['ModelProto field #99']);
    expect(m.graph.nodes.map((nd) => nd.opType)).toEqual(['Relu']);
    expectRefusedToWrite(m, /^future\.onnx has fields this version of lion-onnx does not know \(IR version 8; this build knows up to 14\): ModelProto field #99;/);
  });

  it('an unknown field inside a NodeProto nested in the graph is found by path', () => {
    const bytes = modelBytes(graphBytes([nodeWithUnknownField()], { name: 'g', input: [io('x')], output: [io('y')] }));
    const m = loadModelFromBytes(bytes);
    expect(m.unknownFields).toEqual(['ModelProto.graph.node field #42']);
    // The known fields of that node decode as usual.
    expect(m.graph.nodes[0]).toMatchObject({ opType: 'Relu', inputs: ['x'], outputs: ['y'], name: 'relu_y' });
    expectRefusedToWrite(m, /ModelProto\.graph\.node field #42/);
  });

  it("an unknown field in a node of an If's then_branch is found two graphs down", () => {
    const branch = graphBytes([nodeWithUnknownField()], { name: 'then', output: [io('y')] });
    const elseBranch = encodePlain(GraphProtoType, { name: 'else', node: [relu('x', 'y2')], output: [io('y2')] });
    // AttributeProto: name (1), g (6), type (20) = GRAPH.
    const attr = (name: string, g: Uint8Array) =>
      concat(protobuf.Writer.create().uint32((1 << 3) | 2).string(name).finish(), lengthDelimited(6, g), varint(20, AttrType.GRAPH));
    const ifNode = concat(encodePlain(NodeProtoType, { op_type: 'If', input: ['cond'], output: ['out'] }), lengthDelimited(5, attr('then_branch', branch)), lengthDelimited(5, attr('else_branch', elseBranch)));
    const bytes = modelBytes(graphBytes([ifNode], { name: 'g', input: [io('x'), { name: 'cond', type: { tensor_type: { elem_type: DataType.BOOL, shape: { dim: [] } } } }], output: [io('out')] }));
    const m = loadModelFromBytes(bytes);
    expect(m.unknownFields).toEqual(['ModelProto.graph.node.attribute.g.node field #42']);
    const then = m.graph.nodes[0].attributes.find((a) => a.name === 'then_branch')!.value as Graph;
    expect(then.nodes[0].opType).toBe('Relu');
    expectRefusedToWrite(m, /ModelProto\.graph\.node\.attribute\.g\.node field #42/);
  });

  it('several unknown fields are all listed', () => {
    const bytes = modelBytes(graphBytes([nodeWithUnknownField()], { name: 'g', input: [io('x')], output: [io('y')] }));
    const m = loadModelFromBytes(concat(bytes, varint(99, 1), varint(100, 2)));
    expect(m.unknownFields).toEqual(['ModelProto.graph.node field #42', 'ModelProto field #99', 'ModelProto field #100']);
  });
});

describe('bytes that are not an ONNX model', () => {
  function refusal(bytes: Uint8Array, source: string): Error {
    try {
      loadModelFromBytes(bytes, { source });
    } catch (e) {
      return e as Error;
    }
    throw new Error(`${source} loaded, but it should have been refused`);
  }

  const fixture = readFileSync(join(REPO, 'test/fixtures/torch/mlp/model.onnx'));

  it('the fixture itself loads (so the refusals below are about the damage)', () => {
    expect(loadModel(join(REPO, 'test/fixtures/torch/mlp/model.onnx')).graph.nodes.length).toBeGreaterThan(0);
  });

  const cases: [string, Uint8Array][] = [
    ['the first half of a valid model', fixture.subarray(0, fixture.length >> 1)],
    ['a valid model minus its last byte', fixture.subarray(0, fixture.length - 1)],
    ['an empty file', new Uint8Array(0)],
    ['text', new TextEncoder().encode('this is not an onnx model\n')],
    ['1000 random bytes', Uint8Array.from({ length: 1000 }, ((r) => () => Math.floor(r() * 256))(rng(7)))],
    ['a JSON file', new TextEncoder().encode(JSON.stringify({ graph: { node: [] } }))],
  ];
  for (const [what, bytes] of cases) {
    it(`${what}: ModelFormatError, one line naming the source`, () => {
      const err = refusal(bytes, 'bad.onnx');
      expect(err).toBeInstanceOf(ModelFormatError);
      expect(err.message.startsWith('bad.onnx: ')).toBe(true);
      expect(err.message).not.toContain('\n');
    });
  }

  it('every truncation of the fixture is refused with a LionOnnxError, never a crash', () => {
    const escaped: string[] = [];
    for (let len = 1; len < fixture.length; len += 7) {
      try {
        loadModelFromBytes(fixture.subarray(0, len), { source: 'cut.onnx' });
        escaped.push(`${len}: loaded`);
      } catch (e) {
        if (!(e instanceof LionOnnxError) || e.message.includes('\n')) escaped.push(`${len}: ${String(e)}`);
      }
    }
    expect(escaped).toEqual([]);
  });
});
