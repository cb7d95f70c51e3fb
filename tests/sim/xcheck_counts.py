"""The lifecycle counts that scenarios/kvm-xcheck.json's workloads give by construction.

Shared by tests/sim/xcheck.py (KVM and simulator) and tests/sim/golden.py (the
simulator alone). A workload is (type, vCPUs, parameters) as the scenario says;
the counts are per vCPU, by the names of `corevm run --stats` (vcpus[].lifecycle,
docs/stats.md); every counter not listed must be 0. guest/xcheck.c and the
simulator's models (sim/workload.c) explain why no count can depend on timing.
"""

# The guest's command line per workload type, from the scenario's parameters.
def cmdline(wl):
    if wl["type"] == "ipi-pingpong":
        return "mode=pingpong rounds=%d" % wl["rounds"]
    if wl["type"] == "timer":
        return "mode=timer rounds=%d delay=%d" % (wl["rounds"], 10**9 // wl["tick_hz"])
    if wl["type"] == "init-sipi":
        return "mode=cycle cycles=%d extra=%d" % (wl["cycles"], wl["extra_sipis"])
    raise ValueError("no KVM guest for workload %r" % wl["type"])


def check_workload(wl):
    """Refuses a scenario VM whose counts are not fixed by construction (or differ from the guest's)."""
    t = wl["type"]
    if t == "timer" and not (wl.get("oneshot") and wl.get("rounds")):
        raise ValueError("timer: needs oneshot and rounds")
    if t == "ipi-pingpong" and not wl.get("rounds"):
        raise ValueError("ipi-pingpong: needs rounds")
    if t not in ("timer", "ipi-pingpong", "init-sipi"):
        raise ValueError("no KVM guest for workload %r" % t)


def per_vcpu(wl, n):
    """Expected counters of each vCPU (index = APIC ID; 0 is the BSP)."""
    t = wl["type"]
    out = []
    for i in range(n):
        c = {}
        if i and t != "init-sipi":
            c.update(init_taken=1, sipi_accepted=1, ipis_received=2)  # the boot
        if t in ("ipi-pingpong", "timer"):
            r = wl["rounds"]
            c.update(halts=r, wake_intr=r, wakeups=r, intr_injected=r, irq_accepted=r, eoi=r)
            if t == "timer":
                c["timer_fired"] = r
            else:
                c["ipis_sent"] = r
                c["ipis_received"] = c.get("ipis_received", 0) + r
            if i == 0 and n > 1:
                c["ipis_sent"] = c.get("ipis_sent", 0) + 2  # broadcast INIT, SIPI
        else:
            k, e = wl.get("cycles", 10), wl.get("extra_sipis", 1)
            if i == 0:
                c["ipis_sent"] = 2 + (n - 1) * k * (2 + e)
            else:
                c.update(init_taken=k + 1, sipi_accepted=k + 1, sipi_discarded_running=k * e,
                         ipis_received=2 + k * (2 + e))
        out.append(c)
    return out


def per_vm(wl, n):
    """The same summed over the VM (the simulator reports sums; it has no "wakeups")."""
    total = {}
    for c in per_vcpu(wl, n):
        for k, v in c.items():
            total[k] = total.get(k, 0) + v
    total.pop("wakeups", None)
    return total
