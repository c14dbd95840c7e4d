#!/usr/bin/env python3
"""Fixtures for the recurrent gradient rules and If folding, made with torch (1.13) and onnx (1.12).

test/fixtures/torch-rnn/<case>/:
  model.onnx   torch.onnx.export of nn.LSTM / nn.GRU (traced, opset 16, default settings):
               the node attributes, gate order and bias layout torch's exporter writes
  grads.json   inputs, the fixed loss weights R_k of L = sum_k sum(out_k * R_k), L, and torch's
               float64 gradients of L: with respect to the inputs, and with respect to every
               initializer of model.onnx (torch's parameter gradients put into ONNX's layout by
               the same mapping the exporter applies to the weights; the script checks that the
               mapped float32 weights equal the initializers bit for bit)
test/fixtures/torch-script/vad-like/:
  model.onnx   a silero-VAD-like module exported through torch.jit.script: Ifs on static
               shapes (`x.shape[1] == 1`, `if h.size(0)`: h is [1, batch, 5]), the LSTM inside
               the If, its weights in Constant nodes reordered by Slice/Concat inside the
               branches, and one If on a run-time condition (a guard on the input's magnitude)
  io.json      one input and torch's outputs for it

Run with Debian's interpreter:
    /usr/bin/python3 scripts/torch/make_recurrent_fixtures.py
"""
import json
import os

import numpy as np
import onnx
import onnx.numpy_helper
import torch
import torch.nn as nn

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
torch.set_num_threads(1)


def tolist(t):
    return [float(v) for v in t.detach().double().reshape(-1).tolist()]


def onnx_gates(t, order, hidden):
    """torch's stacked gates (rows) in ONNX's order: LSTM i,f,g,o -> i,o,f,c; GRU r,z,n -> z,r,h."""
    parts = [t[k * hidden:(k + 1) * hidden] for k in range(len(order))]
    return torch.cat([parts[k] for k in order], 0)


def make_rnn_case(name, module, hidden, order, with_c):
    out = os.path.join(REPO, "test", "fixtures", "torch-rnn", name)
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(7)
    dirs = 2 if module.bidirectional else 1
    seq, batch = 3, 2
    x = torch.randn(seq, batch, module.input_size)
    h0 = torch.randn(dirs, batch, hidden)
    c0 = torch.randn(dirs, batch, hidden)
    args = (x, (h0, c0)) if with_c else (x, h0)
    names = ["x", "h0", "c0"] if with_c else ["x", "h0"]
    outs = ["y", "hn", "cn"] if with_c else ["y", "hn"]
    path = os.path.join(out, "model.onnx")
    torch.onnx.export(module, args, path, input_names=names, output_names=outs, opset_version=16)

    # Float64 gradients of the float32 model (its weights and inputs are exact in float64).
    m64 = module.double()
    xs = [x.double().requires_grad_(), h0.double().requires_grad_(), c0.double().requires_grad_()]
    ys = m64(xs[0], (xs[1], xs[2])) if with_c else m64(xs[0], xs[1])
    flat = [ys[0], ys[1][0], ys[1][1]] if with_c else [ys[0], ys[1]]
    gen = torch.Generator().manual_seed(11)
    rs = [torch.rand(t.shape, generator=gen, dtype=torch.float64) * 2 - 1 for t in flat]
    loss = sum((t * r).sum() for t, r in zip(flat, rs))
    params = dict(m64.named_parameters())
    grads = torch.autograd.grad(loss, xs[: len(names)] + list(params.values()))
    gin = dict(zip(names, grads[: len(names)]))
    gparam = dict(zip(params.keys(), grads[len(names):]))

    # The exporter's layout: W [dirs, G*H, in], R [dirs, G*H, H], B [dirs, 2*G*H]; torch's
    # reverse direction is the `_reverse` parameter set.
    suffixes = ["", "_reverse"][:dirs]
    def stack(kind, source):
        if kind == "B":
            return torch.stack([torch.cat([onnx_gates(source["bias_ih_l0" + s], order, hidden), onnx_gates(source["bias_hh_l0" + s], order, hidden)]) for s in suffixes])
        key = {"W": "weight_ih_l0", "R": "weight_hh_l0"}[kind]
        return torch.stack([onnx_gates(source[key + s], order, hidden) for s in suffixes])
    model = onnx.load(path)
    rnn = next(n for n in model.graph.node if n.op_type in ("LSTM", "GRU"))
    inits = {t.name: onnx.numpy_helper.to_array(t) for t in model.graph.initializer}
    expected = {}
    for kind, idx in (("W", 1), ("R", 2), ("B", 3)):
        init = rnn.input[idx]
        want = stack(kind, {k: v.detach().float() for k, v in params.items()}).numpy()
        assert init in inits and np.array_equal(inits[init], want), f"{name}: {kind} is not torch's weights in ONNX order"
        expected[init] = tolist(stack(kind, gparam))
    case = {
        "what": f"torch.nn.{type(module).__name__}(input_size={module.input_size}, hidden_size={hidden}, bidirectional={module.bidirectional}) exported by torch.onnx.export (opset 16), gradients by torch.autograd in float64",
        "torch": torch.__version__,
        "inputs": {n: {"shape": list(t.shape), "values": tolist(t)} for n, t in zip(names, [x, h0, c0])},
        "outputs": outs,
        "lossWeights": {o: {"shape": list(r.shape), "values": tolist(r)} for o, r in zip(outs, rs)},
        "loss": float(loss),
        "grads": {**{n: tolist(g) for n, g in gin.items()}, **expected},
    }
    with open(os.path.join(out, "grads.json"), "w") as f:
        json.dump(case, f)
        f.write("\n")


