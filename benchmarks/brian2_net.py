"""The network of ``benchmarks/specs/lif_stdp.yaml`` in Brian2, run by :mod:`benchmarks.spiking` in a
fresh process of an interpreter that has Brian2 (its default code-generation target). Prints one
line of JSON: seconds from the process's start to the end of its first step, microseconds per
step over runs of 1,000 steps, and the output units' rate."""
import json
import sys
import time

START = time.perf_counter()

from brian2 import (Hz, Network, NeuronGroup, PoissonGroup, SpikeMonitor, Synapses, defaultclock,  # noqa: E402
                    ms, prefs, seed)


def main(runs):
    defaultclock.dt = 1 * ms
    seed(0)
    namespace = {"tau_m": 20 * ms, "tau": 20 * ms, "A_plus": 1e-4, "A_minus": 1.05e-4}
    inputs = PoissonGroup(784, rates=20 * Hz)
    out = NeuronGroup(100, "dv/dt = -v / tau_m : 1", threshold="v > 1", reset="v = 0", method="euler",
                      namespace=namespace)
    synapses = Synapses(inputs, out, """w : 1
                                        dapre/dt = -apre / tau : 1 (event-driven)
                                        dapost/dt = -apost / tau : 1 (event-driven)""",
                        on_pre="""v_post += w
                                  apre += 1
                                  w += -A_minus * apost""",
                        on_post="""apost += 1
                                   w += A_plus * apre""", namespace=namespace)
    synapses.connect()
    synapses.w = 0.005
    spikes = SpikeMonitor(out, record=False)
    net = Network(inputs, out, synapses, spikes)
    net.run(1 * ms)
    first = time.perf_counter() - START
    per_step, before = [], spikes.num_spikes
    for _ in range(runs):
        t = time.perf_counter()
        net.run(1000 * ms)
        per_step.append((time.perf_counter() - t) / 1000 * 1e6)
    rate = (spikes.num_spikes - before) / (100 * runs)
    print(json.dumps({"first_step_seconds": first, "per_step_us": sorted(per_step)[len(per_step) // 2],
                      "rate_hz": rate, "target": prefs.codegen.target}))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
