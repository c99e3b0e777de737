"""Reference tokenizers for the parity tests: Hugging Face `tokenizers` built without network access.

Why it is built this way: the default model is a GGUF file, and its tokenizer.json is not shipped by any PyPI
package we can install (transformers' GGUF conversion writes one, but with a plain ByteLevel pre-tokenizer, which is
not what SmolLM2 uses). So the reference is assembled from the two facts that define the tokenizer:
  - the vocabulary, merges and control tokens, read from the GGUF with the `gguf` package (llama.cpp's converter
    copied them verbatim from the official tokenizer.json, in rank order);
  - the official pre-tokenizer/decoder configuration of SmolLM/SmolLM2 (tokenizer.json):
    pre_tokenizer Sequence[Digits(individual_digits=true), ByteLevel(add_prefix_space=false, use_regex=true)],
    decoder ByteLevel, no normalizer, control tokens 0..16 as special added tokens.
The same vocabulary with the Llama-3 and Qwen2 pre-tokenizers (Split with their regex + ByteLevel(use_regex=false))
and with GPT-2's plain ByteLevel exercises those pre-tokenizers on the same text without their (large, unshipped)
vocabularies: ids depend on the vocabulary, but the splitting is what differs between families.
"""
import copy
import json
import os
from pathlib import Path

from tokenizers import Tokenizer

REPO = Path(__file__).resolve().parents[2]

GPT2_REGEX = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"
LLAMA3_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                r"|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
               r"|\s*[\r\n]+|\s+(?!\S)|\s+")


def _byte_level(use_regex):
    return {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": use_regex}


def _split(regex):
    return {"type": "Split", "pattern": {"Regex": regex}, "behavior": "Isolated", "invert": False}


# Pre-tokenizer families: the tokenizer.json configuration, the matching GGUF tokenizer.ggml.pre, and whether the
# BPE model looks whole words up before merging (Llama-3's tokenizer.json has "ignore_merges": true, and llama.cpp
# sets it for llama-bpe).
VARIANTS = {
    "smollm": {"pre_tokenizer": {"type": "Sequence", "pretokenizers": [
        {"type": "Digits", "individual_digits": True}, _byte_level(True)]},
        "gguf_pre": "smollm", "ignore_merges": False},
    "gpt2": {"pre_tokenizer": _byte_level(True), "gguf_pre": "gpt2", "ignore_merges": False},
    "llama3": {"pre_tokenizer": {"type": "Sequence", "pretokenizers": [_split(LLAMA3_REGEX), _byte_level(False)]},
               "gguf_pre": "llama-bpe", "ignore_merges": True},
    "qwen2": {"pre_tokenizer": {"type": "Sequence", "pretokenizers": [_split(QWEN2_REGEX), _byte_level(False)]},
              "gguf_pre": "qwen2", "ignore_merges": False},
    # Qwen2's tokenizer.json also normalizes to NFC (GGUF files carry no normalizer, so no gguf_pre here).
    "qwen2-nfc": {"pre_tokenizer": {"type": "Sequence", "pretokenizers": [_split(QWEN2_REGEX), _byte_level(False)]},
                  "normalizer": {"type": "NFC"}, "gguf_pre": None, "ignore_merges": False},
}


def default_model_path():
    p = os.environ.get("BENCH_MODEL_PATH")
    if p:
        return p
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.environ.get("HOME", "/root"), ".cache")
    return os.path.join(cache, "benchpress", "models", "SmolLM2-135M-Instruct.Q4_1.gguf")


def data_root():
    """As `bench` resolves it without flags: $BENCH_DATA_ROOT, else the cache `bench fetch-data` fills."""
    if os.environ.get("BENCH_DATA_ROOT"):
        return os.environ["BENCH_DATA_ROOT"]
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.environ.get("HOME", "/root"), ".cache")
    return os.path.join(cache, "benchpress", "data")


