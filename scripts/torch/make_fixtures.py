#!/usr/bin/env python3
"""Generate reference Lion training trajectories from PyTorch.

For each model (mlp, cnn, transformer) this writes test/fixtures/torch/<name>/:
  model.onnx       exported BEFORE training (initializers = initial weights,
                   PyTorch parameter names such as `fc1.weight`)
  <input>.npy      the whole dataset input (32 rows = 4 batches x 8), in order
  target.npy       int64 class targets, same row order
  trajectory.json  hyperparameters, per-step losses, final parameter L2 norms

Training: 32 steps, batch i = rows (i % 4) * 8 .. +8, no shuffle;
loss = F.cross_entropy(logits.reshape(-1, C), target.reshape(-1)) (mean);
optimizer = reference Lion (scripts/torch/lion_reference.py, a copy of
google/automl lion/lion_pytorch.py). losses[i] is the loss of the forward pass
whose gradients drive update i (i.e. before the update).

Run with Debian's interpreter (torch 1.13, onnx 1.12):
    /usr/bin/python3 scripts/torch/make_fixtures.py
"""
import json
import math
import os
import sys

import numpy as np
import onnx
import onnx.numpy_helper
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lion_reference import Lion  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT_ROOT = os.path.join(REPO, "test", "fixtures", "torch")

BATCH = 8
NBATCHES = 4
STEPS = 32

torch.set_num_threads(1)  # deterministic reductions


# --------------------------------------------------------------------------- models
class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(64, 32)
        self.fc2 = nn.Linear(32, 10)

    def forward(self, x):
        return self.fc2(F.relu(self.fc1(x)))


class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 3, stride=2, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(4, 8, 3, padding=1)
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8, 10)

    def forward(self, x):
        h = self.pool(F.relu(self.conv1(x)))   # [B,4,6,6] -> [B,4,3,3]
        h = self.gap(F.relu(self.conv2(h)))    # [B,8,1,1]
        return self.fc(torch.flatten(h, 1))


class Transformer(nn.Module):
    """One pre-LN block, 2 hand-written attention heads, no mask."""

    VOCAB, D, T, H, FF = 32, 16, 8, 2, 32

    def __init__(self):
        super().__init__()
        V, D, T, FF = self.VOCAB, self.D, self.T, self.FF
        self.tok_emb = nn.Embedding(V, D)
        self.pos_emb = nn.Parameter(torch.randn(T, D) * 0.02)
        self.ln1 = nn.LayerNorm(D)
        self.q = nn.Linear(D, D)
        self.k = nn.Linear(D, D)
        self.v = nn.Linear(D, D)
        self.o = nn.Linear(D, D)
        self.ln2 = nn.LayerNorm(D)
        self.mlp_fc1 = nn.Linear(D, FF)
        self.mlp_fc2 = nn.Linear(FF, D)
        self.ln_f = nn.LayerNorm(D)
        self.head = nn.Linear(D, V)
        # torch.onnx.export de-duplicates identical initializers (all LayerNorms
        # start at ones/zeros) into Identity nodes, which would hide ln2/ln_f from
        # the initializer list. A small seeded perturbation keeps every LayerNorm
        # parameter a distinct initializer under its own PyTorch name.
        with torch.no_grad():
            for ln in (self.ln1, self.ln2, self.ln_f):
                ln.weight.add_(0.1 * torch.randn(D))
                ln.bias.add_(0.1 * torch.randn(D))

    def attn(self, x):
        T, H, D = self.T, self.H, self.D
        dh = D // H
        # -1 for the batch dim keeps the Reshape shapes constant (no Shape ops)
        q = self.q(x).reshape(-1, T, H, dh).transpose(1, 2)  # [B,H,T,dh]
        k = self.k(x).reshape(-1, T, H, dh).transpose(1, 2)
        v = self.v(x).reshape(-1, T, H, dh).transpose(1, 2)
        att = torch.matmul(q, k.transpose(-2, -1)) / math.sqrt(dh)
        att = torch.softmax(att, dim=-1)
        y = torch.matmul(att, v).transpose(1, 2).reshape(-1, T, D)
        return self.o(y)

    def forward(self, tokens):
        x = self.tok_emb(tokens) + self.pos_emb        # [B,T,D] + [T,D]
        x = x + self.attn(self.ln1(x))
        x = x + self.mlp_fc2(F.gelu(self.mlp_fc1(self.ln2(x))))  # exact erf GELU
        return self.head(self.ln_f(x))


# --------------------------------------------------------------------------- data
def make_data(name):
    rng = np.random.RandomState({"mlp": 1, "cnn": 2, "transformer": 3}[name])
    n = BATCH * NBATCHES
    if name == "mlp":
        x = rng.randn(n, 64).astype(np.float32)
        proj = rng.randn(64, 10)
        y = np.argmax(x.astype(np.float64) @ proj, axis=1).astype(np.int64)
        return "x", x, y, 10
    if name == "cnn":
        x = rng.randn(n, 1, 12, 12).astype(np.float32)
        proj = rng.randn(144, 10)
        y = np.argmax(x.reshape(n, -1).astype(np.float64) @ proj, axis=1).astype(np.int64)
        return "x", x, y, 10
    if name == "transformer":
        tokens = rng.randint(0, 32, size=(n, 8)).astype(np.int64)
        # learnable rule: predict the next token cyclically, shifted by one in vocab
        y = ((np.roll(tokens, -1, axis=1) + 1) % 32).astype(np.int64)
        return "tokens", tokens, y, 32
    raise ValueError(name)


