"""Makes the conversion fixtures' weights and test tensors (run with Debian's
python3 and python3-torch from this folder: /usr/bin/python3 gen.py).

tinynet, twoheads: random weights (fixed seed), test outputs from the eager
model. nuclei-unet: the state dict of the example nuclei U-Net's real
TorchScript weights (../../../shared/fixtures/bioimageio-examples/models/
unet2d_nuclei_broad/weights.pt), loaded strictly into unet2d.py's class;
its test tensors are the example's own and are copied in by the tests."""
import os
import sys

import numpy as np
import torch

sys.path[:0] = ["tinynet", "twoheads", "nuclei-unet"]
from tinynet import TinyNet  # noqa: E402
from twoheads import TwoHeads  # noqa: E402
from unet2d import UNet2d  # noqa: E402

torch.manual_seed(7)
rng = np.random.default_rng(7)

m = TinyNet(2, 1, 4).eval()
torch.save(m.state_dict(), "tinynet/weights.pt")
x = rng.normal(size=(1, 2, 24, 32)).astype(np.float32)
with torch.no_grad():
    np.save("tinynet/input.npy", x)
    np.save("tinynet/output.npy", m(torch.from_numpy(x)).numpy())

m = TwoHeads({"channels": 6, "depth": 2}, [{"channels": 1}, {"channels": 2}]).eval()
torch.save(m.state_dict(), "twoheads/weights.pt")
x = rng.normal(size=(1, 1, 16, 24)).astype(np.float32)
with torch.no_grad():
    mask, dist = m(torch.from_numpy(x))
np.save("twoheads/input.npy", x)
np.save("twoheads/mask.npy", mask.numpy())
np.save("twoheads/distance.npy", dist.numpy())

ex = "../../../shared/fixtures/bioimageio-examples/models/unet2d_nuclei_broad"
ts = torch.jit.load(os.path.join(ex, "weights.pt"), map_location="cpu")
sd = {k: v.clone() for k, v in ts.state_dict().items()}
m = UNet2d(1, 1).eval()
m.load_state_dict(sd, strict=True)
x = torch.randn(1, 1, 64, 64)
with torch.no_grad():
    d = float((m(x) - ts(x)).abs().max())
assert d < 1e-5, d
torch.save(sd, "nuclei-unet/weights.pt")
print("nuclei U-Net reconstructed; max difference from the TorchScript original", d)
