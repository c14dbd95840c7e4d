/**
 * The contract between the backward walk (backward.ts) and the per-op gradient rules
 * (rules/*.ts), in ONNX Runtime's gradient-builder vocabulary: I(i) forward input,
 * O(i) forward output, GO(i) gradient flowing into output i, and the rule returns GI(i).
 */
import type { GraphBuilder } from '../ir/builder.js';
import type { Node } from '../ir/graph.js';
import type { Dim } from '../ir/value-type.js';

export interface GradContext {
  /** Appends backward nodes; names never collide with the forward graph. */
  b: GraphBuilder;
  node: Node;
  /** Default-domain opset of the model (rules choose attribute vs input forms by it). */
  opset: number;
  /** Forward input i ('' when the optional input is absent). */
  I(i: number): string;
  /** Forward output i. */
  O(i: number): string;
  /** Gradient arriving at output i, or null when no gradient flows there. */
  GO(i: number): string | null;
  /** Whether input i needs a gradient (it lies on a path to a trainable parameter). */
  needsGI(i: number): boolean;
  /** Static shape of a value when known (dims may be symbolic or null). */
  shape(name: string): Dim[] | undefined;
  /** Element type of a value when known. */
  elemType(name: string): number | undefined;
}

export interface GradRule {
  opType: string;
  /**
   * Emits the backward nodes and returns one entry per forward input: the gradient's value name,
   * or null where no gradient is produced. Only inputs with needsGI(i) need one.
   */
  backward(ctx: GradContext): (string | null)[];
}
