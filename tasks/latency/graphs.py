"""ONNX graphs of UFO ViT-Base pieces with random weights, built with onnx.helper, for
timing with onnxruntime (tasks/latency/ times them).

Three shapes, all on a batch of one image:
- one transformer block of a given layer kind, tokens (1, N, 768) in and out;
- the fixed part: patch embedding (Conv 16x16 stride 16), class token, position
  embedding, then the final LayerNorm, image (1, 3, S, S) in, tokens out;
- a whole sub-network: the fixed part with the arch's blocks chained in between.
The block follows the UFO/timm ViT block: pre-norm attention with a fused qkv projection
(bias), softmax(q k^T / 8) v, output projection, residual; pre-norm MLP with exact
(Erf-based) GELU, residual. Weights are uniform with standard deviation 0.02, the scale
ViT initialises them at, so values stay in a normal float range (denormals would slow the
CPU and skew the timing); uniform rather than normal because drawing the 86M weights of a
whole sub-network is about 3x faster and the values do not change the arithmetic done."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from schemas.costs import LAYER_KINDS, mlp_hidden, n_tokens
from schemas.search_space import (
    EMBED_DIM,
    HEAD_DIM,
    HEADS_BY_CODE,
    IN_CHANNELS,
    MLP_RATIO_BY_CODE,
    PATCH_SIZE,
)

# LayerNormalization became a standard ONNX op in opset 17; IR version 9 is what
# onnxruntime has loaded since 1.15, so an older runtime can still read these models.
OPSET = 17
IR_VERSION = 9
LAYER_NORM_EPSILON = 1e-6  # timm's ViT uses 1e-6
WEIGHT_STD = 0.02
TOKENS_INPUT = "tokens"
IMAGE_INPUT = "image"
OUTPUT = "output"


class _GraphBuilder:
    """Collects nodes and initialisers; every name gets a prefix so blocks can be chained."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self._count = 0

    def fresh(self, stem: str) -> str:
        self._count += 1
        return f"{stem}_{self._count}"

    def constant(self, stem: str, array: np.ndarray) -> str:
        name = self.fresh(stem)
        self.initializers.append(numpy_helper.from_array(array, name))
        return name

    def weight(self, stem: str, shape: tuple[int, ...]) -> str:
        half_width = np.float32(WEIGHT_STD * math.sqrt(3.0))  # uniform(-a, a) has std a/sqrt(3)
        values = self.rng.random(shape, dtype=np.float32)
        values *= 2 * half_width
        values -= half_width
        return self.constant(stem, values)

    def op(self, op_type: str, inputs: Sequence[str], **attributes) -> str:
        output = self.fresh(op_type.lower())
        self.nodes.append(helper.make_node(op_type, list(inputs), [output], **attributes))
        return output

    def layer_norm(self, x: str) -> str:
        scale = self.constant("ln_scale", np.ones(EMBED_DIM, dtype=np.float32))
        bias = self.constant("ln_bias", np.zeros(EMBED_DIM, dtype=np.float32))
        return self.op("LayerNormalization", [x, scale, bias], axis=-1, epsilon=LAYER_NORM_EPSILON)

    def linear(self, x: str, n_in: int, n_out: int) -> str:
        product = self.op("MatMul", [x, self.weight("w", (n_in, n_out))])
        return self.op("Add", [product, self.weight("b", (n_out,))])

    def shape(self, dims: Sequence[int]) -> str:
        return self.constant("shape", np.asarray(dims, dtype=np.int64))

    def scalar(self, value: float) -> str:
        return self.constant("scalar", np.asarray(value, dtype=np.float32))


