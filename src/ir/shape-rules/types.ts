/** The contract between the shape-inference engine (ir/shape-info.ts) and its per-op rules. */
import type { Node } from '../graph.js';
import type { Dim } from '../value-type.js';

/** What is known about a value before running. */
export interface ValueFacts {
  shape?: Dim[];
  elemType?: number;
  /** Values of a small integer tensor (shape plumbing folds to constants). */
  value?: number[];
  /**
   * The elements of a 1-D or scalar integer tensor made from shapes when only some are known:
   * Shape of [2, batch, 64] is [2, 'batch', 64], so Gather(…, 0) of it is known to be 2 (an If
   * condition silero VAD computes). Symbolic or null where unknown; `value` once all are numbers.
   */
  partial?: Dim[];
  /** Values of a small float tensor held in the graph (initializer or Constant): Resize's scales. */
  floats?: number[];
}

export interface ShapeContext {
  node: Node;
  /** The node's op type ('' for another domain's op). */
  op: string;
  /** Default-domain opset of the graph. */
  opset: number;
  /** Shape, element type and values of input i (undefined when unknown or absent). */
  S(i: number): Dim[] | undefined;
  T(i: number): number | undefined;
  V(i: number): number[] | undefined;
  /** Elements of input i, known or not (`value` when every one is known, else `partial`). */
  P(i: number): Dim[] | undefined;
  /** Values of float input i when the graph holds them (small initializers and Constants). */
  F(i: number): number[] | undefined;
  /** Values of any value by name. */
  val(name: string): number[] | undefined;
  /** Records what is known about output i (merged with what was known). */
  out(i: number, facts: ValueFacts): void;
  /** Output 0 shaped like input 0, of type `t` (default input 0's). */
  same(t?: number): void;
}

export interface ShapeRule {
  /** The ops this rule infers (each op has exactly one rule). */
  ops: readonly string[];
  infer(c: ShapeContext): void;
}
