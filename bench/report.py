"""Render benchmark results as Markdown, write them into docs/benchmarks.md, plot fire lag."""

from __future__ import annotations

import math
from pathlib import Path

from .infra import ROOT

DOC = ROOT / "docs" / "benchmarks.md"
PLOT = ROOT / "docs" / "benchmarks-fire-lag.png"
BEGIN = "<!-- bench:begin (written by `make bench` / `make bench-full`; edit outside) -->"
END = "<!-- bench:end -->"

# A row of the targets table: the target, what was measured, met or missed, a note.
Target = tuple[str, str, str, str]


def _n(value, digits: int = 0) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:,.{digits}f}"


def _met(ok: bool) -> str:
    return "met" if ok else "**missed**"


def _lag_name(label: str) -> str:
    if label.startswith("now"):
        return "`now` jobs, API 201 -> target"
    base, _, variant = label.partition(", ")
    name = "1,000 due in one second" if base == "burst" else f"{base} steady"
    return f"{name}, {variant}" if variant else name


def render(results: dict, meta: dict) -> str:
    out = [
        f"Measured {meta['date']} on {meta['cores']} cores ({meta['machine']}, PostgreSQL "
        f"{meta['postgres']}, private redis-server), {meta['mode']} mode, "
        f"{meta['took_s'] / 60:.1f} min: `{meta['command']}`.",
        "",
    ]
    targets: list[Target] = []
    sections = (
        ("fire_lag", lambda lag: _fire_lag(lag, results.get("now_lag"))),
        ("dispatch", _dispatch),
        ("e2e", _e2e),
        ("api", _api),
        ("baseline", _baseline),
        ("notify", _notify),
        ("observe", _observe),
    )
    for key, section in sections:
        if results.get(key):
            lines, met = section(results[key])
            out += lines
            targets += met
    if results.get("cpu"):
        out += _cpu(results["cpu"], meta)
    if targets:
        out += ["### Targets (shared/DESIGN.md)", "", "| target | measured | |", "|---|---|---|"]
        out += [f"| {t} | {m} | {ok} |" for t, m, ok, _ in targets]
        out.append("")
    return "\n".join(out)


