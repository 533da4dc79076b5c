"""PaddleOCR's mobile recognizers in plain ``paddle.nn``: the PP-OCRv3 Student (``ch_PP-OCRv3_rec``,
twplate's shipped architecture) and PP-OCRv4's (``ch_PP-OCRv4_rec``, a larger teacher).

* ``"ppocrv3"``: MobileNetV1Enhance (scale 0.5) backbone, SVTR neck (64 dims) and a CTC head.
* ``"ppocrv4"``: PP-LCNetV3 (scale 0.95) backbone in its deploy form (each re-parameterisable layer's
  branches folded into one convolution, as PaddleOCR exports it), SVTR neck (120 dims, 1x3 kernels)
  and a CTC head: about 2.7 times the Student's time per crop.

Both are laid out so that ``state_dict()`` order matches PaddleOCR's, which is what lets
:mod:`.pretrained` load the public weights one tensor after another.

Shapes: image ``(N, 3, 48, W)`` -> features ``(N, D, 1, W/s)`` -> logits ``(N, W/s, C)``, where the
time stride ``s`` (input pixels per CTC step) is PP-OCRv3's 8, or 4 when the backbone's last pooling
keeps the width: twice the steps at the same input width, so plates can be read at their natural
width (about 80 pixels at height 48) instead of stretched to 150. The pooling has no weights, so
both strides load the same checkpoints. In eval mode the head returns softmax probabilities, as the
exported models do.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import paddle
import paddle.nn.functional as F
from paddle import nn

from twplate.errors import CheckpointError

from .config import ARCHITECTURES, MIDDLE_BLOCKS, RunSettings

TIME_STRIDES = (4, 8)  # input pixels per CTC time step; 8 is PaddleOCR's


class ConvBN(nn.Layer):
    """Conv2D without bias, BatchNorm, then an optional activation."""

    def __init__(self, cin: int, cout: int, kernel: int | tuple[int, int], stride: int | tuple[int, int] = 1,
                 padding: int | tuple[int, int] = 0, groups: int = 1, act: type[nn.Layer] | None = None) -> None:
        super().__init__()
        self.conv = nn.Conv2D(cin, cout, kernel, stride=stride, padding=padding, groups=groups, bias_attr=False)
        self.bn = nn.BatchNorm2D(cout)
        self.act = act() if act else None

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        x = self.bn(self.conv(x))
        return self.act(x) if self.act else x


class SqueezeExcite(nn.Layer):
    def __init__(self, channels: int, reduction: int = 4) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2D(1)
        self.conv1 = nn.Conv2D(channels, channels // reduction, 1)
        self.conv2 = nn.Conv2D(channels // reduction, channels, 1)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        s = F.relu(self.conv1(self.pool(x)))
        return x * F.hardsigmoid(self.conv2(s))


class SeparableBlock(nn.Layer):
    """Depthwise convolution, optional squeeze-excite, pointwise convolution: both backbones' block, whose
    subclasses say what each of the three is."""

    depthwise: nn.Layer
    se: nn.Layer | None
    pointwise: nn.Layer

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        x = self.depthwise(x)
        if self.se is not None:
            x = self.se(x)
        return self.pointwise(x)


class DepthwiseSeparable(SeparableBlock):
    """PP-OCRv3's block: convolutions with BatchNorm and hardswish."""

    def __init__(self, cin: int, cmid: int, cout: int, stride: int | tuple[int, int], kernel: int = 3,
                 use_se: bool = False) -> None:
        super().__init__()
        self.depthwise = ConvBN(cin, cmid, kernel, stride, kernel // 2, groups=cmid, act=nn.Hardswish)
        self.se = SqueezeExcite(cmid) if use_se else None
        self.pointwise = ConvBN(cmid, cout, 1, act=nn.Hardswish)


class MobileNetV1Enhance(nn.Layer):
    """PP-OCRv3's backbone at scale 0.5, last_conv_stride (1, 2), then a 2x2 average pool
    (``time_stride`` 8) or a 2x1 one that keeps the width (``time_stride`` 4).

    ``middle_blocks`` (1 to :data:`MIDDLE_BLOCKS`) keeps that many of the five 256-channel blocks: each
    runs at the backbone's widest point in time, so fewer make a faster model; with the rest of the network
    unchanged, a shallower backbone starts from a deeper one's weights (:func:`keep_middle_blocks`).
    """

    channels = 512

    def __init__(self, time_stride: int = 8, middle_blocks: int = MIDDLE_BLOCKS) -> None:
        super().__init__()
        _check_time_stride(time_stride)
        _check_middle_blocks(middle_blocks)
        self.conv1 = ConvBN(3, 16, 3, 2, 1, act=nn.Hardswish)
        # (in, mid, out, stride, kernel, se): the scale-0.5 channel counts of PaddleOCR's table.
        table: list[tuple[int, int, int, int | tuple[int, int], int, bool]] = [
            (16, 16, 32, 1, 3, False),
            (32, 32, 64, 1, 3, False),
            (64, 64, 64, 1, 3, False),
            (64, 64, 128, (2, 1), 3, False),
            (128, 128, 128, 1, 3, False),
            (128, 128, 256, (2, 1), 3, False),
            *[(256, 256, 256, 1, 5, False)] * middle_blocks,
            (256, 256, 512, (2, 1), 5, True),
            (512, 512, 512, (1, 2), 5, True),
        ]
        self.blocks = nn.Sequential(*[DepthwiseSeparable(i, m, o, s, k, se) for i, m, o, s, k, se in table])
        pool = (2, time_stride // 4)
        self.pool = nn.AvgPool2D(kernel_size=pool, stride=pool, padding=0)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        return self.pool(self.blocks(self.conv1(x)))


class LearnableAffine(nn.Layer):
    """``scale * x + bias`` with one learnt scale and bias (PP-LCNetV3's LearnableAffineBlock, trained at a
    tenth of the learning rate as in PaddleOCR)."""

    def __init__(self) -> None:
        super().__init__()
        attr = paddle.ParamAttr(learning_rate=0.1)
        self.scale = self.create_parameter([1], attr=attr, default_initializer=nn.initializer.Constant(1.0))
        self.bias = self.create_parameter([1], attr=attr, default_initializer=nn.initializer.Constant(0.0))

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        return self.scale * x + self.bias


class RepConv(nn.Layer):
    """PP-LCNetV3's LearnableRepLayer in its deploy form: one convolution with bias (its training branches
    folded together), an affine, hardswish and another affine."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int | tuple[int, int] = 1, groups: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2D(cin, cout, kernel, stride=stride, padding=kernel // 2, groups=groups)
        self.affine = LearnableAffine()
        self.act_affine = LearnableAffine()

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        return self.act_affine(F.hardswish(self.affine(self.conv(x))))


class LCNetV3Block(SeparableBlock):
    """PP-LCNetV3's block: re-parameterised convolutions (deploy form)."""

    def __init__(self, cin: int, cout: int, stride: int | tuple[int, int], kernel: int, use_se: bool) -> None:
        super().__init__()
        self.depthwise = RepConv(cin, cin, kernel, stride, groups=cin)
        self.se = SqueezeExcite(cin) if use_se else None
        self.pointwise = RepConv(cin, cout, 1)


class PPLCNetV3(nn.Layer):
    """PP-OCRv4's recognition backbone at scale 0.95, then a 3x2 average pool (``time_stride`` 8) or a
    3x1 one that keeps the width (``time_stride`` 4)."""

    channels = 480

    def __init__(self, time_stride: int = 8) -> None:
        super().__init__()
        _check_time_stride(time_stride)
        self.conv1 = ConvBN(3, 16, 3, 2, 1)
        # (in, out, stride, kernel, se): the scale-0.95 channel counts of PaddleOCR's table.
        table: list[tuple[int, int, int | tuple[int, int], int, bool]] = [
            (16, 32, 1, 3, False),
            (32, 64, 1, 3, False),
            (64, 64, 1, 3, False),
            (64, 128, (2, 1), 3, False),
            (128, 128, 1, 3, False),
            (128, 240, (1, 2), 3, False),
            *[(240, 240, 1, 5, False)] * 4,
            (240, 480, (2, 1), 5, True),
            (480, 480, 1, 5, True),
            (480, 480, (2, 1), 5, False),
            (480, 480, 1, 5, False),
        ]
        self.blocks = nn.Sequential(*[LCNetV3Block(i, o, s, k, se) for i, o, s, k, se in table])
        pool = (3, time_stride // 4)
        self.pool = nn.AvgPool2D(kernel_size=pool, stride=pool, padding=0)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        return self.pool(self.blocks(self.conv1(x)))


def _check_time_stride(time_stride: int) -> None:
    if time_stride not in TIME_STRIDES:
        raise ValueError(f"time_stride must be one of {TIME_STRIDES}, not {time_stride}")


def _check_middle_blocks(middle_blocks: int) -> None:
    if not 1 <= middle_blocks <= MIDDLE_BLOCKS:
        raise ValueError(f"middle_blocks must be between 1 and {MIDDLE_BLOCKS}, not {middle_blocks}")


class Attention(nn.Layer):
    def __init__(self, dim: int, heads: int = 8, drop: float = 0.1) -> None:
        super().__init__()
        self.heads, self.head_dim = heads, dim // heads
        self.scale = self.head_dim**-0.5
        self.qkv = nn.Linear(dim, dim * 3)
        self.attn_drop = nn.Dropout(drop)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(drop)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        n, t, c = x.shape
        qkv = self.qkv(x).reshape([n, t, 3, self.heads, self.head_dim]).transpose([2, 0, 3, 1, 4])
        q, k, v = qkv[0] * self.scale, qkv[1], qkv[2]
        attn = self.attn_drop(F.softmax(q.matmul(k.transpose([0, 1, 3, 2])), axis=-1))
        x = attn.matmul(v).transpose([0, 2, 1, 3]).reshape([n, t, c])
        return self.proj_drop(self.proj(x))


class Mlp(nn.Layer):
    def __init__(self, dim: int, hidden: int, drop: float = 0.1) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.Swish()
        self.fc2 = nn.Linear(hidden, dim)
        self.drop = nn.Dropout(drop)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))


class SVTRBlock(nn.Layer):
    def __init__(self, dim: int, mlp_ratio: float = 2.0) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, epsilon=1e-5)
        self.mixer = Attention(dim)
        self.norm2 = nn.LayerNorm(dim, epsilon=1e-5)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        x = x + self.mixer(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class SVTRNeck(nn.Layer):
    """EncoderWithSVTR: depth 2, hidden 120; PP-OCRv3's is 64 dims with 3x3 kernels, PP-OCRv4's 120 dims with 1x3.

    ``use_guide=True`` is PP-OCRv3's setting: the neck's input is detached, so CTC trains only
    the neck and head (in PaddleOCR a SAR branch trains the backbone). Fine-tuning with CTC
    alone needs ``use_guide=False``.
    """

    def __init__(self, cin: int, dims: int, kernel: tuple[int, int] = (3, 3), hidden: int = 120, depth: int = 2,
                 use_guide: bool = False) -> None:
        super().__init__()
        self.use_guide, self.dims = use_guide, dims
        padding = (kernel[0] // 2, kernel[1] // 2)
        self.conv1 = ConvBN(cin, cin // 8, kernel, padding=padding, act=nn.Swish)
        self.conv2 = ConvBN(cin // 8, hidden, 1, act=nn.Swish)
        self.svtr_block = nn.LayerList([SVTRBlock(hidden) for _ in range(depth)])
        self.norm = nn.LayerNorm(hidden, epsilon=1e-6)
        self.conv3 = ConvBN(hidden, cin, 1, act=nn.Swish)
        self.conv4 = ConvBN(2 * cin, cin // 8, kernel, padding=padding, act=nn.Swish)
        self.conv1x1 = ConvBN(cin // 8, dims, 1, act=nn.Swish)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        h = x.detach() if self.use_guide else x
        z = self.conv2(self.conv1(h))
        n, c, height, width = z.shape
        z = z.flatten(2).transpose([0, 2, 1])
        for block in self.svtr_block:
            z = block(z)
        z = self.norm(z).reshape([n, height, width, c]).transpose([0, 3, 1, 2])
        z = paddle.concat([h, self.conv3(z)], axis=1)
        return self.conv1x1(self.conv4(z))


class PlateRecModel(nn.Layer):
    """Backbone, neck, CTC head of an ``architecture`` (one of :data:`ARCHITECTURES`). ``forward`` returns
    logits in training, probabilities in eval."""

    def __init__(self, num_classes: int, use_guide: bool = False, time_stride: int = 8,
                 architecture: str = "ppocrv3", middle_blocks: int = MIDDLE_BLOCKS) -> None:
        super().__init__()
        self.architecture, self.middle_blocks = architecture, middle_blocks
        if middle_blocks != MIDDLE_BLOCKS and architecture != "ppocrv3":
            raise ValueError(f"middle_blocks is a ppocrv3 setting; {architecture} has no middle blocks to drop")
        if architecture == "ppocrv3":
            self.backbone: nn.Layer = MobileNetV1Enhance(time_stride, middle_blocks)
            self.neck = SVTRNeck(MobileNetV1Enhance.channels, 64, use_guide=use_guide)
        elif architecture == "ppocrv4":
            self.backbone = PPLCNetV3(time_stride)
            self.neck = SVTRNeck(PPLCNetV3.channels, 120, kernel=(1, 3), use_guide=use_guide)
        else:
            raise ValueError(f"architecture must be one of {ARCHITECTURES}, not {architecture!r}")
        self.head = nn.Linear(self.neck.dims, num_classes)

    def forward(self, x: paddle.Tensor, with_backbone: bool = False) -> Any:
        """Logits (training) or probabilities (eval), ``(N, T, C)``; ``with_backbone``: the backbone's
        features ``(N, B, 1, T)`` first, as ``(features, output)``, for feature distillation (through
        ``forward``, so that data-parallel training syncs their gradients)."""
        backbone = self.backbone(x)
        features = self.neck(backbone)  # (N, D, 1, T)
        logits = self.head(features.squeeze(2).transpose([0, 2, 1]))  # (N, T, C)
        output = logits if self.training else F.softmax(logits, axis=-1)
        return (backbone, output) if with_backbone else output


FIRST_MIDDLE_BLOCK = 6  # index in MobileNetV1Enhance.blocks


def keep_middle_blocks(model: PlateRecModel, middle_blocks: int) -> PlateRecModel:
    """``model`` (a ``ppocrv3`` one) with only the first ``middle_blocks`` of its backbone's middle blocks,
    every other weight as it was: how a shallower run starts from a deeper model's weights. The cut
    network reads nothing until trained (no block is skippable alone: the backbone has no residuals)."""
    backbone = model.backbone
    if not isinstance(backbone, MobileNetV1Enhance):
        raise ValueError(f"only the ppocrv3 backbone has middle blocks to keep, not {model.architecture}'s")
    _check_middle_blocks(middle_blocks)
    if middle_blocks > model.middle_blocks:
        raise ValueError(f"the model has {model.middle_blocks} middle blocks; it cannot keep {middle_blocks}")
    blocks = list(backbone.blocks)
    cut = slice(FIRST_MIDDLE_BLOCK + middle_blocks, FIRST_MIDDLE_BLOCK + model.middle_blocks)
    del blocks[cut]
    backbone.blocks = nn.Sequential(*blocks)
    model.middle_blocks = middle_blocks
    return model


def model_of_run(settings: RunSettings, num_classes: int, use_guide: bool = False) -> PlateRecModel:
    """An untrained model of the architecture, depth and time stride a run's ``config.yml`` says."""
    return PlateRecModel(num_classes, use_guide=use_guide, time_stride=settings.time_stride,
                         architecture=settings.architecture, middle_blocks=settings.middle_blocks)


def load_weights(model: nn.Layer, checkpoint: str | Path) -> None:
    """Set ``model``'s weights from a ``.pdparams`` file that holds exactly its tensors, in their shapes.

    Paddle's own ``set_state_dict`` skips a tensor that is missing or of another shape with a warning, so
    another model's checkpoint would leave random weights behind and training would start from them.

    Raises:
        CheckpointError: the file is missing or not a Paddle checkpoint, or (naming the tensors) it lacks some,
            has some in excess, or holds some in another shape.
    """
    if not Path(checkpoint).is_file():
        raise CheckpointError(f"checkpoint {checkpoint} not found")
    try:
        state = paddle.load(str(checkpoint))
    except Exception as exc:  # Paddle raises what unpickling a foreign file raises (ValueError, EOFError, ...)
        raise CheckpointError(f"{checkpoint} is not a Paddle checkpoint (.pdparams): {exc}") from exc
    if not isinstance(state, dict):
        raise CheckpointError(f"{checkpoint} is not a Paddle checkpoint (.pdparams): it holds a "
                              f"{type(state).__name__}, not named tensors")
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    reshaped = [f"{k} {list(state[k].shape)} (needs {list(own[k].shape)})" for k in own
                if k in state and list(state[k].shape) != list(own[k].shape)]
    if missing or unexpected or reshaped:
        def first(names: list[str]) -> str:
            return ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "") or "none"

        raise CheckpointError(f"{checkpoint} does not fit the {type(model).__name__}: missing {first(missing)}; "
                              f"unexpected {first(unexpected)}; of another shape {first(reshaped)}")
    model.set_state_dict(state)
