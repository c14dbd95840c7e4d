/**
 * Pass tests as golden fixtures (test/fixtures/passes/<case>/: case.json, expected.json; see its
 * README): each case runs its pipeline up to one pass and compares a summary of that pass's
 * result with the fixture; `again` cases run the pass on its own output and require that it
 * changes nothing. UPDATE_GOLDEN=1 regenerates the fixtures.
 */
import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadModel } from '../../src/ir/model-io.js';
import { allGraphs, defaultOpset, type Model } from '../../src/ir/graph.js';
import { formatShape, shapeOf } from '../../src/ir/value-type.js';
import { dataTypeName } from '../../src/onnx/data-types.js';
import { BUILD_PASSES, REWRITE_PASSES, runBuild, runRewrite, type PassStep } from '../../src/passes/pipeline.js';
import { readInitWeights } from '../../src/api/init-weights.js';
import { extractInferencePass } from '../../src/passes/export/extract-inference.js';
import { runPass } from '../../src/passes/pass.js';
import { REPO } from '../helpers/cli.js';

const ROOT = join(REPO, 'test/fixtures/passes');
const UPDATE = process.env.UPDATE_GOLDEN === '1';

interface Case {
  what: string;
  model: string;
  pipeline: 'build' | 'rewrite' | 'export';
  pass: string;
  options: Record<string, unknown>;
  again?: boolean;
}

const io = (v: { name: string; type?: Parameters<typeof shapeOf>[0] }) => `${v.name}: ${dataTypeName(v.type?.tensor_type?.elem_type ?? 0)} ${formatShape(shapeOf(v.type))}`;

/** What a pass made, as plain data that reads well in a diff (paths relative to the checkout, which may be anywhere). */
function summarize(m: Model, modified: boolean) {
  const ops: Record<string, number> = {};
  let subgraphs = 0;
  for (const g of allGraphs(m.graph)) {
    if (g !== m.graph) subgraphs++;
    for (const n of g.nodes) ops[n.opType] = (ops[n.opType] ?? 0) + 1;
  }
  const step = m.program?.step;
  return {
    modified,
    opset: defaultOpset(m),
    inputs: m.graph.inputs.map(io),
    outputs: m.graph.outputs.map(io),
    initializers: m.graph.initializers.map((t) => `${t.name}: ${dataTypeName(t.dataType)} [${t.dims.join(', ')}]`),
    ops: Object.fromEntries(Object.entries(ops).sort(([a], [b]) => a.localeCompare(b))),
    subgraphs,
    program: {
      origins: m.program?.origins?.map((o) => `${o.name}: ${o.source}${o.from ? ` from ${o.from}` : ''}${o.torch ? ` torch ${o.torch.name}${o.torch.transposed ? ' (transposed)' : ''}${o.torch.aliases ? ` also ${o.torch.aliases.join(', ')}` : ''}` : ''}${o.note ? ` — ${o.note.replaceAll(REPO, '')}` : ''}`),
      parameters: m.program?.parameters?.map((p) => `${p.name} [${p.shape.join(', ')}] ${p.trainable ? 'trained' : 'not trained'}: ${p.reason}`),
      batch: m.program?.batch,
      constants: m.program?.constants,
      batchAxes: m.program?.batchAxes,
      folded: m.program?.folded?.map((f) => `${f.node}: ${f.branch}`),
      init: m.program?.init && { ...m.program.init, file: m.program.init.file.slice(REPO.length) },
      ortGradients: m.program?.ortGradients?.map((g) => `${g.param} <- ${g.grad}`),
      loss: m.program?.loss,
      gradients: m.program?.gradients?.map((g) => `${g.param} <- ${g.grad}`),
      step: step && {
        optimizer: step.optimizer,
        optimizerOptions: step.optimizerOptions,
        hyperparameters: step.hyperparameters,
        hyperparameterInputs: step.hyperparameterInputs,
        perStep: step.perStep,
        nonFinite: step.nonFinite,
        loss: step.loss,
        dataInputs: step.dataInputs,
        parameters: step.parameters.map((p) => `${p.name} ${p.group} grad ${p.grad}${p.output ? ` -> ${p.output}` : ''}${p.state ? ` state ${p.state.map((s) => `${s.name} -> ${s.output}`).join(', ')}` : ''}`),
        inputs: step.inputs.map((i) => `${i.role} ${i.name}`),
        outputs: step.outputs.map((o) => `${o.role} ${o.name}`),
      },
    },
  };
}

function runCase(c: Case): { step: Pick<PassStep, 'pass' | 'options' | 'output' | 'modified'> } {
  const source = loadModel(join(REPO, c.model));
  if (c.pipeline === 'export') {
    const weights = new Map(source.graph.initializers.map((t) => [t.name, t]));
    const r = runPass(extractInferencePass, source, { weights }, { check: true });
    return { step: { pass: extractInferencePass as never, options: { weights }, output: r.model, modified: r.modified } };
  }
  // Rewrite cases name their --init file; the pipeline takes its tensors.
  const { initFile, ...rest } = c.options as { initFile?: string };
  const options = initFile ? { ...rest, init: readInitWeights(join(REPO, initFile)) } : rest;
  const run = c.pipeline === 'build' ? runBuild(source, options as never, { until: c.pass as never, ctx: { check: true } }) : runRewrite(source, options as never, { until: c.pass as never, ctx: { check: true } });
  const step = run.steps.find((s) => s.name === c.pass);
  if (!step) throw new Error(`the ${c.pipeline} pipeline has no pass ${c.pass}`);
  return { step };
}

describe('passes against golden fixtures', () => {
  const cases = readdirSync(ROOT).filter((d) => existsSync(join(ROOT, d, 'case.json'))).sort();
  it('there are cases for every pass of both pipelines', () => {
    const passes = new Set(cases.map((d) => (JSON.parse(readFileSync(join(ROOT, d, 'case.json'), 'utf8')) as Case).pass));
    for (const p of [...BUILD_PASSES, ...REWRITE_PASSES, 'extract-inference'])
      expect(passes, p).toContain(p);
  });

  for (const name of cases)
    it(name, () => {
      const c = JSON.parse(readFileSync(join(ROOT, name, 'case.json'), 'utf8')) as Case;
      const { step } = runCase(c);
      const got = summarize(step.output, step.modified);
      const file = join(ROOT, name, 'expected.json');
      if (UPDATE) writeFileSync(file, JSON.stringify(got, null, 2) + '\n');
      expect(got).toEqual(JSON.parse(readFileSync(file, 'utf8')));
      if (c.again) {
        const again = runPass(step.pass as never, step.output, step.options as never, { check: true });
        expect(again.modified, `${c.pass} on its own output`).toBe(false);
        expect(summarize(again.model, false)).toEqual({ ...got, modified: false });
      }
    });
});
