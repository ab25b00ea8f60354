"""Helpers the bench/ scripts share: ports, readiness, the machine line,
the commit label and rewriting one marked section of docs/BENCHMARKS.md."""

import os
import platform
import socket
import subprocess
import sys
import time
import urllib.request

READY_WITHIN = 60


def log(name, message):
    print(f"{name}: {message}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(name, base, server):
    """Waits for `base`/readyz to answer 200 while `server` runs."""
    deadline = time.time() + READY_WITHIN
    while time.time() < deadline:
        if server.poll() is not None:
            log(name, f"paywarden serve exited with {server.returncode} before it was ready")
            sys.exit(1)
        try:
            with urllib.request.urlopen(f"{base}/readyz", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    log(name, f"paywarden serve not ready within {READY_WITHIN} s")
    sys.exit(1)


def machine():
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{os.cpu_count()} CPUs, {cpu}, kernel {platform.system()} {platform.release()}"


def commit_label(root):
    commit = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=root,
                            capture_output=True, text=True).stdout.strip() or "none"
    if subprocess.run(["git", "status", "--porcelain"], cwd=root, capture_output=True,
                      text=True).stdout.strip():
        commit += " (working tree has uncommitted changes)"
    return commit


def write_section(path, section, begin, end):
    """Replaces the text between `begin` and `end` in `path` (or appends it)."""
    try:
        with open(path) as f:
            text = f.read()
    except FileNotFoundError:
        text = "# Benchmarks\n\n"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        tail = rest.split(end, 1)[1].lstrip("\n")
        text = head + section + ("\n" + tail if tail else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    with open(path, "w") as f:
        f.write(text)