def _fire_lag(lag: dict, now: dict | None) -> tuple[list[str], list[Target]]:
    """1. Fire lag: a row per load (and the `now` jobs); a target per load."""
    targets: list[Target] = []
    out = [
        "### 1. Fire lag (request received at the target - due time)",
        "",
        "| load | fires | received | p50 ms | p95 ms | p99 ms | max ms "
        "| all started after | delivered/s | duplicates dropped |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for label, s in lag.items():
        name = _lag_name(label)
        out.append(
            f"| {name} | {_n(s['fires'])} | {_n(s['received'])} | {_n(s['p50'])} | "
            f"{_n(s['p95'])} | {_n(s['p99'])} | {_n(s['max'])} | "
            f"{_n(s['all_started_after_s'], 2)} s | {_n(s['delivered_per_s'])} | "
            f"{_n(s.get('dropped'))} |"
        )
    if now:
        for key, what in (
            ("from_201", "API 201 -> target"),
            ("from_post", "POST sent -> target"),
        ):
            s = now[key]
            out.append(
                f"| `now` jobs, {what} (10/s) | {_n(s['n'])} | {_n(s['n'])} | {_n(s['p50'])} | "
                f"{_n(s['p95'])} | {_n(s['p99'])} | {_n(s['max'])} | | | |"
            )
    out.append("")
    for label, s in lag.items():
        targets.append(
            (
                f"fire lag p50 < 20 ms, p99 < 100 ms ({label})",
                f"p50 {_n(s['p50'])} ms, p99 {_n(s['p99'])} ms",
                _met(s["p50"] < 20 and s["p99"] < 100),
                "",
            )
        )
    return out, targets


def _dispatch(rows: list[dict]) -> tuple[list[str], list[Target]]:
    """2. Dispatch capacity and memory: a row per size; capacity and memory targets."""
    targets: list[Target] = []
    out = [
        "### 2. Dispatch capacity (`jobs.dispatch.dispatch()`, in process) and memory",
        "",
        "| jobs in the database | due | load s | fires/s planned + published | plan only /s | "
        "publish only /s | the same runs, a message each by `apply_async` one at a time /s "
        "| PostgreSQL WAL bytes/fire | beat RSS MiB | worker RSS MiB |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        out.append(
            f"| {_n(r['jobs'])} | {_n(r['due'])} | {_n(r['load_s'], 1)} | "
            f"**{_n(r['fires_per_s'])}** | {_n(r['plan_per_s'])} | {_n(r['publish_per_s'])} | "
            f"{_n(r['apply_async_per_s'])} | {_n(r.get('wal_bytes_per_fire'))} | "
            f"{_n(r['rss_beat_mib'])} | "
            f"{_n(r['rss_worker_mib'])} |"
        )
    first, last = rows[0], rows[-1]
    ratio = last["fires_per_s"] / first["fires_per_s"]
    out += [
        "",
        f"Fires/s at {_n(last['jobs'])} jobs / at {_n(first['jobs'])} jobs: **{ratio:.2f}**. "
        f"Beat RSS ratio {last['rss_beat_mib'] / first['rss_beat_mib']:.2f}, worker RSS ratio "
        f"{last['rss_worker_mib'] / first['rss_worker_mib']:.2f}.",
        "",
    ]
    worst = min(r["fires_per_s"] for r in rows)
    targets.append(
        (
            "dispatch >= 5,000 fires/s, flat in the number of jobs",
            f"{_n(worst)}/s at worst; ratio {ratio:.2f} "
            f"({_n(last['jobs'])} vs {_n(first['jobs'])})",
            _met(worst >= 5000 and ratio >= 0.8),
            "",
        )
    )
    mem_ratio = max(
        last["rss_beat_mib"] / first["rss_beat_mib"],
        last["rss_worker_mib"] / first["rss_worker_mib"],
    )
    targets.append(
        (
            "beat and worker memory flat in the number of jobs",
            f"largest RSS ratio {mem_ratio:.2f}",
            _met(mem_ratio <= 1.2),
            "",
        )
    )
    return out, targets


def _e2e(e2e: dict) -> tuple[list[str], list[Target]]:
    """3. End-to-end throughput, ours and raw Celery; the ratio targets."""
    out = [
        "### 3. End-to-end throughput (one worker as in the Procfile: threads pool, 16 threads)",
        "",
        "| what | per second | ratio to raw Celery | worker CPU ms/run "
        "| PostgreSQL CPU ms/run | PostgreSQL WAL bytes/run | beat CPU ms/run |",
        "|---|---:|---:|---:|---:|---:|---:|",
        f"| raw Celery no-op tasks drained, same worker configuration "
        f"| {_n(e2e['raw_per_s'])} | 1 | | | | |",
    ]
    for key, what in (
        ("raw_eta_per_s", "no-op tasks, each with an ETA as fires have, timed from it"),
        ("raw_http_per_s", "tasks doing one GET to the target each (`bench.fire`)"),
        ("raw_http_eta_per_s", "`bench.fire` tasks, each with an ETA, timed from it"),
    ):
        if key in e2e:
            out.append(
                f"| raw Celery {what}, same worker configuration | {_n(e2e[key])} "
                f"| {e2e[key] / e2e['raw_per_s']:.2f} | | | | |"
            )
    for v in e2e.get("variants", [])[1:]:
        if "raw_per_s" in v and v.get("workers", 2) == 2:
            out.append(
                "| raw Celery no-op tasks drained, two worker processes "
                f"| {_n(v['raw_per_s'])} | 1 | | | | |"
            )
    for i, v in enumerate(e2e.get("variants", [])):
        label = f"HTTP runs completed and recorded ({_n(e2e['runs'])} due at once): {v['label']}"
        ratio = v["per_s"] / v.get("raw_per_s", e2e["raw_per_s"])
        out.append(
            f"| {label} | {_n(v['per_s'])} | {'**' if i == 0 else ''}{ratio:.2f}"
            f"{'**' if i == 0 else ''} | {_n(v['worker_cpu_ms_per_run'], 1)} "
            f"| {_n(v.get('pg_cpu_ms_per_run'), 1)} | {_n(v.get('wal_bytes_per_run'))} "
            f"| {_n(v['beat_cpu_ms_per_run'], 1)} |"
        )
    pairs = e2e.get("pairs", [])
    if len(pairs) > 1:
        out += [
            "",
            f"Ours and raw no-ops measured {len(pairs)} times, one right after the other "
            "(runs/s ours / raw = ratio): "
            + "; ".join(
                f"{_n(p['ours_per_s'])} / {_n(p['raw_per_s'])} = "
                f"{p['ours_per_s'] / p['raw_per_s']:.2f}"
                for p in pairs
            )
            + ". The rows above show the pair with the median ratio.",
        ]
    out.append("")
    return out, _e2e_targets(e2e)


def _e2e_targets(e2e: dict) -> list[Target]:
    """Ours against raw Celery: no-ops, no-ops with an ETA, and two worker processes."""
    targets: list[Target] = []
    targets.append(
        (
            "end-to-end >= 0.7 of raw Celery",
            f"{e2e['ratio']:.2f}",
            _met(e2e["ratio"] >= 0.7),
            "",
        )
    )
    if "raw_eta_per_s" in e2e:
        eta_ratio = e2e["ours_per_s"] / e2e["raw_eta_per_s"]
        targets.append(
            (
                "end-to-end >= 0.7 of raw Celery (no-ops with an ETA, timed from it, "
                "as our runs are)",
                f"{eta_ratio:.2f}",
                _met(eta_ratio >= 0.7),
                "",
            )
        )
    for v in e2e.get("variants", [])[1:]:
        if "ratio" in v and v.get("workers", 2) == 2:
            targets.append(
                (
                    f"end-to-end >= 0.7 of raw Celery ({v['label'].split(' as ')[0]}, both sides)",
                    f"{v['ratio']:.2f}",
                    _met(v["ratio"] >= 0.7),
                    "",
                )
            )
    return targets


def _api(api: dict) -> tuple[list[str], list[Target]]:
    """4. API creations."""
    out = [
        f"### 4. API: `POST /jobs` under gunicorn (2 processes x 4 threads), "
        f"{api['clients']} client threads",
        "",
        "| creations/s | p50 ms | p95 ms | p99 ms | max ms | errors |",
        "|---:|---:|---:|---:|---:|---:|",
        f"| {_n(api['per_s'])} | {_n(api['p50'])} | {_n(api['p95'])} | {_n(api['p99'])} | "
        f"{_n(api['max'])} | {api['errors']} |",
        "",
    ]
    return out, []


def _baseline(base: dict) -> tuple[list[str], list[Target]]:
    """5. The django-celery-beat baseline."""
    dcb, ours = base["dcb"], base["ours"]
    out = [
        f"### 5. Baseline: {_n(base['jobs'])} interval jobs every {base['every']} s, "
        f"fires delivered in {base['window']:g} s",
        "",
        "| setup | due fires | sent by beat / planned | delivered to the target | "
        "beat CPU (1 = one core) |",
        "|---|---:|---:|---:|---:|",
        f"| django-celery-beat, one `PeriodicTask` per job | {_n(dcb['due'])} | "
        f"{_n(dcb['sent'])} | {_n(dcb['delivered'])} | {dcb['beat_cpu']:.2f} |",
        f'| ours, jobs `{{"every": "{base["every"]}s"}}` | {_n(ours["due"])} | '
        f"{_n(ours['sent'])} | {_n(ours['delivered'])} | {ours['beat_cpu']:.2f} |",
        f"| **ratio ours / django-celery-beat** | | "
        f"**{ours['sent'] / max(dcb['sent'], 1):.1f}** | "
        f"**{ours['delivered'] / max(dcb['delivered'], 1):.1f}** | |",
        "",
    ]
    return out, []


def _notify(notify: dict) -> tuple[list[str], list[Target]]:
    """6. End-to-end with a notify rule on every job, beside the same without rules."""
    a, b = notify["without"], notify["with"]
    nf = b["notifications"]
    ratio = notify["ratio"]
    out = [
        f"### 6. Notifications: end-to-end with a notify rule on every job "
        f"({_n(notify['jobs'])} HTTP jobs x {notify['fires_per_job']} fires, failing and "
        "recovering in turn)",
        "",
        "| what | runs/s | ratio to no rules | worker CPU ms/run | PostgreSQL CPU ms/run "
        "| PostgreSQL WAL bytes/run | beat CPU ms/run |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    rows = [
        ("no rules", a["per_s"], 1.0, a),
        ("a rule on every job, one webhook per fire", b["per_s"], ratio, b),
    ]
    if "per_s_until_delivered" in b:
        rows.append(
            (
                "the same, timed until the last notification was delivered",
                b["per_s_until_delivered"],
                b["per_s_until_delivered"] / a["per_s"],
                b.get("until_delivered", {}),
            )
        )
    split = notify.get("notifier")
    if split:
        rows.append(
            (
                f"a rule on every job, delivered by a worker process of their own "
                f"(no rules right before it: {_n(split['without_per_s'])} runs/s)",
                split["per_s"],
                split["ratio"],
                split,
            )
        )
    for i, (label, per_s, r, costs) in enumerate(rows):
        bold = "**" if i == 1 else ""
        out.append(
            f"| {label} | {_n(per_s)} | {bold}{r:.2f}{bold} "
            f"| {_n(costs.get('worker_cpu_ms_per_run'), 1)} "
            f"| {_n(costs.get('pg_cpu_ms_per_run'), 1)} | {_n(costs.get('wal_bytes_per_run'))} "
            f"| {_n(costs.get('beat_cpu_ms_per_run'), 1)} |"
        )
    out += [
        "",
        "| delivered by | notifications | delivered | pending | failed | attempts (delivered) "
        "| posts received | delivered twice | delivered/s | run finished -> delivered "
        "p50 / p99 / max ms | last delivered after the last run | POST p50 / p99 ms |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        _notify_row("the worker of the runs", nf),
    ]
    if split and "notifications" in split:
        out.append(_notify_row("a worker process of their own", split["notifications"]))
    pairs = notify.get("pairs", [])
    if len(pairs) > 1:
        out += [
            "",
            f"Without and with rules measured {len(pairs)} times, one right after the other "
            "(runs/s with / without = ratio): "
            + "; ".join(
                f"{_n(p['with_per_s'])} / {_n(p['without_per_s'])} = "
                f"{p['with_per_s'] / p['without_per_s']:.2f}"
                for p in pairs
            )
            + ". The rows above show the pair with the median ratio.",
        ]
    out.append("")
    once = (
        nf["delivered"] == nf["notifications"] == nf["successful_attempts"] == nf["hooks_received"]
        and nf["notifications"] == b["finished"]
    )
    targets = [
        (
            "notify rule on every job: end-to-end runs/s >= 0.9 of the same without rules",
            f"{ratio:.2f}",
            _met(ratio >= 0.9),
            "",
        ),
        (
            "every fire's notification delivered once (delivered = attempts = posts = fires)",
            f"{_n(nf['delivered'])} of {_n(nf['notifications'])}, {_n(nf['hooks_received'])} "
            f"posts, {_n(b['finished'])} fires",
            _met(once),
            "",
        ),
    ]
    return out, targets


def _notify_row(who: str, nf: dict) -> str:
    delay = nf["delay"]
    return (
        f"| {who} | {_n(nf['notifications'])} | {_n(nf['delivered'])} | {_n(nf['pending'])} "
        f"| {_n(nf['failed'])} | {_n(nf['attempts'])} ({_n(nf['successful_attempts'])}) "
        f"| {_n(nf['hooks_received'])} | {_n(nf['delivered_twice'])} "
        f"| {_n(nf['delivered_per_s'])} "
        f"| {_n(delay['p50'])} / {_n(delay['p99'])} / {_n(delay['max'])} "
        f"| {_n(nf['last_delivered_after_last_run_s'], 1)} s "
        f"| {_n(nf['attempt_ms']['p50'])} / {_n(nf['attempt_ms']['p99'])} |"
    )


def _cpu(cpu: dict, meta: dict) -> list[str]:
    """The cores each benchmark and the rest of the machine used."""
    out = [
        f"### CPU in use during each benchmark (cores, of {meta['cores']}; lower bounds)",
        "",
        "| benchmark | seconds | bench processes | bench database backends | "
        "everything else on the machine |",
        "|---|---:|---:|---:|---:|",
    ]
    out += [
        f"| {name} | {c['seconds']:.0f} | {c['ours']:.2f} | {c['pg']:.2f} | {c['others']:.2f} |"
        for name, c in cpu.items()
    ]
    out.append("")
    return out


def write(text: str, lags: dict[str, list[float]], meta: dict) -> None:
    body = f"{BEGIN}\n\n{text}\n![fire lag](benchmarks-fire-lag.png)\n\n{END}"
    if DOC.exists():
        doc = DOC.read_text()
        if BEGIN in doc and END in doc:
            head, rest = doc.split(BEGIN, 1)
            tail = rest.split(END, 1)[1]
            DOC.write_text(head + body + tail)
        else:
            DOC.write_text(doc.rstrip() + "\n\n" + body + "\n")
    else:
        DOC.write_text(f"# Benchmarks\n\n{body}\n")
    plot(lags, meta)


def plot(lags: dict[str, list[float]], meta: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 5.5), dpi=110)
    colors = {}
    for label, values in lags.items():
        if label == "warmup" or not values:
            continue
        ms = sorted(v * 1000 for v in values)
        ys = [(i + 1) / len(ms) for i in range(len(ms))]
        base = label.partition(", ")[0]
        style = "--" if "two worker" in label else "-"
        (line,) = ax.plot(
            [max(v, 0.1) for v in ms],
            ys,
            style,
            color=colors.get(base),
            label=f"{_lag_name(label).replace('`', '')} (n={len(ms)})",
        )
        colors.setdefault(base, line.get_color())
    for x, what in ((20, "p50 target"), (100, "p99 target")):
        ax.axvline(x, color="grey", linestyle=":", linewidth=1)
        ax.text(x, 1.01, f" {what}", color="grey", fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("fire lag: received at the target - due time (ms, log scale)")
    ax.set_ylabel("fraction of fires")
    ax.set_title(
        f"Fire lag, {meta['cores']} cores, {meta['date']} ({meta['mode']} mode); "
        "dashed: two worker processes",
        fontsize=10,
    )
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, fontsize=8)
    fig.tight_layout()
    fig.savefig(PLOT)
    plt.close(fig)
    Path(PLOT).chmod(0o644)