CONFIGS = {
    "mlp": dict(cls=MLP, opset=13, lr=1e-3, wd=0.0, betas=(0.9, 0.99), seed=0),
    "cnn": dict(cls=CNN, opset=13, lr=3e-3, wd=0.1, betas=(0.9, 0.99), seed=0),
    "transformer": dict(cls=Transformer, opset=17, lr=1e-3, wd=0.01, betas=(0.95, 0.98), seed=0),
}


def op_types(model_proto):
    return sorted({n.op_type for n in model_proto.graph.node})


def l2(t):
    return float(np.linalg.norm(t.detach().cpu().numpy().astype(np.float64).ravel()))


def build(name):
    cfg = CONFIGS[name]
    out_dir = os.path.join(OUT_ROOT, name)
    os.makedirs(out_dir, exist_ok=True)

    torch.manual_seed(cfg["seed"])
    model = cfg["cls"]()
    model.eval()  # no dropout/bn anyway; export and training are identical

    input_name, xs, ys, C = make_data(name)
    np.save(os.path.join(out_dir, f"{input_name}.npy"), xs)
    np.save(os.path.join(out_dir, "target.npy"), ys)

    # ---- export BEFORE training
    onnx_path = os.path.join(out_dir, "model.onnx")
    example = torch.from_numpy(xs[:BATCH])
    torch.onnx.export(
        model, (example,), onnx_path,
        input_names=[input_name], output_names=["logits"],
        dynamic_axes={input_name: {0: "batch"}, "logits": {0: "batch"}},
        opset_version=cfg["opset"],
        do_constant_folding=False,
        training=torch.onnx.TrainingMode.EVAL,
        keep_initializers_as_inputs=False,
    )
    mp = onnx.load(onnx_path)
    onnx.checker.check_model(mp)
    inits = {i.name: i for i in mp.graph.initializer}
    pnames = [n for n, _ in model.named_parameters()]
    missing = [n for n in pnames if n not in inits]
    if missing:
        raise RuntimeError(f"{name}: parameters not found as initializers: {missing}")
    for n, p in model.named_parameters():
        got = onnx.numpy_helper.to_array(inits[n])
        if got.shape != tuple(p.shape) or not np.array_equal(got, p.detach().numpy()):
            raise RuntimeError(f"{name}: initializer {n} differs from the initial weight")
    extra_inits = sorted(set(inits) - set(pnames))
    identity_aliases = [(n.input[0], n.output[0]) for n in mp.graph.node
                        if n.op_type == "Identity" and n.input[0] in inits]
    if identity_aliases:
        raise RuntimeError(f"{name}: exporter aliased initializers: {identity_aliases}")
    ops = op_types(mp)
    initial_l2 = {n: l2(p) for n, p in model.named_parameters()}

    # ---- train
    opt = Lion(model.parameters(), lr=cfg["lr"], betas=cfg["betas"], weight_decay=cfg["wd"])
    X = torch.from_numpy(xs)
    Y = torch.from_numpy(ys)
    losses = []
    for step in range(STEPS):
        s = (step % NBATCHES) * BATCH
        xb, yb = X[s:s + BATCH], Y[s:s + BATCH]
        opt.zero_grad(set_to_none=True)
        logits = model(xb)
        loss = F.cross_entropy(logits.reshape(-1, C), yb.reshape(-1))
        loss.backward()
        losses.append(float(loss.item()))
        opt.step()

    final_l2 = {n: l2(p) for n, p in model.named_parameters()}
    traj = {
        "model": "model.onnx",
        "loss": "cross-entropy",
        "input": input_name,
        "target": "target",
        "batch_size": BATCH,
        "steps": STEPS,
        "lr": cfg["lr"],
        "beta1": cfg["betas"][0],
        "beta2": cfg["betas"][1],
        "weight_decay": cfg["wd"],
        "losses": losses,
        "final_param_l2": final_l2,
        "initial_param_l2": initial_l2,
        "params": pnames,
        "non_param_initializers": extra_inits,
        "num_classes": C,
        "torch_version": torch.__version__,
        "opset": cfg["opset"],
        "op_types": ops,
    }
    with open(os.path.join(out_dir, "trajectory.json"), "w") as f:
        json.dump(traj, f, indent=2)
        f.write("\n")

    size = sum(os.path.getsize(os.path.join(out_dir, f)) for f in os.listdir(out_dir))
    print(f"== {name}: opset {cfg['opset']}, {len(pnames)} params, folder {size / 1024:.1f} KB")
    print(f"   op_types: {ops}")
    if extra_inits:
        print(f"   non-parameter initializers: {extra_inits}")
    print(f"   losses[0:5] = {[round(v, 6) for v in losses[:5]]}  last = {losses[-1]:.6f}")
    if size > 200 * 1024:
        raise RuntimeError(f"{name}: fixture folder is {size} bytes (> 200 KB)")


def main():
    names = sys.argv[1:] or list(CONFIGS)
    print(f"torch {torch.__version__}, onnx {onnx.__version__}")
    for n in names:
        build(n)


if __name__ == "__main__":
    main()
