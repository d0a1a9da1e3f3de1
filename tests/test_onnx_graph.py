"""The load-time graph edit that keeps smart-turn's attention weights in float."""

from __future__ import annotations

import collections
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from agent.turn.onnx_graph import float_softmax
from agent.turn.smart_turn import bundled_model_path


def _qdq_attention() -> onnx.ModelProto:
    """scores (uint8) -DQ-> Softmax -Q-> DQ -> MatMul(W): the shape of one attention head."""
    inits = [
        numpy_helper.from_array(np.array(0.05, np.float32), "s_in"),
        numpy_helper.from_array(np.array(0, np.uint8), "z_in"),
        numpy_helper.from_array(np.array(1 / 255, np.float32), "s_p"),
        numpy_helper.from_array(np.array(0, np.uint8), "z_p"),
        numpy_helper.from_array(np.arange(12, dtype=np.float32).reshape(4, 3) / 7, "w"),
    ]
    nodes = [
        helper.make_node("DequantizeLinear", ["x", "s_in", "z_in"], ["scores"]),
        helper.make_node("Softmax", ["scores"], ["p"], axis=-1),
        helper.make_node("QuantizeLinear", ["p", "s_p", "z_p"], ["p_q"]),
        helper.make_node("DequantizeLinear", ["p_q", "s_p", "z_p"], ["p_dq"]),
        helper.make_node("MatMul", ["p_dq", "w"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "attention",
        [helper.make_tensor_value_info("x", TensorProto.UINT8, [2, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 4 - 1])],
        inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def _run(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(model.SerializeToString())
    return np.asarray(session.run(None, {"x": x})[0])


def test_the_attention_weights_stay_float_and_nothing_else_changes() -> None:
    x = np.array([[0, 7, 13, 40], [90, 3, 3, 200]], np.uint8)
    model = _qdq_attention()
    before = _run(model, x)
    assert float_softmax(model) == 1
    onnx.checker.check_model(model)
    assert [n.op_type for n in model.graph.node] == ["DequantizeLinear", "Softmax", "MatMul"]
    assert {t.name for t in model.graph.initializer} == {"s_in", "z_in", "w"}
    scores = x.astype(np.float32) * 0.05
    p = np.exp(scores - scores.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    expected = p @ (np.arange(12, dtype=np.float32).reshape(4, 3) / 7)
    np.testing.assert_allclose(_run(model, x), expected, rtol=1e-5)
    assert not np.allclose(before, expected, rtol=1e-5)  # the shipped form rounds the weights


def test_a_softmax_whose_output_is_float_already_is_left_alone() -> None:
    model = _qdq_attention()
    kept = [n for n in model.graph.node if n.op_type != "QuantizeLinear" and n.output[0] != "p_dq"]
    kept[-1].input[0] = "p"  # Softmax -> MatMul
    del model.graph.node[:]
    model.graph.node.extend(kept)
    assert float_softmax(model) == 0
    assert [n.op_type for n in model.graph.node] == ["DequantizeLinear", "Softmax", "MatMul"]


def test_the_bundled_model_keeps_its_int8_products_and_loses_the_quantised_softmax(tmp_path: Path) -> None:
    model = onnx.load(bundled_model_path())
    assert float_softmax(model) == 4  # one per encoder layer
    optimised = tmp_path / "optimised.onnx"
    so = ort.SessionOptions()
    so.optimized_model_filepath = str(optimised)
    ort.InferenceSession(model.SerializeToString(), sess_options=so)
    ops = collections.Counter(n.op_type for n in onnx.load(optimised).graph.node)
    assert ops["QLinearSoftmax"] == 0
    assert ops["QLinearMatMul"] >= 30  # what the shipped graph fuses (34): the products stay int8
