#!/usr/bin/python3
"""PyTorch + reference-Lion trajectories for ONNX Runtime's own training test data
(test/fixtures/ort-training/, see its SOURCE.md), written to
test/fixtures/ort-training/lion-trajectory.json for test/parity/ort-training.test.ts.

ORT's graphs are the MLP fc1 = Linear(784, 500), ReLU, fc2 = Linear(500, 10), mean cross-entropy,
with their weights in ORT's checkpoints (read here with a hand-written FlatBuffer reader and a
.pbseq reader, independent of lion-onnx's TypeScript ones), trained on ORT's test batch
input-0.in ([2, 784]) with labels {1, 1} (ORT's TrainingTest.java). Run with Debian's
python3-torch and python3-onnx: /usr/bin/python3 scripts/torch/make_ort_training_reference.py
"""
import json
import os
import struct
import sys

import numpy as np
import onnx
import onnx.numpy_helper
import torch

sys.path.insert(0, os.path.dirname(__file__))
from lion_reference import Lion  # noqa: E402

ROOT = os.path.join(os.path.dirname(__file__), '..', '..', 'test', 'fixtures', 'ort-training')
STEPS, LR, BETAS, WD = 8, 1e-4, (0.9, 0.99), 0.1


class FlatBuffer:
    def __init__(self, b):
        self.b = b

    def u32(self, p): return struct.unpack_from('<I', self.b, p)[0]
    def i32(self, p): return struct.unpack_from('<i', self.b, p)[0]
    def u16(self, p): return struct.unpack_from('<H', self.b, p)[0]

    def field(self, t, fid):
        vt = t - self.i32(t)
        o = 4 + 2 * fid
        if o >= self.u16(vt):
            return 0
        r = self.u16(vt + o)
        return t + r if r else 0

    def deref(self, p): return p + self.u32(p)

    def table(self, t, fid):
        p = self.field(t, fid)
        return self.deref(p) if p else 0

    def vec(self, t, fid):
        p = self.field(t, fid)
        if not p:
            return None
        v = self.deref(p)
        return v + 4, self.u32(v)

    def tables(self, t, fid):
        v = self.vec(t, fid)
        return [] if v is None else [self.deref(v[0] + 4 * i) for i in range(v[1])]

    def string(self, t, fid):
        s = self.deref(self.field(t, fid))
        return self.b[s + 4:s + 4 + self.u32(s)].decode()


def read_checkpoint(path):
    """ort_training_checkpoint.fbs: Checkpoint.module_state.requires_grad_params as Tensors."""
    b = open(path, 'rb').read()
    assert b[4:8] == b'ODTC'
    fb = FlatBuffer(b)
    ms = fb.table(fb.u32(0), 1)
    out = {}
    for t in fb.tables(ms, 0):
        dv = fb.vec(t, 2)
        dims = [struct.unpack_from('<q', b, dv[0] + 8 * i)[0] for i in range(dv[1])]
        rv = fb.vec(t, 4)
        out[fb.string(t, 0)] = np.frombuffer(b[rv[0]:rv[0] + rv[1]], dtype=np.float32).reshape(dims).copy()
    return out


def read_pbseq(path):
    b = open(path, 'rb').read()
    p = 0

    def varint():
        nonlocal p
        r = s = 0
        while True:
            c = b[p]
            p += 1
            r |= (c & 0x7F) << s
            s += 7
            if c < 0x80:
                return r

    out = {}
    for _ in range(varint()):
        size = varint()
        tp = onnx.TensorProto()
        tp.ParseFromString(b[p:p + size])
        p += size
        out[tp.name] = onnx.numpy_helper.to_array(tp).copy()
    return out


def read_text_tensor(path):
    line = open(path).read().split('\n')[1]
    return np.array([float(x) for x in line.replace('[', ' ').replace(']', ' ').replace(',', ' ').split()], np.float32)


class MLP(torch.nn.Module):
    def __init__(self, weights):
        super().__init__()
        self.fc1 = torch.nn.Linear(784, 500)
        self.fc2 = torch.nn.Linear(500, 10)
        with torch.no_grad():
            for k, p in self.named_parameters():
                p.copy_(torch.from_numpy(weights[k]))

    def forward(self, x):
        return self.fc2(torch.relu(self.fc1(x)))


def trajectory(weights):
    torch.manual_seed(0)
    model = MLP(weights)
    x = torch.from_numpy(read_text_tensor(os.path.join(ROOT, 'input-0.in')).reshape(2, 784))
    y = torch.tensor([1, 1], dtype=torch.int64)
    opt = Lion(model.parameters(), lr=LR, betas=BETAS, weight_decay=WD)
    losses = []
    for _ in range(STEPS):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        losses.append(loss.item())
        opt.step()
    final = {k: {'l2': float(p.detach().double().norm()), 'first': p.detach().reshape(-1)[:8].tolist()} for k, p in model.named_parameters()}
    return {'losses': losses, 'final': final}


def main():
    current = trajectory(read_checkpoint(os.path.join(ROOT, 'checkpoint.ckpt')))
    legacy = trajectory(read_pbseq(os.path.join(ROOT, 'gradient_graph.ckpt', 'paramtrain_tensors.pbseq')))
    out = {'steps': STEPS, 'lr': LR, 'beta1': BETAS[0], 'beta2': BETAS[1], 'weight_decay': WD, 'batch': [2, 784], 'labels': [1, 1],
           'training_model': current, 'gradient_graph': legacy}
    with open(os.path.join(ROOT, 'lion-trajectory.json'), 'w') as f:
        json.dump(out, f, indent=1)
    print('training_model losses', current['losses'])
    print('gradient_graph losses', legacy['losses'])


if __name__ == '__main__':
    main()
