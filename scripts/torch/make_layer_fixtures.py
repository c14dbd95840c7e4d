#!/usr/bin/env python3
"""Fixtures for the Pad, Resize, ConvTranspose, normalization and Einsum gradient rules, made with
torch (1.13) and onnx (1.12).

test/fixtures/torch-layers/<case>/:
  model.onnx   torch.onnx.export of a small module (opset 16, default settings): the Pad, Resize,
               ConvTranspose, InstanceNormalization (GroupNorm's pattern) and Einsum nodes and
               attributes torch's exporter writes
  grads.json   inputs, the fixed loss weights R of L = sum(out * R), L, and torch's float64
               gradients of L with respect to the inputs and to every float initializer of
               model.onnx (each initializer is a parameter, possibly reshaped by the exporter:
               the script finds it by value and reshapes or transposes torch's gradient likewise)

Run with Debian's interpreter:
    /usr/bin/python3 scripts/torch/make_layer_fixtures.py
"""
import json
import os

import numpy as np
import onnx
import onnx.numpy_helper
import torch
import torch.nn as nn
import torch.nn.functional as F

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
torch.set_num_threads(1)


def tolist(t):
    return [float(v) for v in t.detach().double().reshape(-1).tolist()]


class Decoder(nn.Module):
    """Upsampling layers as decoders and vocoders use them."""

    def __init__(self):
        super().__init__()
        self.up = nn.ConvTranspose2d(3, 4, 3, stride=2, padding=1, output_padding=1)
        self.norm = nn.GroupNorm(2, 4)
        self.conv = nn.Conv2d(4, 2, 3)
        self.inorm = nn.InstanceNorm2d(2, affine=True)

    def forward(self, x):
        y = self.norm(self.up(x))
        y = F.pad(y, (1, 2, 0, 1), mode="reflect")
        y = F.interpolate(y, scale_factor=2, mode="nearest")
        y = F.pad(y, (1, 1, 2, 0), mode="replicate")
        y = self.inorm(self.conv(y))
        y = F.interpolate(y, scale_factor=2, mode="bilinear", align_corners=False)
        y = F.interpolate(y, size=(9, 7), mode="bilinear", align_corners=True)
        return F.pad(y, (0, 1, 1, 0), value=0.5)


class Attention(nn.Module):
    """Attention written with torch.einsum, as some exporters' sources do."""

    def __init__(self):
        super().__init__()
        self.qkv = nn.Linear(6, 18)
        self.proj = nn.Parameter(torch.randn(2, 3, 6) * 0.3)

    def forward(self, x):
        b, n, _ = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, 2, 3).permute(2, 0, 3, 1, 4)
        a = torch.einsum("bhid,bhjd->bhij", q, k).softmax(-1)
        o = torch.einsum("bhij,bhjd->bhid", a, v)
        return torch.einsum("bhid,hde->bie", o, self.proj)


def make_case(name, module, inputs):
    out = os.path.join(REPO, "test", "fixtures", "torch-layers", name)
    os.makedirs(out, exist_ok=True)
    names = [f"x{i}" for i in range(len(inputs))]
    path = os.path.join(out, "model.onnx")
    torch.onnx.export(module, tuple(inputs), path, input_names=names, output_names=["y"], opset_version=16)

    m64 = module.double()
    xs = [t.double().requires_grad_() for t in inputs]
    y = m64(*xs)
    r = torch.rand(y.shape, generator=torch.Generator().manual_seed(11), dtype=torch.float64) * 2 - 1
    loss = (y * r).sum()
    params = dict(m64.named_parameters())
    grads = torch.autograd.grad(loss, xs + list(params.values()))
    gin = dict(zip(names, grads[: len(xs)]))
    gparam = dict(zip(params.keys(), grads[len(xs):]))

    model = onnx.load(path)
    expected = {}
    for init in model.graph.initializer:
        value = onnx.numpy_helper.to_array(init)
        if value.dtype != np.float32 or value.ndim == 0:
            continue
        # As stored, reshaped (GroupNorm's [C] -> [C, 1, 1]) or transposed (Linear's folded weight).
        layouts = {"as is": lambda t: t.reshape(value.shape), "transposed": lambda t: t.t() if t.ndim == 2 else None}
        found = [(k, f) for k, p in params.items() for f in layouts.values() if p.numel() == value.size
                 and f(p.detach().float()) is not None and tuple(f(p.detach().float()).shape) == value.shape and np.array_equal(f(p.detach().float()).numpy(), value)]
        assert len(found) == 1, f"{name}: initializer {init.name} matches parameters {[k for k, _ in found]}"
        k, f = found[0]
        expected[init.name] = tolist(f(gparam[k]))
    assert len(expected) == len(params), f"{name}: {len(params)} parameters, {len(expected)} initializers matched"
    case = {
        "what": f"{type(module).__name__} (scripts/torch/make_layer_fixtures.py) exported by torch.onnx.export (opset 16), gradients by torch.autograd in float64",
        "torch": torch.__version__,
        "inputs": {n: {"shape": list(t.shape), "values": tolist(t)} for n, t in zip(names, inputs)},
        "outputs": ["y"],
        "lossWeights": {"y": {"shape": list(r.shape), "values": tolist(r)}},
        "loss": float(loss),
        "grads": {**{n: tolist(g) for n, g in gin.items()}, **expected},
    }
    with open(os.path.join(out, "grads.json"), "w") as f:
        json.dump(case, f)
        f.write("\n")


if __name__ == "__main__":
    torch.manual_seed(0)
    make_case("decoder", Decoder().eval(), [torch.randn(2, 3, 3, 4)])
    torch.manual_seed(1)
    make_case("einsum-attention", Attention().eval(), [torch.randn(2, 4, 6)])
