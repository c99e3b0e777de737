"""The GitHub workflows parse, and every `run:` step names commands and files that exist: repository scripts and
suites, `bench` subcommands (read from the sources that register them), and tools a runner has."""
import glob
import json
import os
import re
import shlex

import pytest
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WORKFLOWS = os.path.join(REPO, ".github", "workflows")
NIGHTLY = os.path.join(WORKFLOWS, "nightly-gpu.yml")
PR = os.path.join(WORKFLOWS, "ci.yml")

# Commands a runner provides (shell builtins and keywords, coreutils, the toolchain the set-up installs, the NVIDIA
# and GitHub tools of the GPU machine). Anything else must be a file in the repository or the bench binary.
EXTERNAL = {"if", "then", "else", "elif", "fi", "!", "{", "}", "[", "[[", "test", "set", "export", "exit", "echo",
            "printf", "cd", "true", "false", "cat", "mkdir", "cp", "mv", "rm", "ls", "tee", "date", "du", "df", "env",
            "find", "sort", "head", "tail", "grep", "sed", "tar", "gzip", "sha256sum", "uname", "nproc", "which",
            "cmake", "ctest", "ccache", "make", "python3", "python", "pip", "pip3", "sqlite3", "sudo", "apt-get",
            "git", "nvidia-smi", "nvcc", "gh", "chromium"}
SHELL_OPERATORS = {";", "&&", "||", "|", "&", "(", ")", ";;"}
REDIRECTIONS = {">", ">>", "<", "2>", "2>>", ">&", "<<"}
# First path components that name repository files (a token starting with one of these must exist).
REPO_ROOTS = ("scripts/", "suites/", "reports/", "tests/", "harness/", "datasets/", "methods/", "kernels/", ".ci/",
              ".github/")


def bench_subcommands():
    names = set()
    for path in glob.glob(os.path.join(REPO, "harness", "cli", "*.cpp")):
        text = open(path, encoding="utf-8").read()
        # A command registers its option table (CommandSpec), whose `.name` is the subcommand's name.
        if "BENCH_REGISTER_COMMAND(" in text:
            names |= set(re.findall(r'CommandSpec\s+\w+\s*\{\s*\.name\s*=\s*"([^"]+)"', text))
    return names