def _add_block(g: _GraphBuilder, x: str, kind: int, tokens: int) -> str:
    heads_code, mlp_code = LAYER_KINDS[kind]
    heads, hidden = HEADS_BY_CODE[heads_code], mlp_hidden(MLP_RATIO_BY_CODE[mlp_code])
    inner = heads * HEAD_DIM

    qkv = g.linear(g.layer_norm(x), EMBED_DIM, 3 * inner)
    qkv = g.op("Reshape", [qkv, g.shape((1, tokens, 3, heads, HEAD_DIM))])
    qkv = g.op("Transpose", [qkv], perm=[2, 0, 3, 1, 4])  # (3, 1, heads, N, 64)
    q, k, v = (
        g.op("Gather", [qkv, g.constant("index", np.asarray(i, dtype=np.int64))], axis=0)
        for i in range(3)
    )
    scores = g.op("MatMul", [q, g.op("Transpose", [k], perm=[0, 1, 3, 2])])
    scores = g.op("Mul", [scores, g.scalar(HEAD_DIM**-0.5)])
    context = g.op("MatMul", [g.op("Softmax", [scores], axis=-1), v])  # (1, heads, N, 64)
    context = g.op("Transpose", [context], perm=[0, 2, 1, 3])
    context = g.op("Reshape", [context, g.shape((1, tokens, inner))])
    x = g.op("Add", [x, g.linear(context, inner, EMBED_DIM)])

    hidden_values = g.linear(g.layer_norm(x), EMBED_DIM, hidden)
    # Exact GELU, 0.5 x (1 + erf(x / sqrt 2)); onnxruntime fuses this pattern into one op.
    erf = g.op("Erf", [g.op("Div", [hidden_values, g.scalar(math.sqrt(2.0))])])
    gelu = g.op(
        "Mul", [g.op("Mul", [hidden_values, g.scalar(0.5)]), g.op("Add", [erf, g.scalar(1.0)])]
    )
    return g.op("Add", [x, g.linear(gelu, hidden, EMBED_DIM)])


def _add_patch_embedding(g: _GraphBuilder, image: str, image_size: int) -> str:
    tokens = n_tokens(image_size)
    kernel = g.weight("patch_w", (EMBED_DIM, IN_CHANNELS, PATCH_SIZE, PATCH_SIZE))
    patches = g.op(
        "Conv",
        [image, kernel, g.weight("patch_b", (EMBED_DIM,))],
        kernel_shape=[PATCH_SIZE, PATCH_SIZE],
        strides=[PATCH_SIZE, PATCH_SIZE],
    )
    patches = g.op("Reshape", [patches, g.shape((1, EMBED_DIM, tokens - 1))])
    patches = g.op("Transpose", [patches], perm=[0, 2, 1])
    with_class = g.op("Concat", [g.weight("cls", (1, 1, EMBED_DIM)), patches], axis=1)
    return g.op("Add", [with_class, g.weight("pos", (1, tokens, EMBED_DIM))])


def _model(g: _GraphBuilder, input_name: str, input_shape, last: str, name: str) -> onnx.ModelProto:
    g.nodes.append(helper.make_node("Identity", [last], [OUTPUT]))
    graph = helper.make_graph(
        g.nodes,
        name,
        [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, list(input_shape))],
        [helper.make_tensor_value_info(OUTPUT, TensorProto.FLOAT, None)],
        initializer=g.initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    return model


def block_model(kind: int, image_size: int, rng: np.random.Generator) -> onnx.ModelProto:
    """One transformer block of layer kind `kind` (an index into LAYER_KINDS)."""
    tokens = n_tokens(image_size)
    g = _GraphBuilder(rng)
    last = _add_block(g, TOKENS_INPUT, kind, tokens)
    return _model(g, TOKENS_INPUT, (1, tokens, EMBED_DIM), last, f"block_kind{kind}")


def network_model(
    kinds: Sequence[int], image_size: int, rng: np.random.Generator
) -> onnx.ModelProto:
    """The fixed part with blocks of the given kinds chained in between; no kinds gives
    the fixed part alone (patch embedding and final norm)."""
    g = _GraphBuilder(rng)
    x = _add_patch_embedding(g, IMAGE_INPUT, image_size)
    for kind in kinds:
        x = _add_block(g, x, kind, n_tokens(image_size))
    last = g.layer_norm(x)
    shape = (1, IN_CHANNELS, image_size, image_size)
    return _model(g, IMAGE_INPUT, shape, last, f"network_{len(kinds)}_blocks")


def model_input(model: onnx.ModelProto, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """A random input feed of the model's (static) input shape."""
    (value_info,) = model.graph.input
    shape = [d.dim_value for d in value_info.type.tensor_type.shape.dim]
    return {value_info.name: rng.standard_normal(shape, dtype=np.float32)}
