// Faults a server meets in the wild, each bounded and on loopback: clients that leave in the
// middle of a stream, slow (slowloris-style) clients, and a flood beyond the queue. The server
// must stay up, answer with clean OpenAI-style errors and free its slots.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startServer, postJson } from './helpers.js';

let srv;
// --write-timeout 2: a response write that makes no progress for 2 s drops the request.
before(async () => {
  srv = await startServer(['--parallel', '1', '--queue', '2', '--http-threads', '12', '--write-timeout', '2']);
});
after(async () => { await srv.stop(); });

async function metric(name) {
  const text = await (await fetch(srv.url + '/metrics')).text();
  const m = new RegExp(`^${name} (\\d+)`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}
const chat = (extra = {}) => ({ model: 'omni', messages: [{ role: 'user', content: 'Hello there' }],
                                temperature: 1, seed: 1, ...extra });

async function quickHealth() {
  const t0 = performance.now();
  const r = await fetch(srv.url + '/health');
  assert.equal(r.status, 200);
  return performance.now() - t0;
}

test('a client that leaves mid-stream stops its generation and frees the slot', async () => {
  const cancelled = await metric('omni_requests_cancelled_total');
  const ac = new AbortController();
  const r = await fetch(srv.url + '/v1/chat/completions', { method: 'POST', signal: ac.signal,
    headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(chat({ stream: true, max_tokens: 100000 })) });
  const reader = r.body.getReader();
  for (let i = 0; i < 3; i++) await reader.read();
  ac.abort();
  // The one slot is free again: a short request gets it (it would wait for 100000 tokens otherwise).
  const next = await postJson(srv.url + '/v1/chat/completions', chat({ max_tokens: 4 }));
  assert.equal(next.status, 200, next.text);
  for (let i = 0; i < 100 && (await metric('omni_requests_cancelled_total')) === cancelled; i++) {
    await new Promise((res) => setTimeout(res, 50));
  }
  assert.equal(await metric('omni_requests_cancelled_total'), cancelled + 1);
});

test('a non-streamed request whose client leaves is stopped too', async () => {
  const cancelled = await metric('omni_requests_cancelled_total');
  const ac = new AbortController();
  const pending = fetch(srv.url + '/v1/chat/completions', { method: 'POST', signal: ac.signal,
    headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(chat({ max_tokens: 100000 })) })
    .then((r) => r.text()).catch(() => 'aborted');
  await new Promise((res) => setTimeout(res, 700));
  ac.abort();
  assert.equal(await pending, 'aborted');
  for (let i = 0; i < 100 && (await metric('omni_requests_cancelled_total')) === cancelled; i++) {
    await new Promise((res) => setTimeout(res, 50));
  }
  assert.equal(await metric('omni_requests_cancelled_total'), cancelled + 1);
  const next = await postJson(srv.url + '/v1/chat/completions', chat({ max_tokens: 4 }));
  assert.equal(next.status, 200, next.text);
  assert.equal(next.json.choices[0].finish_reason, 'length');
});

test('a speech client that leaves mid-stream stops synthesis', async () => {
  const cancelled = await metric('omni_requests_cancelled_total');
  const input = Array.from({ length: 60 }, (_, i) => `Sentence ${i} of a long text to read aloud.`).join(' ');
  const ac = new AbortController();
  const r = await fetch(srv.url + '/v1/audio/speech', { method: 'POST', signal: ac.signal,
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ model: 'tts-1', voice: 'alloy', input, response_format: 'pcm' }) });
  const reader = r.body.getReader();
  await reader.read();
  ac.abort();
  for (let i = 0; i < 200 && (await metric('omni_requests_cancelled_total')) === cancelled; i++) {
    await new Promise((res) => setTimeout(res, 50));
  }
  assert.equal(await metric('omni_requests_cancelled_total'), cancelled + 1);
  await quickHealth();
});

// A client that stays connected but stops reading: once the socket buffers are full (a few MB
// on loopback), the server's write stalls; after --write-timeout it gives up, stops the work and
// frees the connection (and the slot, for generations) instead of waiting forever.
async function stallAfterFirstBytes(path, body) {
  const s = net.connect(srv.port, '127.0.0.1');
  s.on('error', () => {});
  await new Promise((res) => s.once('connect', res));
  const json = JSON.stringify(body);
  s.write(`POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n` +
          `Content-Length: ${Buffer.byteLength(json)}\r\n\r\n${json}`);
  const head = await new Promise((res) => s.once('data', (d) => { s.pause(); res(String(d)); }));
  assert.match(head, /^HTTP\/1\.1 200/);
  return s;
}

