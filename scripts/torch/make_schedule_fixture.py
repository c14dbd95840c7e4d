#!/usr/bin/env python3
"""Record torch.optim.lr_scheduler's per-step learning rates for the schedules lion-onnx offers.

Writes test/fixtures/torch/schedules.json, read by test/runtime/schedule.test.ts and
test/cli/train-schedule.test.ts. Run with Debian's interpreter (torch 1.13):

    /usr/bin/python3 scripts/torch/make_schedule_fixture.py

lion-onnx's definition (src/runtime/schedule.ts), for a 0-based step s (the learning rate of
the step about to be taken), base lr b, warmup W, total steps T, final lr f (default 0):

    s < W:   b * (s + 1) / W
    else:    t = min(1, (s - W) / max(1, T - W))
             constant: b;  linear: f + (b - f) * (1 - t);  cosine: f + (b - f) * (1 + cos(pi t)) / 2

torch schedules that equal it (lrs read from optimizer.param_groups before each
optimizer.step(), then scheduler.step(): the lr of step s is the one after s scheduler steps):

    warmup W >= 1:  LinearLR(start_factor=1/W, end_factor=1, total_iters=W-1): factor (s+1)/W
                    for s <= W-1, then 1.
    linear decay:   LinearLR(start_factor=1, end_factor=f/b, total_iters=T-W)
    cosine decay:   CosineAnnealingLR(T_max=T-W, eta_min=f)
    composition:    SequentialLR([warmup, decay], milestones=[W]); the decay scheduler starts
                    (its step 0, lr b) at step W. Without warmup the decay scheduler alone.
    constant:       ConstantLR(factor=1) without warmup; the warmup LinearLR alone with it.

Where they are NOT defined identically, and so are not recorded or compared:

  - Past T, CosineAnnealingLR is periodic (the lr rises again from eta_min at T+1, reaching b
    at T + (T-W)); lion-onnx holds f. Cosine cases are recorded for steps 0..T only (the last
    training step is T-1; step T is where both reach f). Linear and constant schedules hold
    their final value in both, so those are recorded past T.
  - T - W = 0 (no decay steps): lion-onnx spans 1 step (lr b at s = W, f after); torch's
    LinearLR divides by total_iters = 0 and CosineAnnealingLR by T_max = 0. Not recorded.
  - T < W, and finalLr > b (torch's end_factor must be in [0, 1]): not recorded.
  - torch computes the chained schedulers recursively (each lr from the previous one), so its
    values differ from the closed form by float64 rounding (relative ~1e-16 per step); the
    tests compare with a tolerance of 1e-12 of the base lr.

Not in torch, noted for users: Hugging Face's get_cosine_schedule_with_warmup warms up as
b * s / W (lr 0 at step 0, b first at step W); lion-onnx's first step already has b / W and
reaches b at step W - 1.
"""
import json
import math
import os
import warnings

import torch
from torch.optim.lr_scheduler import ConstantLR, CosineAnnealingLR, LinearLR, SequentialLR

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(REPO, "test", "fixtures", "torch", "schedules.json")

# (kind, base lr, warmup, total steps, final lr). The cosine case with base 1e-3, warmup 5 and
# 20 steps is the one the CLI test trains with.
CASES = [
    ("constant", 1e-3, 0, 12, 0.0),
    ("constant", 1e-3, 4, 12, 0.0),
    ("constant", 0.5, 1, 6, 0.0),
    ("linear", 1e-3, 0, 12, 0.0),
    ("linear", 1e-3, 4, 12, 0.0),
    ("linear", 0.3, 3, 10, 0.05),
    ("cosine", 1e-3, 0, 12, 0.0),
    ("cosine", 1e-3, 4, 12, 0.0),
    ("cosine", 1e-3, 5, 20, 0.0),
    ("cosine", 0.3, 3, 10, 0.05),
    ("cosine", 2e-4, 1, 7, 0.0),
    ("cosine", 1e-2, 10, 110, 1e-4),
]

# Steps past T recorded where torch and lion-onnx agree (linear, constant).
PAST = 4


def torch_schedule(opt, kind, base, warmup, total, final):
    """The torch scheduler equal to lion-onnx's schedule, and its description."""
    decay_steps = total - warmup
    if kind == "constant":
        decay, decay_desc = None, None
    elif kind == "linear":
        decay = lambda: LinearLR(opt, start_factor=1.0, end_factor=final / base, total_iters=decay_steps)  # noqa: E731
        decay_desc = f"LinearLR(start_factor=1, end_factor={final / base!r}, total_iters={decay_steps})"
    elif kind == "cosine":
        decay = lambda: CosineAnnealingLR(opt, T_max=decay_steps, eta_min=final)  # noqa: E731
        decay_desc = f"CosineAnnealingLR(T_max={decay_steps}, eta_min={final!r})"
    else:
        raise ValueError(kind)
    if warmup == 0:
        if decay is None:
            return ConstantLR(opt, factor=1.0, total_iters=0), "ConstantLR(factor=1)"
        return decay(), decay_desc
    warm_desc = f"LinearLR(start_factor=1/{warmup}, end_factor=1, total_iters={warmup - 1})"
    warm = LinearLR(opt, start_factor=1.0 / warmup, end_factor=1.0, total_iters=warmup - 1)
    if decay is None:
        return warm, warm_desc
    return SequentialLR(opt, [warm, decay()], milestones=[warmup]), f"SequentialLR([{warm_desc}, {decay_desc}], milestones=[{warmup}])"


def record(kind, base, warmup, total, final):
    assert total > warmup >= 0 and 0 <= final <= base, "outside the range where torch and lion-onnx agree"
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=base)
    sched, desc = torch_schedule(opt, kind, base, warmup, total, final)
    steps = total + 1 if kind == "cosine" else total + PAST
    lrs = []
    for _ in range(steps):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return {
        "kind": kind,
        "base_lr": base,
        "warmup": warmup,
        "total_steps": total,
        "final_lr": final,
        "torch": desc,
        "lrs": lrs,
    }


def main():
    # SequentialLR steps the decay scheduler with an explicit epoch (0) at the milestone,
    # which torch 1.13 reports as deprecated; the values are what we want.
    warnings.filterwarnings("ignore", category=UserWarning)
    cases = [record(*c) for c in CASES]
    # Self-check against the closed form above: a case that drifted would be a wrong fixture.
    for c in cases:
        b, w, T, f = c["base_lr"], c["warmup"], c["total_steps"], c["final_lr"]
        for s, lr in enumerate(c["lrs"]):
            if s < w:
                want = b * (s + 1) / w
            else:
                t = min(1.0, (s - w) / max(1, T - w))
                want = {"constant": b, "linear": f + (b - f) * (1 - t), "cosine": f + (b - f) * (1 + math.cos(math.pi * t)) / 2}[c["kind"]]
            assert abs(lr - want) <= 1e-12 * b, (c["torch"], s, lr, want)
    doc = {
        "generator": "scripts/torch/make_schedule_fixture.py",
        "torch_version": torch.__version__,
        "step": "0-based; lrs[s] is the learning rate of step s (before s scheduler.step() calls)",
        "compared": "cosine: steps 0..total_steps (torch's CosineAnnealingLR is periodic after); linear, constant: also past total_steps",
        "cases": cases,
    }
    with open(OUT, "w") as fh:
        json.dump(doc, fh, indent=1)
        fh.write("\n")
    print(f"wrote {OUT}: {len(cases)} cases, torch {torch.__version__}")


if __name__ == "__main__":
    main()
