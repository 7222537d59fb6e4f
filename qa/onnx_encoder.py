"""The query encoder as an ONNX graph: exported by ``qa build`` into the index folder, run by onnxruntime.

``export_query_model`` writes a mean-pooling model (``qa.embed.MeanPoolingEncoder.fits``) as one graph that
takes the tokenizer's arrays and returns the Normalize module's vectors (the transformer, then
``qa.embed.mean_pooled``). ``OnnxEncoder`` is ``MeanPoolingEncoder`` with that graph in place of torch: the
same tokenizer, sorting and batching, onnxruntime on ``QUERY_THREADS`` intra-op threads. Its vectors are
within float32 rounding of torch's (different kernels), not bit for bit; ``tests/test_onnx_encoder.py``
checks the tolerance and that the top-10 passages and units are the same.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from qa.embed import QUERY_THREADS, MeanPoolingEncoder, mean_pooled

# The file ``qa build`` writes into the index folder (listed, with its checksum, in the manifest's files).
ONNX_QUERY_MODEL = "query_encoder.onnx"
# The ONNX operator set of the export: 17 has LayerNormalization as one operator.
ONNX_OPSET = 17


def export_query_model(model_path: str, target: Path) -> None:
    """Write the mean-pooling model at ``model_path`` as an ONNX graph to ``target``."""
    import torch
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as transformers_logging

    class Pooled(torch.nn.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids):
            tokens = self.model(input_ids=input_ids, attention_mask=attention_mask,
                                token_type_ids=token_type_ids).last_hidden_state
            return mean_pooled(tokens, attention_mask)

    transformers_logging.disable_progress_bar()
    model = Pooled(AutoModel.from_pretrained(model_path).eval())
    example = AutoTokenizer.from_pretrained(model_path)(["an example", "a second, longer example"], padding=True,
                                                       return_tensors="pt")
    names = ["input_ids", "attention_mask", "token_type_ids"]
    axes = {name: {0: "texts", 1: "tokens"} for name in names}
    # The tracer warns of Python conditions on tensor shapes in the transformer's code, which are fixed in the
    # graph; none depends on the batch or the text (tests/test_onnx_encoder.py compares the vectors with torch's).
    with torch.inference_mode(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, tuple(example[name] for name in names), str(target), input_names=names,
                          output_names=["vectors"], dynamic_axes={**axes, "vectors": {0: "texts"}},
                          opset_version=ONNX_OPSET, dynamo=False)


class OnnxEncoder(MeanPoolingEncoder):
    """``MeanPoolingEncoder`` running the exported graph on onnxruntime instead of torch."""

    tensor_type = "np"
    own_threads = True  # the session is made with QUERY_THREADS: the query encoder's thread sets no torch threads

    def __init__(self, model_path: str, graph: Path):
        import onnxruntime

        self._load_tokenizer(model_path)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = QUERY_THREADS
        options.inter_op_num_threads = 1
        self.session = onnxruntime.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])
        self.inputs = [i.name for i in self.session.get_inputs()]
        self.dimension = self.session.get_outputs()[0].shape[1]

    def _vectors(self, features, normalize_embeddings: bool) -> np.ndarray:
        (vectors,) = self.session.run(None, {name: features[name].astype("int64") for name in self.inputs})
        if normalize_embeddings:  # as torch's F.normalize: x / max(|x|, 1e-12)
            vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return vectors
