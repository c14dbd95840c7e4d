/**
 * The contract of a lowering: one ONNX Runtime training/contrib op (com.microsoft,
 * org.pytorch.aten) rewritten into standard ONNX ops that onnxruntime-node runs. onnxruntime-node
 * is an inference build: it has none of the gradient kernels ORT's training graphs use.
 */
import type { Node } from '../../../ir/graph.js';
import type { Emitter } from '../../../grad/types.js';

export interface LowerContext extends Emitter {
  node: Node;
  /** Input i ('' when the optional input is absent or past the end). */
  I(i: number): string;
  /** Whether output i is used (present and read by a node or a graph output). */
  used(i: number): boolean;
  /** "node 'name' (Op)" for messages. */
  where: string;
}

export interface OrtLowering {
  domain: string;
  opType: string;
  /** Inputs the op cannot do without. */
  minInputs: number;
  /** One value per output of the node: the standard-op value it becomes ('' where not made: unused). */
  lower(ctx: LowerContext): string[];
}
