"""The model zoo of the lecture notes: LeNet-5, AlexNet, VGG, ResNets, Inception, MobileNets,
HMAX, an encoder-decoder and a TCN.  Where torchvision has the model, parameter and buffer
names and shapes are torchvision's, so its state_dicts load with strict=True.

``get(name, **kwargs)`` builds one by name; ``list_models()`` lists the names.
"""
from .lenet import LeNet5  # noqa: F401
from .resnet import BasicBlock, CifarResNet, ResNet, resnet18, resnet20, resnet32, resnet34, resnet44, resnet56  # noqa: F401
from .vgg import VGG, AlexNet, alexnet, vgg11, vgg11_bn  # noqa: F401
from .mobilenet import MobileNetV1, MobileNetV2, mobilenet_v1, mobilenet_v2  # noqa: F401
from .inception import Inception, InceptionNet, inception_small  # noqa: F401
from .encoder_decoder import EncoderDecoder, encoder_decoder  # noqa: F401
from .tcn import TCN, TemporalBlock, tcn  # noqa: F401
from .hmax import HMAX, hmax  # noqa: F401


def lenet5(num_classes=10, in_channels=1):
    """LeNet-5 (LeCun et al. 1998) for (N, in_channels, 32, 32) input."""
    return LeNet5(num_classes, in_channels)


_MODELS = {
    "lenet5": lenet5,
    "alexnet": alexnet, "vgg11": vgg11, "vgg11_bn": vgg11_bn,
    "resnet18": resnet18, "resnet34": resnet34,
    "resnet20": resnet20, "resnet32": resnet32, "resnet44": resnet44, "resnet56": resnet56,
    "mobilenet_v1": mobilenet_v1, "mobilenet_v2": mobilenet_v2,
    "inception_small": inception_small,
    "hmax": hmax,
    "encoder_decoder": encoder_decoder,
    "tcn": tcn,
}


def list_models():
    """The names get() accepts, sorted."""
    return sorted(_MODELS)


def get(name, **kwargs):
    """The model `name` built with kwargs (its builder's arguments, e.g. num_classes=10,
    in_channels=1; the image classifiers all take those two)."""
    return builder(name)(**kwargs)


def _canonical(name):
    return str(name).lower().replace("-", "").replace("_", "")


def builder(name):
    """The function get(name) calls; names match ignoring case, '-' and '_' ('ResNet-20')."""
    found = {_canonical(n): f for n, f in _MODELS.items()}.get(_canonical(name))
    if found is None:
        raise ValueError(f"models.get: unknown model {name!r}; available: {', '.join(list_models())}")
    return found
