#!/usr/bin/env python3
"""Build models/mlp_training.onnx: a hand-written training graph (forward + backward)
for a 2-layer MLP, in standard ONNX ops only (default domain, opset 13, IR 7).

  inputs       x [batch,16] float32, target [batch,4] float32 (one-hot / soft labels)
  initializers fc1.weight [16,32], fc1.bias [32], fc2.weight [32,4], fc2.bias [4]
               (layout is [in,out]: logits = relu(x @ W1 + b1) @ W2 + b2)
  outputs      loss (scalar), fc1.weight_grad, fc1.bias_grad, fc2.weight_grad,
               fc2.bias_grad   (ONNX Runtime training naming: <param>_grad)

loss = mean_b( -sum_c target[b,c] * log_softmax(logits)[b,c] )
dlogits = (softmax(logits) * sum_c target[b,c] - target) / B, B taken from Shape(x).

Also writes models/mlp_training_data/{x.npy,target.npy} (64 rows, learnable rule:
class = argmax of a fixed random linear map of x).

The gradients are checked against torch autograd to 1e-5 using, in order of
preference, onnxruntime, onnx.reference.ReferenceEvaluator, or (when neither is
installed, e.g. Debian's onnx 1.12) a small numpy interpreter that executes the
graph's nodes one by one.

Run with Debian's interpreter (torch 1.13, onnx 1.12):
    /usr/bin/python3 scripts/torch/make_mlp_training.py
"""
import os

import numpy as np
import onnx
import onnx.numpy_helper
from onnx import TensorProto, helper

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MODEL_PATH = os.path.join(REPO, "models", "mlp_training.onnx")
DATA_DIR = os.path.join(REPO, "models", "mlp_training_data")

D_IN, D_H, D_OUT, N = 16, 32, 4, 64
SEED = 1234
PARAMS = ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]


def init_params(rng):
    def u(shape, fan_in):
        b = 1.0 / np.sqrt(fan_in)
        return rng.uniform(-b, b, size=shape).astype(np.float32)
    return {
        "fc1.weight": u((D_IN, D_H), D_IN),
        "fc1.bias": u((D_H,), D_IN),
        "fc2.weight": u((D_H, D_OUT), D_H),
        "fc2.bias": u((D_OUT,), D_H),
    }


def make_data(rng):
    x = rng.randn(N, D_IN).astype(np.float32)
    proj = rng.randn(D_IN, D_OUT)
    cls = np.argmax(x.astype(np.float64) @ proj, axis=1)
    target = np.eye(D_OUT, dtype=np.float32)[cls]
    return x, target


