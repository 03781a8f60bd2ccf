"""A 2D U-Net whose parameters have the names and shapes of the example
nuclei model's TorchScript weights (bioimage.io's unet2d_nuclei_broad), so
that its state dict loads strictly: written for zoo's conversion tests."""
from torch import nn
import torch


def conv_block(in_channels, out_channels):
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, padding=1),
        nn.Conv2d(out_channels, out_channels, 3, padding=1),
        nn.ReLU(),
    )


class UNet2d(nn.Module):
    def __init__(self, input_channels, output_channels, features=(16, 32, 64), base=128):
        super().__init__()
        chans = [input_channels] + list(features)
        self.encoders = nn.ModuleList(conv_block(chans[i], chans[i + 1]) for i in range(len(features)))
        self.downsamplers = nn.ModuleList(nn.MaxPool2d(2) for _ in features)
        self.base = conv_block(features[-1], base)
        ups = [base] + list(reversed(features))
        self.upsamplers = nn.ModuleList(
            nn.Sequential(nn.Upsample(scale_factor=2.0, mode="bilinear", align_corners=False), nn.Conv2d(ups[i], ups[i + 1], 1))
            for i in range(len(features))
        )
        self.decoders = nn.ModuleList(conv_block(ups[i], ups[i + 1]) for i in range(len(features)))
        self.output = nn.Conv2d(features[0], output_channels, 1)

    def forward(self, x):
        skips = []
        for enc, down in zip(self.encoders, self.downsamplers):
            x = enc(x)
            skips.append(x)
            x = down(x)
        x = self.base(x)
        for up, dec, skip in zip(self.upsamplers, self.decoders, reversed(skips)):
            x = dec(torch.cat([skip, up(x)], 1))
        return self.output(x)