def _observe(observe: dict) -> tuple[list[str], list[Target]]:
    """7. End-to-end with metrics and the dashboard's rollup on, beside both off."""
    on, off, ratio = observe["on"], observe["off"], observe["ratio"]
    out = [
        f"### 7. Watching: end-to-end with metrics and the dashboard's rollup on and off "
        f"({_n(observe['runs'])} HTTP runs due at once)",
        "",
        "| what | runs/s | ratio to off | worker CPU ms/run | beat CPU ms/run |",
        "|---|---:|---:|---:|---:|",
        f"| off (`METRICS_ENABLED=0`, `ROLLUP_INTERVAL=0`) | {off['per_s']:,.0f} | 1.00 "
        f"| {off['worker_cpu_ms_per_run']:.1f} | {off['beat_cpu_ms_per_run']:.1f} |",
        f"| on (the defaults) | {on['per_s']:,.0f} | **{ratio:.2f}** "
        f"| {on['worker_cpu_ms_per_run']:.1f} | {on['beat_cpu_ms_per_run']:.1f} |",
        "",
        "Pairs (on / off runs/s): "
        + "; ".join(f"{p['on']:,.0f} / {p['off']:,.0f}" for p in observe["pairs"])
        + ". The rows show the pair with the median ratio.",
        "",
    ]
    target = (
        "metrics and dashboard rollup on: end-to-end runs/s >= 0.95 of both off",
        f"{ratio:.2f}",
        _met(ratio >= 0.95),
        "",
    )
    return out, [target]
