#!/usr/bin/env python3
"""Golden summaries of the bundled scenarios, the claims each scenario exists to show, and the CLI's error paths.

usage: golden.py COREVM SCENARIO_DIR GOLDEN_DIR [--update]

Each bundled scenario runs under every strategy (corevm sim --compare --json,
shortened with --until where the list below says so) and its summary must equal
tests/sim/golden/<scenario>.json: exactly, except for metrics the scenario lists
under "golden": {"tolerance": [{"metric": NAME, "relative": X}]}. --update
rewrites the golden files (after a deliberate model change; review the diff).
The claims are checked on the fresh results whatever the golden files say.
"""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import xcheck_counts  # noqa: E402

# (scenario file, --until or None for the scenario's whole duration)
RUNS = [
    ("snp-smt-protect.json", None),
    ("hotplug-enable-fail.json", "10s"),
    ("smi-hotplug-race.json", None),
    ("mwait-policies.json", "2s"),
    ("large-host.json", "300ms"),
    ("kvm-xcheck.json", None),
]

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL: " + what)
    else:
        print("ok: " + what)


def run(corevm, args, expect_rc=0):
    p = subprocess.run([corevm, "sim"] + args, capture_output=True, text=True, timeout=900)
    if p.returncode != expect_rc:
        raise SystemExit("corevm sim %s: exit %d, expected %d\n%s" %
                         (" ".join(args), p.returncode, expect_rc, p.stderr))
    return p


def tolerances(path):
    with open(path) as f:
        sc = json.load(f)
    return {t["metric"]: t["relative"] for t in sc.get("golden", {}).get("tolerance", [])}


def compare(got, want, tol, where=""):
    """Yields the differences between two JSON values (numbers within tolerance where allowed)."""
    if isinstance(want, dict):
        if not isinstance(got, dict) or set(got) != set(want):
            yield "%s: keys differ" % where
            return
        for k in want:
            yield from compare(got[k], want[k], tol, "%s.%s" % (where, k) if where else k)
    elif isinstance(want, list):
        if not isinstance(got, list) or len(got) != len(want):
            yield "%s: lengths differ" % where
            return
        for i, (g, w) in enumerate(zip(got, want)):
            yield from compare(g, w, tol, "%s[%d]" % (where, i))
    elif isinstance(want, (int, float)) and not isinstance(want, bool):
        leaf = where.rsplit(".", 1)[-1]
        rel = tol.get(leaf, 0.0)
        if rel == 0.0:
            if got != want:
                yield "%s: %r, golden %r" % (where, got, want)
        elif abs(got - want) > rel * max(abs(want), 1e-12):
            yield "%s: %r, golden %r (tolerance %g)" % (where, got, want, rel)
    elif got != want:
        yield "%s: %r, golden %r" % (where, got, want)


def by_strategy(doc):
    return {r["strategy"]: r for r in doc["results"]}


def vm(result, name):
    return next(v for v in result["vms"] if v["name"] == name)


def claims_snp(doc):
    r = by_strategy(doc)
    cc, part = r["core-cookie"], r["partition"]
    stall_1s = lambda x: next(t["stalls"] for t in x["stalls_at"] if t["threshold_ns"] == 10**9)
    check(cc["idle_required_per_s"] > 10000, "SNP: core-cookie shows the IDLE_REQUIRED storm")
    check(stall_1s(cc) > 0 and cc["longest_stretch_ns"] > 5 * 10**9,
          "SNP: core-cookie stalls the guest for seconds")
    check(cc["stalls"] > 0, "SNP: core-cookie trips the 21 s RCU-stall watchdog")
    for name in ("sibling-offline", "gang", "partition"):
        check(r[name]["idle_required"] == 0, "SNP: %s takes no IDLE_REQUIRED exits" % name)
    check(vm(r["sibling-offline"], "snp")["guest_useful_pct"] < 50,
          "SNP: sibling-offline loses most guest time to hotplug")
    check(r["sibling-offline"]["lock_wait_max_ns"] > 0, "SNP: sibling-offline waits for the hotplug lock")
    check(r["gang"]["noise_delay_p99_ns"] > 10**6, "SNP: gang defers host noise by milliseconds")

    # partition is the only strategy that meets every bar (docs/sim.md, "Which strategy")
    def meets(x):
        return (x["idle_required"] == 0 and x["stalls"] == 0 and
                all(t["stalls"] == 0 for t in x["stalls_at"]) and
                vm(x, "snp")["guest_useful_pct"] >= 99.0 and x["noise_delay_p99_ns"] < 100000)
    check(meets(part), "SNP: partition meets every bar")
    for name in ("plain", "core-cookie", "sibling-offline", "gang"):
        check(not meets(r[name]), "SNP: %s misses at least one bar" % name)
    for name in ("core-cookie", "sibling-offline", "gang"):
        check(part["guest_useful_pct"] > r[name]["guest_useful_pct"] and
              part["guest_steal_pct"] < r[name]["guest_steal_pct"],
              "SNP: partition gives guests more time than %s" % name)


def claims_hotplug(doc):
    for s, x in by_strategy(doc).items():
        check(x["quarantined"] >= 1 and x["entry_failures"] == 0,
              "seed 003: %s quarantines failing CPUs and never enters there" % s)
        check(x["replacements"] > 0, "seed 003: %s re-places vCPUs" % s)


