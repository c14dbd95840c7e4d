"""Exports the bundled MNIST demo model: a small LeNet-style CNN, untrained, seeded.

Run with Debian's Python (python3-torch, python3-onnx) from the repository root:
    /usr/bin/python3 scripts/torch/make_mnist_cnn.py
Writes models/mnist_cnn.onnx: input `image` [batch, 1, 28, 28] float32, output `logits`
[batch, 10]. Parameter names are PyTorch's (conv1.weight, ...), kept by
do_constant_folding=False, so `lion-onnx build` trains exactly what torch would.
"""
import torch
from torch import nn


class MnistCnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 5, padding=2)
        self.conv2 = nn.Conv2d(8, 16, 5, padding=2)
        self.fc = nn.Linear(16 * 7 * 7, 10)

    def forward(self, image):
        x = nn.functional.max_pool2d(torch.relu(self.conv1(image)), 2)
        x = nn.functional.max_pool2d(torch.relu(self.conv2(x)), 2)
        return self.fc(torch.flatten(x, 1))


if __name__ == "__main__":  # scripts/bench/torch_bench.py imports the model class
    torch.manual_seed(0)
    model = MnistCnn().eval()
    torch.onnx.export(
        model,
        (torch.zeros(1, 1, 28, 28),),
        "models/mnist_cnn.onnx",
        input_names=["image"],
        output_names=["logits"],
        dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}},
        opset_version=13,
        do_constant_folding=False,
        training=torch.onnx.TrainingMode.EVAL,
    )
    print("wrote models/mnist_cnn.onnx")
