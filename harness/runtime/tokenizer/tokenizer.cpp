// placeholder until the tokenizer lands (issue 3)
