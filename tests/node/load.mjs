// Load test for `omni serve`: N concurrent clients on loopback for a fixed time, mixing every
// endpoint. Each answer is checked against a reference taken before the load (deterministic
// requests must come back byte-identical under load), so a dropped, truncated or mixed-up
// response counts as a failure. Prints per-endpoint counts and p50/p99 latencies.
//
//   node load.mjs [--seconds 180] [--clients 64] [--parallel 2]    (env as for the tests)
import { readFileSync } from 'node:fs';
import { startServer, refdata } from './helpers.js';

const SPEECH_WAV = 'asr/audio/pocketsphinx_goforward.wav';

function percentile(sorted, p) {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

async function readSse(r) {
  const text = await r.text();
  let out = '';
  let done = false;
  for (const line of text.split('\n')) {
    if (!line.startsWith('data: ')) continue;
    const d = line.slice(6);
    if (d === '[DONE]') { done = true; continue; }
    const j = JSON.parse(d);
    out += j.choices?.[0]?.delta?.content ?? '';
  }
  if (!done) throw new Error('stream ended without [DONE]');
  return out;
}

// One request per endpoint kind: returns a comparable digest of the answer.
function kinds(url, wav) {
  const json = (path, body) => fetch(url + path, { method: 'POST', headers: { 'Content-Type': 'application/json' },
                                                   body: JSON.stringify(body) });
  const check = async (r) => { if (r.status !== 200) throw new Error(`HTTP ${r.status}: ${await r.text()}`); return r; };
  return {
    health: async () => (await check(await fetch(url + '/health'))).text(),
    models: async () => (await (await check(await fetch(url + '/v1/models'))).json()).data.map((m) => m.id).join(','),
    completion: async () => (await (await check(await json('/v1/completions',
      { model: 'omni', prompt: 'Once upon a time', max_tokens: 16, temperature: 0 }))).json()).choices[0].text,
    chat_stream: async () => readSse(await check(await json('/v1/chat/completions',
      { model: 'omni', messages: [{ role: 'user', content: 'Hello there' }], max_tokens: 16, temperature: 1, seed: 1, stream: true }))),
    chat: async () => (await (await check(await json('/v1/chat/completions',
      { model: 'omni', messages: [{ role: 'user', content: 'Tell me a story' }], max_tokens: 16, temperature: 1, seed: 2 }))).json()).choices[0].message.content,
    embeddings: async () => JSON.stringify((await (await check(await json('/v1/embeddings',
      { model: 'omni', input: 'a cat sat on the mat' }))).json()).data[0].embedding),
    transcription: async () => {
      const fd = new FormData();
      fd.set('model', 'whisper-1');
      fd.set('file', new Blob([wav], { type: 'audio/wav' }), 'speech.wav');
      return (await (await check(await fetch(url + '/v1/audio/transcriptions', { method: 'POST', body: fd }))).json()).text;
    },
    speech: async () => {
      const r = await check(await json('/v1/audio/speech', { model: 'tts-1', voice: 'alloy', input: 'Hello there.', response_format: 'wav' }));
      const b = Buffer.from(await r.arrayBuffer());
      if (b.toString('ascii', 0, 4) !== 'RIFF' || b.length < 44 + 24000) throw new Error(`bad WAV (${b.length} bytes)`);
      return 'wav';  // espeak-ng's length varies slightly between runs: checked for shape only
    },
  };
}

export async function runLoad({ seconds = 180, clients = 64, parallel = 2, log = console.log } = {}) {
  const srv = await startServer(['--parallel', String(parallel), '--queue', String(clients),
                                 '--http-threads', String(clients + 8)]);
  try {
    const wav = readFileSync(refdata(SPEECH_WAV));
    const k = kinds(srv.url, wav);
    // Reference answers, one at a time on an idle server.
    const ref = {};
    for (const [name, fn] of Object.entries(k)) ref[name] = await fn();
    const mix = ['health', 'models', 'completion', 'completion', 'chat_stream', 'chat_stream', 'chat',
                 'embeddings', 'transcription', 'speech'];
    const stats = Object.fromEntries(Object.keys(k).map((n) => [n, { ok: 0, failed: 0, lat: [], errors: [] }]));
    const deadline = performance.now() + seconds * 1000;
    let seed = 12345;
    const rand = () => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648; };
    await Promise.all(Array.from({ length: clients }, async () => {
      while (performance.now() < deadline) {
        const name = mix[Math.floor(rand() * mix.length)];
        const s = stats[name];
        const t0 = performance.now();
        try {
          const got = await k[name]();
          if (got !== ref[name]) throw new Error(`answer differs from the reference: ${JSON.stringify(got).slice(0, 80)}`);
          s.ok++;
          s.lat.push(performance.now() - t0);
        } catch (e) {
          s.failed++;
          if (s.errors.length < 5) s.errors.push(String(e.message || e).slice(0, 200) + (e.cause ? ' (' + (e.cause.code || e.cause.message) + ')' : ''));
        }
      }
    }));
    const metrics = await (await fetch(srv.url + '/metrics')).text();
    const summary = {};
    for (const [name, s] of Object.entries(stats)) {
      s.lat.sort((a, b) => a - b);
      summary[name] = { ok: s.ok, failed: s.failed, p50_ms: Math.round(percentile(s.lat, 0.5)),
                        p99_ms: Math.round(percentile(s.lat, 0.99)), errors: s.errors };
    }
    log(`load: ${clients} clients, ${seconds} s, --parallel ${parallel}`);
    log('endpoint        ok  failed  p50 ms  p99 ms');
    for (const [name, s] of Object.entries(summary)) {
      log(`${name.padEnd(14)} ${String(s.ok).padStart(4)} ${String(s.failed).padStart(7)} ${String(s.p50_ms).padStart(7)} ${String(s.p99_ms).padStart(7)}`);
      for (const e of s.errors) log('    ' + e);
    }
    const cancelled = Number(/omni_requests_cancelled_total (\d+)/.exec(metrics)?.[1] ?? 0);
    log(`cancelled generations: ${cancelled}`);
    return summary;
  } finally {
    await srv.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const arg = (name, d) => { const i = process.argv.indexOf('--' + name); return i > 0 ? Number(process.argv[i + 1]) : d; };
  const s = await runLoad({ seconds: arg('seconds', 180), clients: arg('clients', 64), parallel: arg('parallel', 2) });
  const failed = Object.values(s).reduce((a, x) => a + x.failed, 0);
  process.exit(failed ? 1 : 0);
}
