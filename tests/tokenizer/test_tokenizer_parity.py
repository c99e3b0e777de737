"""Parity of the C++ tokenizer (through `bench tokenize`) with Hugging Face `tokenizers`, the reference.

The reference is assembled without network access from the default model's GGUF (vocabulary, merges, control tokens,
read with the `gguf` package) plus the official SmolLM2 tokenizer.json configuration; tok_reference.py explains why
that is the most faithful reference available (transformers' own GGUF conversion uses a plain ByteLevel
pre-tokenizer and so splits digits differently from the real SmolLM2 tokenizer). The Llama-3, Qwen2 and GPT-2
pre-tokenizers (and Qwen2's NFC normalizer) are checked on the same vocabulary.

Compared: every id of WikiText-2 test (read as the perplexity protocol does: the whole file as one string minus
exactly one trailing newline) through the GGUF file and through tokenizer.json; the hard strings of tok_cases.py with
parse_special / add_special on and off; and the pre-tokenizer pieces of a text holding every Unicode code point,
which checks the generated \\p{L} / \\p{N} / \\s / numeric tables against the reference's regex engine.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import tok_reference as ref  # noqa: E402
from tok_cases import HARD_STRINGS  # noqa: E402


def bench_binary():
    candidates = [os.environ.get("BENCH_BINARY")]
    if os.environ.get("BENCH_BUILD_DIR"):
        candidates.append(os.path.join(os.environ["BENCH_BUILD_DIR"], "bin", "bench"))
    candidates.append(str(ref.REPO / "build" / "bin" / "bench"))
    for c in candidates:
        if c and os.path.isfile(c):
            return c
    pytest.fail(f"bench binary not found (tried {[c for c in candidates if c]}); build the `bench` target or set "
                "BENCH_BINARY")


def bench_tokenize(*args):
    r = subprocess.run([bench_binary(), "tokenize", *args], capture_output=True, timeout=300)
    assert r.returncode == 0, f"bench tokenize {args} failed ({r.returncode}): {r.stderr.decode(errors='replace')}"
    return json.loads(r.stdout.decode("utf-8"))


def write_text(path, text):
    with open(path, "w", encoding="utf-8", newline="") as f:  # newline="": keep \r and \r\n as they are
        f.write(text)
    return str(path)


@pytest.fixture(scope="module")
def model_path():
    p = ref.default_model_path()
    if not os.path.isfile(p):
        pytest.fail(f"default model not found at {p} (run scripts/setup.sh or set BENCH_MODEL_PATH)")
    return p


@pytest.fixture(scope="module")
def vocab(model_path):
    return ref.gguf_vocab(model_path)


@pytest.fixture(scope="module")
def variants(vocab, tmp_path_factory):
    """Per pre-tokenizer family: a tokenizer.json file for bench and the reference Tokenizer built from the same
    JSON. Merges are written in both tokenizer.json forms; llama3 carries a BOS template like Llama-3's."""
    d = tmp_path_factory.mktemp("tokenizers")
    out = {}
    for name in ref.VARIANTS:
        tj = ref.tokenizer_json(vocab, name, merges_as_pairs=name in ("qwen2", "gpt2"), bos_template=name == "llama3")
        path = d / f"{name}.tokenizer.json"
        path.write_text(json.dumps(tj), encoding="utf-8")
        out[name] = (str(path), ref.hf_tokenizer(tj))
    return out


@pytest.fixture(scope="module")
def wikitext(tmp_path_factory):
    path = Path(ref.data_root()) / "wikitext-2-raw" / "wiki.test.raw"
    if not path.is_file():
        pytest.fail(f"WikiText-2 test not found at {path} (set BENCH_DATA_ROOT)")
    text = path.read_bytes().decode("utf-8")
    assert text.endswith("\n")
    text = text[:-1]  # the perplexity protocol drops exactly one trailing newline
    return text, write_text(tmp_path_factory.mktemp("wiki") / "wiki.test.txt", text)


def first_difference(a, b):
    i = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
    return f"first difference at {i}: ours {a[i:i + 8]} reference {b[i:i + 8]} (lengths {len(a)} vs {len(b)})"


def test_reference_reads_the_default_model(vocab):
    assert vocab["model"] == "gpt2" and vocab["pre"] == "smollm"
    assert len(vocab["tokens"]) == 49152 and len(vocab["merges"]) == 48900
    assert [i for i, t in enumerate(vocab["token_types"]) if t == 3] == list(range(17))


def test_wikitext2_through_gguf_matches_reference(model_path, variants, wikitext):
    text, path = wikitext
    want = ref.hf_encode(variants["smollm"][1], text)
    got = bench_tokenize("--model", model_path, "--file", path, "--json")["ids"]
    assert got == want, first_difference(got, want)
    assert len(want) > 250_000


