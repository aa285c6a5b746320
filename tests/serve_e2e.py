#!/usr/bin/env python3
"""tests/serve_e2e.py — `vkgpt serve` end to end with curl as the client (run by test_serve.sh).

Starts the built server on 127.0.0.1 with a free port (--port 0) on a synthetic gpt-nano with the real
GPT-2 tokenizer files, and checks, against independent results:
  - greedy completions (streamed or not, alone or 8 at once) equal `vkgpt run --temp 0` of the same
    prompt, and seeded sampling equals `vkgpt run --seed S` with the same sampler settings;
  - SSE framing (data: lines, data: [DONE], include_usage), usage counts, logprobs consistent with the
    greedy choice, stop strings (text cut before the first occurrence), the context limit;
  - every error case of issue 14 with its status and OpenAI error shape; the API key;
  - a client that disconnects mid-stream frees its slot at once; a full queue answers 503;
  - the server keeps serving throughout and exits cleanly on SIGTERM.
With --load it runs the bounded load test instead (32 clients x 8 requests; see load()).
Exit status: 0 pass, 1 fail.
"""
import json
import tempfile
import os
import re
import signal
import subprocess
import sys
import threading
import time

VKGPT, TOKDIR = sys.argv[1], sys.argv[2]
LOAD = "--load" in sys.argv
KEY = "secret-key"
CTX = 64
FAILS = []


def fail(msg):
    FAILS.append(msg)
    print("FAIL:", msg, flush=True)


def check(cond, msg):
    if not cond:
        fail(msg)
    return cond


class Server:
    def __init__(self, *extra):
        self.log = open(os.path.join(os.environ.get("TMPDIR", "/tmp"), f"vkgpt-serve-{os.getpid()}.log"), "w+")
        self.proc = subprocess.Popen([VKGPT, "serve", "--config", "gpt-nano", "--tokenizer", TOKDIR, "--port", "0",
                                      *extra], stdout=self.log, stderr=self.log)
        self.port = None
        deadline = time.time() + 30
        while time.time() < deadline and self.port is None:
            m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", self.text())
            if m:
                self.port = int(m.group(1))
            elif self.proc.poll() is not None:
                break
            time.sleep(0.02)
        if self.port is None:
            raise SystemExit("server did not start:\n" + self.text())

    def text(self):
        self.log.flush()
        with open(self.log.name) as f:
            return f.read()

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = "hung"
        check(rc == 0, f"server exit status on SIGTERM: {rc}\n{self.text()[-2000:]}")


def curl(srv, path, body=None, key=KEY, method=None, stream=False, raw=None, headers=()):
    """(status, parsed JSON or SSE text). body: a dict (sent as JSON) or raw bytes in raw."""
    args = ["curl", "-s", "-S", "-N", "-o", "-", "-w", "\n%{http_code}", "--max-time", "120"]
    if key:
        args += ["-H", f"Authorization: Bearer {key}"]
    for h in headers:
        args += ["-H", h]
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    if data is not None:
        args += ["-H", "Content-Type: application/json", "--data-binary", "@-"]
    if method:
        args += ["-X", method]
    args.append(srv.url(path))
    out = subprocess.run(args, input=data, capture_output=True).stdout
    text, _, code = out.rpartition(b"\n")
    status = int(code or 0)
    if stream and status == 200:
        return status, text.decode()
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text.decode(errors="replace")


def sse_events(text):
    """The data: payloads of an SSE body, in order; checks the framing."""
    events = []
    for block in text.split("\n\n"):
        if not block:
            continue
        check(block.startswith("data: "), f"SSE block without 'data: ': {block[:80]!r}")
        events.append(block[6:])
    check(text.endswith("\n\n"), "SSE body does not end with a blank line")
    check(events and events[-1] == "[DONE]", f"SSE stream does not end with data: [DONE] ({events[-1:]})")
    return [json.loads(e) for e in events[:-1]] if events else []


