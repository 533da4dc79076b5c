"""The PP-OCRv3 detection Student (``ch_PP-OCRv3_det``, DBNet) in plain ``paddle.nn``, and its public weights.

MobileNetV3-large backbone at scale 0.5 without squeeze-excite, RSEFPN neck (96 channels, SE and
shortcut), and DBNet's probability branch. DBNet's threshold branch only trains the probability map
through the differentiable binarisation and is dropped from every exported model; here the
probability map is trained directly (:mod:`.loss`), so the branch is left out.

Shapes: photo ``(N, 3, H, W)`` (sides multiples of 32) -> text probability ``(N, 1, H, W)``.

The weights come from ``ch_PP-OCRv3_det_infer.onnx`` in the PyPI wheel ``rapidocr_onnxruntime==1.2.3``.
Its constants keep PaddleOCR's parameter names (``conv2d_12.w_0``, ``batch_norm_3.w_1``), numbered
in the order PaddleOCR builds its layers. The layers here are built in that same order, so Paddle
numbers them the same way (from its own process-wide counters), and each tensor is matched by name.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import paddle
import paddle.nn.functional as F
from paddle import nn

from ..model import ConvBN, load_weights
from ..wheels import PublicWeights, onnx_tensors, wheel_member

PRETRAINED = PublicWeights("rapidocr_onnxruntime==1.2.3", "rapidocr_onnxruntime/models/ch_PP-OCRv3_det_infer.onnx",
                           "3439588c030faea393a54515f51e983d8e155b19a2e8aba7891934c1cf0de526")
NECK_CHANNELS = 96


def _divisible(v: float, divisor: int = 8) -> int:
    """MobileNetV3's channel rounding (``make_divisible``)."""
    rounded = max(divisor, int(v + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * v else rounded


class ResidualUnit(nn.Layer):
    def __init__(self, cin: int, cmid: int, cout: int, kernel: int, stride: int, act: type[nn.Layer]) -> None:
        super().__init__()
        self.shortcut = stride == 1 and cin == cout
        self.expand = ConvBN(cin, cmid, 1, act=act)
        self.depthwise = ConvBN(cmid, cmid, kernel, stride, (kernel - 1) // 2, groups=cmid, act=act)
        self.linear = ConvBN(cmid, cout, 1)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        y = self.linear(self.depthwise(self.expand(x)))
        return x + y if self.shortcut else y


class MobileNetV3Large(nn.Layer):
    """Scale 0.5, no SE: four stages at strides 4, 8, 16, 32 (16, 24, 56, 480 channels)."""

    # kernel, expansion, out, activation, stride (MobileNetV3-large's table; its SE flags are off here)
    TABLE = [(3, 16, 16, nn.ReLU, 1), (3, 64, 24, nn.ReLU, 2), (3, 72, 24, nn.ReLU, 1),
             (5, 72, 40, nn.ReLU, 2), (5, 120, 40, nn.ReLU, 1), (5, 120, 40, nn.ReLU, 1),
             (3, 240, 80, nn.Hardswish, 2), (3, 200, 80, nn.Hardswish, 1), (3, 184, 80, nn.Hardswish, 1),
             (3, 184, 80, nn.Hardswish, 1), (3, 480, 112, nn.Hardswish, 1), (3, 672, 112, nn.Hardswish, 1),
             (5, 672, 160, nn.Hardswish, 2), (5, 960, 160, nn.Hardswish, 1), (5, 960, 160, nn.Hardswish, 1)]

    def __init__(self, scale: float = 0.5) -> None:
        super().__init__()
        cin = _divisible(16 * scale)
        self.stem = ConvBN(3, cin, 3, stride=2, padding=1, act=nn.Hardswish)
        stages: list[list[nn.Layer]] = [[]]
        self.out_channels: list[int] = []
        for i, (kernel, expansion, cout, act, stride) in enumerate(self.TABLE):
            if stride == 2 and i > 2:
                self.out_channels.append(cin)
                stages.append([])
            stages[-1].append(ResidualUnit(cin, _divisible(scale * expansion), _divisible(scale * cout), kernel,
                                           stride, act))
            cin = _divisible(scale * cout)
        last = _divisible(scale * 960)
        stages[-1].append(ConvBN(cin, last, 1, act=nn.Hardswish))
        self.out_channels.append(last)
        self.stages = nn.LayerList([nn.Sequential(*layers) for layers in stages])

    def forward(self, x: paddle.Tensor) -> list[paddle.Tensor]:
        x = self.stem(x)
        features = []
        for stage in self.stages:
            x = stage(x)
            features.append(x)
        return features


class SqueezeExcite(nn.Layer):
    def __init__(self, channels: int, reduction: int = 4) -> None:
        super().__init__()
        self.conv1 = nn.Conv2D(channels, channels // reduction, 1)
        self.conv2 = nn.Conv2D(channels // reduction, channels, 1)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        s = F.relu(self.conv1(F.adaptive_avg_pool2d(x, 1)))
        return x * F.hardsigmoid(self.conv2(s), slope=0.2, offset=0.5)


class RSELayer(nn.Layer):
    """Convolution, then squeeze-excite added back (the residual SE of PP-OCRv3's neck)."""

    def __init__(self, cin: int, cout: int, kernel: int) -> None:
        super().__init__()
        self.conv = nn.Conv2D(cin, cout, kernel, padding=kernel // 2, bias_attr=False)
        self.se = SqueezeExcite(cout)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        x = self.conv(x)
        return x + self.se(x)


class RSEFPN(nn.Layer):
    """Top-down feature pyramid; the four levels are brought to stride 4 and concatenated."""

    def __init__(self, in_channels: list[int], channels: int = NECK_CHANNELS) -> None:
        super().__init__()
        self.lateral = nn.LayerList()
        self.output = nn.LayerList()
        for cin in in_channels:  # PaddleOCR builds them interleaved; the weight names follow that order
            self.lateral.append(RSELayer(cin, channels, 1))
            self.output.append(RSELayer(channels, channels // 4, 3))

    def forward(self, features: list[paddle.Tensor]) -> paddle.Tensor:
        lateral = [layer(f) for layer, f in zip(self.lateral, features)]
        merged = [lateral[3]]
        for level in (2, 1, 0):
            merged.insert(0, lateral[level] + _resize_like(merged[0], lateral[level]))
        outputs = [layer(m) for layer, m in zip(self.output, merged)]
        finest = outputs[0]
        return paddle.concat([_resize_like(o, finest) for o in outputs[:0:-1]] + [finest], axis=1)


def _resize_like(x: paddle.Tensor, like: paddle.Tensor) -> paddle.Tensor:
    """Nearest-neighbour resize of ``x`` to ``like``'s height and width (2x, 4x, 8x in this pyramid).

    A target size rather than PaddleOCR's ``scale_factor``: Paddle 3 saves a scale factor as float64,
    which paddle2onnx cannot read; the result is the same.
    """
    return F.interpolate(x, size=paddle.shape(like)[2:], mode="nearest")


class ProbabilityHead(nn.Layer):
    """DBNet's probability branch: 3x3 conv, two 2x transposed convs back to the input size, sigmoid."""

    def __init__(self, cin: int = NECK_CHANNELS) -> None:
        super().__init__()
        mid = cin // 4
        self.conv = nn.Conv2D(cin, mid, 3, padding=1, bias_attr=False)
        self.bn1 = nn.BatchNorm2D(mid)
        self.up1 = nn.Conv2DTranspose(mid, mid, 2, stride=2)
        self.bn2 = nn.BatchNorm2D(mid)
        self.up2 = nn.Conv2DTranspose(mid, 1, 2, stride=2)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        x = F.relu(self.bn1(self.conv(x)))
        x = F.relu(self.bn2(self.up1(x)))
        return self.up2(x)


class PlateDetModel(nn.Layer):
    """Backbone, neck, probability head. ``forward`` returns logits in training, probabilities in eval."""

    def __init__(self) -> None:
        super().__init__()
        self.backbone = MobileNetV3Large()
        self.neck = RSEFPN(self.backbone.out_channels)
        self.head = ProbabilityHead()

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        logits = self.head(self.neck(self.backbone(x)))
        return logits if self.training else F.sigmoid(logits)


_PADDLE_NAME = re.compile(r"^(conv2d_transpose|conv2d|batch_norm(?:2d)?)_(\d+)\.(w_\d|b_\d)$")
_KINDS = {"conv2d": "conv2d", "conv2d_transpose": "conv2d_transpose", "batch_norm": "batch_norm",
          "batch_norm2d": "batch_norm"}


def _relative_names(model: nn.Layer) -> dict[str, str]:
    """Each state_dict key -> PaddleOCR's name for that tensor (Paddle's counters, numbered from 0 per kind)."""
    parsed = {}
    for key, tensor in model.state_dict().items():
        match = _PADDLE_NAME.match(tensor.name)
        if not match:
            raise ValueError(f"cannot place parameter {key} ({tensor.name})")
        parsed[key] = (_KINDS[match[1]], int(match[2]), match[3])
    first = {kind: min(n for k, n, _ in parsed.values() if k == kind) for kind, _, _ in parsed.values()}
    return {key: f"{kind}_{n - first[kind]}.{suffix}" for key, (kind, n, suffix) in parsed.items()}


def find_pretrained_onnx(cache_dir: Path | None = None) -> Path:
    """PP-OCRv3 det's ONNX from the PyPI wheel ``rapidocr_onnxruntime`` 1.2.3, checked by sha256."""
    return wheel_member(*PRETRAINED, cache_dir)


def load_pretrained(model: PlateDetModel, path: Path | None = None) -> None:
    """Set every weight of ``model`` from PP-OCRv3 det's ONNX export; every name and shape is checked."""
    path = path or find_pretrained_onnx()
    weights = {name: value for name, value in onnx_tensors(path)[1].items() if _PADDLE_NAME.match(name)}
    names = _relative_names(model)
    state: dict[str, Any] = {}  # numpy arrays: set_state_dict takes them as it takes tensors
    for key, param in model.state_dict().items():
        value = weights.pop(names[key], None)
        if value is None:
            raise ValueError(f"{path} has no {names[key]} for {key}")
        if tuple(param.shape) != value.shape:
            raise ValueError(f"shape mismatch at {key}: model {tuple(param.shape)} vs {path} {value.shape}")
        state[key] = value.astype("float32")
    if weights:
        raise ValueError(f"{path} has weights the model lacks: {sorted(weights)[:5]}")
    model.set_state_dict(state)


def load_detector(checkpoint: str | Path) -> PlateDetModel:
    """The detector in eval mode from a ``.pdparams`` checkpoint, or ``"pretrained"`` for PP-OCRv3 det's weights."""
    model = PlateDetModel()
    if str(checkpoint) == "pretrained":
        load_pretrained(model)
    else:
        load_weights(model, checkpoint)
    model.eval()
    return model
