#!/usr/bin/env python3
"""tests/jinja_ref.py — renders chat templates with the real Jinja2 (Debian's python3-jinja2), configured
the way Hugging Face transformers' apply_chat_template renders (and as ../shared/tokenizers/README.md
describes): an ImmutableSandboxedEnvironment with trim_blocks and lstrip_blocks, the loopcontrols
extension (and transformers' `generation` block), globals raise_exception(msg) and strftime_now(fmt), and
a tojson filter that is json.dumps(x, ensure_ascii=False, indent, separators, sort_keys).

Used by tests/test_template.c as the independent reference: it writes a JSON list of cases
    {"template": str, "messages": any, "tools": any|null, "add_generation_prompt": bool,
     "special": {"bos_token": str, ...} (absent or null tokens are not passed, as in transformers),
     "extra": {...} (further variables)}
to IN and this script writes to OUT a list of results, one per case:
    {"ok": true, "out": str} or {"ok": false, "kind": "raised"|"syntax"|"error", "message": str, "line": int|null}

usage: jinja_ref.py IN OUT      (exit status 3 when jinja2 cannot be imported)
"""
import json
import sys
from datetime import datetime

try:
    import jinja2
    from jinja2 import nodes
    from jinja2.ext import Extension, loopcontrols
    from jinja2.sandbox import ImmutableSandboxedEnvironment
except ImportError as e:  # the C test turns this into a skip (or a failure under CI)
    print(f"jinja_ref.py: cannot import jinja2: {e}", file=sys.stderr)
    sys.exit(3)


class Raised(jinja2.exceptions.TemplateError):
    """What raise_exception() raises (transformers raises TemplateError)."""


class Generation(Extension):
    """transformers' AssistantTracker without the tracking: {% generation %}...{% endgeneration %}."""
    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return nodes.CallBlock(self.call_method("_render"), [], [], body).set_lineno(lineno)

    def _render(self, caller):
        return caller()


def raise_exception(message):
    raise Raised(message)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def strftime_now(format):
    return datetime.now().strftime(format)


def make_env():
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[Generation, loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


def render(env, cache, case):
    try:
        # Compiling dominates the run time; cases share templates.
        tmpl = cache.get(case["template"])
        if tmpl is None:
            tmpl = cache[case["template"]] = env.from_string(case["template"])
        special = {k: v for k, v in (case.get("special") or {}).items() if v is not None}
        variables = dict(case.get("extra") or {})
        variables.update(special)
        variables.update(messages=case["messages"], tools=case.get("tools"), documents=None,
                         add_generation_prompt=bool(case.get("add_generation_prompt")))
        return {"ok": True, "out": tmpl.render(**variables)}
    except Raised as e:
        return {"ok": False, "kind": "raised", "message": str(e.message), "line": None}
    except jinja2.exceptions.TemplateSyntaxError as e:
        return {"ok": False, "kind": "syntax", "message": str(e.message), "line": e.lineno}
    except SyntaxError as e:  # Python's own, from Jinja's generated code: `break` outside a loop
        return {"ok": False, "kind": "syntax", "message": str(e), "line": None}
    except Exception as e:  # undefined names, type errors, sandbox refusals: all are render errors
        return {"ok": False, "kind": "error", "message": f"{type(e).__name__}: {e}", "line": None}


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    with open(sys.argv[1], encoding="utf-8") as f:
        cases = json.load(f)
    env = make_env()
    cache = {}
    results = [render(env, cache, c) for c in cases]
    with open(sys.argv[2], "w", encoding="utf-8") as f:
        json.dump(results, f, ensure_ascii=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