def run_cli(ids, n, *sampling):
    """The reference: `vkgpt run` of the same prompt on the same synthetic model, text out."""
    r = subprocess.run([VKGPT, "run", "--config", "gpt-nano", "--tokenizer", TOKDIR, "--prompt-ids",
                        ",".join(map(str, ids)), "-n", str(n), "-q", *sampling], capture_output=True)
    if r.returncode != 0:
        fail(f"vkgpt run failed: {r.stderr.decode()}")
    out = r.stdout
    if out.endswith(b"\n"):
        out = out[:-1]
    return out.decode("utf-8", errors="replace")  # the server's U+FFFD rule is Python's


def greedy(ids, n):
    return run_cli(ids, n, "--temp", "0")


def completion(srv, prompt, n, **kw):
    body = {"prompt": prompt, "max_tokens": n, "temperature": 0, **kw}
    return curl(srv, "/v1/completions", body)


def stream_text(srv, body):
    st, text = curl(srv, "/v1/completions", dict(body, stream=True), stream=True)
    if not check(st == 200, f"stream status {st}: {text}"):
        return None, None
    evs = sse_events(text)
    return "".join(c["text"] for e in evs for c in e.get("choices", [])), evs


PROMPTS = [[464, 3290, 318], [15496, 995], [40, 588, 257, 3797], [464], [1212, 318, 257, 1332, 286, 262],
           [17250, 11, 703, 389, 345, 30], [2061, 318, 534, 1438, 30], [7454, 2402, 257, 640]]


