"""What watching the system costs: end-to-end runs/s with the Prometheus metrics and the
dashboard's rollup on (the defaults) beside both off, in pairs one right after the other
(the machine's speed moves by the minute; a pair sees the same speed), alternating which
goes first."""

from __future__ import annotations

import statistics

from .context import Ctx, log
from .e2e import ours

OFF = {"METRICS_ENABLED": "0", "ROLLUP_INTERVAL": "0"}


def bench_observe(ctx: Ctx) -> None:
    pairs = []
    for i in range(ctx.mode.e2e_pairs):
        order = [("on", None), ("off", OFF)]
        if i % 2:
            order.reverse()
        got = {name: ours(ctx, f"metrics and rollup {name}", env=env) for name, env in order}
        pairs.append(got)
        log(f"  -> pair {i + 1}: runs/s on / off {got['on']['per_s'] / got['off']['per_s']:.2f}")
    ratios = [p["on"]["per_s"] / p["off"]["per_s"] for p in pairs]
    median = pairs[ratios.index(statistics.median_low(ratios))]
    ratio = median["on"]["per_s"] / median["off"]["per_s"]
    shown = ", ".join(f"{r:.2f}" for r in ratios)
    log(f"  -> metrics and rollup on / off: {ratio:.2f} (pairs {shown})")
    ctx.results["observe"] = {
        "runs": ctx.mode.e2e_runs,
        "on": median["on"],
        "off": median["off"],
        "ratio": ratio,
        "pairs": [{"on": p["on"]["per_s"], "off": p["off"]["per_s"]} for p in pairs],
    }
    ctx.quiet()