def _field(reader, key):
    """A GGUF metadata value with the `gguf` package's low-level parts (works across gguf versions)."""
    f = reader.fields[key]
    if len(f.types) == 1 and f.types[0].name == "STRING":
        return bytes(f.parts[f.data[0]]).decode("utf-8")
    if f.types[0].name == "ARRAY":
        if f.types[-1].name == "STRING":
            return [bytes(f.parts[i]).decode("utf-8") for i in f.data]
        return [int(f.parts[i][0]) for i in f.data]
    return f.parts[f.data[0]][0].item()


def gguf_vocab(path):
    """tokens, token types, merges ("a b"), bos, eos, pre as stored in the GGUF file."""
    from gguf import GGUFReader
    r = GGUFReader(path)
    return {
        "tokens": _field(r, "tokenizer.ggml.tokens"),
        "token_types": _field(r, "tokenizer.ggml.token_type"),
        "merges": _field(r, "tokenizer.ggml.merges"),
        "bos": int(_field(r, "tokenizer.ggml.bos_token_id")),
        "eos": int(_field(r, "tokenizer.ggml.eos_token_id")),
        "pre": _field(r, "tokenizer.ggml.pre"),
        "model": _field(r, "tokenizer.ggml.model"),
    }


def tokenizer_json(vocab, variant="smollm", merges_as_pairs=False, bos_template=False):
    """A tokenizer.json (as a dict) for a GGUF vocabulary with one of the VARIANTS pre-tokenizers.

    bos_template: add a TemplateProcessing post-processor that prepends BOS (as Llama-3's tokenizer.json does).
    merges_as_pairs: write merges in the newer [["a", "b"], ...] form instead of "a b".
    """
    v = VARIANTS[variant]
    tokens, types = vocab["tokens"], vocab["token_types"]
    merges = [m.split(" ") for m in vocab["merges"]] if merges_as_pairs else list(vocab["merges"])
    added = [{"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False, "normalized": False,
              "special": types[i] == 3} for i, t in enumerate(tokens) if types[i] in (3, 4)]
    post = None
    if bos_template:
        bos = tokens[vocab["bos"]]
        post = {"type": "TemplateProcessing",
                "single": [{"SpecialToken": {"id": bos, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
                "pair": [{"SpecialToken": {"id": bos, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                         {"SpecialToken": {"id": bos, "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
                "special_tokens": {bos: {"id": bos, "ids": [vocab["bos"]], "tokens": [bos]}}}
    return {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": added,
        "normalizer": copy.deepcopy(v.get("normalizer")),
        "pre_tokenizer": copy.deepcopy(v["pre_tokenizer"]),
        "post_processor": post,
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False,
                  "ignore_merges": v["ignore_merges"],
                  "vocab": {t: i for i, t in enumerate(tokens)}, "merges": merges},
    }


def hf_tokenizer(tj):
    return Tokenizer.from_str(json.dumps(tj))


def hf_encode(tok, text, add_special=False, parse_special=False):
    tok.encode_special_tokens = not parse_special
    return tok.encode(text, add_special_tokens=add_special).ids


_BYTE_DECODER = None


def _byte_decoder():
    """GPT-2's byte-level alphabet, inverted: code point -> byte."""
    global _BYTE_DECODER
    if _BYTE_DECODER is None:
        keep = list(range(0x21, 0x7F)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
        table, n = {}, 0
        for b in range(256):
            if b in keep:
                table[chr(b)] = b
            else:
                table[chr(256 + n)] = b
                n += 1
        _BYTE_DECODER = table
    return _BYTE_DECODER


def hf_pieces(tok, text):
    """The pre-tokenizer's pieces of (normalized) text as raw strings (HF returns them in the byte-level alphabet)."""
    dec = _byte_decoder()
    if tok.normalizer is not None:
        text = tok.normalizer.normalize_str(text)
    return [bytes(dec[c] for c in p).decode("utf-8") for p, _ in tok.pre_tokenizer.pre_tokenize_str(text)]