def basic(srv):
    # /health: 503 while loading (when we were fast enough to see the loading state), then 200
    saw_ready_before = "ready:" in srv.text()
    st, body = curl(srv, "/health")
    if not saw_ready_before and "ready:" not in srv.text():
        check(st == 503 and body["error"]["code"] == "loading", f"/health while loading: {st} {body}")
        print("/health while loading: 503", flush=True)
    deadline = time.time() + 120
    while st != 200 and time.time() < deadline:
        time.sleep(0.1)
        st, body = curl(srv, "/health")
    check(st == 200 and body["status"] == "ok", f"/health: {st} {body}")

    # the API key, on every endpoint
    for path, body in (("/health", None), ("/v1/models", None), ("/v1/completions", {"prompt": "x"})):
        for key in (None, "wrong", KEY + "x"):
            st, b = curl(srv, path, body, key=key)
            check(st == 401 and b["error"]["type"] == "authentication_error", f"{path} with key {key}: {st} {b}")
    st, b = curl(srv, "/v1/models")
    check(st == 200 and b["object"] == "list" and b["data"][0]["id"] == "gpt-nano", f"/v1/models: {st} {b}")

    # greedy, not streamed: text equals `vkgpt run --temp 0`, usage counts, finish_reason
    ref = greedy(PROMPTS[0], 10)
    st, b = completion(srv, PROMPTS[0], 10)
    if check(st == 200, f"completion: {st} {b}"):
        ch = b["choices"][0]
        check(ch["text"] == ref, f"greedy text {ch['text']!r} != vkgpt run's {ref!r}")
        check(b["object"] == "text_completion" and b["id"].startswith("cmpl-") and b["model"] == "gpt-nano"
              and isinstance(b["created"], int), f"response envelope: {b}")
        check(b["usage"] == {"prompt_tokens": 3, "completion_tokens": 10, "total_tokens": 13,
                             "prompt_tokens_details": b["usage"].get("prompt_tokens_details")},
              f"usage: {b['usage']}")
        check(ch["finish_reason"] == "length", f"finish_reason {ch['finish_reason']}")
    # a text prompt is tokenized as `vkgpt run -p` does
    r = subprocess.run([VKGPT, "run", "--config", "gpt-nano", "--tokenizer", TOKDIR, "-p", "Hello world", "-n", "6",
                        "--temp", "0", "-q"], capture_output=True)
    st, b = completion(srv, "Hello world", 6)
    check(st == 200 and b["choices"][0]["text"] == r.stdout[:-1].decode(errors="replace"),
          f"text prompt: {st} {b} vs {r.stdout!r}")

    # streamed: the same text, SSE framing, the usage chunk last
    text, evs = stream_text(srv, {"prompt": PROMPTS[0], "max_tokens": 10, "temperature": 0,
                                  "stream_options": {"include_usage": True}})
    if text is not None:
        check(text == ref, f"streamed text {text!r} != {ref!r}")
        check(evs[-1]["choices"] == [] and evs[-1]["usage"]["completion_tokens"] == 10, f"usage chunk: {evs[-1]}")
        check(evs[-2]["choices"][0]["finish_reason"] == "length", f"finish chunk: {evs[-2]}")
        check(all(e["choices"][0]["finish_reason"] is None for e in evs[:-2]), "finish_reason before the end")
    text, evs = stream_text(srv, {"prompt": PROMPTS[0], "max_tokens": 3, "temperature": 0})
    if text is not None:
        check(all("usage" not in e for e in evs), "usage sent without include_usage")

    # prompt reuse: the second turn of a conversation reuses the cached prefix and still equals run
    conv = PROMPTS[4] + [13, 383]
    st, b = completion(srv, PROMPTS[4], 4)
    st, b = completion(srv, conv, 4)
    if check(st == 200, f"reuse: {st} {b}"):
        check(b["usage"]["prompt_tokens_details"]["cached_tokens"] == len(PROMPTS[4]),
              f"cached tokens {b['usage']['prompt_tokens_details']} != {len(PROMPTS[4])}")
        check(b["choices"][0]["text"] == greedy(conv, 4), "reused prompt: text differs from vkgpt run")

    # seeded sampling: reproducible, and equal to `vkgpt run --seed` with the same sampler
    body = {"prompt": PROMPTS[2], "max_tokens": 8, "temperature": 1.3, "top_p": 1, "top_k": 0, "min_p": 0,
            "seed": 1234}
    st1, b1 = curl(srv, "/v1/completions", body)
    st2, b2 = curl(srv, "/v1/completions", body)
    ref = run_cli(PROMPTS[2], 8, "--temp", "1.3", "--top-k", "0", "--top-p", "1", "--min-p", "0", "--seed", "1234")
    if check(st1 == 200 and st2 == 200, f"seeded: {st1} {st2}"):
        check(b1["choices"][0]["text"] == b2["choices"][0]["text"], "same seed, different text")
        check(b1["choices"][0]["text"] == ref, f"seeded text {b1['choices'][0]['text']!r} != vkgpt run's {ref!r}")
    st3, b3 = curl(srv, "/v1/completions", dict(body, seed=99))
    check(st3 == 200 and b3["choices"][0]["text"] != b1["choices"][0]["text"], "another seed gave the same text")

    # greedy with a repetition penalty is the sampler's argmax after the penalty: gpt-nano's greedy text
    # repeats tokens (" sob sob sob"), so the penalty must change it, the same way every time
    plain = greedy(PROMPTS[0], 12)
    st1, b1 = completion(srv, PROMPTS[0], 12, repeat_penalty=1.5)
    st2, b2 = completion(srv, PROMPTS[0], 12, repeat_penalty=1.5)
    if check(st1 == 200 and st2 == 200, f"repeat_penalty: {st1} {st2}"):
        check(b1["choices"][0]["text"] == b2["choices"][0]["text"], "greedy with a penalty is not reproducible")
        check(b1["choices"][0]["text"] != plain, f"repeat_penalty changed nothing: {plain!r}")

    # logprobs: the greedy token is the most likely one; log-probabilities are <= 0 and sorted
    st, b = completion(srv, PROMPTS[1], 5, logprobs=3)
    if check(st == 200, f"logprobs: {st} {b}"):
        lp = b["choices"][0]["logprobs"]
        check(len(lp["tokens"]) == 5 and len(lp["token_logprobs"]) == 5 and len(lp["top_logprobs"]) == 5,
              f"logprobs lengths: {lp}")
        check("".join(lp["tokens"]) == b["choices"][0]["text"], "logprobs tokens do not spell the text")
        for tok, l, top in zip(lp["tokens"], lp["token_logprobs"], lp["top_logprobs"]):
            best = max(top.values())
            check(l <= 0 and abs(l - best) < 1e-6 and top.get(tok) == l, f"greedy token {tok!r} {l} not the top {top}")

    # stop strings: the text ends before the first occurrence; finish_reason "stop"
    full = greedy(PROMPTS[5], 12)
    stop = full[len(full) // 2: len(full) // 2 + 3]
    if stop and stop.isprintable():
        st, b = completion(srv, PROMPTS[5], 12, stop=[stop, "\x00never"])
        want = full[:full.find(stop)]
        check(st == 200 and b["choices"][0]["text"] == want and b["choices"][0]["finish_reason"] == "stop",
              f"stop {stop!r}: got {b} want {want!r}")
        text, evs = stream_text(srv, {"prompt": PROMPTS[5], "max_tokens": 12, "temperature": 0, "stop": stop})
        check(text == want, f"streamed stop: {text!r} != {want!r}")

    # the context: CTX - prompt + 1 tokens at most, finish "length"
    long_prompt = (PROMPTS[0] * 30)[:CTX - 3]
    st, b = completion(srv, long_prompt, 50)
    check(st == 200 and b["usage"]["completion_tokens"] == 4 and b["choices"][0]["finish_reason"] == "length",
          f"context limit: {st} {b}")


def errors(srv):
    def expect(status, param, body=None, path="/v1/completions", raw=None, method=None, code=None):
        st, b = curl(srv, path, body, raw=raw, method=method)
        ok = st == status and isinstance(b, dict) and set(b) == {"error"} and \
            {"message", "type", "code"} <= set(b["error"]) and b["error"]["message"]
        if ok and param is not None:
            ok = b["error"].get("param") == param
        if ok and code is not None:
            ok = b["error"].get("code") == code
        check(ok, f"expected {status} (param {param}) for {body or raw or path}: got {st} {b}")

    expect(400, None, raw=b"{not json")
    expect(400, None, raw=b"[1, 2]")
    expect(400, None, raw=b'{"prompt": "a", "prompt": "b"}')  # duplicate key
    expect(400, "prompt", {})
    expect(400, "prompt", {"prompt": ""})
    expect(400, "prompt", {"prompt": 5})
    expect(400, "prompt", {"prompt": ["a", "b"]})
    expect(400, "prompt", {"prompt": [1, "x"]})
    expect(400, "prompt", {"prompt": [50257]})
    expect(400, "prompt", {"prompt": [-1]})
    expect(400, "prompt", {"prompt": [1] * (CTX + 1)}, code="context_length_exceeded")
    expect(400, "max_tokens", {"prompt": "a", "max_tokens": 0})
    expect(400, "max_tokens", {"prompt": "a", "max_tokens": "5"})
    expect(400, "temperature", {"prompt": "a", "temperature": "hot"})
    expect(400, "temperature", {"prompt": "a", "temperature": 2.5})
    expect(400, "top_p", {"prompt": "a", "top_p": 1.5})
    expect(400, "top_k", {"prompt": "a", "top_k": 1.5})
    expect(400, "min_p", {"prompt": "a", "min_p": -0.1})
    expect(400, "repeat_penalty", {"prompt": "a", "repeat_penalty": 0})
    expect(400, "frequency_penalty", {"prompt": "a", "frequency_penalty": 0.5})
    expect(400, "presence_penalty", {"prompt": "a", "presence_penalty": 1})
    expect(400, "dry_penalty", {"prompt": "a", "dry_penalty": 1})
    expect(400, "n", {"prompt": "a", "n": 2})
    expect(400, "seed", {"prompt": "a", "seed": "x"})
    expect(400, "stop", {"prompt": "a", "stop": 3})
    expect(400, "stop", {"prompt": "a", "stop": ["a", "b", "c", "d", "e"]})
    expect(400, "stream", {"prompt": "a", "stream": 1})
    expect(400, "stream_options", {"prompt": "a", "stream_options": {"include_usage": True}})
    expect(400, "logprobs", {"prompt": "a", "logprobs": 6})
    expect(400, "logit_bias", {"prompt": "a", "logit_bias": {"1": 5}})
    expect(400, "messages", {"messages": [{"role": "user", "content": "hi"}]}, path="/v1/chat/completions",
           code="no_chat_template")
    expect(400, "messages", {"messages": [{"role": "wizard", "content": "hi"}]}, path="/v1/chat/completions")
    expect(400, "messages", {"messages": []}, path="/v1/chat/completions")
    expect(400, "top_logprobs", {"messages": [{"role": "user", "content": "x"}], "top_logprobs": 2},
           path="/v1/chat/completions")
    expect(404, None, path="/v1/nothing")
    expect(404, None, path="/")
    expect(405, None, path="/v1/completions", method="GET")
    expect(405, None, {"prompt": "a"}, path="/v1/models")
    expect(405, None, {"prompt": "a"}, path="/health")
    expect(413, None, {"prompt": "x" * 5000})
    # without Content-Length (chunked upload) the limit is counted as the body arrives
    st, b = curl(srv, "/v1/completions", {"prompt": "x" * 5000}, headers=("Transfer-Encoding: chunked",))
    check(st == 413 and b["error"]["code"] == "body_too_large", f"chunked body over --max-body: {st} {b}")
    # the server is still fine
    st, b = completion(srv, PROMPTS[0], 2)
    check(st == 200, f"after the errors: {st} {b}")


def health(srv):
    return curl(srv, "/health")[1]


def wait_idle(srv, seconds):
    deadline = time.time() + seconds
    while time.time() < deadline:
        h = health(srv)
        if h.get("slots_processing") == 0 and h.get("queued") == 0:
            return True
        time.sleep(0.05)
    return False


def disconnect_and_queue(srv):
    # a streaming client that goes away mid-stream: its slot is free within a second
    args = ["curl", "-s", "-N", "-H", f"Authorization: Bearer {KEY}", "--data-binary",
            json.dumps({"prompt": PROMPTS[0], "max_tokens": 1000, "stream": True, "temperature": 0}), srv.url("/v1/completions")]
    p = subprocess.Popen(args, stdout=subprocess.PIPE)
    first = p.stdout.readline()
    check(first.startswith(b"data: "), f"first stream line {first!r}")
    check(health(srv)["slots_processing"] == 1, "the stream holds no slot")
    t0 = time.time()
    p.kill()
    p.wait()
    check(wait_idle(srv, 3), f"slot not freed after the client left: {health(srv)}")
    print(f"disconnect: slot free after {time.time() - t0:.2f} s", flush=True)

    # queue full: 4 slots + 4 queued, the 9th gets 503; when those clients go, everything is freed
    procs = []
    for i in range(8):
        procs.append(subprocess.Popen(args, stdout=subprocess.DEVNULL))
        deadline = time.time() + 20
        while time.time() < deadline:  # in order: each is in before the next is sent
            h = health(srv)
            if h["slots_processing"] + h["queued"] == i + 1:
                break
            time.sleep(0.02)
    # the decode thread moves queued requests into free slots between steps: give it the time a slow
    # (sanitizer) build needs before reading the counts
    deadline = time.time() + 20
    h = health(srv)
    while not (h["slots_processing"] == 4 and h["queued"] == 4) and time.time() < deadline:
        time.sleep(0.05)
        h = health(srv)
    check(h["slots_processing"] == 4 and h["queued"] == 4, f"4 slots + 4 queued expected: {h}")
    st, b = completion(srv, PROMPTS[0], 2)
    check(st == 503 and b["error"]["code"] == "queue_full", f"full queue: {st} {b}")
    for p in procs:
        p.kill()
        p.wait()
    check(wait_idle(srv, 5), f"not idle after the clients left: {health(srv)}")
    st, b = completion(srv, PROMPTS[0], 2)
    check(st == 200, f"after the queue emptied: {st} {b}")


def concurrent(srv):
    # 8 concurrent streams (4 decode at once, 4 wait): each equals its own single `vkgpt run`
    refs = [greedy(p, 8) for p in PROMPTS]
    got = [None] * len(PROMPTS)

    def one(i):
        got[i] = stream_text(srv, {"prompt": PROMPTS[i], "max_tokens": 8, "temperature": 0})[0]

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(PROMPTS))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i, (g, r) in enumerate(zip(got, refs)):
        check(g == r, f"concurrent stream {i}: {g!r} != vkgpt run's {r!r}")
    if os.environ.get("SERVE_REFS"):  # the Node client test compares with the same `vkgpt run` results
        with open(os.environ["SERVE_REFS"], "w") as f:
            json.dump({"prompts": PROMPTS, "tokens": 8, "texts": refs}, f)


