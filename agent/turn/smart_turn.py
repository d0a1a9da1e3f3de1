"""smart-turn v3.2 (the ONNX model bundled in pipecat-ai): P(the turn is complete) for some audio.

Input, as Pipecat feeds it (``pipecat/audio/turn/smart_turn/local_smart_turn_v3.py``): the last
8 s of the user's 16 kHz audio up to the moment of the check, zero-padded at the front, turned
into Whisper log-mel features (:mod:`agent.turn.features`: the same features as Pipecat's, computed
faster). Only the model call is here; when to call it is the detector's job.
"""

from __future__ import annotations

from importlib import resources

import numpy as np
import onnx
import onnxruntime as ort

from agent.turn.detectors import Graph, Kernels
from agent.turn.features import log_mel_features
from agent.turn.smart_turn_graph import fuse_gelu


def bundled_model_path() -> str:
    """Path of ``smart-turn-v3.2-cpu.onnx`` inside the installed pipecat-ai package."""
    ref = resources.files("pipecat.audio.turn.smart_turn.data").joinpath("smart-turn-v3.2-cpu.onnx")
    return str(ref)


class SmartTurnModel:
    """The ONNX session; one thread, as in Pipecat (two were slower here)."""

    def __init__(
        self,
        model_path: str | None = None,
        threads: int = 1,
        graph: Graph = "bundled",
        kernels: Kernels = "int8",
    ) -> None:
        so = ort.SessionOptions()
        if kernels == "reference":
            so.add_session_config_entry("session.disable_quant_qdq", "1")
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.inter_op_num_threads = 1
        so.intra_op_num_threads = threads
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.log_severity_level = 3  # the rewrite leaves constants unused; ORT would warn of each one
        model = onnx.load(model_path or bundled_model_path())
        if graph == "fused":
            fuse_gelu(model)
        self._session = ort.InferenceSession(model.SerializeToString(), sess_options=so)

    def probability(self, audio: np.ndarray) -> float:
        """P(complete) for 16 kHz float audio ending at the moment of the check."""
        features = log_mel_features(audio)
        out = self._session.run(None, {"input_features": np.expand_dims(features, 0)})
        return float(np.asarray(out[0]).reshape(-1)[0])
