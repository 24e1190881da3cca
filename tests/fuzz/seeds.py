#!/usr/bin/python3
"""Seed corpora for the fuzz targets, from the repository's own files.

    seeds.py TARGET OUTDIR            write TARGET's seeds into OUTDIR (one file each)
    seeds.py TARGET --replay BINARY   run BINARY (a NAME_replay or NAME_fuzz -runs=0 binary)
                                      over tests/fuzz/corpus/TARGET and the seeds
    seeds.py TARGET --open BINARY     run BINARY on each file of tests/fuzz/open/TARGET alone:
                                      each must still fail (see below)
    seeds.py --targets                the target names, one a line

The checked-in corpus (tests/fuzz/corpus/TARGET: hand-written inputs and every crash a fuzzer
found, once fixed) comes first; the seeds are made fresh from the tree, so a new example
workflow, notebook or fixture seeds the fuzzers without anyone copying it here.

tests/fuzz/open/TARGET holds reproducers of crashes that are known and not fixed yet (from
issues or from a fuzz run). They stay out of the corpus (a fuzzer stops at its first crash, and
the corpus replay must pass), but they are not forgotten: ctest Fuzz.Open/TARGET checks that each
one still fails, and fails itself, naming the file, once one passes; then `git mv` it into
tests/fuzz/corpus/TARGET/, where it guards the fix. A reproducer named hang-* (an input that
runs until memory or time runs out) is listed but not replayed; check it by hand, e.g.
`(ulimit -v 1000000; timeout 30 build/tests/fuzz/TARGET_replay FILE)`.
"""

import glob
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def files(*patterns):
    out = []
    for p in patterns:
        out += [f for f in glob.glob(os.path.join(ROOT, p), recursive=True) if os.path.isfile(f)]
    return sorted(set(out))


def read(path):
    with open(path, "rb") as f:
        return f.read()


def contents(*patterns):
    return [read(f) for f in files(*patterns)]


def workflows():
    return contents("examples/**/*.yaml", "examples/**/*.yml", "tests/workflows/valid/*.yaml",
                    "tests/workflows/errors/*.yaml")


def notebooks():
    return contents("examples/**/*.ipynb", "tests/notebook/fixtures/*/input/*.ipynb",
                    "tests/notebook/fixtures/*/oracle/*.ipynb")


def notebook_cells():
    """Every code cell's source of every notebook (nb2py translates one cell at a time)."""
    out = []
    for text in notebooks():
        try:
            nb = json.loads(text)
        except ValueError:
            continue
        cells = nb.get("cells") or [c for ws in nb.get("worksheets", []) for c in ws.get("cells", [])]
        for c in cells:
            if c.get("cell_type") != "code":
                continue
            src = c.get("source", c.get("input", ""))
            out.append(("".join(src) if isinstance(src, list) else str(src)).encode())
    return out


def webhook_deliveries():
    """The real payloads of @octokit/webhooks-examples (npm ci), framed as webhook_fuzz reads them."""
    index = os.path.join(ROOT, "node_modules/@octokit/webhooks-examples/api.github.com/index.json")
    if not os.path.exists(index):
        return []
    out = []
    for hook in json.load(open(index)):
        for i, example in enumerate(hook["examples"]):
            head = "X-GitHub-Event: %s\nX-GitHub-Delivery: %08d-seed\nContent-Type: application/json\n\n" % (
                hook["name"], i)
            out.append(head.encode() + json.dumps(example).encode())
    return out


def expressions():
    """Workflow files (their `${{ }}`), each also with a real push payload as the event."""
    out = workflows()
    pushes = [d for d in webhook_deliveries() if d.startswith(b"X-GitHub-Event: push\n")]
    for text in out[:20]:
        for d in pushes[:2]:
            out.append(text + b"\n---\n" + d.split(b"\n\n", 1)[1])
    return out


