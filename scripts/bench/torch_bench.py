#!/usr/bin/env python3
"""PyTorch side of `npm run bench` (scripts/bench/run.mjs). Debian's interpreter: /usr/bin/python3.

    torch_bench.py export OUTDIR            mlp.onnx, cnn.onnx, transformer.onnx (+ JSON on stdout)
    torch_bench.py export-big OUTDIR NAME   transformer_NAME.onnx with external data (NAME 10m|30m|100m)
    torch_bench.py serve THREADS            timing server: one JSON request per stdin line, one reply per stdout line
                                            (setup / time / mm / version / quit)

The models are the ones the bench builds with lion-onnx, exported in eval mode with
do_constant_folding=False (parameter names kept), opset 13 (MLP, CNN) or 17 (transformer).
`serve` times forward + cross-entropy + backward + the reference Lion step
(scripts/torch/lion_reference.py, a copy of google/automl lion_pytorch.py) on the .npy data the
Node side trains on, batches taken in order, with torch.set_num_threads(THREADS).
"""
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "torch"))
from lion_reference import Lion  # noqa: E402
from make_mnist_cnn import MnistCnn  # noqa: E402  (the bundled models' own classes)
from make_mnist_model import MnistMlp  # noqa: E402


class Block(nn.Module):
    """Pre-LN transformer block: causal multi-head self-attention, GELU MLP (4x)."""

    def __init__(self, d, heads, t):
        super().__init__()
        self.d, self.h, self.t = d, heads, t
        self.ln1 = nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.ln2 = nn.LayerNorm(d)
        self.fc1 = nn.Linear(d, 4 * d)
        self.fc2 = nn.Linear(4 * d, d)

    def forward(self, x):
        d, h, t = self.d, self.h, self.t
        dh = d // h
        q, k, v = self.qkv(self.ln1(x)).split(d, dim=-1)
        # -1 for the batch axis keeps the Reshape shapes constant (no Shape ops).
        q = q.reshape(-1, t, h, dh).transpose(1, 2)
        k = k.reshape(-1, t, h, dh).transpose(1, 2)
        v = v.reshape(-1, t, h, dh).transpose(1, 2)
        att = torch.matmul(q, k.transpose(-2, -1)) * (1.0 / math.sqrt(dh))
        causal = torch.ones(t, t, dtype=torch.bool).triu(1)
        att = torch.softmax(att.masked_fill(causal, float("-inf")), dim=-1)
        y = torch.matmul(att, v).transpose(1, 2).reshape(-1, t, d)
        x = x + self.proj(y)
        return x + self.fc2(F.gelu(self.fc1(self.ln2(x))))


class Transformer(nn.Module):
    def __init__(self, d=128, heads=4, layers=2, t=64, vocab=256):
        super().__init__()
        self.tok = nn.Embedding(vocab, d)
        self.pos = nn.Parameter(torch.randn(t, d) * 0.02)
        self.blocks = nn.ModuleList([Block(d, heads, t) for _ in range(layers)])
        self.ln_f = nn.LayerNorm(d)
        self.head = nn.Linear(d, vocab)
        # torch.onnx.export de-duplicates identical initializers (every LayerNorm starts at
        # ones/zeros) into Identity nodes, which would hide them from the parameter list; a
        # small seeded perturbation keeps each one a distinct initializer under its own name.
        with torch.no_grad():
            for m in self.modules():
                if isinstance(m, nn.LayerNorm):
                    m.weight.add_(0.01 * torch.randn(d))
                    m.bias.add_(0.01 * torch.randn(d))

    def forward(self, tokens):
        x = self.tok(tokens) + self.pos
        for b in self.blocks:
            x = b(x)
        return self.head(self.ln_f(x))


T = 64
BIG = {  # name -> (d, heads, layers): ~10M, ~30M, ~100M parameters
    "10m": (512, 8, 3),
    "30m": (640, 10, 6),
    "100m": (1024, 16, 8),
}


def make(name):
    torch.manual_seed(0)
    if name == "mlp":
        return MnistMlp(), torch.zeros(1, 784), "x", 13
    if name == "cnn":
        return MnistCnn(), torch.zeros(1, 1, 28, 28), "x", 13
    if name == "transformer":
        return Transformer(), torch.zeros(1, T, dtype=torch.int64), "tokens", 17
    if name.startswith("transformer_"):
        d, h, n = BIG[name[len("transformer_"):]]
        return Transformer(d=d, heads=h, layers=n), torch.zeros(1, T, dtype=torch.int64), "tokens", 17
    raise SystemExit(f"unknown model {name}")


def export(name, path, external=False):
    model, example, input_name, opset = make(name)
    model.eval()
    torch.onnx.export(
        model,
        (example,),
        path,
        input_names=[input_name],
        output_names=["logits"],
        dynamic_axes={input_name: {0: "batch"}, "logits": {0: "batch"}},
        opset_version=opset,
        do_constant_folding=False,
        training=torch.onnx.TrainingMode.EVAL,
    )
    if external:
        import onnx

        m = onnx.load(path)
        data = os.path.basename(path) + ".data"
        if os.path.exists(path + ".data"):
            os.remove(path + ".data")
        onnx.save_model(m, path, save_as_external_data=True, all_tensors_to_one_file=True, location=data, size_threshold=1024)
    params = sum(p.numel() for p in model.parameters())
    return {"name": name, "path": path, "input": input_name, "opset": opset, "parameters": params}


