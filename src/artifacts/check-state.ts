/** Tensors read from a state or checkpoint file, checked against what the manifest declares. */
import { DataError } from '../errors.js';
import { DataType } from '../onnx/data-types.js';
import type { Tensor } from '../onnx/tensor.js';
import type { Manifest } from './manifest.js';

const DTYPES: Record<string, number> = { float32: DataType.FLOAT, float64: DataType.DOUBLE };

/**
 * Checks that `tensors` holds every parameter (and, with `state`, every optimizer-state input)
 * the manifest lists, each with the parameter's shape and dtype; `source` names the file.
 */
export function checkStateTensors(manifest: Manifest, tensors: Map<string, Tensor>, source: string, opts: { state: boolean }): void {
  for (const i of manifest.inputs) {
    if (i.role !== 'param' && !(opts.state && i.role === 'state')) continue;
    const t = tensors.get(i.name);
    if (!t) throw new DataError(`${source}: no tensor '${i.name}' (${i.role === 'state' ? `optimizer state of '${i.param}'` : 'parameter'})`);
    const p = manifest.parameters.find((x) => x.name === (i.param ?? i.name));
    if (!p) continue;
    if (t.dims.length !== p.shape.length || t.dims.some((d, k) => d !== p.shape[k]))
      throw new DataError(`${source}: '${i.name}' has shape [${t.dims.join(', ')}], the model needs [${p.shape.join(', ')}]`);
    if (t.dataType !== DTYPES[p.dtype]) throw new DataError(`${source}: '${i.name}' must be ${p.dtype}`);
  }
}
