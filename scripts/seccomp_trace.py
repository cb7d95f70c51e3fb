#!/usr/bin/env python3
"""Finds the system calls each corevm thread class makes once its seccomp filter is in.

Runs guest-suite tests (their commands from `meson introspect --tests`) with
corevm replaced by a wrapper that runs it under `strace -f -D` (the tracer is
a grandchild, so signals and exit statuses reach corevm as in a normal run),
then classifies every thread of every trace and prints, per thread class, each
system call seen after that thread's seccomp(SECCOMP_SET_MODE_FILTER), keyed
by the arguments the allow-lists restrict (docs/seccomp.md, "How the lists
were found").

usage: scripts/seccomp_trace.py BUILD_DIR OUT_DIR [--only REGEX] [--skip REGEX] [--env NAME=VALUE]...
Example: COREVM_APIC_TIMER=thread for every user-mode test:
    scripts/seccomp_trace.py build /tmp/sc --only '_user$' --env COREVM_APIC_TIMER=thread
The normal build only: strace and LeakSanitizer's tracer cannot both ptrace.
"""
import argparse
import collections
import json
import os
import re
import subprocess
import sys

LINE = re.compile(r"^(\d+)\s+(?:<\.\.\. (\w+) resumed>|(\w+)\()(.*)$")
RET = re.compile(r"\)\s+=\s+(-?\d+|0x[0-9a-f]+|\?)")


def wrapper(out_dir, corevm):
    path = os.path.join(out_dir, "corevm-strace.sh")
    with open(path, "w") as f:
        f.write("#!/bin/sh\n")
        f.write(f'exec strace -D -f -qq -s 40 -o "{out_dir}/trace.$$" "{corevm}" "$@"\n')
    os.chmod(path, 0o755)
    return path


def run_tests(build, out_dir, only, skip, env):
    tests = json.loads(subprocess.check_output(["meson", "introspect", "--tests", build]))
    corevm = os.path.abspath(os.path.join(build, "tools", "corevm"))
    wrap = wrapper(out_dir, corevm)
    results = {}
    for t in tests:
        if not any(s.endswith(":guest") for s in t["suite"]) or any(s.endswith(":nosan") for s in t["suite"]):
            continue
        if corevm not in t["cmd"] or (only and not re.search(only, t["name"])):
            continue
        if skip and re.search(skip, t["name"]):
            continue
        cmd = [wrap if a == corevm else a for a in t["cmd"]]
        e = dict(os.environ)
        e.update(t.get("env") or {})
        e.pop("COREVM_TEST_RSS_BOUND_KB", None)  # strace's own memory would count
        e.update(env)
        p = subprocess.run(cmd, env=e, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=1800)
        results[t["name"]] = p.returncode
        tail = p.stdout.decode(errors="replace").strip().splitlines()[-1:]
        print(f"{t['name']}: exit {p.returncode} {tail[0] if tail else ''}", flush=True)
    return results


def key(name, args, fds, own):
    """The allow-list view of one call: name plus the arguments rules check."""
    a = [x.strip() for x in args.split(",")]

    def fd_kind(s):
        if not s.isdigit():
            return "?"
        n = int(s)
        if n in (0, 1, 2):
            return ["stdin", "stdout", "stderr"][n]
        if n == fds.get("vm"):
            return "vm"
        if n in fds.get("vcpus", ()):
            if "fd" not in own:  # a thread that runs no vCPU (main: statistics)
                return "vcpu"
            return "own-vcpu" if own["fd"] == n else "OTHER-vcpu"
        return fds.get(n, "fd")

    if name == "ioctl":
        return f"ioctl {fd_kind(a[0])} {a[1] if len(a) > 1 else '?'}"
    if name in ("write", "read", "pread64"):
        return f"{name} {fd_kind(a[0])}"
    if name == "futex":
        return f"futex {a[1] if len(a) > 1 else '?'}"
    if name == "tgkill":
        return f"tgkill {a[2] if len(a) > 2 else '?'}"
    if name == "madvise":
        return f"madvise {a[2] if len(a) > 2 else '?'}"
    if name in ("mmap", "mprotect"):
        return f"{name} {'EXEC' if 'PROT_EXEC' in args else 'noexec'}"
    if name == "openat":
        return f"openat {'rdonly' if 'O_RDONLY' in args and 'O_CREAT' not in args else args}"
    return name