def training_flops(model, xb):
    """Multiply-add FLOPs of one training step's matrix products: 3x the forward ones (the
    forward product, and the gradients for its input and its weight), counted from forward hooks
    on Linear and Conv2d plus the attention products of each Block. Elementwise work is not
    counted: the figure is what a GEMM-bound engine would need at its GEMM rate."""
    fwd = [0]

    def linear(m, inp, out):
        fwd[0] += 2 * out.numel() * m.in_features

    def conv(m, inp, out):
        kh, kw = m.kernel_size
        fwd[0] += 2 * out.numel() * (m.in_channels // m.groups) * kh * kw

    hooks = []
    for m in model.modules():
        if isinstance(m, nn.Linear):
            hooks.append(m.register_forward_hook(linear))
        elif isinstance(m, nn.Conv2d):
            hooks.append(m.register_forward_hook(conv))
        elif isinstance(m, Block):
            # q·kᵀ and att·v: 2 · B·h·T·T·dh each.
            hooks.append(m.register_forward_hook(lambda m, inp, out: fwd.__setitem__(0, fwd[0] + 2 * 2 * inp[0].shape[0] * m.t * m.t * m.d)))
    with torch.no_grad():
        model(xb)
    for h in hooks:
        h.remove()
    return 3 * fwd[0]


def lion_for(model, h):
    """The reference Lion over the model's parameters with the bench's hyperparameters."""
    return Lion(model.parameters(), lr=h["lr"], betas=(h["beta1"], h["beta2"]), weight_decay=h["weightDecay"])


def serve(threads):
    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    sessions = {}
    mm_buffers = {}
    for line in sys.stdin:
        req = json.loads(line)
        cmd = req["cmd"]
        if cmd == "quit":
            break
        if cmd == "setup":
            model, _, input_name, _ = make(req["model"])
            model.eval()  # the exported graph's semantics (no dropout or batch norm here anyway)
            x = torch.from_numpy(np.load(req["data"][input_name]))
            y = torch.from_numpy(np.load(req["data"]["target"]))
            h = req["hyperparameters"]
            opt = lion_for(model, h)
            b = req["batch"]
            batches = [(x[i * b:(i + 1) * b], y[i * b:(i + 1) * b]) for i in range(x.shape[0] // b)]
            init = {k: v.detach().clone() for k, v in model.state_dict().items()}
            sessions[req["key"]] = {"model": model, "opt": opt, "batches": batches, "i": 0, "init": init, "h": h}
            reply = {"ok": True, "parameters": sum(p.numel() for p in model.parameters()), "flopsPerStep": training_flops(model, batches[0][0])}
        elif cmd == "time":
            s = sessions[req["key"]]
            model, opt, batches = s["model"], s["opt"], s["batches"]
            loss = None
            t0 = time.perf_counter()
            for _ in range(req["steps"]):
                xb, yb = batches[s["i"] % len(batches)]
                s["i"] += 1
                opt.zero_grad(set_to_none=True)
                logits = model(xb)
                loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), yb.reshape(-1))
                loss.backward()
                opt.step()
                loss = loss.item()
            reply = {"seconds": time.perf_counter() - t0, "loss": loss}
        elif cmd == "reset":
            # Back to the initial weights, a fresh optimizer and the first batch (not timed).
            s = sessions[req["key"]]
            s["model"].load_state_dict(s["init"])
            h = s["h"]
            s["opt"] = lion_for(s["model"], h)
            s["i"] = 0
            reply = {"ok": True}
        elif cmd == "mm":
            # `steps` products of two n×n float32 matrices into a preallocated output: seconds.
            n = req["n"]
            if mm_buffers.get("n") != n:
                mm_buffers.update(n=n, a=torch.randn(n, n), b=torch.randn(n, n), c=torch.empty(n, n))
            a, b, c = mm_buffers["a"], mm_buffers["b"], mm_buffers["c"]
            t0 = time.perf_counter()
            for _ in range(req["steps"]):
                torch.mm(a, b, out=c)
            reply = {"seconds": time.perf_counter() - t0}
        elif cmd == "version":
            torch.ones(64, 64) @ torch.ones(64, 64)
            with open("/proc/self/maps") as f:
                blas = sorted({l.split()[-1] for l in f if "blas" in l.split()[-1]})
            reply = {"torch": torch.__version__, "threads": torch.get_num_threads(), "blasLibrary": blas}
        else:
            reply = {"error": f"unknown command {cmd}"}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


def main():
    cmd = sys.argv[1]
    if cmd == "export":
        out = sys.argv[2]
        os.makedirs(out, exist_ok=True)
        print(json.dumps([export(n, os.path.join(out, f"{n}.onnx")) for n in ("mlp", "cnn", "transformer")]))
    elif cmd == "export-big":
        out, size = sys.argv[2], sys.argv[3]
        os.makedirs(out, exist_ok=True)
        print(json.dumps(export(f"transformer_{size}", os.path.join(out, f"transformer_{size}.onnx"), external=True)))
    elif cmd == "serve":
        serve(int(sys.argv[2]))
    else:
        raise SystemExit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
