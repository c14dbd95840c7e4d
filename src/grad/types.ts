/**
 * The contract between the backward walk (backward.ts) and the per-op gradient rules
 * (rules/*.ts), in ONNX Runtime's gradient-builder vocabulary: I(i) forward input,
 * O(i) forward output, GO(i) gradient flowing into output i, and the rule returns GI(i).
 */
import type { GraphBuilder } from '../ir/builder.js';
import type { Graph, Node } from '../ir/graph.js';
import type { Dim } from '../ir/value-type.js';

/** What helpers that emit nodes need: a builder, the opset, and what is known about values. */
export interface Emitter {
  /** Appends nodes; names never collide with the forward graph. */
  b: GraphBuilder;
  /** Default-domain opset of the model (emitted ops choose attribute vs input forms by it). */
  opset: number;
  /** Static shape of a value when known (dims may be symbolic or null). */
  shape(name: string): Dim[] | undefined;
  /** Element type of a value when known. */
  elemType(name: string): number | undefined;
  /**
   * Values of a small integer tensor when they are known before running (initializers,
   * Constant nodes, shape arithmetic over static shapes), else undefined. Lets rules pick a
   * static form (e.g. Pad) over a dynamic one.
   */
  value(name: string): number[] | undefined;
  /** Elements of a small integer tensor, known or symbolic, where shapes tell (sizes made from Shape). */
  partial?(name: string): Dim[] | undefined;
}

export interface GradContext extends Emitter {
  node: Node;
  /** Forward input i ('' when the optional input is absent). */
  I(i: number): string;
  /** Forward output i. */
  O(i: number): string;
  /** Gradient arriving at output i, or null when no gradient flows there. */
  GO(i: number): string | null;
  /** Whether input i needs a gradient (it lies on a path to a trainable parameter). */
  needsGI(i: number): boolean;
  /** Whether a value the node's subgraphs read from this graph needs a gradient. */
  needsCaptured(name: string): boolean;
  /** The forward node that writes `name` (the graph as the backward walk found it), if any. */
  producer(name: string): Node | undefined;
  /**
   * How many times the forward graph reads `name` (node inputs and values its subgraphs
   * capture; a graph output counts as a read): a rule that fuses a chain of nodes checks that
   * no one else reads the values inside it.
   */
  reads(name: string): number;
  /**
   * The backward walk over a subgraph the rule builds (a branch being differentiated): appends
   * to `graph` the gradients of the scalar `loss` with respect to `params` (values `graph` reads
   * from this graph; zeros where it does not use one), named by `builder`. Param -> gradient.
   */
  backwardOf(graph: Graph, loss: string, params: string[], builder: GraphBuilder): Map<string, string>;
}

/**
 * What a rule returns: one entry per forward input (the gradient's value name, or null), and,
 * for an op with subgraphs, the gradients of the values they read from the enclosing graph.
 */
export type GradResult = (string | null)[] | { inputs: (string | null)[]; captured: Record<string, string> };

export interface GradRule {
  opType: string;
  /**
   * Emits the backward nodes and returns one entry per forward input: the gradient's value name,
   * or null where no gradient is produced. Only inputs with needsGI(i) need one.
   */
  backward(ctx: GradContext): GradResult;
}
