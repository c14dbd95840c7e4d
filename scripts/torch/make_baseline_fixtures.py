#!/usr/bin/env python3
"""Reference AdamW and SGD-with-momentum trajectories on the PyTorch parity fixtures.

Lion is invariant to a positive scale of all gradients (it takes sign(c)), so its parity runs
cannot see a gradient-scale bug such as a loss gradient not divided by the batch size. SGD's
update is proportional to the gradient; AdamW's is scale-free too apart from ε. This script
trains the fixtures of make_fixtures.py with torch.optim.AdamW and torch.optim.SGD(momentum)
and writes, next to each fixture's (unchanged) trajectory.json:

  test/fixtures/torch/<name>/<opt>.json        hyperparameters, per-step losses, final L2 norms
  test/fixtures/torch/<name>/<opt>-final.npy   every final parameter, float32, flattened and
                                               concatenated in `params` order (sizes in the json)

Same weights, data, batches and loss as trajectory.json: the initial weights are read back
from the committed model.onnx (and checked against make_fixtures.py's seeded model), and the
script first replays the Lion run and checks it reproduces trajectory.json's losses and norms.
It never writes model.onnx, the .npy data or trajectory.json.

Run with Debian's interpreter (torch 1.13, onnx 1.12):
    /usr/bin/python3 scripts/torch/make_baseline_fixtures.py
"""
import json
import os
import sys

import numpy as np
import onnx
import onnx.numpy_helper
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_fixtures as mf  # noqa: E402  (the models, data and training setup; sets 1 thread)
from lion_reference import Lion  # noqa: E402

# lr values are the usual multiples: AdamW 3-10x Lion's, SGD much larger.
BASELINES = {
    "adamw": {
        "mlp": dict(lr=3e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01),
        "cnn": dict(lr=1e-2, betas=(0.9, 0.99), eps=1e-6, weight_decay=0.05),
        "transformer": dict(lr=3e-3, betas=(0.9, 0.98), eps=1e-8, weight_decay=0.1),
    },
    "sgd": {
        "mlp": dict(lr=0.05, momentum=0.9, weight_decay=0.0),
        "cnn": dict(lr=0.05, momentum=0.9, weight_decay=1e-3),
        "transformer": dict(lr=0.1, momentum=0.9, weight_decay=1e-4),
    },
}


def initial_model(name):
    """make_fixtures.py's model with the initial weights of the committed model.onnx."""
    cfg = mf.CONFIGS[name]
    torch.manual_seed(cfg["seed"])
    model = cfg["cls"]()
    model.eval()
    inits = {i.name: onnx.numpy_helper.to_array(i) for i in onnx.load(os.path.join(mf.OUT_ROOT, name, "model.onnx")).graph.initializer}
    with torch.no_grad():
        for n, p in model.named_parameters():
            w = torch.from_numpy(inits[n].copy())
            if not torch.equal(w, p):
                raise RuntimeError(f"{name}: model.onnx's {n} is not make_fixtures.py's seeded initial weight")
            p.copy_(w)
    return model


def train(name, make_opt):
    """32 steps on batches (i % 4) * 8 .. +8 as make_fixtures.py trains; losses before each update."""
    model = initial_model(name)
    input_name, xs, ys, C = mf.make_data(name)
    fx = os.path.join(mf.OUT_ROOT, name)
    if not (np.array_equal(np.load(os.path.join(fx, f"{input_name}.npy")), xs) and np.array_equal(np.load(os.path.join(fx, "target.npy")), ys)):
        raise RuntimeError(f"{name}: the committed data differs from make_fixtures.py's")
    opt = make_opt(model.parameters())
    X, Y = torch.from_numpy(xs), torch.from_numpy(ys)
    losses = []
    for step in range(mf.STEPS):
        s = (step % mf.NBATCHES) * mf.BATCH
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(X[s:s + mf.BATCH]).reshape(-1, C), Y[s:s + mf.BATCH].reshape(-1))
        loss.backward()
        losses.append(float(loss.item()))
        opt.step()
    return model, losses


def check_lion_replay(name):
    traj = json.load(open(os.path.join(mf.OUT_ROOT, name, "trajectory.json")))
    model, losses = train(name, lambda ps: Lion(ps, lr=traj["lr"], betas=(traj["beta1"], traj["beta2"]), weight_decay=traj["weight_decay"]))
    err = max(abs(a - b) / abs(b) for a, b in zip(losses, traj["losses"]))
    norm_err = max(abs(mf.l2(p) - traj["final_param_l2"][n]) / traj["final_param_l2"][n] for n, p in model.named_parameters())
    if err > 1e-6 or norm_err > 1e-6:
        raise RuntimeError(f"{name}: replaying Lion does not reproduce trajectory.json (loss {err:.2e}, norms {norm_err:.2e})")
    return traj


def make_optimizer(kind, h):
    if kind == "adamw":
        return lambda ps: torch.optim.AdamW(ps, lr=h["lr"], betas=h["betas"], eps=h["eps"], weight_decay=h["weight_decay"])
    return lambda ps: torch.optim.SGD(ps, lr=h["lr"], momentum=h["momentum"], weight_decay=h["weight_decay"])


def build(name):
    traj = check_lion_replay(name)
    out_dir = os.path.join(mf.OUT_ROOT, name)
    for kind, per_model in BASELINES.items():
        h = per_model[name]
        model, losses = train(name, make_optimizer(kind, h))
        params = [(n, p.detach().numpy().astype(np.float32)) for n, p in model.named_parameters()]
        hyper = {"lr": h["lr"], "weight_decay": h["weight_decay"]}
        if kind == "adamw":
            hyper.update(beta1=h["betas"][0], beta2=h["betas"][1], eps=h["eps"])
        else:
            hyper.update(momentum=h["momentum"], dampening=0.0, nesterov=False)
        doc = {
            "optimizer": kind,
            "torch": f"torch.optim.{'AdamW' if kind == 'adamw' else 'SGD'}",
            "generator": "scripts/torch/make_baseline_fixtures.py",
            "torch_version": torch.__version__,
            "input": traj["input"],
            "target": traj["target"],
            "batch_size": traj["batch_size"],
            "steps": mf.STEPS,
            **hyper,
            "losses": losses,
            "final_param_l2": {n: mf.l2(p) for n, p in model.named_parameters()},
            "params": [n for n, _ in params],
            "param_sizes": [int(a.size) for _, a in params],
            "final_params": f"{kind}-final.npy",
        }
        with open(os.path.join(out_dir, f"{kind}.json"), "w") as f:
            json.dump(doc, f, indent=2)
            f.write("\n")
        np.save(os.path.join(out_dir, f"{kind}-final.npy"), np.concatenate([a.ravel() for _, a in params]))
        print(f"== {name} {kind}: losses[0:3] = {[round(v, 6) for v in losses[:3]]}  last = {losses[-1]:.6f}")


def main():
    names = sys.argv[1:] or list(mf.CONFIGS)
    print(f"torch {torch.__version__}, onnx {onnx.__version__}")
    for n in names:
        build(n)


if __name__ == "__main__":
    main()
