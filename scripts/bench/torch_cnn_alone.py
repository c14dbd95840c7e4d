"""PyTorch's LeNet (the bench's cnn) trained alone, 2 threads, batch 64, reference Lion: steps/s
over 8 half-second repetitions, on the bench's data (bench/tmp/data/cnn, written by
`npm run bench`) and on torch.rand data. Run with /usr/bin/python3 from the repository root.
Quoted in README "Performance": PyTorch's speed on this model depends on the run and the data."""
import glob
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(__file__)))
import torch_bench as tb  # noqa: E402

torch.set_num_threads(2)


def rates(x, y, reps=8):
    torch.manual_seed(0)
    model, _, _, _ = tb.make("cnn")
    opt = tb.Lion(model.parameters(), lr=1e-4, betas=(0.9, 0.99), weight_decay=0.1)
    out = []
    for _ in range(reps):
        t0, n = time.perf_counter(), 0
        while time.perf_counter() - t0 < 0.5:
            i = n % (x.shape[0] // 64)
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(model(x[i * 64:(i + 1) * 64]), y[i * 64:(i + 1) * 64]).backward()
            opt.step()
            n += 1
        out.append(n / (time.perf_counter() - t0))
    return " ".join(f"{r:.0f}" for r in out)


d = "bench/tmp/data/cnn/"
if os.path.exists(d + "x.npy"):
    print("bench data:", rates(torch.from_numpy(np.load(d + "x.npy")), torch.from_numpy(np.load(d + "target.npy"))))
else:
    print("bench data: none (run npm run bench first)")
print("torch.rand:", rates(torch.rand(1024, 1, 28, 28), torch.randint(0, 10, (1024,))))
