"""Makes a tiny image-to-image TorchScript model for zoo's fine-tuning tests
(run with Debian's python3 and python3-torch: /usr/bin/python3 gen.py). Its
last convolution starts at zero, so before fine-tuning it returns its input
unchanged: a "denoiser" that has not learnt anything yet."""
import numpy as np
import torch
from torch import nn


class Denoiser(nn.Module):
    def __init__(self, hidden: int = 16):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, hidden, 3, padding=1), nn.ReLU(),
            nn.Conv2d(hidden, hidden, 3, padding=1), nn.ReLU(),
            nn.Conv2d(hidden, 1, 3, padding=1),
        )
        nn.init.zeros_(self.body[4].weight)
        nn.init.zeros_(self.body[4].bias)

    def forward(self, x):
        return x + self.body(x)


torch.manual_seed(3)
m = torch.jit.script(Denoiser().eval())
m.save("weights.pt")
x = np.random.default_rng(3).random((1, 1, 32, 32), dtype=np.float32)
np.save("test_input.npy", x)
with torch.no_grad():
    np.save("test_output.npy", m(torch.from_numpy(x)).numpy())
