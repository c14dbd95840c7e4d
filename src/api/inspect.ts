/** What `lion-onnx inspect` reports about a model, as data. */
import { dataTypeName, dataTypeInfo, byteLength } from '../onnx/data-types.js';
import { elementCount } from '../onnx/tensor.js';
import { loadModel } from '../ir/model-io.js';
import { allGraphs, type Model } from '../ir/graph.js';
import { elemTypeOf, formatShape, shapeOf, type Dim } from '../ir/value-type.js';
import { findGradientPairs } from '../passes/import/find-gradients.js';
import { BUFFER_SUFFIX, RESET_INPUT, describeOrtTraining } from '../passes/import/lower-ort-training.js';

export interface ModelReport {
  path?: string;
  irVersion: number | null;
  producer: string;
  opsets: { domain: string; version: number }[];
  inputs: { name: string; dtype: string; shape: Dim[] | null }[];
  outputs: { name: string; dtype: string; shape: Dim[] | null }[];
  initializers: { count: number; elements: number; bytes: number; external: number };
  gradientPairs: { param: string; grad: string }[];
  /** An ONNX Runtime training graph: what rewrite will do with it. */
  ortTraining?: {
    /** Parameters that are graph inputs (their values live in ORT's checkpoint). */
    parameterInputs: { name: string; dtype: string; shape: Dim[] | null }[];
    accumulators: number;
    yieldOp: boolean;
    /** "domain:Op" -> count: ops rewrite lowers to standard ONNX, and those it cannot. */
    toLower: Record<string, number>;
    cannotLower: Record<string, number>;
  };
  nodes: number;
  opTypes: Record<string, number>;
}

export function inspectModel(model: Model, path?: string): ModelReport {
  const g = model.graph;
  const io = (v: { name: string; type?: import('../onnx/schema.js').TypeProto }) => ({
    name: v.name,
    dtype: dataTypeName(elemTypeOf(v.type) ?? 0),
    shape: shapeOf(v.type) ?? null,
  });
  const inits = { count: 0, elements: 0, bytes: 0, external: 0 };
  for (const t of g.initializers) {
    const n = elementCount(t.dims);
    inits.count++;
    inits.elements += n;
    const info = dataTypeInfo(t.dataType);
    inits.bytes += info && info.bits ? byteLength(info, n) : 0;
    if (t.storage === 'external') inits.external++;
  }
  const opTypes: Record<string, number> = {};
  let nodes = 0;
  for (const sg of allGraphs(g))
    for (const n of sg.nodes) {
      const key = n.domain && n.domain !== 'ai.onnx' ? `${n.domain}.${n.opType}` : n.opType;
      opTypes[key] = (opTypes[key] ?? 0) + 1;
      nodes++;
    }
  const initNames = new Set(g.initializers.map((t) => t.name));
  const ort = describeOrtTraining(model);
  const paramInputs = new Set((ort?.gradients ?? []).map((p) => p.param).filter((p) => !initNames.has(p)));
  const plumbing = (name: string) => paramInputs.has(name) || (!!ort && (name.endsWith(BUFFER_SUFFIX) || name === RESET_INPUT));
  const ortOutputs = new Set(ort ? g.nodes.filter((n) => n.domain === 'com.microsoft' && n.opType.startsWith('InPlaceAccumulator')).flatMap((n) => n.outputs) : []);
  return {
    ...(path ? { path } : {}),
    irVersion: model.irVersion === undefined ? null : Number(model.irVersion),
    producer: [model.producerName, model.producerVersion].filter(Boolean).join(' '),
    opsets: model.opsetImports.map((o) => ({ domain: o.domain || 'ai.onnx', version: o.version })),
    inputs: g.inputs.filter((i) => !initNames.has(i.name) && !plumbing(i.name)).map(io),
    outputs: g.outputs.filter((o) => !ortOutputs.has(o.name)).map(io),
    initializers: inits,
    gradientPairs: ort ? ort.gradients : findGradientPairs(model),
    ...(ort
      ? {
          ortTraining: {
            parameterInputs: g.inputs.filter((i) => paramInputs.has(i.name)).map(io),
            accumulators: ort.accumulators,
            yieldOp: ort.yieldOp,
            toLower: ort.lowered,
            cannotLower: ort.unknown,
          },
        }
      : {}),
    nodes,
    opTypes: Object.fromEntries(Object.entries(opTypes).sort(([a], [b]) => a.localeCompare(b))),
  };
}

export function inspectFile(path: string): ModelReport {
  return inspectModel(loadModel(path), path);
}

function human(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB'];
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${u ? v.toFixed(1) : v} ${units[u]}`;
}

export function formatReport(r: ModelReport): string {
  const lines: string[] = [];
  if (r.path) lines.push(r.path);
  lines.push(`  IR version ${r.irVersion ?? '?'}, opsets ${r.opsets.map((o) => `${o.domain} ${o.version}`).join(', ')}${r.producer ? `, produced by ${r.producer}` : ''}`);
  lines.push('  inputs:');
  for (const i of r.inputs) lines.push(`    ${i.name}: ${i.dtype} ${formatShape(i.shape ?? undefined)}`);
  lines.push('  outputs:');
  for (const o of r.outputs) lines.push(`    ${o.name}: ${o.dtype} ${formatShape(o.shape ?? undefined)}`);
  const ini = r.initializers;
  lines.push(`  initializers: ${ini.count} tensors, ${ini.elements.toLocaleString('en-US')} values, ${human(ini.bytes)}${ini.external ? ` (${ini.external} in external data)` : ''}`);
  const ort = r.ortTraining;
  if (ort) {
    const counts = (o: Record<string, number>) => Object.entries(o).map(([k, v]) => `${k} ${v}`).join(', ');
    lines.push(`  an ONNX Runtime training graph (${ort.accumulators ? `${ort.accumulators} gradient accumulators, which rewrite removes` : ort.yieldOp ? 'ORTModule: a YieldOp hands the loss to PyTorch; rewrite seeds its gradient' : 'training ops'}):`);
    if (ort.parameterInputs.length) lines.push(`    parameters as graph inputs (${ort.parameterInputs.length}; values from ORT's checkpoint: rewrite --init): ${ort.parameterInputs.map((i) => `${i.name} ${formatShape(i.shape ?? undefined)}`).join(', ')}`);
    if (Object.keys(ort.toLower).length) lines.push(`    ops rewrite lowers to standard ONNX: ${counts(ort.toLower)}`);
    if (Object.keys(ort.cannotLower).length) lines.push(`    ops lion-onnx cannot lower (rewrite will refuse): ${counts(ort.cannotLower)}`);
  }
  if (r.gradientPairs.length) {
    lines.push(`  gradient pairs (${r.gradientPairs.length}):`);
    for (const p of r.gradientPairs) lines.push(`    ${p.param} <- ${p.grad}`);
  } else lines.push('  gradient pairs: none (an inference model: use `lion-onnx build`)');
  lines.push(`  ${r.nodes} nodes; op types: ${Object.entries(r.opTypes).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  return lines.join('\n');
}