def yaml_blocks(*patterns):
    out = []
    for f in files(*patterns):
        out += [m.encode() for m in re.findall(r"```yaml\n(.*?)```", read(f).decode(), re.S)]
    return out


TARGETS = {
    "workflow": workflows,
    "expression": expressions,
    "nbformat": notebooks,
    "nb2py": notebook_cells,
    "webhook": webhook_deliveries,
    "server_config": lambda: yaml_blocks("docs/serve.md"),
    "request_json": lambda: [],  # hand-written: tests/fuzz/corpus/request_json
    "github_url": lambda: [],    # hand-written: tests/fuzz/corpus/github_url
    "smi_csv": lambda: contents("tests/gpu/fixtures/*.csv"),
    "smi_xml": lambda: contents("tests/gpu/fixtures/*.xml"),
    "smi_dmon": lambda: contents("tests/gpu/fixtures/dmon-*.txt", "tests/gpu/fixtures/nvidia-smi*.txt"),
}


def write_seeds(target, outdir):
    os.makedirs(outdir, exist_ok=True)
    seeds = TARGETS[target]()
    for s in seeds:
        with open(os.path.join(outdir, hashlib.sha1(s).hexdigest()), "wb") as f:
            f.write(s)
    return len(seeds)


def replay_open(target, binary):
    """Each open reproducer alone; 0 when every one still fails, 1 (naming them) otherwise."""
    folder = os.path.join(ROOT, "tests/fuzz/open", target)
    fixed, still = [], 0
    for f in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
        path = os.path.join(folder, f)
        if f.startswith("hang-"):  # runs until memory or patience ends: kept, not replayed
            print("not replayed (it hangs; run it by hand with a limit): %s" % os.path.relpath(path, ROOT))
            continue
        p = subprocess.run([binary, path], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if p.returncode == 0:
            fixed.append(os.path.relpath(path, ROOT))
        else:
            still += 1
            print("still open: %s (exit %d)" % (os.path.relpath(path, ROOT), p.returncode))
    if fixed:
        print("FIXED: these no longer crash %s; `git mv` each into tests/fuzz/corpus/%s/ so that "
              "the corpus replay and the fuzzers guard the fix:\n  %s" % (
                  os.path.basename(binary), target, "\n  ".join(fixed)), file=sys.stderr)
        return 1
    print("%s: %d open crash reproducers, all still failing" % (target, still))
    return 0


def main(argv):
    if argv[1:] == ["--targets"]:
        print("\n".join(TARGETS))
        return 0
    if len(argv) != 3 and not (len(argv) == 4 and argv[2] in ("--replay", "--open")):
        print(__doc__, file=sys.stderr)
        return 2
    target = argv[1]
    if target not in TARGETS:
        print("unknown target %s (known: %s)" % (target, " ".join(TARGETS)), file=sys.stderr)
        return 2
    if argv[2] == "--open":
        return replay_open(target, argv[3])
    corpus = os.path.join(ROOT, "tests/fuzz/corpus", target)
    if len(argv) == 3:
        n = write_seeds(target, argv[2])
        print("%s: %d seeds in %s (and the corpus %s)" % (target, n, argv[2], corpus))
        return 0
    tmp = tempfile.mkdtemp(prefix="wfrun-seeds-%s-" % target)
    try:
        write_seeds(target, tmp)
        dirs = [d for d in (corpus, tmp) if os.listdir(d)] if os.path.isdir(corpus) else [tmp]
        if not any(os.listdir(d) for d in dirs):
            print("%s: no corpus and no seeds" % target, file=sys.stderr)
            return 1
        # The replay names each input on stderr before running it: on a failure, the last
        # lines say which input it was.
        p = subprocess.run([argv[3]] + dirs, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if p.returncode != 0:
            tail = p.stderr.decode(errors="replace").splitlines()[-30:]
            print("%s: exit %d; the last lines:\n%s" % (target, p.returncode, "\n".join(tail)),
                  file=sys.stderr)
            return 1
        print(p.stdout.decode().strip())
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