test('a speech client that stops reading is dropped after the write timeout', async () => {
  const cancelled = await metric('omni_requests_cancelled_total');
  // ~4 minutes of 24 kHz speech (11 MB): far more than loopback buffers hold.
  const input = Array.from({ length: 90 }, (_, i) => `Sentence ${i} of a long text to read.`).join(' ').slice(0, 4096);
  const s = await stallAfterFirstBytes('/v1/audio/speech', { model: 'tts-1', voice: 'alloy', input, response_format: 'pcm' });
  try {
    for (let i = 0; i < 150 && (await metric('omni_requests_cancelled_total')) === cancelled; i++) {
      await new Promise((res) => setTimeout(res, 100));
    }
    assert.equal(await metric('omni_requests_cancelled_total'), cancelled + 1);
    await quickHealth();
  } finally {
    s.destroy();
  }
});

test('a streamed chat whose client stops reading frees the model slot after the write timeout', async () => {
  const cancelled = await metric('omni_requests_cancelled_total');
  const tokens = await metric('omni_generated_tokens_total');
  // A spoken answer streams base64 PCM per sentence: megabytes that fill the socket buffers.
  const s = await stallAfterFirstBytes('/v1/chat/completions', chat({ stream: true, max_tokens: 3000,
    modalities: ['text', 'audio'], audio: { voice: 'alloy', format: 'pcm16' } }));
  try {
    // The only slot is taken by the stalled stream; this request gets it once that one is dropped.
    const next = await postJson(srv.url + '/v1/chat/completions', chat({ max_tokens: 2 }));
    assert.equal(next.status, 200, next.text);
    assert.equal(await metric('omni_requests_cancelled_total'), cancelled + 1);
    assert.ok((await metric('omni_generated_tokens_total')) - tokens < 3000);
  } finally {
    s.destroy();
  }
});

test('slow clients (headers and bodies a byte at a time) do not stall others', async () => {
  // Fewer slow sockets than connection threads: the rest of the server keeps answering.
  const sockets = [];
  for (let i = 0; i < 6; i++) {
    const s = net.connect(srv.port, '127.0.0.1');
    s.on('error', () => {});
    sockets.push(s);
  }
  const body = JSON.stringify(chat({ max_tokens: 2 }));
  const drip = setInterval(() => {
    sockets.forEach((s, i) => {
      if (i % 2) s.write('X');  // an endless header line
      else if (!s.sentHead) { s.sentHead = true; s.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n{`); }
      else s.write(' ');        // a body that never completes
    });
  }, 200);
  try {
    await new Promise((res) => setTimeout(res, 600));
    for (let i = 0; i < 5; i++) assert.ok((await quickHealth()) < 1000);
    const ok = await postJson(srv.url + '/v1/chat/completions', chat({ max_tokens: 2 }));
    assert.equal(ok.status, 200);
  } finally {
    clearInterval(drip);
    sockets.forEach((s) => s.destroy());
  }
});

test('a flood beyond the queue gets clean 429s, never a dropped connection', async () => {
  const n = 16;
  const results = await Promise.all(Array.from({ length: n }, () =>
    postJson(srv.url + '/v1/chat/completions', chat({ max_tokens: 24 })).catch((e) => ({ status: -1, text: String(e) }))));
  const statuses = results.map((r) => r.status);
  assert.ok(statuses.every((s) => s === 200 || s === 429), statuses.join(','));
  assert.ok(statuses.filter((s) => s === 429).length > 0, 'some requests were refused');
  assert.ok(statuses.filter((s) => s === 200).length >= 1 + 2, 'the slot and the queue were used');
  for (const r of results.filter((x) => x.status === 429)) {
    assert.equal(r.json.error.type, 'rate_limit_error');
    assert.equal(r.json.error.code, 'queue_full');
  }
  // Afterwards the queue is empty and the server serves normally.
  assert.equal(await metric('omni_queue_depth'), 0);
  assert.equal((await postJson(srv.url + '/v1/chat/completions', chat({ max_tokens: 2 }))).status, 200);
});

test('garbage on the socket gets a 400 and the server stays up', async () => {
  const reply = await new Promise((resolve) => {
    const s = net.connect(srv.port, '127.0.0.1', () => s.write('\x16\x03\x01\x02\x00garbage\r\n\r\n'));
    let data = '';
    s.on('data', (d) => { data += d; });
    s.on('close', () => resolve(data));
    s.on('error', () => resolve(data));
    setTimeout(() => s.destroy(), 3000);
  });
  assert.match(reply, /^HTTP\/1\.1 400/);
  await quickHealth();
});
