// Placeholder: the fp16 baseline method is being written.
