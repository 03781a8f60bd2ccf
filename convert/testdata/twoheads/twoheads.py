"""A network with two outputs whose kwargs are nested mappings and lists."""
import torch
from torch import nn


class Encoder(nn.Module):
    def __init__(self, channels, depth):
        super().__init__()
        layers = []
        c = 1
        for _ in range(depth):
            layers += [nn.Conv2d(c, channels, 3, padding=1), nn.ReLU()]
            c = channels
        self.body = nn.Sequential(*layers)

    def forward(self, x):
        return self.body(x)


class TwoHeads(nn.Module):
    def __init__(self, encoder: dict, heads: list):
        super().__init__()
        self.encoder = Encoder(**encoder)
        self.mask = nn.Conv2d(encoder["channels"], heads[0]["channels"], 1)
        self.distance = nn.Conv2d(encoder["channels"], heads[1]["channels"], 1)

    def forward(self, x):
        f = self.encoder(x)
        return torch.sigmoid(self.mask(f)), self.distance(f)
