#!/usr/bin/env python3
"""tests/serve_bench.py — throughput and latency of `vkgpt serve` at 1, 2, 4, 8 and 16 concurrent streams
(issue 14's benchmark; a tool, not a test: ctest does not run it).

    python3 tests/serve_bench.py build/vkgpt [--config gpt-nano | -m MODEL_DIR] [--tokens 32]
                                 [--prompt 16] [--streams 1,2,4,8,16] [--rounds 2] [--ctx-size 256]

Starts the server with --parallel = the largest stream count on 127.0.0.1 (a free port), then for each
stream count N runs `rounds` rounds of N simultaneous streaming /v1/completions requests (token-id
prompts of --prompt tokens, greedy, max_tokens --tokens, end-of-text ignored by choosing prompts that
the caller does not control: counts come from the usage chunk). Per N it prints:
  aggregate tok/s  = generated tokens of all streams / wall time of the round (median over rounds)
  TTFT p50/p95     = request sent -> first token's chunk, ms
  ms/token p50/p95 = gaps between successive token chunks of a stream, all streams pooled
Python's http.client reads the SSE stream line by line, so the client adds well under a millisecond.
"""
import argparse
import http.client
import json
import re
import statistics
import subprocess
import sys
import threading
import time


def pct(v, p):
    if not v:
        return float("nan")
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]


def one_stream(port, prompt, tokens, out):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    body = json.dumps({"prompt": prompt, "max_tokens": tokens, "temperature": 0, "stream": True,
                       "stream_options": {"include_usage": True}})
    t0 = time.perf_counter()
    conn.request("POST", "/v1/completions", body, {"Content-Type": "application/json"})
    r = conn.getresponse()
    stamps, used = [], 0
    for line in r:
        line = line.strip()
        if not line.startswith(b"data: ") or line == b"data: [DONE]":
            continue
        ev = json.loads(line[6:])
        if ev.get("usage"):
            used = ev["usage"]["completion_tokens"]
        for ch in ev.get("choices", []):
            if ch.get("finish_reason") is None:
                stamps.append(time.perf_counter())
    conn.close()
    out.append((t0, stamps, used))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("vkgpt")
    ap.add_argument("--config", default="gpt-nano")
    ap.add_argument("-m", "--model")
    ap.add_argument("--tokens", type=int, default=32)
    ap.add_argument("--prompt", type=int, default=16)
    ap.add_argument("--streams", default="1,2,4,8,16")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--ctx-size", type=int, default=256, help="each slot's context (the KV caches of all slots must fit)")
    a = ap.parse_args()
    counts = [int(x) for x in a.streams.split(",")]
    model = ["-m", a.model] if a.model else ["--config", a.config]
    srv = subprocess.Popen([a.vkgpt, "serve", *model, "--port", "0", "--parallel", str(max(counts)), "-q",
                            "--ctx-size", str(a.ctx_size)],
                           stderr=subprocess.PIPE, text=True)
    port = None
    for line in srv.stderr:
        m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
        port = int(m.group(1)) if m else port
        if "ready:" in line:
            break
    if port is None or srv.poll() is not None:
        sys.exit("the server did not start (run the same `vkgpt serve` by hand to see why)")
    threading.Thread(target=lambda: [None for _ in srv.stderr], daemon=True).start()
    try:
        # warm-up: every slot once
        out = []
        ts = [threading.Thread(target=one_stream, args=(port, [100 + i] * a.prompt, 4, out)) for i in range(max(counts))]
        [t.start() for t in ts]
        [t.join() for t in ts]
        print(f"{'streams':>7} {'tok/s':>9} {'TTFT p50':>9} {'TTFT p95':>9} {'ms/tok p50':>10} {'ms/tok p95':>10}")
        for n in counts:
            rates, ttft, gaps = [], [], []
            for rnd in range(a.rounds):
                out = []
                # distinct prompts, so no stream reuses another's cache
                ts = [threading.Thread(target=one_stream,
                                       args=(port, [(1000 + 97 * (i + 16 * rnd) + k) % 50000 for k in range(a.prompt)],
                                             a.tokens, out)) for i in range(n)]
                t0 = time.perf_counter()
                [t.start() for t in ts]
                [t.join() for t in ts]
                wall = time.perf_counter() - t0
                rates.append(sum(u for _, _, u in out) / wall)
                for start, stamps, _ in out:
                    if stamps:
                        ttft.append((stamps[0] - start) * 1e3)
                        gaps += [(b - c) * 1e3 for c, b in zip(stamps, stamps[1:])]
            print(f"{n:>7} {statistics.median(rates):>9.1f} {pct(ttft, 50):>9.1f} {pct(ttft, 95):>9.1f} "
                  f"{pct(gaps, 50):>10.1f} {pct(gaps, 95):>10.1f}", flush=True)
    finally:
        srv.terminate()
        srv.wait(60)


if __name__ == "__main__":
    main()
