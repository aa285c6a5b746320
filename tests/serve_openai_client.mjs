// tests/serve_openai_client.mjs — `vkgpt serve` with the official OpenAI client for Node (npm `openai`
// v4, installed by tests/test_serve.sh). Starts its own server (synthetic gpt-nano, GPT-2 tokenizer,
// --port 0) and checks, against `vkgpt run --temp 0` of the same prompts: completions streamed and
// not, 8 concurrent streams, /v1/models, the API key (AuthenticationError), the client's error
// classes for a 400, and chat's answer while no chat template is wired (BadRequestError saying so).
// Usage: node serve_openai_client.mjs path/to/vkgpt TOKENIZER_DIR NODE_MODULES_DIR
import { spawn, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';

const [vkgpt, tokdir, modules] = process.argv.slice(2);
const require = createRequire(path.join(path.resolve(modules), 'x.js'));
const OpenAI = require('openai');
const KEY = 'node-key';
let fails = 0;
const check = (cond, msg) => { if (!cond) { fails++; console.log('FAIL:', msg); } };

function greedy(ids, n) {
  const r = spawnSync(vkgpt, ['run', '--config', 'gpt-nano', '--tokenizer', tokdir, '--prompt-ids', ids.join(','),
    '-n', String(n), '--temp', '0', '-q']);
  check(r.status === 0, `vkgpt run: ${r.stderr}`);
  // as the server does: invalid UTF-8 becomes U+FFFD (TextDecoder's replacement rule is the same)
  return new TextDecoder('utf-8').decode(r.stdout).replace(/\n$/, '');
}

const server = spawn(vkgpt, ['serve', '--config', 'gpt-nano', '--tokenizer', tokdir, '--port', '0', '--api-key', KEY,
  '--parallel', '4', '--ctx-size', '64', '-q'], { stdio: ['ignore', 'ignore', 'pipe'] });
let log = '';
const port = await new Promise((resolve, reject) => {
  server.stderr.on('data', (d) => {
    log += d;
    const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(log);
    if (m && log.includes('ready:')) resolve(Number(m[1]));
  });
  server.on('exit', () => reject(new Error('server exited:\n' + log)));
  setTimeout(() => reject(new Error('server did not start:\n' + log)), 120000);
});

const client = new OpenAI({ apiKey: KEY, baseURL: `http://127.0.0.1:${port}/v1`, maxRetries: 0 });
// The `vkgpt run` texts serve_e2e.py computed (SERVE_REFS), else our own runs of the same prompts.
let PROMPTS = [[464, 3290, 318], [15496, 995], [40, 588, 257, 3797], [464], [1212, 318, 257, 1332],
  [17250, 11, 703], [2061, 318, 534], [7454, 2402, 257, 640]];
let N_STREAM = 6, REFS = null;
if (process.env.SERVE_REFS && fs.existsSync(process.env.SERVE_REFS)) {
  const r = JSON.parse(fs.readFileSync(process.env.SERVE_REFS, 'utf8'));
  PROMPTS = r.prompts;
  N_STREAM = r.tokens;
  REFS = r.texts;
}
try {
  const models = await client.models.list();
  check(models.data.length === 1 && models.data[0].id === 'gpt-nano', `models: ${JSON.stringify(models.data)}`);

  const ref = greedy([464, 3290, 318], 8);
  const c = await client.completions.create({ model: 'gpt-nano', prompt: [464, 3290, 318], max_tokens: 8,
    temperature: 0 });
  check(c.choices[0].text === ref, `completion ${JSON.stringify(c.choices[0].text)} != ${JSON.stringify(ref)}`);
  check(c.usage.completion_tokens === 8 && c.usage.prompt_tokens === 3, `usage ${JSON.stringify(c.usage)}`);

  // streams, 8 at once: each equals its own single run
  const refs = REFS || PROMPTS.map((p) => greedy(p, N_STREAM));
  const texts = await Promise.all(PROMPTS.map(async (p) => {
    const stream = await client.completions.create({ model: 'gpt-nano', prompt: p, max_tokens: N_STREAM, temperature: 0,
      stream: true, stream_options: { include_usage: true } });
    let text = '', usage = null;
    for await (const chunk of stream) {
      for (const ch of chunk.choices) text += ch.text;
      if (chunk.usage) usage = chunk.usage;
    }
    check(usage && usage.completion_tokens === N_STREAM, `stream usage ${JSON.stringify(usage)}`);
    return text;
  }));
  texts.forEach((t, i) => check(t === refs[i], `stream ${i}: ${JSON.stringify(t)} != ${JSON.stringify(refs[i])}`));

  // errors as the client library classifies them
  try {
    await client.completions.create({ model: 'gpt-nano', prompt: 'x', n: 2 });
    check(false, 'n = 2 was accepted');
  } catch (e) {
    check(e instanceof OpenAI.BadRequestError && e.status === 400 && e.param === 'n', `n = 2: ${e}`);
  }
  try {
    await client.chat.completions.create({ model: 'gpt-nano', messages: [{ role: 'user', content: 'hi' }] });
    check(false, 'chat without a template was accepted');
  } catch (e) {
    check(e instanceof OpenAI.BadRequestError && /chat template/.test(e.message), `chat: ${e}`);
  }
  try {
    const bad = new OpenAI({ apiKey: 'wrong', baseURL: `http://127.0.0.1:${port}/v1`, maxRetries: 0 });
    await bad.models.list();
    check(false, 'a wrong key was accepted');
  } catch (e) {
    check(e instanceof OpenAI.AuthenticationError && e.status === 401, `wrong key: ${e}`);
  }
} catch (e) {
  check(false, `unexpected: ${e.stack || e}`);
} finally {
  server.kill('SIGTERM');
}
const code = await new Promise((resolve) => server.on('exit', (c) => resolve(c)));
check(code === 0, `server exit status ${code}:\n${log}`);
console.log(fails ? `FAIL: ${fails} failures` : 'PASS: OpenAI Node client');
process.exit(fails ? 1 : 0);
