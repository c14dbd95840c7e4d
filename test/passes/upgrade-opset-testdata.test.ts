/**
 * upgrade-opset against ONNX's own node tests (Debian's libonnx-testdata: node, simple and the
 * pytorch-* folders): every test model that imports opset 7–12, and every one at 13–15 where the
 * upgrade rewrites a node, is run in onnxruntime-node as it is and after the upgrade, on its
 * test_data_set_0 inputs; the outputs must agree (floats within 1e-5 relative, the rest exactly).
 * Models onnxruntime cannot run as they are are skipped, with the reason counted; models the
 * upgrade refuses must be exactly the list below (each refusal is a one-line GraphError).
 */
import { describe, expect, it } from 'vitest';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { DataType } from '../../src/onnx/data-types.js';
import { loadModelFromBytes } from '../../src/ir/model-io.js';
import { allGraphs, defaultOpset, type Model } from '../../src/ir/graph.js';
import { decodePlain, TensorProtoType, type TensorProto } from '../../src/onnx/schema.js';
import { tensorFromProto } from '../../src/onnx/tensor.js';
import { toOrt } from '../../src/runtime/ort-tensor.js';
import { upgradeOpset } from '../../src/passes/import/upgrade-opset.js';
import { GraphError } from '../../src/errors.js';
import { compareRuns, session } from '../helpers/same-outputs.js';

const ROOTS = ['node', 'simple', 'pytorch-converted', 'pytorch-operator'].map((d) => `/usr/share/libonnx-testdata/data/${d}`);

/** Node tests the upgrade refuses on purpose, with the reason's gist. */
const REFUSED: Record<string, RegExp> = {
  test_resize_downsample_sizes_nearest_tf_half_pixel_for_nn: /'tf_half_pixel_for_nn' was removed at opset 13/,
};

const available = ROOTS.every(existsSync);
if (!available)
  console.warn(`SKIPPED: ${ROOTS.join(', ')} not found; install Debian's libonnx-testdata (apt-get install libonnx-testdata) to run upgrade-opset against ONNX's node tests`);

/** The nodes' ops, wiring and attribute names, as a string. */
const nodesOf = (m: Model) => JSON.stringify([...allGraphs(m.graph)].map((g) => g.nodes.map((n) => [n.opType, n.inputs, n.outputs, n.attributes.map((a) => a.name)])));

function readPb(file: string): ort.Tensor {
  const proto = decodePlain<TensorProto>(TensorProtoType, readFileSync(file));
  const t = tensorFromProto(proto, null, file);
  if (t.dataType === DataType.STRING) return new ort.Tensor('string', (t.data as Uint8Array[]).map((b) => new TextDecoder().decode(b)), t.dims);
  return toOrt(t);
}

describe.skipIf(!available)("upgrade-opset on ONNX's node tests at opset 7–15", () => {
  it('gives the same outputs as the original in onnxruntime-node', { timeout: 300_000 }, async () => {
    let checked = 0;
    const skipped = new Map<string, string[]>();
    const skip = (why: string, test: string) => skipped.set(why, [...(skipped.get(why) ?? []), test]);
    const refused: Record<string, string> = {};
    const byOpset: Record<number, number> = {};
    const failures: string[] = [];
    for (const root of ROOTS)
      for (const test of readdirSync(root).sort()) {
        const dir = join(root, test);
        const file = join(dir, 'model.onnx');
        if (!existsSync(file)) continue;
        const bytes = readFileSync(file);
        const model = loadModelFromBytes(bytes, { source: file });
        const opset = defaultOpset(model);
        if (opset < 7 || opset > 15) continue;
        let upgraded;
        try {
          upgraded = upgradeOpset(model);
          if (opset >= 13 && nodesOf(upgraded) === nodesOf(model)) continue;
        } catch (e) {
          if (!(e instanceof GraphError)) throw e;
          refused[test] = e.message;
          continue;
        }
        const data = join(dir, 'test_data_set_0');
        if (!existsSync(data)) {
          skip('no test_data_set_0', test);
          continue;
        }
        try {
          await session(bytes);
        } catch (e) {
          skip(`onnxruntime-node does not load the original (${(e as Error).message.split('\n')[0].slice(0, 100)})`, test);
          continue;
        }
        const dataInputs = model.graph.inputs.filter((i) => !model.graph.initializer(i.name));
        if (dataInputs.some((i) => !i.type?.tensor_type)) {
          skip('inputs that are not tensors (sequences, optionals)', test);
          continue;
        }
        const names = dataInputs.map((i) => i.name);
        const feeds: Record<string, ort.Tensor> = {};
        let k = 0;
        for (const name of names) {
          const pb = join(data, `input_${k++}.pb`);
          if (existsSync(pb)) feeds[name] = readPb(pb);
        }
        try {
          const { difference } = await compareRuns(bytes, upgraded, feeds);
          if (difference) failures.push(`${test}: ${difference}`);
          else {
            checked++;
            byOpset[opset] = (byOpset[opset] ?? 0) + 1;
          }
        } catch (e) {
          const msg = (e as Error).message.split('\n')[0];
          // The original failing to run on its own inputs is onnxruntime's matter, not the upgrade's.
          try {
            await (await session(bytes)).run(feeds);
          } catch {
            skip('onnxruntime-node does not run the original on its inputs', test);
            continue;
          }
          failures.push(`${test}: the upgraded model fails: ${msg}`);
        }
      }
    console.log(`upgrade-opset on libonnx-testdata: ${checked} checked, ${Object.keys(refused).length} refused, ${[...skipped.values()].reduce((s, l) => s + l.length, 0)} skipped; checked by opset ${JSON.stringify(byOpset)}`);
    for (const [why, tests] of skipped) console.log(`  skipped (${tests.length}): ${why}: ${tests.join(' ')}`);
    for (const [test, why] of Object.entries(refused)) console.log(`  refused ${test}: ${why}`);
    expect(failures, failures.join('\n')).toEqual([]);
    expect(Object.keys(refused).sort()).toEqual(Object.keys(REFUSED).sort());
    for (const [test, re] of Object.entries(REFUSED)) expect(refused[test]).toMatch(re);
    expect(checked).toBeGreaterThan(150);
  });
});
