"""Reads what ``console_mix.py --probe PREFIX`` wrote and says where the slowest webhooks waited.

``python benchmarks/tail_report.py PREFIX [--top 10]``. For each of the slowest webhooks (as
the load generator timed them) it splits the time into: before the server's ASGI entry (the
client, the network, the server's event loop not reading the socket yet), before the group
commit, the queue for a pool thread, the connection checkout, the INSERT (a SQLite write-lock
wait shows here), the commit, the loop noticing the result, and the answer; then it lists
what overlapped: write transactions of other threads, loop and GIL lag, slow callbacks.
"""
from __future__ import annotations

import argparse
import bisect
import json
import statistics


def _ms(x: float | None) -> str:
    return "   -  " if x is None else f"{x * 1000:6.1f}"


def _match(hooks, enters, sent: float, lat: float):
    """The server record of the webhook the client sent at ``sent`` and timed at ``lat``."""
    i = bisect.bisect_left(enters, sent - 0.001)
    best = None
    for h in hooks[max(0, i - 3): i + 30]:
        if sent - 0.001 <= h["enter"] <= sent + lat + 0.001 and h.get("exit", 1e18) <= sent + lat + 0.002:
            if best is None or h["enter"] < best["enter"]:
                best = h
    return best


def _store_for(stores, h):
    """The group commit that took webhook ``h``'s events."""
    for s in stores:
        if s["queued"] >= h.get("store_in", 1e18) - 1e-6:
            return s
    return None


def _summary(server, client, hooks, writes) -> None:
    """Latency percentiles, write transactions, lags, slow callbacks, gc and inbox passes."""
    lat = [x[1] for x in client["hooks"]]
    print(f"{len(lat)} webhooks, client p50 {statistics.median(lat) * 1000:.1f} ms, "
          f"p99 {sorted(lat)[int(len(lat) * 0.99) - 1] * 1000:.1f} ms")
    srv = [h["exit"] - h["enter"] for h in hooks if "exit" in h]
    print(f"server-side (ASGI entry → answer): p50 {statistics.median(srv) * 1000:.1f} ms, p99 {sorted(srv)[int(len(srv) * 0.99) - 1] * 1000:.1f} ms")
    wl = [w["end"] - w["start"] for w in writes]
    by_thread: dict[str, list[float]] = {}
    for w in writes:
        kind = "store" if w["store"] else w["first"][:40]
        by_thread.setdefault(kind, []).append(w["end"] - w["start"])
    print("write transactions (first write → commit), by first statement:")
    for k, v in sorted(by_thread.items(), key=lambda kv: -max(kv[1])):
        print(f"  {len(v):5d} × max {max(v) * 1000:6.1f} ms, p50 {statistics.median(v) * 1000:5.1f} ms  {k}")
    _ = wl
    for name in ("loop_lag", "gil_lag"):
        v = [x[1] for x in server[name]]
        if v:
            print(f"{name}: {len(v)} samples over 2 ms, max {max(v) * 1000:.1f} ms, >20 ms: {sum(1 for x in v if x > 0.02)}, >50 ms: {sum(1 for x in v if x > 0.05)}")
    sc = server["slow_callbacks"]
    if sc:
        print(f"slow loop callbacks (> 2 ms): {len(sc)}, max wall {max(c['wall'] for c in sc) * 1000:.1f} ms")
        for c in sorted(sc, key=lambda c: -c["wall"])[:5]:
            print(f"    wall {c['wall'] * 1000:6.1f} cpu {c['cpu'] * 1000:6.1f}  {c['what'][:110]}")
    gcs = server.get("gc", [])
    if gcs:
        for gen in (0, 1, 2):
            v = [g["seconds"] for g in gcs if g["gen"] == gen]
            if v:
                print(f"gc generation {gen}: {len(v)} collections listed (gen 2 all, others > 2 ms), max {max(v) * 1000:.1f} ms, total {sum(v) * 1000:.0f} ms")
    passes = server.get("inbox_passes", [])
    if passes:
        d = [p["end"] - p["start"] for p in passes]
        print(f"inbox passes: {len(passes)}, max {max(d) * 1000:.0f} ms, p50 {statistics.median(d) * 1000:.0f} ms")


