"""Exports the bundled MNIST demo model: an MLP 784-256-10 (ReLU), untrained, seeded.

Run with Debian's Python (python3-torch, python3-onnx) from the repository root:
    /usr/bin/python3 scripts/torch/make_mnist_model.py
Writes models/mnist_mlp.onnx. Parameter names are PyTorch's (fc1.weight, ...), kept by
do_constant_folding=False, so `lion-onnx build` trains exactly what torch would.
"""
import torch
from torch import nn


class MnistMlp(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 256)
        self.fc2 = nn.Linear(256, 10)

    def forward(self, image):
        return self.fc2(torch.relu(self.fc1(image)))


if __name__ == "__main__":  # scripts/bench/torch_bench.py imports the model class
    torch.manual_seed(0)
    model = MnistMlp().eval()
    torch.onnx.export(
        model,
        (torch.zeros(1, 784),),
        "models/mnist_mlp.onnx",
        input_names=["image"],
        output_names=["logits"],
        dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}},
        opset_version=13,
        do_constant_folding=False,
        training=torch.onnx.TrainingMode.EVAL,
    )
    print("wrote models/mnist_mlp.onnx")
