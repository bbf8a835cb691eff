"""LeNet-5 (LeCun et al., 1998) in its common modern form: ReLU and max-pooling."""
from .. import nn


class LeNet5(nn.Module):
    """(N, C, 32, 32) -> (N, num_classes) logits.

    conv1 5x5 -> 6x28x28 -> pool 6x14x14 -> conv2 5x5 -> 16x10x10 -> pool 16x5x5
    -> fc1 120 -> fc2 84 -> fc3 num_classes.
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 6, 5)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.pool = nn.MaxPool2d(2)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, num_classes)

    def forward(self, x):
        if x.ndim != 4 or x.shape[2:] != (32, 32):
            raise ValueError(f"LeNet5: expected input (N, C, 32, 32), got {x.shape}")
        x = self.pool(self.conv1(x).relu())
        x = self.pool(self.conv2(x).relu())
        x = x.flatten(1)
        x = self.fc1(x).relu()
        x = self.fc2(x).relu()
        return self.fc3(x)
