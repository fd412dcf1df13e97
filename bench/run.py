"""
The benchmark suite: `make bench` (full, about 10 minutes once the data is
seeded; the first run also seeds 1,000,000 profiles, about 6 minutes more) or
`make bench-quick` (under a minute once its data is seeded, small data;
figures are not comparable with the floors).

    .venv/bin/python -m bench.run [--quick] [--only matcher,bulk,exports,http,worker,coldstart]

Runs on PostgreSQL (DATABASE_URL, default a database of its own on
127.0.0.1), seeds its own data from fixed seeds and reuses it on later runs.
The full run writes bench/results/latest.json and docs/benchmarks.md; the
quick run writes bench/results/quick.json and prints the same table.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import common

PARTS = ("matcher", "bulk", "exports", "http", "worker", "coldstart")
QUICK_PROFILES = 20_000
FULL_PROFILES = 1_000_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small data, short runs")
    parser.add_argument("--only", default=",".join(PARTS), help="comma-separated parts")
    parser.add_argument(
        "--report",
        action="store_true",
        help="only rewrite docs/benchmarks.md from bench/results/latest.json",
    )
    args = parser.parse_args()
    if args.report:
        latest = json.loads(
            (common.ROOT / "bench" / "results" / "latest.json").read_text()
        )
        (common.ROOT / "docs" / "benchmarks.md").write_text(markdown(latest))
        return
    parts = [p for p in args.only.split(",") if p]
    unknown = set(parts) - set(PARTS)
    if unknown:
        parser.error(f"unknown parts: {', '.join(sorted(unknown))}")
    if args.quick and "coldstart" in parts and args.only == ",".join(PARTS):
        parts.remove("coldstart")  # it installs packages: never under two minutes
    database_url = common.configure(args.quick)
    common.ensure_database()
    common.setup_django()
    from django.core.management import call_command

    from bench import data

    # Debug is off, so {% static %} reads the manifest collectstatic writes; the
    # in-process parts render pages before gunicorn's start would collect, and a
    # clean clone has none yet ("Missing staticfiles manifest entry").
    common.log("collecting static files")
    call_command("collectstatic", interactive=False, verbosity=0)
    started = time.perf_counter()
    results: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "mode": "quick" if args.quick else "full",
        "machine": common.machine(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "parts": parts,
    }
    common.log("seeding (reused when already there)")
    results["data"] = data.seed(QUICK_PROFILES if args.quick else FULL_PROFILES)
    results["versions"] = common.versions()
    if "matcher" in parts:
        from bench import matcher_bench

        common.log("matcher in process")
        results["matcher"] = matcher_bench.run(quick=args.quick)
        results["matcher"]["measured_at"] = results["date"]
    if "bulk" in parts:
        from bench import bulk_bench

        common.log("bulk impact and rematch")
        results["bulk"] = bulk_bench.run(quick=args.quick)
    if "exports" in parts:
        from bench.exports_bench import measure_exports

        common.log("exports")
        results["exports"] = measure_exports(
            csv_rows=100_000 if args.quick else 1_000_000,
            xlsx_rows=10_000 if args.quick else 100_000,
            runs=1 if args.quick else 3,
        )
    if "http" in parts:
        from bench import http_bench

        common.log("pages over HTTP")
        results["http"] = http_bench.run(
            quick=args.quick,
            database_url=database_url,
            log_dir=Path(tempfile.gettempdir()),
        )
    if "worker" in parts:
        from bench import worker_bench

        common.log("a recompute in a worker while results pages are served")
        results["worker"] = worker_bench.run(
            quick=args.quick,
            database_url=database_url,
            log_dir=Path(tempfile.gettempdir()),
        )
    if "coldstart" in parts:
        from bench import coldstart

        common.log("cold start from a clean clone")
        results["coldstart"] = coldstart.run()
    results["bench_seconds"] = round(time.perf_counter() - started, 1)
    out_dir = common.ROOT / "bench" / "results"
    out_dir.mkdir(exist_ok=True)
    name = "quick.json" if args.quick else "latest.json"
    previous = {}
    if not args.quick and (out_dir / name).exists() and set(parts) != set(PARTS):
        # A partial full run keeps the other parts' latest figures.
        previous = json.loads((out_dir / name).read_text())
    merged = {**previous, **results}
    (out_dir / name).write_text(json.dumps(merged, indent=2, default=str) + "\n")
    table = markdown(merged)
    if args.quick:
        print(table)
    else:
        (common.ROOT / "docs" / "benchmarks.md").write_text(table)
    common.log(f"done in {results['bench_seconds']} s; wrote bench/results/{name}")


# -- the report -------------------------------------------------------------------------


def verdict(met: bool) -> str:
    return "met" if met else "**missed**"


def markdown(r: dict[str, Any]) -> str:  # noqa: C901 - one section per part
    m, v = r["machine"], r.get("versions", {})
    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`bench/run.py`) from its latest full run; the figures are",
        "replaced by each run and also kept in `bench/results/latest.json`. Nothing here is",
        "timed by the test suite. Each figure is the median of several runs unless it says",
        "otherwise; comparisons are measured side by side in the same run and given as ratios.",
        "",
        f"- Run: {r['date']} ({r['mode']} mode), {r.get('bench_seconds', '?')} s in all;"
        f" load average at the start {r.get('load_average_at_start')}"
        + (
            f"; this run measured only: {', '.join(r['parts'])} (the other parts keep"
            " the figures of the last run that measured them)"
            if r.get("parts") and set(r["parts"]) != set(PARTS)
            else ""
        ),
        f"- Machine: {m['cores']} cores ({m.get('cpu', '')}), {m['memory_gb']} GB memory, {m['platform']}",
        f"- Versions: Python {v.get('python')}, Django {v.get('django')}, PostgreSQL {v.get('postgresql')},"
        f" {v.get('wrk', 'wrk')}",
        f"- Data (fixed seeds): {r['data']['profiles']:,} stored profiles,"
        f" {r['data']['stored_results']:,} stored results, {r['data']['programmes']} shipped programmes",
        "",
        "## Summary against the floors (issue 7)",
        "",
        "| # | what | floor | measured | verdict |",
        "|---|---|---|---|---|",
    ]
    rows: list[tuple[str, str, str, str, bool]] = []
    if mt := r.get("matcher"):
        s = mt["sizes"]
        rows.append(
            (
                "1",
                "matcher, 100 programmes, per profile",
                "≤ 1 ms",
                f"{s['100']['ours_ms_per_profile']} ms",
                s["100"]["ours_ms_per_profile"] <= 1,
            )
        )
        rows.append(
            (
                "1",
                "matcher growth, 10 → 1,000 programmes",
                "linear (≈100×)",
                f"{mt['growth_10_to_1000']}×",
                mt["growth_10_to_1000"] <= 130,
            )
        )
        worst = min(x["speedup"] for x in s.values())
        rows.append(
            (
                "1",
                "matcher vs json-logic, slowest size",
                "≥ 5× faster",
                f"{worst}×",
                worst >= 5,
            )
        )
    if h := r.get("http"):
        rows.append(
            (
                "2",
                "results page vs trivial view",
                "≥ 0.3×",
                f"{h['results_vs_trivial']}×",
                h["results_vs_trivial"] >= 0.3,
            )
        )
        rows.append(
            (
                "2",
                "form submission vs trivial view",
                "≥ 0.15×",
                f"{h['form_vs_trivial']}×",
                h["form_vs_trivial"] >= 0.15,
            )
        )
        errors = sum(
            h[k]["error_count"] for k in ("trivial", "results_page", "form_submit")
        )
        rows.append(("2", "errors under load", "0", str(errors), errors == 0))
        p99 = max(h[k]["p99_ms"] for k in ("results_page", "form_submit"))
        worst = max(
            h[k].get("worst_p99_ms", h[k]["p99_ms"])
            for k in ("results_page", "form_submit")
        )
        rows.append(
            (
                "2",
                "p99 latency, results page and form",
                "< 150 ms",
                f"{p99} ms (median of the rounds; worst round {worst} ms)",
                p99 < 150,
            )
        )
        if p99 < 150 <= worst:
            rows.append(
                (
                    "2",
                    "p99 latency in the worst round",
                    "< 150 ms",
                    f"{worst} ms",
                    False,
                )
            )
    if b := r.get("bulk"):
        rows.append(
            (
                "3",
                "impact (all programmes) vs `count(*)`",
                "≤ 5×",
                f"{b['impact_vs_count_star']}×",
                b["impact_vs_count_star"] <= 5,
            )
        )
        rows.append(
            (
                "3",
                "impact in SQL vs the same in Python",
                "≥ 50× faster",
                f"{b['python_vs_impact']}×",
                b["python_vs_impact"] >= 50,
            )
        )
        if "preview_seconds" in b:
            rows.append(
                (
                    "3",
                    f"rule preview in the admin over {b['profiles']:,} profiles",
                    "≤ 1.5 s",
                    f"{b['preview_seconds']} s",
                    b["preview_seconds"] <= 1.5,
                )
            )
        rows.append(
            (
                "3",
                f"rematch one programme over {b['profiles']:,} profiles",
                "≤ 60 s",
                f"{b['rematch_one_programme_seconds']} s",
                b["rematch_one_programme_seconds"] <= 60,
            )
        )
    if e := r.get("exports"):
        rows.append(
            (
                "4",
                f"CSV export vs bare COPY, {e['csv']['rows']:,} rows",
                "≥ 0.33×",
                f"{e['csv_vs_copy']}×",
                e["csv_vs_copy"] >= 1 / 3,
            )
        )
        rows.append(
            (
                "4",
                "CSV export peak memory",
                "< 150 MB",
                f"{e['csv']['peak_rss_mb']} MB",
                e["csv"]["peak_rss_mb"] < 150,
            )
        )
        rows.append(
            (
                "4",
                f"XLSX export, {e['xlsx']['rows']:,} rows",
                "≤ 15 s",
                f"{e['xlsx']['median_seconds']} s",
                e["xlsx"]["median_seconds"] <= 15,
            )
        )
    if c := r.get("coldstart"):
        rows.append(
            (
                "5",
                "clean clone → `make run` serves the home page",
                "recorded",
                f"{c['clean_clone_seconds']} s",
                True,
            )
        )
    for number, what, floor, measured, met in rows:
        lines.append(f"| {number} | {what} | {floor} | {measured} | {verdict(met)} |")
    missed = [
        (what, floor, measured) for _n, what, floor, measured, met in rows if not met
    ]
    if missed:
        lines += ["", "## Floors missed, by how much and why", ""]
        for what, floor, measured in missed:
            why = WHY_MISSED.get(what.split(",")[0], "not yet explained.")
            lines.append(f"- **{what}**: {measured} against {floor}. {why}")
    worker_lines: list[str] = []
    if w := r.get("worker"):
        from bench import worker_bench

        worker_lines = worker_bench.markdown(w)
    lines += ["", *details(r), *worker_lines, *HISTORY, ""]
    return "\n".join(lines)


#: Why a floor is missed when it is, from the profiles and measurements of the
#: work on issue 7; shown for each floor a run misses.
#: What a full run on 2026-12-03 (China time) showed of the host: it ran slower
#: throughout than on the days the earlier figures were taken, and unevenly.
SLOWER_HOST = (
    " The host ran slower and unevenly in the 2026-12-03 runs: the matcher took 0.93 ms"
    " a profile against 0.80 ms the day before, and back-to-back HTTP runs of the same"
    " code (gunicorn's own gthread worker against ours) differed by up to 2× between"
    " rounds in both directions. Whether the code itself got slower is not yet known."
)

WHY_MISSED = {
    "matcher vs json-logic": (
        "Met at 6.2× on 2026-12-02; the two are timed in turns in the same process, so"
        " the ratio moves with the host's unevenness."
        + SLOWER_HOST
        + " For the matcher it is known: it did not. Timed afterwards in turns against 6086495 (the commit"
        " measured at 0.80 ms), three rounds each, fastest of 5 passes over the same 300"
        " profiles: at 1,000 programmes this code took 13.9 to 17.5 ms a profile against"
        " 15.8 to 17.1 ms, and json-logic was 5.6× to 6.0× slower than it (4.8× to 6.2×"
        " than the older one)."
    ),
    "rematch one programme over 1": (
        "Met at 41.7 s on 2026-11-24; since then each full rematch also records the rules"
        " it followed (one upsert per programme, `RecomputedRules`), which is not where"
        " 25 s would go." + SLOWER_HOST
    ),
    "XLSX export": (
        "Met at 7.43 s on 2026-11-24; since then XLSX cells skip the CSV formula guard"
        " (less SQL per cell, not more)." + SLOWER_HOST
    ),
    "impact (all programmes) vs `count(*)`": (
        "A bare `count(*)` after VACUUM is an index-only scan that reads no row; the impact"
        " query reads every profile row and evaluates each programme's criteria (about 67"
        " comparisons for the 16 shipped programmes) on it, so it is bound by expression"
        " evaluation, not I/O. PostgreSQL's JIT made it no faster here, and two parallel"
        " workers share the same 2 cores. Meeting 5× would take counts kept up to date as"
        " results change (`rematch` already computes every move) instead of a scan: a"
        " design for a national scale (docs/scaling.md), not built."
    ),
    "form submission vs trivial view": (
        "A submission validates 19 answers, matches, and in one transaction inserts the"
        " profile, its 16 result rows and the told-programme markers, after the rate"
        " limit's upsert: 5 statements and two commits. Under load the two gunicorn"
        " processes used about 1.5 cores and the PostgreSQL backends about 0.45 (top): some"
        " 6 ms of Python per submission against about 1 ms for `/healthz`. Profiling left no"
        " single large cost; the form's set-up was halved (fixed choices no longer deep-copied)"
        " and its queries cut from 9 to 5, which is not enough on this machine."
    ),
    "results page vs trivial view": (
        "A cached page still costs a query and about 80 KB of HTML per response; see the"
        " in-process figures under §2."
    ),
    "p99 latency in the worst round": (
        "The slowest round's p99 is the form submission's: a submission costs about 6 ms of"
        " Python (see the form's ratio above), so 16 connections on 8 threads over 2 cores"
        " shared with PostgreSQL and wrk queue behind one another and behind the commits. The"
        " median round stays under the floor; this one did not."
    ),
    "p99 latency": (
        "16 connections on 8 threads over 2 cores shared with PostgreSQL and wrk: the slowest"
        " requests are form submissions queued behind others and behind the commits."
    ),
}


#: What profiling showed and what changed, with before and after figures
#: measured while the work was done (issue 7). Not rewritten by runs.
HISTORY = [
    "## What profiling showed, and what changed",
    "",
    "Figures from the session that made each change (2026-11-24 and 25, China time),",
    "on this 2-core machine, some while other work shared it (load average 2 to 6), each pair",
    "measured under the same conditions;",
    "profiles taken with pyinstrument and cProfile.",
    "",
    "| path | what the profile showed | change | before → after |",
    "|---|---|---|---|",
    "| matcher, 100 programmes | dict lookups of each operator's test, a frozen dataclass per criterion result, group bookkeeping in sets | each criterion builds its test once, each programme its group layout once, criterion results built only when read | 0.87 → 0.45 ms per profile |",
    "| catalogue on every request | three queries and a rebuild of every programme per request | compiled once per process, reused until a database trigger changes the revision token | 4 → 1 query |",
    "| results page | 90 % of the time in template rendering (16 cards, question forms) | rendered body cached by profile row, catalogue version, language and date; the visitor's CSRF token put in when served | 0.05× → 0.47× the trivial view's throughput (quick run, loaded machine) |",
    "| form submission | repeated programme-id lookups, a delete for a new row, a uniqueness query for a random digest | ids come with the cached catalogue, no delete, the unique constraint guards the digest | 9 → 5 queries |",
    "| impact counts over 1M profiles | an always-true/false term in every group; each group evaluated three times (eligible, failed, near miss) | no seed terms; each group evaluated once in SQL's three-valued logic into one state code, counted over a fenced subquery | 3.7–4.1 s → 1.5–2.0 s |",
    "| rematch one programme over 1M profiles | two correlated subqueries per stored result; five indexes written per row | one `UPDATE … FROM` join; the two foreign-key indexes that repeat other indexes' prefixes dropped | 95 s → 62 s → 51 s |",
    "| CSV export, 1M rows | Python formatting each cell (32k rows/s) | `COPY` of the report's own SELECT with every cell formatted in SQL from the same column spec | 18.9 s → 3.7 s |",
    "| XLSX export, 100k rows | per-cell Python formatting, then XlsxWriter's own per-cell work (about 80 %) | rows formatted in SQL; one writer per column | 8.8 s → 7.2 s |",
    "| results page, a later view (later session) | each view read the profile, then the catalogue revision in a second query, then rendered the page frame around the cached body (about 30 % of the time) | the whole page cached, with placeholders for the visitor's CSRF token, the private link they came by and their messages; the revision read in the profile's own query | in process, WSGI handler called directly, same data: 2.64–2.93 → 1.90–1.95 ms a view |",
    "| the HTTP benchmark itself | under `max_requests` 20000 a worker restarted mid-run (its cached pages and compiled catalogue gone); a worker still busy with the last run's requests as wrk connected got none of the 16 connections (`/healthz` at ~730 instead of ~1,800 requests/s) | `max_requests` 100000; runs 2 s apart; three rounds, medians, ratios against the fastest trivial round | results page 0.07× → 0.39× the trivial view (full runs) |",
    "| form submission, set-up | Django deep-copies every choice list for each form instance | the fixed choices are callables | form set-up 0.46 → 0.23 ms; a whole submission in process 6.2 → 6.2 ms (within noise); still 0.14× over HTTP |",
    "| matcher, after issue 14 (2026-12-03, China time, a different host of the same kind) | the same code measured 0.54 ms on 2026-12-02 and 0.83–0.87 ms here (the 2026-12-02 commit, checked out beside, measured the same); the peers slowed alike (JSON Logic 3.9 → 5.9–8.8 ms at 100): the host, not the code. Of the rest, `Tier(outcome)` enum look-ups on every ranking comparison, and at 1,000 programmes about 20 % in the garbage collector | the tier computed once per result by a dict look-up; each programme's result a slotted dataclass | 0.85–0.87 → 0.80 ms per profile at 100 programmes; five full matcher runs on this host: 0.80–0.98 ms |",
    "| tried, not kept | the rate limit's upsert waits for its own commit; 16 connections from one address share its row | its commit without waiting for the disk (`synchronous_commit` off); and 4 workers × 2 threads instead of 2 × 4 | neither moved the form's throughput beyond noise (4 × 2: results 0.38×, form 0.14×, form p99 160 ms); reverted |",
    "",
]


def details(r: dict[str, Any]) -> list[str]:  # noqa: C901 - one section per part
    out: list[str] = []
    if mt := r.get("matcher"):
        out += [
            "## 1. Matcher, in process",
            "",
            f"Measured {mt.get('measured_at', r['date'])}."
            f" One profile against a synthetic catalogue of each size (about five criteria a programme,"
            f" fixed seed), {mt['profiles']} synthetic profiles, median of {mt['passes']} passes."
            " The same rules for two peers, evaluated to the same outcome and near-miss flag"
            " (checked equal first, on the matcher's facts: answers, derived and implied fields):"
            " JSON Logic by `panzi-json-logic` (one rule per programme), and GoRules ZEN by"
            " `zen-engine` (Rust, one decision per catalogue, one call per profile). Ours also"
            " builds everything the page needs: criterion results, needs addressed, ranking.",
            "",
            "| programmes | criteria | ours, ms per profile | json-logic, ms | ours faster by | ZEN, ms | ours faster by |",
            "|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for s in mt["sizes"].values():
            zen_ms = s.get("zen_ms_per_profile", "—")
            zen_ratio = f"{s['zen_ratio']}×" if "zen_ratio" in s else "—"
            out.append(
                f"| {s['programmes']:,} | {s['criteria']:,} | {s['ours_ms_per_profile']} | {s['json_logic_ms_per_profile']} | {s['speedup']}× | {zen_ms} | {zen_ratio} |"
            )
        out.append("")
    if h := r.get("http"):
        out += [
            "## 2. Pages over HTTP",
            "",
            f"gunicorn with `gunicorn.conf.py` (2 workers × 4 threads), DEBUG off, PostgreSQL through the"
            f" pool; wrk, {h['connections']} connections, on the same 2 cores as the app and the database."
            f" The three targets take turns, {h.get('rounds', 1)} round(s) of {h['seconds']} s each;"
            " figures are medians over the rounds, with the worst round's p99 beside them. Ratios divide"
            " a median by the trivial view's *fastest* round: when one gunicorn worker ends up with all"
            " 16 connections of a run (the other busy or being replaced as wrk connects), `/healthz`"
            " runs at ~730 requests/s and p50 ~21 ms instead of ~1,800 and ~9 ms, which must not"
            " flatter the ratios; runs start 2 s apart so in-flight requests finish first. Requests in Chinese. Results pages are of links viewed"
            " before, so their rendered page is cached (an owner's second and later views).",
            "",
            "| target | requests/s | vs trivial | p50 ms | p90 ms | p99 ms | worst p99 ms | errors |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        ratios = {
            "trivial": round(
                h["trivial"]["requests_per_second"]
                / h.get("trivial_fastest_rps", h["trivial"]["requests_per_second"]),
                2,
            ),
            "results_page": h["results_vs_trivial"],
            "form_submit": h["form_vs_trivial"],
        }
        for key, label in (
            ("trivial", "trivial view `/healthz`"),
            ("results_page", "results page `/r/<token>/`"),
            ("form_submit", "form submission `POST /check/`, kept"),
        ):
            x = h[key]
            out.append(
                f"| {label} | {x['requests_per_second']} | {ratios[key]}× | {x['p50_ms']} | {x['p90_ms']} | {x['p99_ms']} | {x.get('worst_p99_ms', x['p99_ms'])} | {x['error_count']} |"
            )
        fs = h["form_submit"]
        out += [
            "",
            f"The form runs stored {fs.get('profiles_stored', '?'):,} profiles and {fs.get('results_stored', '?'):,} results.",
        ]
        if ip := h.get("in_process"):
            out.append(
                f"In process (Django's test client, median of 50 links): a results page's first view,"
                f" rendered, {ip['first_view_ms']} ms; a later view, from the cache, {ip['cached_view_ms']} ms."
            )
        out.append("")
    if b := r.get("bulk"):
        out += [
            "## 3. Bulk impact and rematch",
            "",
            f"Over {b['profiles']:,} stored profiles and {b['programmes']} programmes"
            f" (PostgreSQL `max_parallel_workers_per_gather` = {b['postgresql_parallel_workers_per_gather']}).",
            "",
            "| measure | seconds |",
            "|---|---:|",
            f"| bare `SELECT count(*)` over the profiles | {b['count_star_seconds']} |",
            f"| every programme's outcome counts, one aggregate query (the impact view) | {b['impact_seconds']} |",
            f"| the same counts in Python, every profile read and assessed (one run) | {b['python_seconds']} |",
            *(
                [
                    "| rule preview: tier counts of one programme as saved and as edited,"
                    f" one aggregate query | {b['preview_counts_seconds']} |",
                    "| rule preview: all it shows (those counts, the scenarios, criteria that"
                    f" cannot change any outcome) | {b['preview_seconds']} |",
                ]
                if "preview_seconds" in b
                else []
            ),
            f"| rematch one programme after a rule change (median of {b['rematch_runs']}) | {b['rematch_one_programme_seconds']} |",
            "",
        ]
    if e := r.get("exports"):
        out += [
            "## 4. Exports",
            "",
            "Each in a fresh process through the staff report's scoped, contact-withholding queryset;"
            " peak memory is that process's VmHWM.",
            "",
            "| export | rows | median s | rows/s | peak MB |",
            "|---|---:|---:|---:|---:|",
        ]
        for key, label in (
            ("csv", "CSV export"),
            ("copy", "bare COPY of the same SELECT"),
            ("copy_lookups", "bare COPY, plain columns"),
            ("xlsx", "XLSX export"),
        ):
            x = e[key]
            out.append(
                f"| {label} | {x['rows']:,} | {x['median_seconds']} | {x['rows_per_second']:,} | {x['peak_rss_mb']} |"
            )
        out.append("")
    if c := r.get("coldstart"):
        out += [
            "## 5. Cold start",
            "",
            f"A clean clone of commit {c['commit']}: `make run` creates the virtual environment, installs"
            " the packages from the registry, migrates SQLite, loads the catalogue and demo data and"
            f" starts the server: the home page answered after {c['clean_clone_seconds']} s."
            f" Running it again in that clone: {c['second_run_seconds']} s.",
            "",
        ]
    return out


if __name__ == "__main__":
    main()
