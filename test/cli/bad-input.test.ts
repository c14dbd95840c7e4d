/**
 * Bad input through the CLI, as a user meets it: exit code 2, exactly one line on stderr that
 * starts with "error: " and says what is wrong, no stack trace, and nothing written (no --out
 * folder, no temp folder left beside it). `--verbose` adds the stack.
 */
import { describe, expect, it } from 'vitest';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DataType } from '../../src/onnx/data-types.js';
import { saveModel } from '../../src/ir/model-io.js';
import { ModelProtoType, encodePlain } from '../../src/onnx/schema.js';
import { tensorType } from '../../src/ir/value-type.js';
import { REPO, runCli } from '../helpers/cli.js';
import { gradientsAsInputs } from '../helpers/graphs.js';
import { tempDir } from '../helpers/tmp.js';

const root = tempDir();
/** Each case starts a node process; allow for a loaded machine. */
const SLOW = { timeout: 60_000 };
const MLP = join(REPO, 'test/fixtures/torch/mlp/model.onnx');

let n = 0;
/** A fresh folder for one case; returns it and the path for --out inside it. */
function caseDir(): { dir: string; out: string } {
  const dir = join(root, `case${n++}`);
  mkdirSync(dir);
  return { dir, out: join(dir, 'out') };
}

/** A training graph with gradients for w [2, 3] and b [3], as the rewrite command expects. */
function trainingModel() {
  return gradientsAsInputs({ w: { dims: [2, 3], values: [1, 2, 3, 4, 5, 6] }, b: { dims: [3], values: [0, 0, 0] } });
}

/** Runs the CLI and checks the refusal contract; returns the error line. */
function refuse(args: string[], dir: string, out: string): string {
  const before = readdirSync(dir).sort();
  const r = runCli([...args, '--out', out]);
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  expect(r.code, r.stderr).toBe(2);
  expect(lines.length, r.stderr).toBe(1);
  expect(lines[0]).toMatch(/^error: /);
  expect(r.stderr).not.toMatch(/^\s+at /m);
  expect(r.stdout).toBe('');
  expect(existsSync(out)).toBe(false);
  expect(readdirSync(dir).sort()).toEqual(before);
  return lines[0];
}

