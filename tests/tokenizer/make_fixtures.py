#!/usr/bin/env python3
"""Writes the fixtures of the C++ tokenizer tests (tests/runtime/tokenizer_fixtures_test.cpp) from Hugging Face
`tokenizers`, the reference. Run from the repository root when the cases or the reference change:

    python tests/tokenizer/make_fixtures.py

Outputs (tests/tokenizer/fixtures/):
  tiny_tokenizer.json  a small byte-level BPE trained here by `tokenizers` on tok_cases.HARD_STRINGS plus the text
                       below (our own words), with special, non-special and lstrip/rstrip added tokens: exercises the
                       tokenizer.json path without a large vocabulary in the repository.
  tokenizer_cases.json per pre-tokenizer family (tok_reference.VARIANTS): the ids `tokenizers` gives for the hard
                       strings (with parse_special / add_special where they matter) and the pre-tokenizer pieces,
                       for the tiny tokenizer and for the default model's vocabulary (read from its GGUF); and the
                       count and FNV-1a hash of the ids of the whole WikiText-2 test text, read as the perplexity
                       protocol does (the file minus exactly one trailing newline).
"""
import hashlib
import json
import os
import sys
from pathlib import Path

import tokenizers
from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import tok_reference as ref  # noqa: E402
from tok_cases import HARD_STRINGS  # noqa: E402

OUT = HERE / "fixtures"

CORPUS = """The quick brown fox jumps over the lazy dog. Tokenizers split text into pieces, and byte pair encoding
merges the most frequent pairs first. Numbers like 2024, 3.14 and 1,000,000 appear in tables; code such as
for (int i = 0; i < n; ++i) { sum += x[i]; } appears in repositories. They'll say it's fine, we're sure, I've
checked, you'd agree. Don't shout: DON'T. Newlines

and tabs\tand   runs of spaces matter. Café, naïve, 日本語, Ελληνικά, русский.
"""

TINY_ADDED = [
    AddedToken("<|endoftext|>", special=True, normalized=False),
    AddedToken("<|im_start|>", special=True, normalized=False),
    AddedToken("<|im_end|>", special=True, normalized=False),
]
TINY_EXTRA = [
    AddedToken("<tool>", special=False, normalized=False),                          # always matched
    AddedToken("<mask>", special=True, lstrip=True, rstrip=True, normalized=False),  # swallows spaces around it
]
EXTRA_STRINGS = ["use <tool> now", "a <mask> b", "x  <mask>\n y", "<tool><tool>", "<mask>"]


def fnv1a64(ids):
    """FNV-1a over the ids as little-endian int32: the C++ test computes the same."""
    h = 0xCBF29CE484222325
    for i in ids:
        for b in int(i).to_bytes(4, "little", signed=True):
            h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def train_tiny():
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=700, min_frequency=2, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), special_tokens=TINY_ADDED)
    corpus = [CORPUS] * 3 + [s for s in HARD_STRINGS if "<" not in s] * 2
    tok.train_from_iterator(corpus, trainer)
    tok.add_tokens([TINY_EXTRA[0]])
    tok.add_special_tokens([TINY_EXTRA[1]])
    return json.loads(tok.to_str())


def variant_json(base, variant, bos_template):
    """base with the pre-tokenizer (and ignore_merges, post-processor) of one VARIANTS family."""
    tj = json.loads(json.dumps(base))
    v = ref.VARIANTS[variant]
    tj["pre_tokenizer"] = v["pre_tokenizer"]
    tj["normalizer"] = v.get("normalizer")
    tj["model"]["ignore_merges"] = v["ignore_merges"]
    tj["post_processor"] = None
    if bos_template:
        bos = "<|im_start|>"
        bos_id = next(a["id"] for a in tj["added_tokens"] if a["content"] == bos)
        tj["post_processor"] = {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": bos, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {bos: {"id": bos, "ids": [bos_id], "tokens": [bos]}}}
    return tj


def cases_for(tok, strings, added_contents):
    """ids for each string; parse_special both ways where special text occurs; add_special on a few."""
    out = []
    for s in strings:
        has_added = any(a in s for a in added_contents)
        for ps in ([False, True] if has_added else [False]):
            out.append({"text": s, "parse_special": ps, "add_special": False,
                        "ids": ref.hf_encode(tok, s, False, ps)})
    for s in ["", "Hello world", "<|im_start|>user"]:
        out.append({"text": s, "parse_special": True, "add_special": True, "ids": ref.hf_encode(tok, s, True, True)})
    return out


def pieces_for(tok, strings, added_contents):
    return [{"text": s, "pieces": ref.hf_pieces(tok, s)} for s in strings if not any(a in s for a in added_contents)]


def main():
    OUT.mkdir(exist_ok=True)
    tiny = train_tiny()
    (OUT / "tiny_tokenizer.json").write_text(json.dumps(tiny, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    tiny_added = [a["content"] for a in tiny["added_tokens"]]

    model_path = ref.default_model_path()
    vocab = ref.gguf_vocab(model_path)
    smol_added = [t for t, ty in zip(vocab["tokens"], vocab["token_types"]) if ty in (3, 4)]
    with open(model_path, "rb") as f:
        model_sha = hashlib.file_digest(f, "sha256").hexdigest()
    wiki_path = Path(ref.data_root()) / "wikitext-2-raw" / "wiki.test.raw"
    wiki = wiki_path.read_bytes().decode("utf-8")
    assert wiki.endswith("\n")
    wiki = wiki[:-1]

    strings = HARD_STRINGS + EXTRA_STRINGS
    result = {"generator": "tests/tokenizer/make_fixtures.py", "tokenizers_version": tokenizers.__version__,
              "tiny": {}, "model": {"file": os.path.basename(model_path), "sha256": model_sha, "variants": {}}}
    for name, v in ref.VARIANTS.items():
        bos_template = name == "llama3"  # one family with a BOS template, as Llama-3's tokenizer.json has
        tj = variant_json(tiny, name, bos_template)
        tok = ref.hf_tokenizer(tj)
        result["tiny"][name] = {"pre_tokenizer": tj["pre_tokenizer"], "normalizer": tj["normalizer"],
                                "ignore_merges": v["ignore_merges"],
                                "post_processor": tj["post_processor"],
                                "cases": cases_for(tok, strings, tiny_added),
                                "pieces": pieces_for(tok, strings, tiny_added)}
        if v["gguf_pre"] is None:
            continue  # GGUF files carry no normalizer
        stok = ref.hf_tokenizer(ref.tokenizer_json(vocab, name, bos_template=bos_template))
        wiki_ids = ref.hf_encode(stok, wiki)
        result["model"]["variants"][name] = {
            "gguf_pre": v["gguf_pre"], "add_bos": bos_template,
            "cases": cases_for(stok, HARD_STRINGS, smol_added),
            "wikitext_test": {"n_tokens": len(wiki_ids), "fnv1a64": fnv1a64(wiki_ids)}}
        print(f"{name}: wikitext-2 test -> {len(wiki_ids)} tokens", file=sys.stderr)
    (OUT / "tokenizer_cases.json").write_text(json.dumps(result, ensure_ascii=False) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
