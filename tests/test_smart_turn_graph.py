"""The smart-turn GELU fusion: on small graphs built here, then on the bundled model."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from agent.turn.smart_turn_graph import fuse_gelu


def _const(name: str, value: float | np.ndarray, dtype: type = np.float32) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(value, dtype=dtype), name)


def _run(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # run the graph as written
    session = ort.InferenceSession(model.SerializeToString(), sess_options=so)
    return np.asarray(session.run(None, {"x": x})[0])


def _model(nodes: list[onnx.NodeProto], inits: list[onnx.TensorProto]) -> onnx.ModelProto:
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 5])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 5])],
        inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], ir_version=9)


def gelu_chain() -> onnx.ModelProto:
    """x * (0.5 * (1 + erf(x / sqrt 2))), in the order the bundled model has it."""
    nodes = [
        helper.make_node("Div", ["x", "sqrt2"], ["d"]),
        helper.make_node("Erf", ["d"], ["e"]),
        helper.make_node("Add", ["e", "one"], ["a"]),
        helper.make_node("Mul", ["half", "a"], ["h"]),
        helper.make_node("Mul", ["x", "h"], ["y"]),
    ]
    return _model(nodes, [_const("sqrt2", 2**0.5), _const("one", 1.0), _const("half", 0.5)])


def test_a_gelu_chain_becomes_one_node_computing_the_same() -> None:
    x = np.linspace(-4, 4, 10, dtype=np.float32).reshape(2, 5)
    before = gelu_chain()
    want = _run(before, x)
    after = gelu_chain()
    assert fuse_gelu(after) == 1
    assert [n.op_type for n in after.graph.node] == ["Gelu"]
    np.testing.assert_allclose(_run(after, x), want, atol=1e-5)


def test_a_chain_with_other_constants_is_left_alone() -> None:
    model = gelu_chain()
    model.graph.initializer[2].CopyFrom(_const("half", 0.4))  # not GELU any more
    assert fuse_gelu(model) == 0
    assert len(model.graph.node) == 5


def test_the_bundled_model_has_what_the_rewrites_expect(replayer) -> None:
    """Eight GELUs are found in the bundled model, and its P stays near the bundled graph's."""
    from agent.turn.smart_turn import SmartTurnModel, bundled_model_path

    model = onnx.load(bundled_model_path())
    assert fuse_gelu(model) == 8
    speech = replayer.models.voice.synthesize("Could you tell me when the pharmacy opens?").audio
    p = {g: SmartTurnModel(graph=g).probability(speech) for g in ("bundled", "fused")}
    assert abs(p["fused"] - p["bundled"]) < 0.02


def test_reference_kernels_run_the_quantised_graph_as_written(voice) -> None:
    """``kernels="reference"`` keeps each quantise and dequantise (float arithmetic, the same on
    any x86 CPU) instead of this CPU's fused int8 kernels: the scores are the model's, close to
    the int8 ones but not equal to them, and the same from one loaded session to the next."""
    from agent.turn.smart_turn import SmartTurnModel

    speech = voice.synthesize("So what I was thinking is that we could maybe").audio
    windows = [speech[: len(speech) * k // 4] for k in (2, 3, 4)]
    int8 = SmartTurnModel(graph="fused", kernels="int8")
    first, second = (SmartTurnModel(graph="fused", kernels="reference") for _ in range(2))
    a = [first.probability(w) for w in windows]
    assert a == [second.probability(w) for w in windows]
    b = [int8.probability(w) for w in windows]
    assert a != b and max(abs(x - y) for x, y in zip(a, b, strict=True)) < 0.5
