#!/usr/bin/env python3
"""Fixtures exported with torch.onnx.export's DEFAULT settings, and PyTorch's Lion run on them.

Real users export with the defaults (constant folding on, eval mode), which pre-transposes
Linear weights into `onnx::MatMul_N`, merges initializers of equal value into Identity copies,
and keeps a tied output head as a second, transposed copy. For each model and opset (14, 17)
this writes test/fixtures/torch-default/<model>-op<opset>/:

  model.onnx         torch.onnx.export(model, x, f, opset_version=..., input_names,
                     output_names, dynamic_axes) -- nothing else set
  <input>.npy        the data (32 rows = 4 batches of 8, in order), target.npy
  trajectory.json    hyperparameters, per-step losses of torch + reference Lion, the parameter
                     count, the state_dict's keys and shapes
  final.safetensors  torch's state_dict after training (written by hand: Debian has no
                     python3-safetensors)
  roundtrip.json     the proof that lion-onnx's export loads into the torch module strictly:
                     this script trains the model with lion-onnx (the built CLI, dist/), exports
                     `--safetensors`, loads it with load_state_dict(strict=True) and compares

Models: an MLP (a Linear on 2-D input with a bias keeps its name under Gemm; a bias-free one is
folded), a CNN (Conv, ReLU, MaxPool, Linear; no BatchNorm, which eval export fuses away), a
2-block pre-norm transformer whose output head is tied to the embedding (fresh LayerNorms and
zero biases are merged by value; the head becomes a transposed copy), and the MLP again with its
weights moved into Constant nodes, as paddle2onnx and spox write models (producer_name set to
say so: torch's own Constants are never weights).

Run with Debian's interpreter after `npm run build`:
    /usr/bin/python3 scripts/torch/make_default_exports.py
"""
import json
import math
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import onnx.numpy_helper
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lion_reference import Lion  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT_ROOT = os.path.join(REPO, "test", "fixtures", "torch-default")
CLI = os.path.join(REPO, "dist", "cli", "main.js")

BATCH = 8
NBATCHES = 4
STEPS = 8
OPSETS = (14, 17)

torch.set_num_threads(1)


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(16, 32)
        self.fc2 = nn.Linear(32, 32, bias=False)
        self.head = nn.Linear(32, 4)

    def forward(self, x):
        return self.head(F.relu(self.fc2(F.relu(self.fc1(x)))))