def build_model(params):
    def const_i64(name, vals, scalar=False):
        arr = np.array(vals, dtype=np.int64)
        if scalar:
            arr = arr.reshape(())
        return helper.make_node("Constant", [], [name],
                                value=onnx.numpy_helper.from_array(arr, name))

    n = helper.make_node
    nodes = [
        # ---------------- forward
        n("MatMul", ["x", "fc1.weight"], ["z1"]),
        n("Add", ["z1", "fc1.bias"], ["a1"]),
        n("Relu", ["a1"], ["h"]),
        n("MatMul", ["h", "fc2.weight"], ["z2"]),
        n("Add", ["z2", "fc2.bias"], ["logits"]),
        n("LogSoftmax", ["logits"], ["log_probs"], axis=1),
        n("Mul", ["target", "log_probs"], ["t_logp"]),
        const_i64("axes_1", [1]),
        n("ReduceSum", ["t_logp", "axes_1"], ["row_ll"], keepdims=0),
        n("ReduceMean", ["row_ll"], ["mean_ll"], keepdims=0),
        n("Neg", ["mean_ll"], ["loss"]),
        # ---------------- backward
        # B (float) from the dynamic batch dimension of x
        n("Shape", ["x"], ["x_shape"]),
        const_i64("zero_i64", [0], scalar=True),
        n("Gather", ["x_shape", "zero_i64"], ["batch_i64"], axis=0),
        n("Cast", ["batch_i64"], ["batch_f"], to=TensorProto.FLOAT),
        # dlogits = (softmax * rowsum(target) - target) / B
        n("Softmax", ["logits"], ["probs"], axis=1),
        n("ReduceSum", ["target", "axes_1"], ["t_rowsum"], keepdims=1),
        n("Mul", ["probs", "t_rowsum"], ["probs_scaled"]),
        n("Sub", ["probs_scaled", "target"], ["dlogits_sum"]),
        n("Div", ["dlogits_sum", "batch_f"], ["dlogits"]),
        # layer 2
        const_i64("axes_0", [0]),
        n("ReduceSum", ["dlogits", "axes_0"], ["fc2.bias_grad"], keepdims=0),
        n("Transpose", ["h"], ["h_T"], perm=[1, 0]),
        n("MatMul", ["h_T", "dlogits"], ["fc2.weight_grad"]),
        n("Transpose", ["fc2.weight"], ["fc2.weight_T"], perm=[1, 0]),
        n("MatMul", ["dlogits", "fc2.weight_T"], ["dh"]),
        # relu mask
        n("Constant", [], ["zero_f"],
          value=onnx.numpy_helper.from_array(np.array(0.0, dtype=np.float32), "zero_f")),
        n("Greater", ["a1", "zero_f"], ["relu_mask_b"]),
        n("Cast", ["relu_mask_b"], ["relu_mask"], to=TensorProto.FLOAT),
        n("Mul", ["dh", "relu_mask"], ["da1"]),
        # layer 1
        n("ReduceSum", ["da1", "axes_0"], ["fc1.bias_grad"], keepdims=0),
        n("Transpose", ["x"], ["x_T"], perm=[1, 0]),
        n("MatMul", ["x_T", "da1"], ["fc1.weight_grad"]),
    ]
    f = TensorProto.FLOAT
    inputs = [
        helper.make_tensor_value_info("x", f, ["batch", D_IN]),
        helper.make_tensor_value_info("target", f, ["batch", D_OUT]),
    ]
    outputs = [helper.make_tensor_value_info("loss", f, [])] + [
        helper.make_tensor_value_info(p + "_grad", f, list(params[p].shape)) for p in PARAMS
    ]
    inits = [onnx.numpy_helper.from_array(params[p], p) for p in PARAMS]
    graph = helper.make_graph(nodes, "mlp_training", inputs, outputs, initializer=inits)
    model = helper.make_model(graph, producer_name="lion-onnx/scripts/torch/make_mlp_training.py",
                              opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 7
    onnx.checker.check_model(model, full_check=True)
    return model


# ----------------------------------------------------------------- graph evaluation
def _np_dtype(onnx_type):
    if hasattr(helper, "tensor_dtype_to_np_dtype"):  # onnx >= 1.13
        return helper.tensor_dtype_to_np_dtype(onnx_type)
    import onnx.mapping  # onnx <= 1.12
    return onnx.mapping.TENSOR_TYPE_TO_NP_TYPE[onnx_type]


def _np_eval(model, feeds):
    """Minimal numpy interpreter for exactly the ops used in this graph."""
    env = dict(feeds)
    for init in model.graph.initializer:
        env[init.name] = onnx.numpy_helper.to_array(init)
    for node in model.graph.node:
        a = {at.name: helper.get_attribute_value(at) for at in node.attribute}
        i = [env[name] for name in node.input]
        op = node.op_type
        if op == "Constant":
            r = onnx.numpy_helper.to_array(a["value"])
        elif op == "MatMul":
            r = np.matmul(i[0], i[1])
        elif op == "Add":
            r = i[0] + i[1]
        elif op == "Sub":
            r = i[0] - i[1]
        elif op == "Mul":
            r = i[0] * i[1]
        elif op == "Div":
            r = i[0] / i[1]
        elif op == "Neg":
            r = -i[0]
        elif op == "Relu":
            r = np.maximum(i[0], 0)
        elif op in ("Softmax", "LogSoftmax"):
            ax = a.get("axis", -1)
            m = i[0] - i[0].max(axis=ax, keepdims=True)
            lse = np.log(np.exp(m).sum(axis=ax, keepdims=True))
            r = m - lse if op == "LogSoftmax" else np.exp(m - lse)
        elif op == "ReduceSum":
            r = np.sum(i[0], axis=tuple(int(v) for v in i[1]), keepdims=bool(a.get("keepdims", 1)))
        elif op == "ReduceMean":
            axes = tuple(a["axes"]) if "axes" in a else None
            r = np.mean(i[0], axis=axes, keepdims=bool(a.get("keepdims", 1)))
        elif op == "Shape":
            r = np.array(i[0].shape, dtype=np.int64)
        elif op == "Gather":
            r = np.take(i[0], i[1], axis=a.get("axis", 0))
        elif op == "Cast":
            r = i[0].astype(_np_dtype(a["to"]))
        elif op == "Transpose":
            r = np.transpose(i[0], a.get("perm"))
        elif op == "Greater":
            r = i[0] > i[1]
        else:
            raise NotImplementedError(op)
        env[node.output[0]] = np.asarray(r)
    return [env[o.name] for o in model.graph.output]


def evaluate(model, feeds):
    names = [o.name for o in model.graph.output]
    try:
        import onnxruntime as ort
        sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        return "onnxruntime", dict(zip(names, sess.run(names, feeds)))
    except ImportError:
        pass
    try:
        from onnx.reference import ReferenceEvaluator
        return "onnx.reference", dict(zip(names, ReferenceEvaluator(model).run(names, feeds)))
    except ImportError:
        pass
    return "numpy interpreter", dict(zip(names, _np_eval(model, feeds)))


def torch_reference(params, x, target):
    import torch
    t = {k: torch.tensor(v.astype(np.float64), requires_grad=True) for k, v in params.items()}
    xt = torch.tensor(x.astype(np.float64))
    tt = torch.tensor(target.astype(np.float64))
    h = torch.relu(xt @ t["fc1.weight"] + t["fc1.bias"])
    logits = h @ t["fc2.weight"] + t["fc2.bias"]
    loss = -(tt * torch.log_softmax(logits, dim=1)).sum(dim=1).mean()
    loss.backward()
    ref = {"loss": loss.item()}
    ref.update({k + "_grad": t[k].grad.numpy() for k in PARAMS})
    return ref


def main():
    rng = np.random.RandomState(SEED)
    params = init_params(rng)
    x, target = make_data(rng)

    model = build_model(params)
    os.makedirs(os.path.dirname(MODEL_PATH), exist_ok=True)
    onnx.save(model, MODEL_PATH)
    os.makedirs(DATA_DIR, exist_ok=True)
    np.save(os.path.join(DATA_DIR, "x.npy"), x)
    np.save(os.path.join(DATA_DIR, "target.npy"), target)

    # check: whole dataset, a batch of 8, and an odd batch size (dynamic B)
    worst = 0.0
    for lo, hi in [(0, N), (0, 8), (8, 13)]:
        feeds = {"x": x[lo:hi], "target": target[lo:hi]}
        engine, got = evaluate(model, feeds)
        ref = torch_reference(params, feeds["x"], feeds["target"])
        for k, v in ref.items():
            err = float(np.max(np.abs(np.asarray(got[k], dtype=np.float64) - v)))
            worst = max(worst, err)
            if err > 1e-5:
                raise AssertionError(f"rows {lo}:{hi} {k}: max abs err {err:.3e} > 1e-5")
        if lo == 0 and hi == N:
            print(f"full-batch loss {float(got['loss']):.6f} (torch {ref['loss']:.6f})")
    ops = sorted({nd.op_type for nd in model.graph.node})
    print(f"gradients match torch autograd (engine: {engine}), max abs err {worst:.2e}")
    print(f"op_types: {ops}")
    print(f"wrote {MODEL_PATH} ({os.path.getsize(MODEL_PATH)} B) and {DATA_DIR}/{{x,target}}.npy")
    print(f"class counts: {target.sum(axis=0).astype(int).tolist()}")


if __name__ == "__main__":
    main()
