"""Fake ``kind``, ``docker`` and ``kubectl`` executables for tests on a machine without a Docker engine.

Each is a small Python script written into a directory put first on PATH. Every call appends its argv (and
stdin, for kubectl) as one JSON line to ``calls.jsonl``; shared state (clusters, their node containers,
built images, paused containers) lives in ``state.json``, so the fakes answer like the real tools would:
``kind get clusters`` lists what ``kind create cluster`` made, ``kind load`` fails for an image
``docker build`` never tagged, ``crictl rmi`` fails for an image a node does not have, ...
The answers are modelled on the real tools (kind v0.31, Docker 27) from their documentation and source, only
the parts drillbook reads; they were not compared against the real binaries (none can run here).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

COMMON = r'''
import json, os, sys, uuid
HERE = os.path.dirname(os.path.abspath(__file__))
STATE = os.path.join(HERE, "state.json")
def load():
    try:
        with open(STATE) as f: return json.load(f)
    except FileNotFoundError:
        return {"clusters": {}, "images": [], "paused": [], "node_images": {}}
def save(s):
    with open(STATE, "w") as f: json.dump(s, f)
def record(tool, stdin=None):
    with open(os.path.join(HERE, "calls.jsonl"), "a") as f:
        f.write(json.dumps({"argv": [tool] + sys.argv[1:], "stdin": stdin}) + "\n")
def opt(name, default=None):
    a = sys.argv[1:]
    return a[a.index(name) + 1] if name in a else default
def fail(msg, code=1):
    sys.stderr.write(msg + "\n"); sys.exit(code)
s = load()
a = sys.argv[1:]
'''

KIND = COMMON + r'''
record("kind")
if a[:1] == ["version"]:
    print("kind v0.31.0 go1.24.2 linux/amd64")
elif a[:2] == ["get", "clusters"]:
    if not s["clusters"]: sys.stderr.write("No kind clusters found.\n")
    for name in sorted(s["clusters"]): print(name)
elif a[:2] == ["get", "nodes"]:
    name = opt("--name", "kind")
    if name not in s["clusters"]: fail("No kind nodes found for cluster \"%s\"." % name)
    for n in s["clusters"][name]["nodes"]: print(n)
elif a[:2] == ["create", "cluster"]:
    import yaml
    name = opt("--name", "kind")
    if name in s["clusters"]: fail('ERROR: failed to create cluster: node(s) already exist for a cluster with the name "%s"' % name)
    roles = [n["role"] for n in yaml.safe_load(open(opt("--config")))["nodes"]]
    nodes, w = [], 0
    for r in roles:
        if r == "control-plane": nodes.append(name + "-control-plane")
        else:
            w += 1; nodes.append(name + "-worker" + ("" if w == 1 else str(w)))
    s["clusters"][name] = {"nodes": nodes, "ids": {n: uuid.uuid4().hex + uuid.uuid4().hex for n in nodes}}
    save(s); sys.stderr.write("Creating cluster \"%s\" ...\n" % name)
elif a[:2] == ["delete", "cluster"]:
    name = opt("--name", "kind")
    s["clusters"].pop(name, None); save(s)
    sys.stderr.write("Deleting cluster \"%s\" ...\n" % name)
elif a[:2] == ["load", "docker-image"]:
    name = opt("--name", "kind")
    imgs = [x for x in a[2:] if x != "--name" and x != name]
    for img in imgs:
        if img not in s["images"]: fail("ERROR: image: \"%s\" not present locally" % img)
    for n in s["clusters"][name]["nodes"]:
        have = s["node_images"].setdefault(n, [])
        have.extend(i for i in imgs if i not in have)
    save(s)
else:
    fail("fake kind: unsupported %r" % a, 2)
'''

DOCKER = COMMON + r'''
record("docker")
if os.environ.get("FAKE_DOCKER_DAEMON_DOWN"):
    fail("Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?")
ids = {n: i for c in s["clusters"].values() for n, i in c["ids"].items()}
if a[:1] == ["version"]:
    print("27.3.1")
elif a[:1] == ["build"]:
    for i, x in enumerate(a):
        if x == "-t": s["images"].append(a[i + 1])
    save(s)
elif a[:1] == ["inspect"]:
    for n in a[3:]:
        if n not in ids: fail("Error: No such object: " + n)
        status = "paused" if n in s["paused"] else "running"
        print("/%s %s %s 2026-12-03T10:00:00.123456789Z" % (n, ids[n], status))
elif a[:1] in (["pause"], ["unpause"]):
    n = a[1]
    if n not in ids: fail("Error response from daemon: No such container: " + n)
    if a[0] == "pause": s["paused"].append(n)
    else: s["paused"].remove(n)
    save(s); print(n)
elif a[:1] == ["exec"] and a[2:4] == ["crictl", "rmi"]:
    n, img = a[1], a[4]
    have = s["node_images"].get(n, [])
    if img not in have: fail("time=\"2026-12-03T10:00:00Z\" level=error msg=\"no such image %s\"\ntime=\"2026-12-03T10:00:00Z\" level=fatal msg=\"unable to remove the image(s)\"" % img)
    have.remove(img); save(s); print("Deleted: " + img)
else:
    fail("fake docker: unsupported %r" % a, 2)
'''

KUBECTL = COMMON + r'''
record("kubectl", sys.stdin.read() if "-f" in a and opt("-f") == "-" else None)
'''


def install(bin_dir: Path, tools: tuple[str, ...] = ("kind", "docker")) -> None:
    """Write the named fake tools into ``bin_dir`` (shebang: this interpreter, so PyYAML is importable)."""
    bodies = {"kind": KIND, "docker": DOCKER, "kubectl": KUBECTL}
    for tool in tools:
        path = bin_dir / tool
        path.write_text(f"#!{sys.executable}\n" + bodies[tool])
        path.chmod(0o755)


def calls(bin_dir: Path) -> list[dict[str, Any]]:
    log = bin_dir / "calls.jsonl"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def state(bin_dir: Path) -> dict[str, Any]:
    return dict(json.loads((bin_dir / "state.json").read_text()))