@pytest.mark.parametrize("name", list(ref.VARIANTS))
def test_wikitext2_through_tokenizer_json_matches_reference(name, variants, wikitext):
    text, path = wikitext
    json_path, tok = variants[name]
    want = ref.hf_encode(tok, text)
    got = bench_tokenize("--model", json_path, "--file", path, "--json")["ids"]
    assert got == want, first_difference(got, want)


@pytest.mark.parametrize("parse_special", [False, True])
@pytest.mark.parametrize("add_special", [False, True])
@pytest.mark.parametrize("name", list(ref.VARIANTS))
def test_hard_strings_match_reference(name, add_special, parse_special, variants, tmp_path):
    json_path, tok = variants[name]
    batch = write_text(tmp_path / "batch.json", json.dumps(HARD_STRINGS))
    flags = (["--special"] if add_special else []) + (["--parse-special"] if parse_special else [])
    got = bench_tokenize("--model", json_path, "--batch", batch, *flags)
    for text, ids in zip(HARD_STRINGS, got, strict=True):
        assert ids == ref.hf_encode(tok, text, add_special, parse_special), repr(text)


@pytest.mark.parametrize("parse_special", [False, True])
def test_hard_strings_through_gguf_match_reference(parse_special, model_path, variants, tmp_path):
    tok = variants["smollm"][1]
    batch = write_text(tmp_path / "batch.json", json.dumps(HARD_STRINGS))
    flags = ["--special"] + (["--parse-special"] if parse_special else [])
    got = bench_tokenize("--model", model_path, "--batch", batch, *flags)
    for text, ids in zip(HARD_STRINGS, got, strict=True):
        assert ids == ref.hf_encode(tok, text, True, parse_special), repr(text)


@pytest.mark.parametrize("name", list(ref.VARIANTS))
def test_hard_strings_pre_tokenize_like_reference(name, variants, tmp_path):
    """Pieces, not only ids: with a large vocabulary two different splits can still give the same ids."""
    json_path, tok = variants[name]
    batch = write_text(tmp_path / "batch.json", json.dumps(HARD_STRINGS))
    got = bench_tokenize("--model", json_path, "--batch", batch, "--pieces")
    for text, pieces in zip(HARD_STRINGS, got, strict=True):
        assert pieces == ref.hf_pieces(tok, text), repr(text)


def test_pre_tokenizer_families_really_differ(variants):
    """Guards the tests above against comparing one pre-tokenizer with itself."""
    def ids(name):
        return [ref.hf_encode(variants[name][1], s) for s in HARD_STRINGS]
    smollm = ids("smollm")
    for other in ("gpt2", "llama3", "qwen2"):
        assert ids(other) != smollm, other


@pytest.mark.parametrize("name", list(ref.VARIANTS))
def test_every_code_point_pre_tokenizes_like_reference(name, variants, tmp_path):
    """Code points in order: a class error at any one of them changes where a piece ends."""
    text = "".join(chr(c) for c in range(1, 0x110000) if not 0xD800 <= c <= 0xDFFF)
    json_path, tok = variants[name]
    got = bench_tokenize("--model", json_path, "--file", write_text(tmp_path / "all.txt", text), "--pieces")
    want = ref.hf_pieces(tok, text)
    assert got == want, first_difference(got, want)


def test_nfc_normalizes_like_reference(variants, tmp_path):
    """Decomposed text (the reference's own NFD of every code point) and random runs of combining marks must be
    recomposed and reordered exactly as the reference's NFC does, with its (older) Unicode data."""
    import random

    from tokenizers import normalizers
    every = "".join(chr(c) for c in range(1, 0x110000) if not 0xD800 <= c <= 0xDFFF)
    rng = random.Random(3)
    pool = [chr(c) for c in [*range(0x300, 0x370), *range(0x591, 0x5C8), 0x93C, 0x94D, 0x1100, 0x1161, 0x11A8,
                             0xAC00, *map(ord, "aeiouAEIOUcnszαГक")]]
    marks = " ".join("".join(rng.choice(pool) for _ in range(rng.randint(1, 6))) for _ in range(20000))
    json_path, tok = variants["qwen2-nfc"]
    for text in (normalizers.NFD().normalize_str(every), marks):
        got = bench_tokenize("--model", json_path, "--file", write_text(tmp_path / "nfd.txt", text), "--pieces")
        want = ref.hf_pieces(tok, text)
        assert got == want, first_difference(got, want)


def test_unsupported_pre_tokenizer_is_a_clear_input_error(vocab, tmp_path):
    tj = ref.tokenizer_json(vocab, "llama3")
    tj["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = r"\w+|\s+"
    path = tmp_path / "bad.tokenizer.json"
    path.write_text(json.dumps(tj), encoding="utf-8")
    r = subprocess.run([bench_binary(), "tokenize", "--model", str(path), "--text", "x"], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 2, r.stderr
    assert str(path) in r.stderr and "/pre_tokenizer/pretokenizers/0/pattern/Regex" in r.stderr, r.stderr