def _parts(h, s, sent: float) -> list:
    """One webhook's time split: before entry, to store, pool queue, checkout, insert, commit, loop resume, answer."""
    parts = [h["enter"] - sent, h.get("store_in", h["enter"]) - h["enter"]]
    if s:
        parts += [s.get("thread_start", s["queued"]) - s["queued"],
                  s.get("checked_out", s.get("thread_start")) - s.get("thread_start", s["queued"]) if s.get("checked_out") else None,
                  (s["insert_end"] - s["insert_start"]) if "insert_end" in s else None,
                  (s["thread_end"] - s.get("insert_end", s["thread_end"])),
                  s["resumed"] - s["thread_end"] if "resumed" in s else None]
    else:
        parts += [None] * 5
    parts.append(h["exit"] - h.get("store_out", h["enter"]))
    return parts


def _window(server, writes, h, parts: list, sent: float, latency: float) -> None:
    """One slow webhook's line, then what overlapped it: other writes, loop and GIL lag, gc, slow callbacks."""
    sc = server["slow_callbacks"]
    t0, t1 = sent, sent + latency
    over = [w for w in writes if w["start"] < t1 and w["end"] > t0 and not w["store"]]
    lag = [x for x in server["loop_lag"] if t0 <= x[0] <= t1 + 0.01]
    gil = [x for x in server["gil_lag"] if t0 <= x[0] <= t1 + 0.01]
    cbs = [c for c in sc if t0 <= c["at"] <= t1 + 0.01]
    gcw = [g for g in server.get("gc", []) if t0 <= g["at"] <= t1 + 0.01]
    print(f"  {latency * 1000:6.1f} |" + " |".join(_ms(p) for p in parts) + f"   drain busy: {h.get('drain_busy')}")
    if over:
        print("      other writes overlapping: " + "; ".join(f"{w['thread']} {w['first'][:30]} {(w['end'] - w['start']) * 1000:.0f} ms" for w in over[:4]))
    if lag:
        print(f"      loop lag in window: max {max(x[1] for x in lag) * 1000:.0f} ms ({len(lag)} samples)")
    if gil:
        print(f"      gil lag in window: max {max(x[1] for x in gil) * 1000:.0f} ms ({len(gil)} samples)")
    for g in gcw:
        print(f"      gc gen {g['gen']} {g['seconds'] * 1000:.0f} ms in {g['thread']} (ended in window)")
    for c in cbs[:3]:
        print(f"      slow callback wall {c['wall'] * 1000:.0f} cpu {c['cpu'] * 1000:.0f}: {c['what'][:100]}")


def _slowest(top: int, server, client, hooks, stores, writes) -> None:
    """The slowest webhooks as the client timed them, each split into its parts."""
    enters = [h["enter"] for h in hooks]
    print("\nslowest webhooks (ms): total | before entry | to store | pool queue | checkout | insert | commit | loop resume | answer")
    for sent, latency in sorted(client["hooks"], key=lambda x: -x[1])[:top]:
        h = _match(hooks, enters, sent, latency)
        if h is None:
            print(f"  {latency * 1000:6.1f}  (no server record matched)")
            continue
        s = _store_for(stores, h)
        _window(server, writes, h, _parts(h, s, sent), sent, latency)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("prefix")
    ap.add_argument("--top", type=int, default=8)
    args = ap.parse_args()
    server = json.load(open(args.prefix + ".server.json"))
    client = json.load(open(args.prefix + ".client.json"))
    hooks = sorted(server["hooks"], key=lambda h: h["enter"])
    stores = sorted(server["stores"], key=lambda s: s["queued"])
    writes = server["writes"]

    _summary(server, client, hooks, writes)
    _slowest(args.top, server, client, hooks, stores, writes)


if __name__ == "__main__":
    main()
