"""Load-time edits of a quantised ONNX graph (the weights are never touched).

smart-turn v3.2 ships statically quantised (QDQ): every tensor between two operators goes through
``QuantizeLinear -> DequantizeLinear``. ONNX Runtime fuses ``DQ -> Softmax -> Q`` into
``QLinearSoftmax``, whose CPU kernel is slow: on this 2-core host it was a third of the model's
time (13 of ~40 ms per 8 s window). It also rounds the attention weights to 256 levels::

    scores ──DQ──► Softmax ──Q──► DQ ──► MatMul(·, V)      as shipped: QLinearSoftmax, uint8 weights
    scores ──DQ──► Softmax ─────────────► MatMul(·, V)      float_softmax(): float weights

Dropping the ``Q -> DQ`` pair after each softmax keeps the attention weights in float. The matrix
products stay int8 (``QLinearMatMul``); only the product with V becomes a float one.
"""

from __future__ import annotations

import onnx


def float_softmax(model: onnx.ModelProto) -> int:
    """Keep every ``Softmax`` output in float: bypass a ``QuantizeLinear`` that is its only
    consumer and the ``DequantizeLinear`` nodes after it. Edits ``model`` in place; returns how
    many softmaxes were changed."""
    graph = model.graph
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    dropped: set[str] = set()
    changed = 0
    for node in graph.node:
        if node.op_type != "Softmax":
            continue
        after = consumers.get(node.output[0], [])
        if len(after) != 1 or after[0].op_type != "QuantizeLinear":
            continue
        quantize = after[0]
        dequantizes = consumers.get(quantize.output[0], [])
        if not dequantizes or any(d.op_type != "DequantizeLinear" for d in dequantizes):
            continue
        for dq in dequantizes:
            for user in consumers.get(dq.output[0], []):
                for k, name in enumerate(user.input):
                    if name == dq.output[0]:
                        user.input[k] = node.output[0]
            dropped.add(dq.output[0])
        dropped.add(quantize.output[0])
        changed += 1
    kept = [n for n in graph.node if not (set(n.output) & dropped)]
    del graph.node[:]
    graph.node.extend(kept)
    used = {name for n in graph.node for name in n.input}
    unused = [t for t in graph.initializer if t.name not in used]  # the dropped pairs' scales
    for tensor in unused:
        graph.initializer.remove(tensor)
    return changed
