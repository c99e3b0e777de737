#!/usr/bin/env python3
"""Independent check of the `wikitext2` task: llama-perplexity's protocol re-implemented over Hugging Face
`transformers` running the same GGUF file in float32 (transformers dequantizes every tensor with the `gguf` package;
its tokenizer is built from the GGUF's vocabulary and merges). Compare its output with
`bench run` of wikitext2 (mode plain, same n_ctx and max_chunks) on the same file.

    python3 datasets/wikitext2/crosscheck_transformers.py MODEL.gguf DATA_ROOT N_CTX N_CHUNKS

Needs torch and transformers (the C++ tests do not). Prints the token count, PPL and its error as llama-perplexity
defines them (protocols.md).
"""
import math
import os
import sys

import numpy as np
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer


def main():
    model_path, data_root, n_ctx, n_chunks = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    d, f = os.path.split(os.path.abspath(model_path))
    tok = AutoTokenizer.from_pretrained(d, gguf_file=f)
    model = AutoModelForCausalLM.from_pretrained(d, gguf_file=f, torch_dtype=torch.float32, attn_implementation="eager")
    model.eval()
    torch.set_num_threads(2)

    with open(os.path.join(data_root, "wikitext-2-raw", "wiki.test.raw"), "rb") as fh:
        text = fh.read().decode("utf-8")
    if text.endswith("\n"):
        text = text[:-1]  # exactly one trailing newline removed
    add_bos = bool(getattr(tok, "add_bos_token", False)) and tok.bos_token_id is not None
    ids = tok(text, add_special_tokens=False)["input_ids"]
    if add_bos:
        ids = [tok.bos_token_id] + ids
    n_chunks = min(n_chunks, len(ids) // n_ctx)
    first = n_ctx // 2
    nll_sum = nll2_sum = 0.0
    count = 0
    for c in range(n_chunks):
        chunk = ids[c * n_ctx:(c + 1) * n_ctx]
        if add_bos:
            chunk[0] = tok.bos_token_id
        with torch.no_grad():
            logits = model(torch.tensor([chunk])).logits[0].float().numpy()
        for j in range(first, n_ctx - 1):
            row = logits[j].astype(np.float64)
            m = row.max()
            nll = m + math.log(np.exp(row - m).sum()) - row[chunk[j + 1]]
            nll_sum += nll
            nll2_sum += nll * nll
            count += 1
        print(f"chunk {c + 1}/{n_chunks}: running PPL {math.exp(nll_sum / count):.4f}", flush=True)
    mean = nll_sum / count
    var = nll2_sum / count - mean * mean
    ppl = math.exp(mean)
    err = ppl * math.sqrt(var / (count - 1)) if var > 0 and count > 1 else 0.0
    print(f"tokens {len(ids)} chunks {n_chunks} scored {count}: PPL = {ppl:.4f} +/- {err:.5f}")


if __name__ == "__main__":
    main()
