// placeholder until the loader lands (issue 3)