describe('lion-onnx rewrite refuses bad input cleanly', SLOW, () => {
  it('a valid training graph is accepted (the baseline the refusals differ from)', () => {
    const { dir, out } = caseDir();
    saveModel(trainingModel(), join(dir, 'train.onnx'));
    const r = runCli(['rewrite', join(dir, 'train.onnx'), '--out', out]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(readdirSync(out)).toEqual(expect.arrayContaining(['manifest.json', 'state.safetensors', 'step.onnx']));
    expect(readdirSync(dir).sort()).toEqual(['out', 'train.onnx']);
  });

  it('a truncated .onnx', () => {
    const { dir, out } = caseDir();
    const bytes = readFileSync(MLP);
    writeFileSync(join(dir, 'cut.onnx'), bytes.subarray(0, bytes.length >> 1));
    const line = refuse(['rewrite', join(dir, 'cut.onnx')], dir, out);
    expect(line).toContain(join(dir, 'cut.onnx'));
    expect(line).toMatch(/not a valid ONNX model .*truncated or not ONNX/);
  });

  it('a garbage file', () => {
    const { dir, out } = caseDir();
    writeFileSync(join(dir, 'garbage.onnx'), 'PK\x03\x04 this is a zip file, not a model\n'.repeat(20));
    const line = refuse(['rewrite', join(dir, 'garbage.onnx')], dir, out);
    expect(line).toContain('garbage.onnx');
  });

  it('an inference model: no `_grad` values', () => {
    const { dir, out } = caseDir();
    copyFileSync(MLP, join(dir, 'model.onnx'));
    const line = refuse(['rewrite', join(dir, 'model.onnx')], dir, out);
    expect(line).toMatch(/^error: no gradient values found: .* \(e\.g\. 'fc1\.weight_grad'\); .*--grad-suffix or --grad-map/);
  });

  it('a gradient whose shape differs from its parameter', () => {
    const { dir, out } = caseDir();
    const m = trainingModel();
    // Declare w's gradient as [3, 2] where w is [2, 3].
    m.graph.outputs.find((o) => o.name === 'w_grad')!.type = tensorType(DataType.FLOAT, [3, 2]);
    m.graph.inputs.find((i) => i.name === 'g:w')!.type = tensorType(DataType.FLOAT, [3, 2]);
    saveModel(m, join(dir, 'train.onnx'));
    const line = refuse(['rewrite', join(dir, 'train.onnx')], dir, out);
    expect(line).toMatch(/^error: gradient 'w_grad' has shape \[3, 2\] but parameter 'w' has \[2, 3\]/);
  });

  it('a model that already has a value named <param>.lion_m', () => {
    const { dir, out } = caseDir();
    const m = trainingModel();
    m.graph.inputs.push({ name: 'b.lion_m', type: tensorType(DataType.FLOAT, [3]) });
    saveModel(m, join(dir, 'train.onnx'));
    const line = refuse(['rewrite', join(dir, 'train.onnx')], dir, out);
    expect(line).toMatch(/^error: the graph already has a value or node named 'b\.lion_m', which the [\w ]+ of 'b' needs; rename it/);
  });

  it('a model whose external data lies outside its folder', () => {
    const { dir, out } = caseDir();
    mkdirSync(join(dir, 'model'));
    writeFileSync(join(dir, 'secret.data'), new Uint8Array(24));
    const w = { name: 'w', data_type: DataType.FLOAT, dims: [2, 3], data_location: 1, external_data: [{ key: 'location', value: '../secret.data' }] };
    const bytes = encodePlain(ModelProtoType, { ir_version: 8, opset_import: [{ domain: '', version: 13 }], graph: { name: 'g', initializer: [w], output: [{ name: 'w' }] } });
    writeFileSync(join(dir, 'model', 'm.onnx'), bytes);
    const line = refuse(['rewrite', join(dir, 'model', 'm.onnx')], dir, out);
    expect(line).toMatch(/external data of tensor 'w': location '\.\.\/secret\.data' leaves the model's folder/);
  });

  it('a --grad-map file that is not JSON', () => {
    const { dir, out } = caseDir();
    saveModel(trainingModel(), join(dir, 'train.onnx'));
    writeFileSync(join(dir, 'map.json'), "{ w: 'w_grad' }");
    const line = refuse(['rewrite', join(dir, 'train.onnx'), '--grad-map', join(dir, 'map.json')], dir, out);
    expect(line).toMatch(/^error: --grad-map .*map\.json: not valid JSON/);
  });

  it('a --grad-map naming a value the graph does not compute', () => {
    const { dir, out } = caseDir();
    saveModel(trainingModel(), join(dir, 'train.onnx'));
    writeFileSync(join(dir, 'map.json'), JSON.stringify({ w: 'no_such_value' }));
    const line = refuse(['rewrite', join(dir, 'train.onnx'), '--grad-map', join(dir, 'map.json')], dir, out);
    expect(line).toMatch(/maps 'w' to 'no_such_value', but no node computes a value of that name/);
  });

  it('a model with fields this build does not know (writing would drop them)', () => {
    const { dir, out } = caseDir();
    saveModel(trainingModel(), join(dir, 'train.onnx'));
    // Field #99, varint 1, appended to ModelProto: tag 99 << 3 = 792 = 0x98 0x06.
    writeFileSync(join(dir, 'train.onnx'), Buffer.concat([readFileSync(join(dir, 'train.onnx')), Buffer.from([0x98, 0x06, 0x01])]));
    const line = refuse(['rewrite', join(dir, 'train.onnx')], dir, out);
    expect(line).toMatch(/has fields this version of lion-onnx does not know .*: ModelProto field #99; writing would drop them, so nothing was written/);
  });

  it('a model file that does not exist', () => {
    const { dir, out } = caseDir();
    const line = refuse(['rewrite', join(dir, 'missing.onnx')], dir, out);
    expect(line).toMatch(/missing\.onnx: cannot read \(ENOENT\)/);
  });

  it('--verbose prints the same error line and then the stack', () => {
    const { dir, out } = caseDir();
    const bytes = readFileSync(MLP);
    writeFileSync(join(dir, 'cut.onnx'), bytes.subarray(0, bytes.length >> 1));
    const r = runCli(['rewrite', join(dir, 'cut.onnx'), '--out', out, '--verbose']);
    expect(r.code).toBe(2);
    const lines = r.stderr.split('\n');
    expect(lines[0]).toMatch(/^error: .*cut\.onnx: not a valid ONNX model/);
    expect(r.stderr).toMatch(/ModelFormatError/);
    expect(lines.filter((l) => /^\s+at /.test(l)).length).toBeGreaterThan(0);
    expect(existsSync(out)).toBe(false);
  });
});

describe('lion-onnx build refuses bad input cleanly', SLOW, () => {
  it('a truncated .onnx', () => {
    const { dir, out } = caseDir();
    const bytes = readFileSync(MLP);
    writeFileSync(join(dir, 'cut.onnx'), bytes.subarray(0, bytes.length >> 1));
    const line = refuse(['build', join(dir, 'cut.onnx'), '--loss', 'mse'], dir, out);
    expect(line).toMatch(/cut\.onnx: not a valid ONNX model/);
  });
});

describe('lion-onnx inspect refuses bad input cleanly', SLOW, () => {
  it('a truncated .onnx: exit 2, one line, no stack', () => {
    const { dir } = caseDir();
    const bytes = readFileSync(MLP);
    writeFileSync(join(dir, 'cut.onnx'), bytes.subarray(0, bytes.length - 100));
    const r = runCli(['inspect', join(dir, 'cut.onnx')]);
    expect(r.code).toBe(2);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^error: .*cut\.onnx: not a valid ONNX model/);
  });
});
