"""The include layers of the tree: every #include of a project header must go down the table below, never up or
sideways, so no folder includes a folder that includes it back (a cycle would force its libraries to be linked and
changed together). Also: nothing under harness/ or kernels/ includes GoogleTest (test helpers live under tests/)."""
import os
import re

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# The one statement of the allowed direction: a folder (layer) and the layers its sources may include, besides
# itself. cli -> core -> runtime -> common; kernels at the bottom; methods and datasets plug in on top of the harness
# and the kernels; only tests include methods/ and datasets/.
HARNESS = {"harness/common", "harness/runtime", "harness/core"}
ALLOWED = {
    "kernels": set(),
    "harness/common": set(),
    "harness/runtime": {"harness/common", "kernels"},
    "harness/core": {"harness/runtime", "harness/common", "kernels"},
    "harness/cli": {"harness/core", "harness/runtime", "harness/common", "kernels"},
    "methods": HARNESS | {"kernels"},
    "datasets": HARNESS | {"kernels"},
    "tests": {"harness/cli"} | HARNESS | {"kernels", "methods", "datasets"},
}
# Layers whose sources must not include GoogleTest: test helpers that need it belong under tests/.
NO_GTEST = ("kernels", "harness/common", "harness/runtime", "harness/core", "harness/cli")

SOURCE_EXTS = (".h", ".hpp", ".cpp", ".cc", ".cu", ".cuh", ".inl")
INCLUDE = re.compile(r'^\s*#\s*include\s*[<"]([^>"]+)[>"]')


def layer_of(rel_path):
    """The layer a repository-relative path belongs to (longest table entry it starts with), or None."""
    best = None
    for layer in ALLOWED:
        if rel_path == layer or rel_path.startswith(layer + "/"):
            if best is None or len(layer) > len(best):
                best = layer
    return best


def sources(root):
    for top in ("harness", "kernels", "methods", "datasets", "tests"):
        for dirpath, _, files in os.walk(os.path.join(root, top)):
            for name in files:
                if name.endswith(SOURCE_EXTS):
                    yield os.path.relpath(os.path.join(dirpath, name), root).replace(os.sep, "/")


def includes(root, rel_path):
    with open(os.path.join(root, rel_path), encoding="utf-8", errors="replace") as f:
        for lineno, line in enumerate(f, 1):
            m = INCLUDE.match(line)
            if m:
                yield lineno, m.group(1)


def violations(root):
    """Every include that goes against the table, as 'file:line: includes X (layer A may include only ...)'."""
    out = []
    for rel in sources(root):
        # A method's or task's own tests (methods/*/*_test.cpp) sit next to it but belong to the tests layer.
        src_layer = "tests" if rel.endswith("_test.cpp") else layer_of(rel)
        if src_layer is None:
            continue
        for lineno, target in includes(root, rel):
            if src_layer in NO_GTEST and target.startswith(("gtest/", "gmock/")):
                out.append(f"{rel}:{lineno}: includes <{target}>: GoogleTest helpers belong under tests/")
                continue
            dst_layer = layer_of(target)
            if dst_layer is None or dst_layer == src_layer:
                continue  # a system or third-party header, or the same layer
            if dst_layer not in ALLOWED[src_layer]:
                allowed = ", ".join(sorted(ALLOWED[src_layer])) or "nothing outside itself"
                out.append(f"{rel}:{lineno}: includes {target}: {src_layer}/ may include only {allowed}")
    return out


def test_table_is_acyclic():
    # A cycle in the table itself would let two folders include each other while every include "follows" it.
    state = {}

    def visit(layer, path):
        assert state.get(layer) != "open", "cycle in ALLOWED: " + " -> ".join(path + [layer])
        if state.get(layer) == "done":
            return
        state[layer] = "open"
        for dep in ALLOWED[layer]:
            visit(dep, path + [layer])
        state[layer] = "done"

    for layer in ALLOWED:
        visit(layer, [])


def test_includes_follow_the_layers():
    bad = violations(REPO)
    assert not bad, "includes against the layer direction:\n" + "\n".join(bad)


def test_a_reverse_include_is_caught(tmp_path):
    # The check itself must see a cycle: core including the CLI, and the runtime including GoogleTest.
    (tmp_path / "harness/core").mkdir(parents=True)
    (tmp_path / "harness/cli").mkdir(parents=True)
    (tmp_path / "harness/runtime").mkdir(parents=True)
    (tmp_path / "harness/cli/a.h").write_text('#include "harness/core/b.h"\n')
    (tmp_path / "harness/core/b.h").write_text('#include "harness/cli/a.h"\n')
    (tmp_path / "harness/runtime/c.h").write_text("#include <gtest/gtest.h>\n")
    bad = violations(str(tmp_path))
    assert len(bad) == 2
    assert any(v.startswith("harness/core/b.h:1: includes harness/cli/a.h") for v in bad)
    assert any(v.startswith("harness/runtime/c.h:1: includes <gtest/gtest.h>") for v in bad)
