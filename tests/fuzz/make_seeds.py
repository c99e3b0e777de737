#!/usr/bin/env python3
"""Writes the fuzzers' seed corpora (small valid inputs) into tests/fuzz/seeds/{gguf,safetensors,hf_config}/.

GGUF seeds are written with the `gguf` package (llama.cpp's own writer), so they are valid by an implementation other
than ours. Weights are random bytes (fixed seed) with finite f16 scales.
    python3 tests/fuzz/make_seeds.py
"""
import json
import os
import struct

import numpy as np
from gguf import GGMLQuantizationType as Q
from gguf import GGML_QUANT_SIZES, GGUFWriter, GGUFValueType

HERE = os.path.dirname(os.path.abspath(__file__))
RNG = np.random.default_rng(7)
# Byte offsets of the f16 scale fields inside one block: their top exponent bits are cleared to keep values finite.
SCALE_OFFSETS = {Q.Q4_0: [0], Q.Q4_1: [0, 2], Q.Q5_0: [0], Q.Q5_1: [0, 2], Q.Q8_0: [0], Q.Q4_K: [0, 2], Q.Q6_K: [208]}


def raw_blocks(qtype, rows, cols):
    block, size = GGML_QUANT_SIZES[qtype]
    nb = cols // block
    b = RNG.integers(0, 256, size=(rows * nb, size), dtype=np.uint8)
    for off in SCALE_OFFSETS[qtype]:
        b[:, off + 1] &= 0x3B
    return b.reshape(rows, nb * size)


def add(w, name, qtype, rows, cols=None):
    if cols is None:  # 1-D tensor
        w.add_tensor(name, RNG.standard_normal(rows).astype(np.float32))
    elif qtype == Q.F32:
        w.add_tensor(name, RNG.standard_normal((rows, cols)).astype(np.float32))
    elif qtype == Q.F16:
        w.add_tensor(name, RNG.standard_normal((rows, cols)).astype(np.float16))
    elif qtype == Q.BF16:
        bits = (RNG.standard_normal((rows, cols)).astype(np.float32).view(np.uint32) >> 16).astype(np.uint16)
        w.add_tensor(name, bits.view(np.uint8).reshape(rows, cols * 2), raw_dtype=Q.BF16)
    else:
        w.add_tensor(name, raw_blocks(qtype, rows, cols), raw_dtype=qtype)


def tokenizer(w, n):
    toks = ["<|endoftext|>", "<s>", "</s>"] + [chr(ord("a") + i) for i in range(n - 5)] + ["ab", "abc"]
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("smollm")
    w.add_token_list(toks)
    w.add_token_types([3, 3, 3] + [1] * (n - 3))
    w.add_token_merges(["a b", "ab c"])
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_add_bos_token(False)


def model(path, arch, types, bias=False, tied=True, n_vocab=16, d=32, ff=64, heads=2, kv=1):
    w = GGUFWriter(path, arch)
    w.add_block_count(1)
    w.add_context_length(64)
    w.add_embedding_length(d)
    w.add_feed_forward_length(ff)
    w.add_head_count(heads)
    w.add_head_count_kv(kv)
    w.add_rope_freq_base(10000.0)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_dimension_count(d // heads)
    w.add_file_type(0)
    tokenizer(w, n_vocab)
    hd = d // heads
    add(w, "token_embd.weight", types["embd"], n_vocab, d)
    add(w, "output_norm.weight", Q.F32, d)
    if not tied:
        add(w, "output.weight", types["embd"], n_vocab, d)
    add(w, "blk.0.attn_norm.weight", Q.F32, d)
    add(w, "blk.0.attn_q.weight", types["q"], heads * hd, d)
    add(w, "blk.0.attn_k.weight", types["k"], kv * hd, d)
    add(w, "blk.0.attn_v.weight", types["v"], kv * hd, d)
    if bias:
        add(w, "blk.0.attn_q.bias", Q.F32, heads * hd)
        add(w, "blk.0.attn_k.bias", Q.F32, kv * hd)
        add(w, "blk.0.attn_v.bias", Q.F32, kv * hd)
    add(w, "blk.0.attn_output.weight", types["o"], d, heads * hd)
    add(w, "blk.0.ffn_norm.weight", Q.F32, d)
    add(w, "blk.0.ffn_gate.weight", types["gate"], ff, d)
    add(w, "blk.0.ffn_up.weight", types["up"], ff, d)
    add(w, "blk.0.ffn_down.weight", types["down"], d, ff)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def every_value_type(path):
    """Not a model: metadata of every GGUF value type and K-quant tensors (covers parser + dequantizers)."""
    w = GGUFWriter(path, "llama")
    w.add_uint8("t.u8", 200)
    w.add_int8("t.i8", -100)
    w.add_uint16("t.u16", 60000)
    w.add_int16("t.i16", -30000)
    w.add_uint32("t.u32", 4000000000)
    w.add_int32("t.i32", -2000000000)
    w.add_float32("t.f32", 1.5)
    w.add_bool("t.bool", True)
    w.add_string("t.str", "héllo")
    w.add_uint64("t.u64", 2**63 + 5)
    w.add_int64("t.i64", -(2**62))
    w.add_float64("t.f64", -2.25)
    w.add_array("t.arr_i32", [1, -2, 3])
    w.add_array("t.arr_str", ["x", "", "yz"])
    w.add_array("t.arr_f32", [0.5, 1.5])
    w.add_custom_alignment(64)
    add(w, "a", Q.Q4_K, 2, 256)
    add(w, "b", Q.Q6_K, 1, 256)
    add(w, "c", Q.Q8_0, 1, 32)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def safetensors_file(path, tensors, metadata=None):
    """tensors: list of (name, dtype string, shape, bytes)."""
    header, data = {}, b""
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    if metadata:
        header["__metadata__"] = metadata
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)  # the reference writer pads the header to 8 bytes
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + data)


