"""torchvision's weight initialisation, shared by the zoo's ResNets, VGG and MobileNets."""
from __future__ import annotations

from .. import nn


def torchvision_init_(model, nonlinearity="relu", linear_std=None):
    """Convs: kaiming_normal_(mode='fan_out', nonlinearity) and zero biases; BatchNorm2d
    weight 1 and bias 0; with linear_std, Linear weights N(0, linear_std^2) and zero
    biases.  Modules are visited in model.modules() order, so the random draws are torchvision's."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity=nonlinearity)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif linear_std is not None and isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0, linear_std)
            nn.init.zeros_(m.bias)
    return model
