"""Tiny BERT-shaped ONNX models built on the spot, for testing the ONNX runtime without downloading
weights: a WordPiece tokenizer.json over a small vocabulary (the ``tokenizers`` library) and a graph
made with the ``onnx`` helper API (a test dependency, imported here only).

- ``build_embedder(folder)``: input_ids / attention_mask (/ token_type_ids) → last_hidden_state.
  Token embeddings (Gather), one layer ``h = x + tanh(x·W + b)``, then the masked mean of ``h``
  added to every position, so the [CLS] vector, too, depends on the whole text. Mean and CLS
  pooling of it both make texts sharing words similar.
- ``build_reranker(folder)``: a cross-encoder over (question, passage) pairs → logits (batch, 1):
  the dot product of the mean token vector of segment A with that of segment B, so a passage
  sharing the question's words scores higher.

In the cross-encoder special tokens embed to zero, so they carry no meaning; in the embedder only
[PAD] does (a text of unknown words still has a vector).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import onnx

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"]
WORDS = ("annual leave days fifteen ten refund refunds paid within fourteen shipping takes two the is are of "
         "a how many what when where who jupiter red spot planet meeting held room office contact person "
         "年 假 天 十 五 退 款 会 议 在 哪 里 召 开 联 系 人 是 谁 有 几").split()


def _tokenizer(folder: Path) -> None:
    from tokenizers import Tokenizer, normalizers, pre_tokenizers, processors
    from tokenizers.models import WordPiece

    vocab = {t: i for i, t in enumerate(SPECIALS + WORDS)}
    tok = Tokenizer(WordPiece(vocab, unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True, handle_chinese_chars=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])])
    tok.save(str(folder / "tokenizer.json"))


def _embeddings(dim: int, seed: int, zeroed: int = len(SPECIALS)) -> np.ndarray:
    """Random token vectors; the first ``zeroed`` (special tokens) are zero."""
    rng = np.random.default_rng(seed)
    table = rng.standard_normal((len(SPECIALS) + len(WORDS), dim)).astype(np.float32)
    table[:zeroed] = 0.0
    return table


def _save(graph: "onnx.GraphProto", path: Path, external: bool = False) -> None:
    import onnx
    from onnx import helper

    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8  # what onnxruntime 1.17 and later read
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    if external:  # the weights in a file next to the graph, as exports of models over 2 GB are
        onnx.save(model, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                  location=path.name + "_data", size_threshold=1024)
    else:
        onnx.save(model, str(path))


def build_embedder(folder: Path, dim: int = 128, token_types: bool = True, file: str = "onnx/model.onnx",
                   seed: int = 0, external: bool = False) -> Path:
    """A tiny embedding model in ``folder`` (created); ``token_types=False`` makes it XLM-R-shaped
    (no token_type_ids input)."""
    from onnx import TensorProto, helper, numpy_helper

    folder.mkdir(parents=True, exist_ok=True)
    _tokenizer(folder)
    rng = np.random.default_rng(seed + 1)
    inits = [
        numpy_helper.from_array(_embeddings(dim, seed, zeroed=1), "word_embeddings"),  # [PAD] only
        numpy_helper.from_array((rng.standard_normal((dim, dim)) * 0.1).astype(np.float32), "W"),
        numpy_helper.from_array(np.zeros(dim, dtype=np.float32), "b"),
        numpy_helper.from_array(np.array([1], dtype=np.int64), "axis1"),
        numpy_helper.from_array(np.array([1e-6], dtype=np.float32), "eps"),
    ]
    nodes = [
        helper.make_node("Gather", ["word_embeddings", "input_ids"], ["x"]),
        helper.make_node("MatMul", ["x", "W"], ["xw"]),
        helper.make_node("Add", ["xw", "b"], ["xwb"]),
        helper.make_node("Tanh", ["xwb"], ["t"]),
        helper.make_node("Add", ["x", "t"], ["h"]),
        helper.make_node("Cast", ["attention_mask"], ["maskf"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["maskf", "axis2"], ["mask3"]),
        helper.make_node("Mul", ["h", "mask3"], ["hm"]),
        helper.make_node("ReduceSum", ["hm", "axis1"], ["total"], keepdims=1),
        helper.make_node("ReduceSum", ["mask3", "axis1"], ["count"], keepdims=1),
        helper.make_node("Add", ["count", "eps"], ["count_eps"]),
        helper.make_node("Div", ["total", "count_eps"], ["context"]),
        helper.make_node("Add", ["h", "context"], ["last_hidden_state"]),
    ]
    inits.append(numpy_helper.from_array(np.array([2], dtype=np.int64), "axis2"))
    inputs = [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "tokens"]),
              helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "tokens"])]
    if token_types:  # BERT feeds it; this model reads it nowhere, as a graph may ignore an input
        inputs.append(helper.make_tensor_value_info("token_type_ids", TensorProto.INT64, ["batch", "tokens"]))
    outputs = [helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, ["batch", "tokens", dim])]
    _save(helper.make_graph(nodes, "tiny-embedder", inputs, outputs, inits), folder / file, external)
    (folder / "config.json").write_text(json.dumps({"model_type": "bert" if token_types else "xlm-roberta",
                                                    "hidden_size": dim, "max_position_embeddings": 64}))
    return folder


def build_reranker(folder: Path, dim: int = 128, seed: int = 0, file: str = "onnx/model.onnx") -> Path:
    """A tiny cross-encoder in ``folder`` (created): logits = mean(segment A) · mean(segment B)."""
    from onnx import TensorProto, helper, numpy_helper

    folder.mkdir(parents=True, exist_ok=True)
    _tokenizer(folder)
    inits = [
        numpy_helper.from_array(_embeddings(dim, seed), "word_embeddings"),
        numpy_helper.from_array(np.array([1], dtype=np.int64), "axis1"),
        numpy_helper.from_array(np.array([2], dtype=np.int64), "axis2"),
        numpy_helper.from_array(np.array([1e-6], dtype=np.float32), "eps"),
    ]
    nodes = [
        helper.make_node("Gather", ["word_embeddings", "input_ids"], ["x"]),
        helper.make_node("Cast", ["attention_mask"], ["maskf"], to=TensorProto.FLOAT),
        helper.make_node("Cast", ["token_type_ids"], ["typef"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["maskf", "typef"], ["mask_b"]),
        helper.make_node("Sub", ["maskf", "mask_b"], ["mask_a"]),
    ]
    for seg in ("a", "b"):
        nodes += [
            helper.make_node("Unsqueeze", [f"mask_{seg}", "axis2"], [f"m3_{seg}"]),
            helper.make_node("Mul", ["x", f"m3_{seg}"], [f"xm_{seg}"]),
            helper.make_node("ReduceSum", [f"xm_{seg}", "axis1"], [f"sum_{seg}"], keepdims=0),
            helper.make_node("ReduceSum", [f"m3_{seg}", "axis1"], [f"n_{seg}"], keepdims=0),
            helper.make_node("Add", [f"n_{seg}", "eps"], [f"ne_{seg}"]),
            helper.make_node("Div", [f"sum_{seg}", f"ne_{seg}"], [f"mean_{seg}"]),
        ]
    nodes += [
        helper.make_node("Mul", ["mean_a", "mean_b"], ["prod"]),
        helper.make_node("ReduceSum", ["prod", "axis1"], ["logits"], keepdims=1),
    ]
    inputs = [helper.make_tensor_value_info(n, TensorProto.INT64, ["batch", "tokens"])
              for n in ("input_ids", "attention_mask", "token_type_ids")]
    outputs = [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 1])]
    _save(helper.make_graph(nodes, "tiny-reranker", inputs, outputs, inits), folder / file)
    (folder / "config.json").write_text(json.dumps({"model_type": "bert", "max_position_embeddings": 64}))
    return folder