def load(srv):
    """32 clients x 8 requests, mixed prompt and output lengths, half streamed: 0 errors, every
    response's token count is what it asked for (no lost or duplicated tokens: streamed chunks add up
    to the usage count and to the greedy text of a single run), server RSS flat after warm-up."""
    import random
    rng = random.Random(7)
    refs = {}
    jobs = []
    for c in range(32):
        for r in range(8):
            p = PROMPTS[rng.randrange(len(PROMPTS))]
            n = rng.choice([1, 2, 4, 8])
            jobs.append((c, p, n, rng.random() < 0.5))
    for p in PROMPTS:
        refs[tuple(p)] = greedy(p, 8)
    errors_seen = []
    rss = []

    def rss_kb():
        with open(f"/proc/{srv.proc.pid}/status") as f:
            return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))

    def client(c):
        for (cc, p, n, stream) in jobs:
            if cc != c:
                continue
            body = {"prompt": p, "max_tokens": n, "temperature": 0, "stream": stream,
                    "stream_options": {"include_usage": True}} if stream else \
                {"prompt": p, "max_tokens": n, "temperature": 0}
            for attempt in range(100):  # 503 = queue full: the client retries, as the API tells it to
                if stream:
                    st, text = curl(srv, "/v1/completions", body, stream=True)
                else:
                    st, text = curl(srv, "/v1/completions", body)
                if st != 503:
                    break
                time.sleep(0.2)
            if st != 200:
                errors_seen.append(f"client {c}: {st} {text}")
                continue
            if stream:
                evs = sse_events(text)
                got = "".join(ch["text"] for e in evs for ch in e["choices"])
                used = evs[-1]["usage"]["completion_tokens"]
            else:
                got = text["choices"][0]["text"]
                used = text["usage"]["completion_tokens"]
            want = refs[tuple(p)]
            # the first n tokens of the 8-token reference: compare by prefix and count
            if used != n or not want.startswith(got):
                errors_seen.append(f"client {c}: {used} tokens {got!r}, want {n} tokens of {want!r}")

    t0 = time.time()
    threads = [threading.Thread(target=client, args=(c,)) for c in range(32)]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        rss.append(rss_kb())
        time.sleep(0.5)
        if time.time() - t0 > 900:
            fail("load test took longer than 15 minutes")
            break
    for t in threads:
        t.join(1)
    took = time.time() - t0
    for e in errors_seen[:10]:
        fail(e)
    check(not errors_seen, f"{len(errors_seen)} failed requests")
    warm = rss[len(rss) // 4:] or rss
    growth = (max(warm) - warm[0]) / 1024
    print(f"load: {len(jobs)} requests in {took:.1f} s, RSS {warm[0] / 1024:.0f} -> {max(warm) / 1024:.0f} MiB",
          flush=True)
    if "ASAN_OPTIONS" in os.environ:  # the sanitizer suite: ASan's quarantine keeps freed memory resident
        print("load: RSS not checked under AddressSanitizer", flush=True)
    else:
        check(growth < 32, f"server RSS grew {growth:.0f} MiB after warm-up")


def options_and_chat_template():
    # usage errors exit with status 2 and name the problem, before any device is opened
    for args, what in ((["serve"], "no model"), (["serve", "--config", "gpt-nano", "--port", "70000"], "--port"),
                       (["serve", "--config", "gpt-nano", "--parallel", "0"], "--parallel"),
                       (["serve", "--config", "gpt-nano", "--bogus"], "--bogus"),
                       (["serve", "--config", "gpt-nano", "-m", "x"], "both given")):
        r = subprocess.run([VKGPT, *args], capture_output=True, text=True)
        check(r.returncode == 2 and what in r.stderr, f"{args}: status {r.returncode}, {r.stderr!r}")
    r = subprocess.run([VKGPT, "serve", "--config", "gpt-nano", "--chat-template", "/nonexistent/t.jinja"],
                       capture_output=True, text=True)
    check(r.returncode == 1 and "/nonexistent/t.jinja" in r.stderr, f"unreadable template: {r.returncode} {r.stderr!r}")
    # with --chat-template the chat endpoint renders the conversation with it: its greedy reply equals a
    # completion of the prompt that `vkgpt template` renders independently from the same file
    tmpl = tempfile.NamedTemporaryFile("w", suffix=".jinja", delete=False)
    tmpl.write("{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
               "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
    tmpl.close()
    msgs = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi there"}]
    mfile = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
    json.dump(msgs, mfile)
    mfile.close()
    rendered = subprocess.run([VKGPT, "template", "--chat-template", tmpl.name, "--messages", mfile.name,
                               "--add-generation-prompt"], capture_output=True, text=True)
    check(rendered.returncode == 0 and rendered.stdout.startswith("<|im_start|>system"), f"template: {rendered}")
    srv = Server("--chat-template", tmpl.name, "--ctx-size", "64")
    try:
        deadline = time.time() + 120
        while curl(srv, "/health", key=None)[0] != 200 and time.time() < deadline:
            time.sleep(0.1)
        st, b = curl(srv, "/v1/chat/completions", {"messages": msgs, "max_tokens": 4, "temperature": 0}, key=None)
        check(st == 200 and b["object"] == "chat.completion", f"chat with --chat-template: {st} {b}")
        st2, c = curl(srv, "/v1/completions", {"prompt": rendered.stdout, "max_tokens": 4, "temperature": 0},
                      key=None)
        check(st2 == 200 and b["choices"][0]["message"]["content"] == c["choices"][0]["text"],
              f"chat reply {b} differs from the completion of the rendered prompt {c}")
        check(b["usage"]["prompt_tokens"] == c["usage"]["prompt_tokens"], f"prompt tokens: {b['usage']} {c['usage']}")
        st, b = curl(srv, "/v1/completions", {"prompt": [464], "max_tokens": 1}, key=None)
        check(st == 200, f"no --api-key: {st} {b}")
    finally:
        srv.stop()
        os.unlink(tmpl.name)
        os.unlink(mfile.name)


def main():
    if LOAD:
        srv = Server("--api-key", KEY, "--parallel", "8", "--queue", "32", "--ctx-size", str(CTX), "-q")
        try:
            wait_idle(srv, 120)
            load(srv)
        finally:
            srv.stop()
    else:
        srv = Server("--api-key", KEY, "--parallel", "4", "--queue", "4", "--ctx-size", str(CTX),
                     "--max-body", "4096")
        try:
            basic(srv)
            errors(srv)
            disconnect_and_queue(srv)
            concurrent(srv)
            check(srv.proc.poll() is None, "the server died")
        finally:
            srv.stop()
        options_and_chat_template()
        if FAILS:
            print(srv.text()[-4000:])
    print(f"{'FAIL' if FAILS else 'PASS'}: {len(FAILS)} failures", flush=True)
    sys.exit(1 if FAILS else 0)


if __name__ == "__main__":
    main()
