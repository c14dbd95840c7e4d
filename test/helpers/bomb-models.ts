/** Models too big to build as objects, written as protobuf directly: graph and nesting bombs. */
import protobuf from 'protobufjs';

/** Hand-written protobuf for graphs too big to build as objects: a chain of `n` nodes. */
export function chainModel(n: number, op: 'Identity' | 'Add'): Uint8Array {
  const w = protobuf.Writer.create();
  w.uint32((1 << 3) | 0).int64(8); // ir_version
  w.uint32((8 << 3) | 2).fork().uint32((2 << 3) | 0).int64(17).ldelim(); // opset_import { version: 17 }
  w.uint32((7 << 3) | 2).fork(); // graph
  for (let i = 0; i < n; i++) {
    w.uint32((1 << 3) | 2).fork(); // node
    w.uint32((1 << 3) | 2).string(i ? `v${i - 1}` : 'x');
    if (op === 'Add') w.uint32((1 << 3) | 2).string('x');
    w.uint32((2 << 3) | 2).string(`v${i}`);
    w.uint32((4 << 3) | 2).string(op);
    w.ldelim();
  }
  w.uint32((11 << 3) | 2).fork().uint32((1 << 3) | 2).string('x').ldelim(); // input x
  w.uint32((12 << 3) | 2).fork().uint32((1 << 3) | 2).string(`v${n - 1}`).ldelim(); // output
  w.ldelim();
  return w.finish();
}

/** If nodes nested `depth` deep: each then_branch holds the next If. */
export function nestedModel(depth: number): Uint8Array {
  const w = protobuf.Writer.create();
  w.uint32((1 << 3) | 0).int64(8);
  w.uint32((8 << 3) | 2).fork().uint32((2 << 3) | 0).int64(17).ldelim();
  w.uint32((7 << 3) | 2).fork(); // graph
  for (let i = 0; i < depth; i++) {
    w.uint32((1 << 3) | 2).fork(); // node
    w.uint32((1 << 3) | 2).string('cond').uint32((2 << 3) | 2).string(`o${i}`).uint32((4 << 3) | 2).string('If');
    w.uint32((5 << 3) | 2).fork(); // attribute
    w.uint32((1 << 3) | 2).string('then_branch').uint32((20 << 3) | 0).int32(5);
    w.uint32((6 << 3) | 2).fork(); // g
  }
  for (let i = 0; i < depth; i++) w.ldelim().ldelim().ldelim();
  w.ldelim();
  return w.finish();
}