def claims_smi(doc):
    x = by_strategy(doc)["plain"]
    check(x["aps_lost"] >= 1, "seed 004: the single-SIPI guest loses an AP")
    check(x["sipis_discarded"] >= 1, "seed 004: SIPIs are discarded in SMM")
    check(x["ap_retries"] >= 1, "seed 004: the retrying guest had to retry")
    # every loss is in the single-SIPI VM: the retrying VM's APs all came back
    check(vm(x, "retrying")["guest_useful_pct"] > 2 * vm(x, "single-sipi")["guest_useful_pct"],
          "seed 004: the retrying guest keeps its APs")


def claims_mwait(doc):
    x = by_strategy(doc)["plain"]
    p99 = {v["name"]: v["vmm_work_delay_p99_ns"] for v in x["vms"]}
    exits = {v["name"]: v["mwait_exits"] for v in x["vms"]}
    check(all(p99["exit"] < p99[n] for n in ("native", "nop", "yield")),
          "seed 001: the exit policy serves VMM work soonest")
    check(exits["native"] == 0 and exits["nop"] > exits["exit"] > 0,
          "seed 001: native MWAIT never exits, nop exits most")


def claims_large(doc):
    x = by_strategy(doc)
    check(all(r["events"] > 10**6 for r in x.values()), "large host: every strategy ran")
    check(x["partition"]["idle_required"] == 0, "large host: partition takes no IDLE_REQUIRED exits")


def claims_xcheck(doc):
    # the counts the construction gives, whatever the strategy (tests/sim/xcheck.py
    # compares them with real KVM)
    with open(os.path.join(sys.argv[2], "kvm-xcheck.json")) as f:
        sc = {v["name"]: v for v in json.load(f)["vms"]}
    for s, x in by_strategy(doc).items():
        for v in x["vms"]:
            want = xcheck_counts.per_vm(sc[v["name"]]["workload"], v["vcpus"])
            check(v["lifecycle"] == want, "xcheck: %s, VM %s has the lifecycle counts of its "
                  "construction" % (s, v["name"]))


CLAIMS = {
    "snp-smt-protect.json": claims_snp,
    "hotplug-enable-fail.json": claims_hotplug,
    "smi-hotplug-race.json": claims_smi,
    "mwait-policies.json": claims_mwait,
    "large-host.json": claims_large,
    "kvm-xcheck.json": claims_xcheck,
}


def cli_errors(corevm, scenarios):
    snp = os.path.join(scenarios, "snp-smt-protect.json")
    p = run(corevm, [], expect_rc=2)
    check("a scenario file is needed" in p.stderr, "CLI: no scenario is a usage error")
    p = run(corevm, [snp, "--strategy", "nope"], expect_rc=2)
    check("--strategy nope: unknown" in p.stderr, "CLI: unknown strategy named")
    p = run(corevm, [snp, "--compare", "--strategy", "gang"], expect_rc=2)
    check("exclude each other" in p.stderr, "CLI: --compare with --strategy refused")
    p = run(corevm, [snp, "--until", "soon"], expect_rc=2)
    check("--until soon" in p.stderr, "CLI: bad --until named")
    p = run(corevm, ["/nonexistent/s.json"], expect_rc=4)
    check(p.stderr.count("\n") == 1 and "No such file" in p.stderr, "CLI: missing file, one line")
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        f.write('{"duration": "1s", "host": {"sockets": 1, "cores_per_socket": 2, '
                '"threads_per_core": 2, "noise": [{"kind": "irq", "rate": -3, '
                '"duration": "1us"}]}, "vms": []}')
    p = run(corevm, [f.name], expect_rc=4)
    os.unlink(f.name)
    check(p.stderr.strip().endswith("host.noise[0].rate: must be >= 0, got -3") and
          p.stderr.count("\n") == 1, "CLI: bad scenario, one line naming the key")
    p = run(corevm, [snp, "--until", "50ms", "--seed", "9"])
    check("seed 9" in p.stdout and "wall time" in p.stdout, "CLI: the seed is printed")
    with tempfile.TemporaryDirectory() as d:
        t1, t2 = os.path.join(d, "a"), os.path.join(d, "b")
        run(corevm, [snp, "--until", "100ms", "--strategy", "gang", "--trace", t1])
        run(corevm, [snp, "--until", "100ms", "--strategy", "gang", "--trace", t2])
        with open(t1, "rb") as a, open(t2, "rb") as b:
            ta, tb = a.read(), b.read()
        check(len(ta) > 10000 and ta == tb, "CLI: same seed, byte-identical trace")


def main():
    corevm, scenarios, golden = sys.argv[1:4]
    update = "--update" in sys.argv[4:]
    for name, until in RUNS:
        path = os.path.join(scenarios, name)
        args = [path, "--compare", "--json"] + (["--until", until] if until else [])
        doc = json.loads(run(corevm, args).stdout)
        gpath = os.path.join(golden, name)
        if update:
            with open(gpath, "w") as f:
                json.dump(doc, f, indent=1, sort_keys=True)
                f.write("\n")
            print("updated " + gpath)
        else:
            with open(gpath) as f:
                want = json.load(f)
            diffs = list(compare(doc, want, tolerances(path)))
            for d in diffs[:10]:
                print("  " + d)
            check(not diffs, "%s: summary equals the golden one (%d differences)" % (name, len(diffs)))
        CLAIMS[name](doc)
    cli_errors(corevm, scenarios)
    if failures:
        print("%d check(s) failed" % len(failures))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