def main():
    g = os.path.join(HERE, "seeds", "gguf")
    s = os.path.join(HERE, "seeds", "safetensors")
    c = os.path.join(HERE, "seeds", "hf_config")
    for d in (g, s, c):
        os.makedirs(d, exist_ok=True)
    model(os.path.join(g, "tiny_llama_mixed.gguf"), "llama",
          {"embd": Q.Q8_0, "q": Q.Q4_0, "k": Q.Q4_1, "v": Q.Q5_0, "o": Q.Q5_1, "gate": Q.F16, "up": Q.BF16,
           "down": Q.Q8_0})
    model(os.path.join(g, "tiny_qwen2_f16.gguf"), "qwen2", {k: Q.F16 for k in
          ("embd", "q", "k", "v", "o", "gate", "up", "down")}, bias=True, tied=False, ff=32)
    every_value_type(os.path.join(g, "value_types_kquants.gguf"))
    # The same small model as GGUF version 2 (identical layout apart from the version field).
    with open(os.path.join(g, "tiny_llama_mixed.gguf"), "rb") as f:
        b = bytearray(f.read())
    b[4:8] = struct.pack("<I", 2)
    with open(os.path.join(g, "tiny_llama_v2.gguf"), "wb") as f:
        f.write(b)

    f32 = RNG.standard_normal(12).astype(np.float32)
    f16 = RNG.standard_normal(8).astype(np.float16)
    bf16 = (RNG.standard_normal(6).astype(np.float32).view(np.uint32) >> 16).astype(np.uint16)
    safetensors_file(os.path.join(s, "mixed.safetensors"),
                     [("model.embed_tokens.weight", "F32", [3, 4], f32.tobytes()),
                      ("model.norm.weight", "F16", [8], f16.tobytes()),
                      ("lm_head.weight", "BF16", [2, 3], bf16.tobytes()),
                      ("scalar", "F32", [], f32[:1].tobytes()),
                      ("empty", "F16", [0, 4], b"")],
                     {"format": "pt"})
    safetensors_file(os.path.join(s, "single.safetensors"), [("w", "F16", [2, 2], f16[:4].tobytes())])

    fixtures = os.path.join(HERE, "..", "runtime", "fixtures", "io_hf")
    for name in ("llama_bf16", "qwen2_sharded", "mistral_f32"):
        with open(os.path.join(fixtures, name, "config.json")) as f:
            cfg = json.load(f)
        with open(os.path.join(c, name + ".json"), "w") as f:
            json.dump(cfg, f)
    legacy = {"architectures": ["LlamaForCausalLM"], "hidden_size": 64, "intermediate_size": 128,
              "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 100,
              "rope_theta": 500000.0, "rms_norm_eps": 1e-5, "tie_word_embeddings": True,
              "rope_scaling": {"rope_type": "llama3", "factor": 32.0, "low_freq_factor": 1.0,
                               "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}}
    with open(os.path.join(c, "llama3_legacy_rope.json"), "w") as f:
        json.dump(legacy, f)
    for d in (g, s, c):
        for n in sorted(os.listdir(d)):
            print(os.path.join(os.path.relpath(d, HERE), n), os.path.getsize(os.path.join(d, n)))


if __name__ == "__main__":
    main()
