// Placeholder entry point while the CLI is being written (issue 2).
#include <cstdio>
int main() { std::puts("bench: CLI under construction"); return 2; }
