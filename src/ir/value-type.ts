/** Building and reading tensor TypeProtos (element type + shape). */
import type { TypeProto } from '../onnx/schema.js';

/** A dimension: a number, a symbolic name, or null for unknown. */
export type Dim = number | string | null;

export function tensorType(elemType: number, shape?: readonly Dim[]): TypeProto {
  const tt: NonNullable<TypeProto['tensor_type']> = { elem_type: elemType };
  if (shape)
    tt.shape = {
      dim: shape.map((d) => (typeof d === 'number' ? { dim_value: d } : typeof d === 'string' ? { dim_param: d } : {})),
    };
  return { tensor_type: tt };
}

export function elemTypeOf(t: TypeProto | undefined): number | undefined {
  return t?.tensor_type?.elem_type;
}

/** The shape, or undefined when the type has no shape (rank unknown). */
export function shapeOf(t: TypeProto | undefined): Dim[] | undefined {
  const shape = t?.tensor_type?.shape;
  if (!shape) return undefined;
  return (shape.dim ?? []).map((d) =>
    d.dim_value !== undefined ? Number(d.dim_value) : d.dim_param !== undefined && d.dim_param !== '' ? d.dim_param : null,
  );
}

export function formatShape(shape: Dim[] | undefined): string {
  if (!shape) return '?';
  return `[${shape.map((d) => (d === null ? '?' : String(d))).join(', ')}]`;
}
