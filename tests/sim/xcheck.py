#!/usr/bin/env python3
"""Cross-check with the KVM backend: the same workloads on real KVM and in the simulator give the same lifecycle event counts.

usage: xcheck.py COREVM SCENARIO_DIR GUEST_DIR [--mutate]

scenarios/kvm-xcheck.json holds bounded workloads (IPI ping-pong, timer-driven
HLT, INIT-SIPI cycles with SIPIs to running APs) whose counts are fixed by
construction; guest/xcheck.c does the same on real vCPUs. For each VM of the
scenario this runs the guest under `corevm run --irqchip user --stats` (the
pure core counts every lifecycle event there) and compares, counter by
counter, the sums over the VM's vCPUs with what `corevm sim --json` reports
for that VM. Both sides are also checked against the counts the construction
gives (tests/sim/xcheck_counts.py), per vCPU on KVM and per VM in the
simulator: a mistake both share (the core counting an event twice) fails too.

Compared: every counter of the core (core/counters.h), ipis_sent,
ipis_received, and wakeups (the simulator's wake_* summed). Not compared:
  sleeps  how often the vCPU thread really slept: a HLT whose interrupt is
          already pending never sleeps, and a sleep can end for nothing at a
          timer deadline and start again. Host timing, not lifecycle.
  source  "corevm" (checked: the core's own counters), not a count.

Negative control, always run: the simulator again on the scenario with each
VM's count deliberately wrong by one (one more ping-pong round, one timer round
fewer, one more extra SIPI); the comparison must find the differences, else the
test could not fail. --mutate compares against that wrong scenario instead,
to see the whole test fail.

Exits 0 (pass), 1 (fail), 77 (skipped: no usable /dev/kvm).
"""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import xcheck_counts  # noqa: E402

SCENARIO = "kvm-xcheck.json"
NOT_COMPARED = {
    "sleeps": "host timing: a HLT with its interrupt already pending never sleeps, a "
              "sleep may end at a timer deadline and start again",
    "source": "not a count (checked to be \"corevm\")",
}
failures = []


def check(cond, what):
    print(("ok: " if cond else "FAIL: ") + what)
    if not cond:
        failures.append(what)


def kvm_usable():
    dev = os.environ.get("COREVM_KVM_DEV") or "/dev/kvm"
    try:
        os.close(os.open(dev, os.O_RDWR))
        return None
    except OSError as e:
        return "%s: %s" % (dev, e.strerror)


def sim(corevm, path):
    p = subprocess.run([corevm, "sim", path, "--json"], capture_output=True, text=True,
                       timeout=600)
    if p.returncode != 0:
        raise SystemExit("corevm sim %s: exit %d\n%s" % (path, p.returncode, p.stderr))
    doc = json.loads(p.stdout)
    return {v["name"]: v for v in doc["results"][0]["vms"]}


def kvm(corevm, guest, vm, tmp):
    """Runs the guest for one scenario VM; returns the per-vCPU lifecycle objects."""
    stats = os.path.join(tmp, vm["name"] + ".stats.json")
    cmd = [corevm, "run", "--irqchip", "user", "--cpus", str(vm["vcpus"]), "--mem", "64M",
           "--timeout", "240s", "--stats", stats,
           "--cmdline", xcheck_counts.cmdline(vm["workload"]), guest]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    check(p.returncode == 0, "%s: corevm run exits 0 (got %d)%s" %
          (vm["name"], p.returncode, "" if p.returncode == 0 else ": " + p.stderr.strip()))
    with open(stats) as f:
        doc = json.load(f)
    check(doc["vm"]["irqchip"] == "user", "%s: user irqchip" % vm["name"])
    lcs = [v["lifecycle"] for v in doc["vcpus"]]
    check(all(lc["source"] == "corevm" for lc in lcs),
          "%s: every vCPU's counters are the core's own" % vm["name"])
    return lcs


def nonzero(d):
    return {k: v for k, v in d.items() if k not in NOT_COMPARED and v}


def compare(name, kvm_lcs, sim_vm, verbose):
    """Differences between the KVM sums and the simulator's VM, one line per counter."""
    total = {}
    for lc in kvm_lcs:
        for k, v in lc.items():
            if k not in NOT_COMPARED:
                total[k] = total.get(k, 0) + v
    s = dict(sim_vm["lifecycle"])
    s["wakeups"] = sum(v for k, v in s.items() if k.startswith("wake_"))
    diffs = ["%s: %s in the simulator only" % (name, k) for k in s if k not in total]
    for k in sorted(total):
        ok = total[k] == s.get(k, 0)
        if verbose and (total[k] or s.get(k, 0)):
            print("  %-10s %-24s KVM %8d  sim %8d  %s" %
                  (name, k, total[k], s.get(k, 0), "same" if ok else "DIFFERENT"))
        if not ok:
            diffs.append("%s: %s: KVM %d, simulator %d" % (name, k, total[k], s.get(k, 0)))
    return diffs


def wrong(sc):
    """The scenario with each VM's count deliberately off by one."""
    bad = json.loads(json.dumps(sc))
    for vm in bad["vms"]:
        wl = vm["workload"]
        if wl["type"] == "ipi-pingpong":
            wl["rounds"] += 1
        elif wl["type"] == "timer":
            wl["rounds"] -= 1
        else:
            wl["extra_sipis"] = wl.get("extra_sipis", 1) + 1
    return bad


def main():
    corevm, scenarios, guests = sys.argv[1:4]
    mutate = "--mutate" in sys.argv[4:]
    why = kvm_usable()
    if why:
        print("SKIP: no usable KVM device (%s): the cross-check needs real vCPUs" % why)
        return 77
    path = os.path.join(scenarios, SCENARIO)
    guest = os.path.join(guests, "xcheck.elf")
    with open(path) as f:
        sc = json.load(f)
    for vm in sc["vms"]:
        xcheck_counts.check_workload(vm["workload"])
    with tempfile.TemporaryDirectory() as tmp:
        bad_path = os.path.join(tmp, "wrong.json")
        with open(bad_path, "w") as f:
            json.dump(wrong(sc), f)
        sims = sim(corevm, bad_path if mutate else path)
        bad_sims = sim(corevm, bad_path)
        print("compared per VM (sums over its vCPUs); not compared: " +
              "; ".join("%s (%s)" % kv for kv in NOT_COMPARED.items()))
        for vm in sc["vms"]:
            name, n, wl = vm["name"], vm["vcpus"], vm["workload"]
            lcs = kvm(corevm, guest, vm, tmp)
            want = xcheck_counts.per_vcpu(wl, n)
            for i, lc in enumerate(lcs):
                got = nonzero(lc)
                check(got == want[i], "%s: vcpu %d on KVM has the counts of the construction%s"
                      % (name, i, "" if got == want[i] else " (got %s, want %s)" % (got, want[i])))
            check(sims[name]["lifecycle"] == xcheck_counts.per_vm(wl, n),
                  "%s: the simulator has the counts of the construction" % name)
            diffs = compare(name, lcs, sims[name], True)
            for d in diffs:
                print("  " + d)
            check(not diffs, "%s: KVM and simulator agree on every counter (%d compared)" %
                  (name, len(lcs[0]) - len(NOT_COMPARED)))
            caught = compare(name, lcs, bad_sims[name], False)
            check(len(caught) > 0, "%s: negative control: a count wrong by one is caught (%s)" %
                  (name, "; ".join(caught[:3])))
    print("%d check(s) failed" % len(failures) if failures else "cross-check passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