class VadLike(nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = nn.Conv1d(1, 4, 3, padding=1)
        self.lstm = nn.LSTM(4, 5)
        self.head = nn.Conv1d(5, 1, 1)

    def forward(self, x, h, c):
        x = x.unsqueeze(1)
        if x.shape[1] == 1:
            y = self.proj(x)
        else:
            y = self.proj(x[:, :1])
        y = torch.relu(y).permute(2, 0, 1)
        if h.size(0):
            o, (hn, cn) = self.lstm(y, (h, c))
        else:
            o, (hn, cn) = self.lstm(y)
        o = self.head(o.permute(1, 2, 0)).mean(2)
        # A run-time condition: stays an If after folding.
        if bool(x.abs().max() > 100.0):
            o = o * 0.0
        return torch.sigmoid(o), hn, cn


def make_vad_like():
    out = os.path.join(REPO, "test", "fixtures", "torch-script", "vad-like")
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(3)
    m = torch.jit.script(VadLike().eval())
    x = torch.randn(2, 6)
    h = torch.randn(1, 2, 5)
    c = torch.randn(1, 2, 5)
    torch.onnx.export(m, (x, h, c), os.path.join(out, "model.onnx"), input_names=["x", "h", "c"], output_names=["p", "hn", "cn"], opset_version=16,
                      dynamic_axes={"x": {0: "batch", 1: "time"}, "h": {1: "batch"}, "c": {1: "batch"}, "p": {0: "batch"}, "hn": {1: "batch"}, "cn": {1: "batch"}})
    with torch.no_grad():
        p, hn, cn = m(x, h, c)
    io = {
        "what": "VadLike (scripts/torch/make_recurrent_fixtures.py) through torch.jit.script + torch.onnx.export (opset 16); outputs by torch",
        "torch": torch.__version__,
        "inputs": {n: {"shape": list(t.shape), "values": tolist(t)} for n, t in (("x", x), ("h", h), ("c", c))},
        "outputs": {n: {"shape": list(t.shape), "values": tolist(t)} for n, t in (("p", p), ("hn", hn), ("cn", cn))},
    }
    with open(os.path.join(out, "io.json"), "w") as f:
        json.dump(io, f)
        f.write("\n")


if __name__ == "__main__":
    torch.manual_seed(0)
    make_rnn_case("lstm-bidirectional", nn.LSTM(3, 4, bidirectional=True), 4, [0, 3, 1, 2], True)
    torch.manual_seed(1)
    make_rnn_case("gru-forward", nn.GRU(3, 4), 4, [1, 0, 2], False)
    make_vad_like()