def load(path):
    with open(path, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    assert isinstance(doc, dict), path
    # YAML 1.1 reads the key `on` as the boolean True.
    doc["on"] = doc.get("on", doc.get(True))
    return doc


def steps(doc):
    for job_name, job in doc["jobs"].items():
        for step in job.get("steps", []):
            yield job_name, step


def commands(script: str):
    """Simple commands of a shell script as token lists (expressions ${{ }} replaced, redirections dropped)."""
    script = re.sub(r"\$\{\{.*?\}\}", "EXPR", script).replace("\\\n", " ")
    out = []
    for line in script.splitlines():
        lex = shlex.shlex(line, posix=True, punctuation_chars=";&|()<>")
        lex.whitespace_split = True
        cmd, skip_next = [], False
        for tok in lex:
            if skip_next:
                skip_next = False
                continue
            if tok in SHELL_OPERATORS:
                if cmd:
                    out.append(cmd)
                cmd = []
            elif tok in REDIRECTIONS or re.fullmatch(r"\d?[<>]+&?", tok):
                skip_next = True
            else:
                cmd.append(tok)
        if cmd:
            out.append(cmd)
    return out


def check_run(script, where, problems):
    subcommands = bench_subcommands()
    for cmd in commands(script):
        words = [w for w in cmd if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", w)] if cmd else []
        while words and words[0] in ("if", "then", "else", "elif", "!", "sudo", "time", "nice"):
            words = words[1:]
        if not words or words[0].startswith("$") or words[0] in ("fi",):
            continue
        prog = words[0]
        if prog.endswith("bin/bench"):
            if len(words) < 2 or words[1] not in subcommands:
                problems.append(f"{where}: `{' '.join(words[:2])}`: not a bench subcommand ({sorted(subcommands)})")
        elif "/" in prog:
            if not os.path.exists(os.path.join(REPO, prog.removeprefix("./"))):
                problems.append(f"{where}: {prog} does not exist in the repository")
        elif prog not in EXTERNAL:
            problems.append(f"{where}: unknown command {prog!r} (not a repository file or a known runner tool)")
        for w in words[1:]:
            if w.startswith(REPO_ROOTS) and not os.path.exists(os.path.join(REPO, w.rstrip("/"))):
                problems.append(f"{where}: {w} does not exist in the repository")
            if w.startswith("suites/") and w.endswith(".json") and os.path.exists(os.path.join(REPO, w)):
                json.load(open(os.path.join(REPO, w), encoding="utf-8"))


@pytest.mark.parametrize("path", [NIGHTLY, PR], ids=os.path.basename)
def test_workflow_parses_and_names_real_things(path):
    assert os.path.isfile(path), f"{os.path.relpath(path, REPO)} is missing"
    doc = load(path)
    assert doc["on"], "no trigger"
    assert doc.get("jobs"), "no jobs"
    problems = []
    for job_name, job in doc["jobs"].items():
        assert job.get("runs-on"), f"job {job_name}: no runs-on"
        assert job.get("steps"), f"job {job_name}: no steps"
    for job_name, step in steps(doc):
        where = f"{os.path.basename(path)}: {job_name}: {step.get('name') or step.get('uses') or step.get('run')}"
        assert ("uses" in step) != ("run" in step), f"{where}: a step needs exactly one of uses/run"
        if "uses" in step:
            assert re.fullmatch(r"[\w.-]+/[\w./-]+@[\w.-]+", step["uses"]), f"{where}: pin the action to a version"
        else:
            check_run(step["run"], where, problems)
    assert not problems, "\n".join(problems)


def test_nightly_workflow_does_what_the_issue_asks():
    doc = load(NIGHTLY)
    on = doc["on"]
    assert "schedule" in on and on["schedule"][0]["cron"] and "workflow_dispatch" in on
    job = doc["jobs"]["nightly"]
    assert set(job["runs-on"]) >= {"self-hosted", "gpu"}
    assert "-DBENCH_CUDA=ON" in job["env"]["BENCH_CMAKE_ARGS"]
    runs = "\n".join(s.get("run", "") for _, s in steps(doc))
    uses = [s for _, s in steps(doc) if "uses" in s]
    assert "scripts/setup.sh" in runs
    assert "bench run suites/nightly.json --db results/nightly.db" in runs
    assert re.search(r"bench compare previous/nightly\.db results/nightly\.db", runs)
    uploads = {s["with"]["name"]: s["with"]["path"] for s in uses if s["uses"].startswith("actions/upload-artifact")}
    assert uploads["nightly-db"] == "results/nightly.db" and uploads["nightly-report"].startswith("results/report")
    downloads = [s for s in job["steps"] if s.get("uses", "").startswith("dawidd6/action-download-artifact")]
    assert downloads and all(s["with"]["name"] == "nightly-db" for s in downloads)
    assert any(s["with"].get("workflow") == "nightly-gpu.yml" and s["with"].get("workflow_conclusion") == "success"
               for s in downloads)
    # The comparison's exit code fails the job: not swallowed.
    cmp_step = next(s for _, s in steps(doc) if "bench compare" in s.get("run", ""))
    assert not cmp_step.get("continue-on-error") and "|| true" not in cmp_step["run"]
    # The report is written to the folder the artifact uploads.
    assert "bench report --db results/nightly.db --out results/report" in runs


def test_nightly_workflow_also_runs_the_cuda_suite_with_its_own_baseline():
    doc = load(NIGHTLY)
    job = doc["jobs"]["nightly-cuda"]
    assert set(job["runs-on"]) >= {"self-hosted", "gpu"} and job["needs"] == "nightly"
    assert "-DBENCH_CUDA=ON" in job["env"]["BENCH_CMAKE_ARGS"]
    runs = "\n".join(s.get("run", "") for s in job["steps"])
    assert "ctest --test-dir build -R '^Cuda'" in runs
    assert "bench run suites/gpu.json --db results/gpu.db" in runs
    assert re.search(r"bench compare previous/gpu\.db results/gpu\.db", runs)
    suite = json.load(open(os.path.join(REPO, "suites", "gpu.json"), encoding="utf-8"))
    assert suite["device"] == "cuda"
    uses = [s for s in job["steps"] if "uses" in s]
    uploads = {s["with"]["name"]: s["with"]["path"] for s in uses if s["uses"].startswith("actions/upload-artifact")}
    assert uploads["gpu-db"] == "results/gpu.db"
    downloads = [s for s in uses if s["uses"].startswith("dawidd6/action-download-artifact")]
    assert downloads and all(s["with"]["name"] == "gpu-db" for s in downloads)


def test_pull_request_workflow_runs_on_pull_requests():
    doc = load(PR)
    assert "pull_request" in doc["on"]
    for job in doc["jobs"].values():
        labels = job["runs-on"] if isinstance(job["runs-on"], list) else [job["runs-on"]]
        assert "gpu" not in labels, "the PR workflow runs on a CPU runner"


def test_command_scanner_catches_mistakes():
    """The check above must be able to fail: a missing script, an unknown subcommand, an unknown tool."""
    problems = []
    check_run("scripts/no-such-script.sh && build/bin/bench frobnicate x\nmystery-tool --flag\n"
              "build/bin/bench run suites/no-such-suite.json", "t", problems)
    assert len(problems) == 4, problems
    problems = []
    check_run('set +e\nbuild/bin/bench compare a b > out.txt\necho "x=$?" >> "$GITHUB_OUTPUT"\n'
              'if [ "$s" -gt 1 ]; then exit "$s"; fi', "t", problems)
    assert not problems, problems