class MLPConst(nn.Module):
    """Two Linears on 2-D input with biases: exported as Gemm(transB=1) under torch's names and layout."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(16, 32)
        self.head = nn.Linear(32, 4)

    def forward(self, x):
        return self.head(F.relu(self.fc1(x)))


class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(4, 8, 3)
        self.fc = nn.Linear(8 * 4 * 4, 10)

    def forward(self, x):
        h = self.pool(F.relu(self.conv1(x)))  # [B,4,6,6]
        h = F.relu(self.conv2(h))  # [B,8,4,4]
        return self.fc(torch.flatten(h, 1))


class Block(nn.Module):
    def __init__(self, d, heads, t):
        super().__init__()
        self.heads = heads
        self.ln1 = nn.LayerNorm(d)
        self.attn_qkv = nn.Linear(d, 3 * d)
        self.attn_proj = nn.Linear(d, d)
        self.ln2 = nn.LayerNorm(d)
        self.fc = nn.Linear(d, 2 * d)
        self.proj = nn.Linear(2 * d, d)
        self.register_buffer("mask", torch.tril(torch.ones(t, t)).view(1, 1, t, t))
        # nanoGPT's init: zero biases (which the eval export merges with the LayerNorm biases)
        for m in (self.attn_qkv, self.attn_proj, self.fc, self.proj):
            nn.init.zeros_(m.bias)

    def forward(self, x):
        B, T, D = x.shape
        h = self.heads
        q, k, v = self.attn_qkv(self.ln1(x)).split(D, dim=2)
        q = q.view(B, T, h, D // h).transpose(1, 2)
        k = k.view(B, T, h, D // h).transpose(1, 2)
        v = v.view(B, T, h, D // h).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(D // h))
        att = att.masked_fill(self.mask[:, :, :T, :T] == 0, float("-inf"))
        y = (F.softmax(att, dim=-1) @ v).transpose(1, 2).reshape(B, T, D)
        x = x + self.attn_proj(y)
        return x + self.proj(F.gelu(self.fc(self.ln2(x))))


class Transformer(nn.Module):
    V, D, T, H = 32, 16, 8, 2

    def __init__(self):
        super().__init__()
        self.wte = nn.Embedding(self.V, self.D)
        self.wpe = nn.Embedding(self.T, self.D)
        self.blocks = nn.ModuleList([Block(self.D, self.H, self.T) for _ in range(2)])
        self.ln_f = nn.LayerNorm(self.D)
        self.lm_head = nn.Linear(self.D, self.V, bias=False)
        self.lm_head.weight = self.wte.weight  # tied, as GPT-2 does

    def forward(self, tokens):
        t = tokens.shape[1]
        x = self.wte(tokens) + self.wpe(torch.arange(t, device=tokens.device))
        for b in self.blocks:
            x = b(x)
        return self.lm_head(self.ln_f(x))


def make_data(kind):
    rng = np.random.RandomState({"mlp": 11, "cnn": 12, "transformer": 13, "mlp-constants": 11}[kind])
    n = BATCH * NBATCHES
    if kind in ("mlp", "mlp-constants"):
        x = rng.randn(n, 16).astype(np.float32)
        y = np.argmax(x.astype(np.float64) @ rng.randn(16, 4), axis=1).astype(np.int64)
        return "x", x, y, 4
    if kind == "cnn":
        x = rng.randn(n, 1, 12, 12).astype(np.float32)
        y = np.argmax(x.reshape(n, -1).astype(np.float64) @ rng.randn(144, 10), axis=1).astype(np.int64)
        return "x", x, y, 10
    tokens = rng.randint(0, 32, size=(n, 8)).astype(np.int64)
    y = ((np.roll(tokens, -1, axis=1) + 1) % 32).astype(np.int64)
    return "tokens", tokens, y, 32


CONFIGS = {
    "mlp": dict(cls=MLP, lr=1e-3, wd=0.1, betas=(0.9, 0.99), seed=1),
    "cnn": dict(cls=CNN, lr=3e-3, wd=0.1, betas=(0.9, 0.99), seed=2),
    "transformer": dict(cls=Transformer, lr=1e-3, wd=0.01, betas=(0.95, 0.98), seed=3),
    "mlp-constants": dict(cls=MLPConst, lr=1e-3, wd=0.1, betas=(0.9, 0.99), seed=1),
}


def write_safetensors(path, tensors):
    """safetensors by hand: 8-byte LE header length, JSON header, little-endian data."""
    header, blobs, off = {}, [], 0
    for name, arr in tensors.items():
        a = np.ascontiguousarray(arr)
        dt = {np.float32: "F32", np.float64: "F64", np.int64: "I64"}[a.dtype.type]
        b = a.tobytes()
        header[name] = {"dtype": dt, "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - (8 + len(h)) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        dt = {"F32": np.float32, "F64": np.float64, "I64": np.int64}[e["dtype"]]
        s, t = e["data_offsets"]
        out[name] = np.frombuffer(data[8 + n + s:8 + n + t], dtype=dt).reshape(e["shape"]).copy()
    return out


def weights_to_constants(path, producer):
    """Moves every float initializer into a Constant node of the same output name (paddle2onnx's form)."""
    m = onnx.load(path)
    g = m.graph
    consts = []
    for t in list(g.initializer):
        if t.data_type in (onnx.TensorProto.FLOAT, onnx.TensorProto.DOUBLE):
            consts.append(onnx.helper.make_node("Constant", [], [t.name], name=f"const/{t.name}", value=t))
            g.initializer.remove(t)
    for c in reversed(consts):
        g.node.insert(0, c)
    m.producer_name = producer
    m.producer_version = "1.0"
    onnx.checker.check_model(m)
    onnx.save(m, path)


def export(model, example, path, input_name, opset, seq_dynamic):
    axes = {input_name: {0: "batch"}, "logits": {0: "batch"}}
    if seq_dynamic:
        axes = {input_name: {0: "batch", 1: "seq"}, "logits": {0: "batch", 1: "seq"}}
    torch.onnx.export(model, (example,), path, opset_version=opset, input_names=[input_name], output_names=["logits"], dynamic_axes=axes)


def lion_onnx_roundtrip(out_dir, cfg, input_name, model_factory, final_state):
    """Trains the fixture with lion-onnx, exports --safetensors, loads it strictly into torch."""
    with tempfile.TemporaryDirectory() as tmp:
        art = os.path.join(tmp, "art")
        st = os.path.join(tmp, "trained.safetensors")
        run = lambda *a: subprocess.run(["node", CLI, *a], check=True, capture_output=True, text=True)
        run("build", os.path.join(out_dir, "model.onnx"), "--loss", "cross-entropy", "--out", art)
        run("train", art, "--data", f"{input_name}={os.path.join(out_dir, input_name + '.npy')}", "--data", f"target={os.path.join(out_dir, 'target.npy')}",
            "--no-shuffle", "--batch-size", str(BATCH), "--steps", str(STEPS), "--lr", str(cfg["lr"]), "--beta1", str(cfg["betas"][0]),
            "--beta2", str(cfg["betas"][1]), "--weight-decay", str(cfg["wd"]), "--threads", "1")
        run("export", art, "-o", os.path.join(tmp, "trained.onnx"), "--safetensors", st)
        exported = read_safetensors(st)
        torch.manual_seed(cfg["seed"])
        fresh = model_factory()
        fresh.load_state_dict({k: torch.from_numpy(v) for k, v in exported.items()}, strict=True)
        diffs = {k: float(np.max(np.abs(exported[k].astype(np.float64) - final_state[k].astype(np.float64)))) if exported[k].size else 0.0 for k in final_state}
        tied = getattr(fresh, "lm_head", None) is not None and getattr(fresh, "wte", None) is not None and fresh.lm_head.weight is fresh.wte.weight
        return {
            "load_state_dict_strict": "ok",
            "keys": sorted(exported),
            "max_abs_diff_vs_torch": max(diffs.values()),
            "per_key_max_abs_diff": diffs,
            **({"tie_kept_after_load": tied} if hasattr(fresh, "lm_head") else {}),
        }


def build(kind, opset):
    cfg = CONFIGS[kind]
    out_dir = os.path.join(OUT_ROOT, f"{kind}-op{opset}")
    os.makedirs(out_dir, exist_ok=True)
    torch.manual_seed(cfg["seed"])
    model = cfg["cls"]()
    input_name, xs, ys, C = make_data(kind)
    np.save(os.path.join(out_dir, f"{input_name}.npy"), xs)
    np.save(os.path.join(out_dir, "target.npy"), ys)
    path = os.path.join(out_dir, "model.onnx")
    export(model, torch.from_numpy(xs[:BATCH]), path, input_name, opset, kind == "transformer")
    if kind == "mlp-constants":
        weights_to_constants(path, "lion-onnx fixture (weights in Constant nodes, as paddle2onnx writes them)")
    onnx.checker.check_model(onnx.load(path))
    state0 = {k: v.detach().clone() for k, v in model.state_dict().items()}

    model.train()
    opt = Lion(model.parameters(), lr=cfg["lr"], betas=cfg["betas"], weight_decay=cfg["wd"])
    X, Y = torch.from_numpy(xs), torch.from_numpy(ys)
    losses = []
    for step in range(STEPS):
        s = (step % NBATCHES) * BATCH
        opt.zero_grad(set_to_none=True)
        logits = model(X[s:s + BATCH])
        loss = F.cross_entropy(logits.reshape(-1, C), Y[s:s + BATCH].reshape(-1))
        loss.backward()
        losses.append(float(loss.item()))
        opt.step()
    final = {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}
    # Elements whose true gradient is zero (an attention key bias: softmax ignores a constant
    # added to every key) move by rounding noise that Lion's sign turns into full steps, in
    # any engine: recorded (a momentum that is not 0 but below 1e-7), so tests hold them to the
    # step size, not to torch's noise. An exactly-zero gradient (a dead ReLU) is not noise.
    names = {id(p): n for n, p in model.named_parameters()}
    noise = {}
    for p, st in opt.state.items():
        m = np.abs(st["exp_avg"].numpy().ravel())
        tiny = np.flatnonzero((m > 0) & (m < 1e-7))
        if tiny.size:
            noise[names[id(p)]] = tiny.tolist()
    write_safetensors(os.path.join(out_dir, "final.safetensors"), final)
    params = list(model.parameters())
    traj = {
        "model": "model.onnx",
        "export": "torch.onnx.export defaults" + (" + weights moved into Constant nodes" if kind == "mlp-constants" else ""),
        "opset": opset,
        "input": input_name,
        "target": "target",
        "batch_size": BATCH,
        "steps": STEPS,
        "lr": cfg["lr"],
        "beta1": cfg["betas"][0],
        "beta2": cfg["betas"][1],
        "weight_decay": cfg["wd"],
        "losses": losses,
        "num_classes": C,
        "parameter_tensors": len(params),
        "parameter_values": int(sum(p.numel() for p in params)),
        "parameters": [n for n, _ in model.named_parameters()],
        "state_dict": {k: list(v.shape) for k, v in state0.items()},
        "noise_elements": noise,
        "torch_version": torch.__version__,
    }
    with open(os.path.join(out_dir, "trajectory.json"), "w") as f:
        json.dump(traj, f, indent=2)
        f.write("\n")
    proof = lion_onnx_roundtrip(out_dir, cfg, input_name, cfg["cls"], final)
    with open(os.path.join(out_dir, "roundtrip.json"), "w") as f:
        json.dump(proof, f, indent=2)
        f.write("\n")
    size = sum(os.path.getsize(os.path.join(out_dir, f)) for f in os.listdir(out_dir))
    print(f"== {kind} op{opset}: {len(params)} params ({traj['parameter_values']} values), strict load ok, max |lion-onnx - torch| {proof['max_abs_diff_vs_torch']:.3g}, {size / 1024:.0f} KB")


class CNNBN(nn.Module):
    """Conv -> BatchNorm: the eval export folds the BN into the conv (onnx::Conv_N)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(4)
        self.fc = nn.Linear(4 * 12 * 12, 10)

    def forward(self, x):
        return self.fc(torch.flatten(F.relu(self.bn1(self.conv1(x))), 1))


def bn_fused_model():
    """Only the model, for what build reports about a BatchNorm the export folded away."""
    out_dir = os.path.join(OUT_ROOT, "cnn-bn-op17")
    os.makedirs(out_dir, exist_ok=True)
    torch.manual_seed(4)
    model = CNNBN().eval()
    export(model, torch.randn(2, 1, 12, 12), os.path.join(out_dir, "model.onnx"), "x", 17, False)
    print("== cnn-bn op17: model only")


def main():
    print(f"torch {torch.__version__}, onnx {onnx.__version__}")
    for kind in (sys.argv[1:] or list(CONFIGS)):
        for opset in OPSETS:
            build(kind, opset)
    bn_fused_model()


if __name__ == "__main__":
    main()