def analyse(path, summary):
    threads = collections.defaultdict(lambda: {"calls": [], "pre": set(), "on": False})
    fds = {"vcpus": set()}
    main = None
    pending = {}
    with open(path, errors="replace") as f:
        for line in f:
            m = LINE.match(line)
            if not m:
                continue
            tid, resumed, name, rest = int(m.group(1)), m.group(2), m.group(3), m.group(4)
            if main is None:
                mode = re.search(r'"--irqchip", "(\w+)"', rest)
                config = (mode.group(1) if mode else "user") + (
                    " placement" if '"--placement"' in rest else "")
                summary = summary[config]
            main = main or tid
            if rest.endswith("<unfinished ...>"):
                pending[tid] = (name, rest[: -len("<unfinished ...>")].rstrip())
                continue
            if resumed:
                name, head = pending.pop(tid, (resumed, ""))
                rest = head + rest
            r = RET.search(rest)
            ret = r.group(1) if r else None
            args = rest[: r.start()] if r else rest
            t = threads[tid]
            if name == "ioctl" and "KVM_CREATE_VM" in args and ret and ret.isdigit():
                if tid == main:
                    fds["vm"] = int(ret)
            elif name == "ioctl" and "KVM_CREATE_VCPU" in args and ret and ret.isdigit():
                if tid == main:
                    fds["vcpus"].add(int(ret))
            elif name == "eventfd2" and ret and ret.isdigit():
                fds[int(ret)] = "eventfd"
            elif name == "signalfd4" and ret and ret.isdigit():
                fds[int(ret)] = "signalfd"
            if not t["on"]:
                if name == "seccomp" and "SECCOMP_SET_MODE_FILTER" in args and "{len=" in args:
                    t["on"] = ret == "0"
                    continue
                t["pre"].add(name if name != "prctl" else args.split(",")[0])
                if name == "openat" and "/dev/kvm" in args:
                    t["pre"].add("open-kvm")
                continue
            t["calls"].append((name, args))
    for tid, t in threads.items():
        if not t["on"]:
            continue
        names = {n for n, _ in t["calls"]}
        kvm_reqs = {r.split(",")[1].strip() for n, r in t["calls"] if n == "ioctl" and "," in r}
        if tid == main:
            cls = "main"
        elif "open-kvm" in t["pre"] or "KVM_CREATE_VM" in kvm_reqs:
            cls = "probe worker"
        elif "recvmsg" in names or "poll" in names:
            cls = "uevent listener"
        elif "gettid" in t["pre"]:
            cls = "vcpu"
        elif "PR_SET_TIMERSLACK" in t["pre"]:
            cls = "apic timer"
        else:
            cls = "UNKNOWN"
        own = {}
        for n, r in t["calls"]:
            a = r.split(",")
            if n == "ioctl" and "KVM_RUN" in r and a[0].isdigit():
                own["fd"] = int(a[0])
                break
        for n, r in t["calls"]:
            summary[cls][key(n, r, fds, own)] += 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("build")
    ap.add_argument("out")
    ap.add_argument("--only", default="")
    ap.add_argument("--skip", default="seccomp_violation",
                    help="tests left out (default: the one that makes forbidden calls on purpose)")
    ap.add_argument("--env", action="append", default=[])
    ap.add_argument("--analyse-only", action="store_true",
                    help="classify the traces already in OUT")
    o = ap.parse_args()
    os.makedirs(o.out, exist_ok=True)
    if not o.analyse_only:
        env = dict(kv.split("=", 1) for kv in o.env)
        res = run_tests(o.build, os.path.abspath(o.out), o.only, o.skip, env)
        bad = [n for n, rc in res.items() if rc not in (0, 77)]
        print(f"{len(res)} tests, failed: {bad}")
    summary = collections.defaultdict(lambda: collections.defaultdict(collections.Counter))
    for fn in sorted(os.listdir(o.out)):
        if fn.startswith("trace."):
            analyse(os.path.join(o.out, fn), summary)
    for config in sorted(summary):
        for cls in sorted(summary[config]):
            print(f"== {config}: {cls}")
            for k, n in sorted(summary[config][cls].items()):
                print(f"   {k:60s} {n}")
    with open(os.path.join(o.out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1, sort_keys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
