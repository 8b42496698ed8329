// Every endpoint of `omni serve` through real clients: the `openai` npm package (what apps use)
// and plain fetch for what the package hides (raw bodies, bad JSON, headers, streaming bytes).
// Expected values come from the engines themselves: `omni transcribe --json` / `omni speak` run
// as separate processes on the same inputs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import http from 'node:http';
import OpenAI, { toFile } from 'openai';
import { startServer, postJson, refdata, env, wavInfo, rms16, ASR_MODEL } from './helpers.js';

const SPEECH_WAV = 'asr/audio/pocketsphinx_goforward.wav';
let srv;
let client;

before(async () => {
  srv = await startServer(['--max-body', String(2 << 20)]);
  client = new OpenAI({ baseURL: srv.url + '/v1', apiKey: 'unused', maxRetries: 0 });
});
after(async () => { await srv.stop(); });

function assertApiError(e, status, param) {
  assert.equal(e.status, status, String(e));
  assert.ok(e.message && e.message.length > 0);
  if (param !== undefined) assert.equal(e.param, param);
}
async function rejects(promise, status, param) {
  try {
    await promise;
  } catch (e) {
    assertApiError(e, status, param);
    return e;
  }
  assert.fail(`expected HTTP ${status}`);
}
function errorShape(r, status, param) {
  assert.equal(r.status, status, r.text);
  assert.ok(r.json && r.json.error, r.text);
  const e = r.json.error;
  assert.equal(typeof e.message, 'string');
  assert.equal(typeof e.type, 'string');
  assert.ok('code' in e && 'param' in e);
  if (param !== undefined) assert.equal(e.param, param);
}

// ---------- models, health, metrics ----------

test('health and models list the chat and speech recognition models', async () => {
  assert.equal((await fetch(srv.url + '/health')).status, 200);
  const ids = [];
  for await (const m of client.models.list()) ids.push(m.id);
  assert.deepEqual(ids, ['tiny-qwen2-rand-f32', path.basename(ASR_MODEL, '.bin')]);
  const one = await client.models.retrieve('tiny-qwen2-rand-f32');
  assert.equal(one.object, 'model');
  await rejects(client.models.retrieve('gpt-9'), 404);
});

// ---------- chat ----------

const chatReq = { model: 'tiny-qwen2-rand-f32', messages: [{ role: 'user', content: 'Hello there' }],
                  max_tokens: 12, temperature: 1, seed: 1 };  // random weights: greedy gives only newlines

test('chat: non-streamed and streamed greedy answers agree', async () => {
  const full = await client.chat.completions.create(chatReq);
  assert.equal(full.object, 'chat.completion');
  const text = full.choices[0].message.content;
  assert.ok(text.length > 0);
  assert.equal(full.usage.completion_tokens, 12);
  const stream = await client.chat.completions.create({ ...chatReq, stream: true,
                                                        stream_options: { include_usage: true } });
  let streamed = '';
  let finish = null;
  let usage = null;
  let chunks = 0;
  for await (const c of stream) {
    chunks++;
    if (c.usage) usage = c.usage;
    if (!c.choices.length) continue;
    streamed += c.choices[0].delta.content ?? '';
    finish = c.choices[0].finish_reason ?? finish;
  }
  assert.equal(streamed, text);
  assert.equal(finish, 'length');
  assert.equal(usage.completion_tokens, 12);
  assert.ok(chunks >= 12, 'one event per token');
});

test('chat: text content parts are joined like a string', async () => {
  const a = await client.chat.completions.create(chatReq);
  const b = await client.chat.completions.create({ ...chatReq, messages: [{ role: 'user',
    content: [{ type: 'text', text: 'Hello' }, { type: 'text', text: 'there' }] }] });
  const c = await client.chat.completions.create({ ...chatReq, messages: [{ role: 'user', content: 'Hello\nthere' }] });
  assert.equal(b.choices[0].message.content, c.choices[0].message.content);
  assert.equal(a.usage.prompt_tokens + 0, a.usage.prompt_tokens);
});

test('chat: input_audio is transcribed with the ASR model and becomes the user text', async () => {
  const wav = readFileSync(refdata(SPEECH_WAV));
  const transcript = JSON.parse(execFileSync(env('OMNI_BIN'), ['transcribe', '--json', '-t', '1',
    '-m', refdata(ASR_MODEL), refdata(SPEECH_WAV)], { stdio: ['ignore', 'pipe', 'ignore'] })).text.trim();
  assert.ok(transcript.length > 0);
  const viaAudio = await client.chat.completions.create({ ...chatReq, messages: [{ role: 'user',
    content: [{ type: 'input_audio', input_audio: { data: wav.toString('base64'), format: 'wav' } }] }] });
  const viaText = await client.chat.completions.create({ ...chatReq, messages: [{ role: 'user', content: transcript }] });
  assert.equal(viaAudio.usage.prompt_tokens, viaText.usage.prompt_tokens);
  assert.equal(viaAudio.choices[0].message.content, viaText.choices[0].message.content);
});

test('chat: bad input_audio and image parts get clear 400s', async () => {
  const part = (p) => ({ ...chatReq, messages: [{ role: 'user', content: [p] }] });
  await rejects(client.chat.completions.create(part({ type: 'input_audio', input_audio: { data: '@@@', format: 'wav' } })),
                400, 'messages[0].content[0].input_audio.data');
  await rejects(client.chat.completions.create(part({ type: 'input_audio', input_audio: { data: 'AAAA', format: 'wav' } })),
                400, 'messages[0].content[0].input_audio.data');
  await rejects(client.chat.completions.create(part({ type: 'input_audio', input_audio: { data: 'AAAA', format: 'aiff' } })),
                400, 'messages[0].content[0].input_audio.format');
  await rejects(client.chat.completions.create(part({ type: 'input_audio' })), 400,
                'messages[0].content[0].input_audio');
  await rejects(client.chat.completions.create(part({ type: 'image_url', image_url: { url: 'https://example.invalid/x.png' } })),
                400, 'messages[0].content[0].image_url.url');
  await rejects(client.chat.completions.create(part({ type: 'video', video: {} })), 400,
                'messages[0].content[0].type');
  const voices = await (await fetch(srv.url + '/v1/audio/voices')).json();
  const png = readFileSync(refdata('vision/images/horse.png')).toString('base64');
  const img = client.chat.completions.create(part({ type: 'image_url', image_url: { url: 'data:image/png;base64,' + png } }));
  if (voices.image_input) {
    assert.ok((await img).choices[0].message.content !== undefined);
  } else {
    const e = await rejects(img, 400, 'messages[0].content[0].image_url');
    assert.match(e.message, /Image input needs/);
  }
});

test('chat: http(s) image URLs are fetched with --allow-image-urls (local file server), else a 400', async () => {
  const png = readFileSync(refdata('vision/images/horse.png'));
  const files = http.createServer((req, res) => {
    if (req.url === '/horse.png') { res.writeHead(200, { 'Content-Type': 'image/png' }); res.end(png); return; }
    if (req.url === '/huge.png') { res.writeHead(200, { 'Content-Type': 'image/png' }); res.end(Buffer.alloc(2 << 20)); return; }
    if (req.url === '/hang.png') return;  // never answers: the fetch times out
    res.writeHead(404); res.end('no');
  });
  await new Promise((r) => files.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${files.address().port}`;
  const s = await startServer(['--allow-image-urls', '--image-url-max-bytes', String(1 << 20),
                               '--image-url-timeout', '1'], { asr: false });
  try {
    const c = new OpenAI({ baseURL: s.url + '/v1', apiKey: 'unused', maxRetries: 0 });
    const ask = (url) => c.chat.completions.create({ ...chatReq, messages: [{ role: 'user', content: [
      { type: 'text', text: 'What is in this picture?' }, { type: 'image_url', image_url: { url } }] }] });
    const voices = await (await fetch(s.url + '/v1/audio/voices')).json();
    assert.ok(voices.image_input, 'this build reads images (OCR)');
    const viaUrl = await ask(base + '/horse.png');
    const inline = await ask('data:image/png;base64,' + png.toString('base64'));
    assert.equal(viaUrl.choices[0].message.content, inline.choices[0].message.content);
    assert.equal(viaUrl.usage.prompt_tokens, inline.usage.prompt_tokens);
    for (const bad of ['/missing.png', '/huge.png', '/hang.png']) {
      const e = await rejects(ask(base + bad), 400, 'messages[0].content[1].image_url.url');
      assert.equal(e.code, 'invalid_image_url');
    }
    await rejects(ask('ftp://127.0.0.1/x.png'), 400, 'messages[0].content[1].image_url.url');
    // The default server (the suite's) refuses to fetch and says how to enable it.
    const off = await rejects(client.chat.completions.create({ ...chatReq, messages: [{ role: 'user', content: [
      { type: 'image_url', image_url: { url: base + '/horse.png' } }] }] }), 400, 'messages[0].content[0].image_url.url');
    assert.match(off.message, /--allow-image-urls/);
  } finally {
    await s.stop();
    files.closeAllConnections();
    await new Promise((r) => files.close(r));
  }
});

test('chat: spoken answers (modalities audio), whole and streamed', async () => {
  const req = { ...chatReq, modalities: ['text', 'audio'], audio: { voice: 'alloy', format: 'wav' } };
  const r = await client.chat.completions.create(req);
  const m = r.choices[0].message;
  const plain = await client.chat.completions.create(chatReq);
  assert.equal(m.content, null);
  assert.equal(m.audio.transcript, plain.choices[0].message.content);
  const wav = Buffer.from(m.audio.data, 'base64');
  const info = wavInfo(wav);
  assert.deepEqual([info.format, info.channels, info.rate, info.bits], [1, 1, 24000, 16]);
  assert.equal(info.dataSize, wav.length - 44);
  assert.ok(info.samples > 2400 && rms16(wav, 44) > 100, 'audible speech');

  const stream = await client.chat.completions.create({ ...req, stream: true, audio: { voice: 'alloy', format: 'pcm16' } });
  let transcript = '';
  let pcm = 0;
  let sawEnd = false;
  for await (const c of stream) {
    const a = c.choices[0]?.delta?.audio;
    if (!a) continue;
    transcript += a.transcript ?? '';
    if (a.data) pcm += Buffer.from(a.data, 'base64').length;
    if (a.expires_at) sawEnd = true;
  }
  assert.equal(transcript, m.audio.transcript);
  assert.ok(pcm > 4800 && sawEnd);
  await rejects(client.chat.completions.create({ ...req, stream: true }), 400, 'audio.format');
  await rejects(client.chat.completions.create({ ...req, audio: { voice: 'no-such-voice', format: 'wav' } }), 400, 'voice');
  await rejects(client.chat.completions.create({ ...chatReq, modalities: ['text', 'audio'] }), 400, 'audio');
  await rejects(client.chat.completions.create({ ...chatReq, modalities: ['smell'] }), 400, 'modalities');
});

// ---------- completions, embeddings ----------

test('completions: streamed equals non-streamed', async () => {
  const req = { model: 'tiny-qwen2-rand-f32', prompt: 'Once upon a time', max_tokens: 10, temperature: 0 };
  const full = await client.completions.create(req);
  let s = '';
  for await (const c of await client.completions.create({ ...req, stream: true })) s += c.choices[0]?.text ?? '';
  assert.equal(s, full.choices[0].text);
  assert.equal(full.usage.completion_tokens, 10);
});

test('embeddings: unit vectors, one per input', async () => {
  const r = await client.embeddings.create({ model: 'tiny-qwen2-rand-f32', input: ['a cat', 'a dog'],
                                             encoding_format: 'float' });
  assert.equal(r.data.length, 2);
  for (const d of r.data) {
    const norm = Math.hypot(...d.embedding);
    assert.ok(Math.abs(norm - 1) < 1e-4, String(norm));
  }
  await rejects(client.embeddings.create({ model: 'tiny-qwen2-rand-f32', input: [] }), 400, 'input');
});

// ---------- audio: transcriptions / translations ----------

test('transcriptions: every response format matches the engine run directly', async () => {
  const cli = JSON.parse(execFileSync(env('OMNI_BIN'), ['transcribe', '--json', '-t', '1', '-m',
    refdata(ASR_MODEL), refdata(SPEECH_WAV)], { stdio: ['ignore', 'pipe', 'ignore'] }));
  const file = () => toFile(readFileSync(refdata(SPEECH_WAV)), 'speech.wav', { type: 'audio/wav' });
  const json = await client.audio.transcriptions.create({ file: await file(), model: 'whisper-1' });
  assert.equal(json.text, cli.text.trim());
  const text = await client.audio.transcriptions.create({ file: await file(), model: 'whisper-1', response_format: 'text' });
  assert.equal(text, cli.text.trim() + '\n');
  const verbose = await client.audio.transcriptions.create({ file: await file(), model: 'whisper-1',
    response_format: 'verbose_json', language: 'en', temperature: 0 });
  assert.equal(verbose.task, 'transcribe');
  assert.ok(Math.abs(verbose.duration - 44580 / 16000) < 1e-3);
  assert.deepEqual(verbose.segments.map((s) => [Math.round(s.start * 100), Math.round(s.end * 100), s.text]),
                   cli.segments.map((s) => [s.t0, s.t1, s.text]));
  const srt = await client.audio.transcriptions.create({ file: await file(), model: 'whisper-1', response_format: 'srt' });
  const vtt = await client.audio.transcriptions.create({ file: await file(), model: 'whisper-1', response_format: 'vtt' });
  const ts = (cs, sep) => {
    const ms = cs * 10;
    const p = (n, w = 2) => String(n).padStart(w, '0');
    return `${p(Math.floor(ms / 3600000))}:${p(Math.floor(ms / 60000) % 60)}:${p(Math.floor(ms / 1000) % 60)}${sep}${p(ms % 1000, 3)}`;
  };
  const segs = cli.segments.filter((s) => s.text.trim());
  assert.equal(srt, segs.map((s, i) => `${i + 1}\n${ts(s.t0, ',')} --> ${ts(s.t1, ',')}\n${s.text.trim()}\n\n`).join(''));
  assert.equal(vtt, 'WEBVTT\n\n' + segs.map((s) => `${ts(s.t0, '.')} --> ${ts(s.t1, '.')}\n${s.text.trim()}\n\n`).join(''));
});

test('transcriptions: other containers decode (a FLAC from /v1/audio/speech), garbage is a 400', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'omni-'));
  const flac = Buffer.from(await (await client.audio.speech.create({ model: 'tts-1', voice: 'alloy',
    input: 'Go forward ten meters.', response_format: 'flac' })).arrayBuffer());
  assert.equal(flac.toString('ascii', 0, 4), 'fLaC');
  const file = path.join(dir, 'go.flac');
  writeFileSync(file, flac);
  const cli = JSON.parse(execFileSync(env('OMNI_BIN'), ['transcribe', '--json', '-t', '1', '-m', refdata(ASR_MODEL), file],
                                      { stdio: ['ignore', 'pipe', 'ignore'] }));
  const r = await client.audio.transcriptions.create({ file: await toFile(flac, 'go.flac'), model: 'whisper-1' });
  assert.equal(r.text, cli.text.trim());
  const bad = await client.audio.transcriptions.create({ file: await toFile(Buffer.from('not audio at all'), 'x.wav'),
                                                         model: 'whisper-1' }).catch((e) => e);
  assertApiError(bad, 400, 'file');
});

test('transcriptions: stream=true gives transcript.text.delta events then transcript.text.done', async () => {
  const file = () => toFile(readFileSync(refdata(SPEECH_WAV)), 'speech.wav', { type: 'audio/wav' });
  const whole = await client.audio.transcriptions.create({ file: await file(), model: 'whisper-1' });
  const stream = await client.audio.transcriptions.create({ file: await file(), model: 'whisper-1', stream: true });
  const events = [];
  for await (const e of stream) events.push(e);
  assert.ok(events.length >= 2, JSON.stringify(events));
  const done = events.at(-1);
  assert.equal(done.type, 'transcript.text.done');
  assert.equal(done.text, whole.text);
  const deltas = events.slice(0, -1);
  assert.ok(deltas.every((e) => e.type === 'transcript.text.delta' && typeof e.delta === 'string'));
  assert.equal(deltas.map((e) => e.delta).join('').trimEnd(), whole.text);
  // Subtitle formats cannot stream; a non-boolean stream value is refused.
  await rejects(client.audio.transcriptions.create({ file: await file(), model: 'whisper-1', stream: true,
                                                     response_format: 'srt' }), 400, 'response_format');
  const form = new FormData();
  form.set('model', 'whisper-1');
  form.set('stream', 'maybe');
  form.set('file', new Blob([readFileSync(refdata(SPEECH_WAV))]), 'speech.wav');
  const r = await fetch(srv.url + '/v1/audio/transcriptions', { method: 'POST', body: form });
  errorShape({ status: r.status, json: await r.json() }, 400, 'stream');
});

test('translations and transcription errors', async () => {
  const file = await toFile(readFileSync(refdata(SPEECH_WAV)), 'speech.wav');
  const t = await client.audio.translations.create({ file, model: 'whisper-1', response_format: 'verbose_json' });
  assert.equal(t.task, 'translate');
  const f = () => toFile(readFileSync(refdata(SPEECH_WAV)), 'speech.wav');
  await rejects(client.audio.transcriptions.create({ file: await f(), model: 'whisper-9' }), 404, 'model');
  await rejects(client.audio.transcriptions.create({ file: await f(), model: 'whisper-1', response_format: 'xml' }), 400, 'response_format');
  await rejects(client.audio.transcriptions.create({ file: await f(), model: 'whisper-1', language: 'xx' }), 400, 'language');
  await rejects(client.audio.transcriptions.create({ file: await f(), model: 'whisper-1', temperature: 7 }), 400, 'temperature');
  const noFile = new FormData();
  noFile.set('model', 'whisper-1');
  const r = await fetch(srv.url + '/v1/audio/transcriptions', { method: 'POST', body: noFile });
  errorShape({ status: r.status, json: await r.json() }, 400, 'file');
  errorShape(await postJson(srv.url + '/v1/audio/transcriptions', { model: 'whisper-1' }), 400);
});

// ---------- audio: speech ----------

test('speech: streamed WAV and PCM at 24 kHz, as long as the engine makes it', async () => {
  const input = 'Hello there. This is a test of the speech endpoint.';
  const res = await client.audio.speech.create({ model: 'tts-1', voice: 'alloy', input, response_format: 'wav' });
  assert.equal(res.headers.get('content-type'), 'audio/wav');
  assert.equal(res.headers.get('transfer-encoding'), 'chunked');
  const wav = Buffer.from(await res.arrayBuffer());
  const info = wavInfo(wav);
  assert.deepEqual([info.format, info.channels, info.rate, info.bits, info.dataSize], [1, 1, 24000, 16, 0xffffffff]);
  assert.ok(rms16(wav, 44) > 100);
  // `omni speak` makes the same sentences with espeak-ng at its own rate (22050 Hz); the server
  // resamples each sentence to 24 kHz. espeak-ng's own output length varies by a few dozen
  // samples from run to run, and by a few percent after other text (it keeps state between
  // calls, e.g. after switching language for CJK characters), hence the 5% tolerance.
  const dir = mkdtempSync(path.join(tmpdir(), 'omni-'));
  let expected = 0;
  for (const sentence of ['Hello there.', 'This is a test of the speech endpoint.']) {
    execFileSync(env('OMNI_BIN'), ['speak', sentence, '--voice', 'en-us', '-o', path.join(dir, 's.wav')]);
    expected += Math.ceil(wavInfo(readFileSync(path.join(dir, 's.wav'))).samples * 24000 / 22050);
  }
  assert.ok(Math.abs(info.samples - expected) <= expected * 0.05, `${info.samples} vs ${expected}`);

  const pcm = await client.audio.speech.create({ model: 'tts-1', voice: 'alloy', input, response_format: 'pcm' });
  assert.equal(pcm.headers.get('x-sample-rate'), '24000');
  const raw = Buffer.from(await pcm.arrayBuffer());
  assert.ok(Math.abs(raw.length / 2 - info.samples) <= expected * 0.05);
  assert.ok(rms16(raw) > 100);
});

test('speech: sentences arrive while later ones are still synthesised', async () => {
  const sentences = Array.from({ length: 8 }, (_, i) => `This is sentence number ${i + 1} of a long answer.`);
  const res = await fetch(srv.url + '/v1/audio/speech', { method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ model: 'tts-1', voice: 'nova', input: sentences.join(' '), response_format: 'pcm' }) });
  const reader = res.body.getReader();
  const t0 = performance.now();
  let first = null;
  let total = 0;
  let reads = 0;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    if (first === null) first = performance.now() - t0;
    total += value.length;
    reads++;
  }
  const all = performance.now() - t0;
  assert.ok(reads >= 8, `${reads} reads`);
  assert.ok(first < all, 'first bytes before the end');
  assert.ok(total > 8 * 24000);
});

test('speech: other formats, voices, speed and errors', async () => {
  const base = { model: 'tts-1', voice: 'alloy', input: 'Hello there.' };
  for (const [fmt, magic] of [['flac', 'fLaC'], ['opus', 'OggS']]) {
    const r = await client.audio.speech.create({ ...base, response_format: fmt });
    assert.equal(Buffer.from(await r.arrayBuffer()).toString('ascii', 0, 4), magic);
  }
  const len = async (extra) => wavInfo(Buffer.from(await (await client.audio.speech.create({ ...base, ...extra })).arrayBuffer())).samples;
  const normal = await len({});
  const fast = await len({ speed: 2 });
  assert.ok(fast < normal * 0.8, `${fast} vs ${normal}`);
  assert.ok((await len({ voice: 'ko', input: '안녕하세요.' })) > 0);
  await rejects(client.audio.speech.create({ ...base, voice: 'no-such-voice' }), 400, 'voice');
  await rejects(client.audio.speech.create({ ...base, model: 'tts-9' }), 404, 'model');
  await rejects(client.audio.speech.create({ ...base, speed: 9 }), 400, 'speed');
  await rejects(client.audio.speech.create({ ...base, response_format: 'aac' }), 400, 'response_format');
  await rejects(client.audio.speech.create({ ...base, input: '' }), 400, 'input');
  await rejects(client.audio.speech.create({ ...base, input: 'x'.repeat(4097) }), 400, 'input');
  errorShape(await postJson(srv.url + '/v1/audio/speech', { ...base, input: 42 }), 400, 'input');
});

// ---------- errors common to every endpoint ----------

test('errors: bad JSON, wrong types, missing model, oversized body', async () => {
  for (const ep of ['/v1/chat/completions', '/v1/completions', '/v1/embeddings', '/v1/audio/speech']) {
    errorShape(await postJson(srv.url + ep, '{"model": '), 400);
    errorShape(await postJson(srv.url + ep, '[1,2]'), 400);
    errorShape(await postJson(srv.url + ep, { input: 'x', prompt: 'x', messages: [] }), 400, 'model');
  }
  errorShape(await postJson(srv.url + '/v1/chat/completions', { model: 'nope', messages: [{ role: 'user', content: 'hi' }] }), 404, 'model');
  errorShape(await postJson(srv.url + '/v1/chat/completions', { ...chatReq, temperature: 'hot' }), 400, 'temperature');
  errorShape(await postJson(srv.url + '/v1/chat/completions', { ...chatReq, max_tokens: 1.5 }), 400, 'max_tokens');
  errorShape(await postJson(srv.url + '/v1/chat/completions', { ...chatReq, messages: 'hi' }), 400, 'messages');
  errorShape(await postJson(srv.url + '/v1/chat/completions', { ...chatReq, stream: 'yes' }), 400, 'stream');
  // --max-body 2 MiB for this server.
  const big = { ...chatReq, messages: [{ role: 'user', content: 'x'.repeat(3 << 20) }] };
  errorShape(await postJson(srv.url + '/v1/chat/completions', big), 413);
  errorShape(await postJson(srv.url + '/v1/nothing-here', {}), 404);
});

test('errors: every field of every JSON endpoint, missing or of the wrong type, gets a 400 naming it', async () => {
  const chat = (extra) => ({ ...chatReq, ...extra });
  const msg = (m) => chat({ messages: [m] });
  const comp = (extra) => ({ model: 'omni', prompt: 'hi', max_tokens: 2, ...extra });
  const emb = (extra) => ({ model: 'omni', input: 'hi', ...extra });
  const tts = (extra) => ({ model: 'tts-1', voice: 'alloy', input: 'hi', ...extra });
  const cases = [
    ['/v1/chat/completions', chat({ model: 42 }), 'model'],
    ['/v1/chat/completions', chat({ messages: undefined }), 'messages'],
    ['/v1/chat/completions', chat({ messages: [] }), 'messages'],
    ['/v1/chat/completions', chat({ messages: [42] }), 'messages[0]'],
    ['/v1/chat/completions', msg({ content: 'hi' }), 'messages[0].role'],
    ['/v1/chat/completions', msg({ role: 'wizard', content: 'hi' }), 'messages[0].role'],
    ['/v1/chat/completions', msg({ role: 7, content: 'hi' }), 'messages[0].role'],
    ['/v1/chat/completions', msg({ role: 'user' }), 'messages[0].content'],
    ['/v1/chat/completions', msg({ role: 'user', content: 42 }), 'messages[0].content'],
    ['/v1/chat/completions', msg({ role: 'user', content: [42] }), 'messages[0].content[0]'],
    ['/v1/chat/completions', msg({ role: 'user', content: [{ text: 'hi' }] }), 'messages[0].content[0].type'],
    ['/v1/chat/completions', msg({ role: 'user', content: [{ type: 'text' }] }), 'messages[0].content[0].text'],
    ['/v1/chat/completions', msg({ role: 'user', content: [{ type: 'text', text: 5 }] }), 'messages[0].content[0].text'],
    ['/v1/chat/completions', msg({ role: 'user', content: [{ type: 'image_url' }] }), 'messages[0].content[0].image_url'],
    ['/v1/chat/completions', msg({ role: 'user', content: [{ type: 'image_url', image_url: { url: 5 } }] }), 'messages[0].content[0].image_url.url'],
    ['/v1/chat/completions', msg({ role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:image/png;base64,@@' } }] }), 'messages[0].content[0].image_url.url'],
    ['/v1/chat/completions', msg({ role: 'user', content: [{ type: 'input_audio', input_audio: { format: 'wav' } }] }), 'messages[0].content[0].input_audio.data'],
    ['/v1/chat/completions', msg({ role: 'user', content: [{ type: 'input_audio', input_audio: 'x' }] }), 'messages[0].content[0].input_audio'],
    ['/v1/chat/completions', chat({ temperature: 'hot' }), 'temperature'],
    ['/v1/chat/completions', chat({ temperature: -1 }), 'temperature'],
    ['/v1/chat/completions', chat({ top_p: '1' }), 'top_p'],
    ['/v1/chat/completions', chat({ top_p: 2 }), 'top_p'],
    ['/v1/chat/completions', chat({ max_tokens: 'x' }), 'max_tokens'],
    ['/v1/chat/completions', chat({ max_tokens: -1 }), 'max_tokens'],
    ['/v1/chat/completions', chat({ max_completion_tokens: 'x' }), 'max_completion_tokens'],
    ['/v1/chat/completions', chat({ stop: 5 }), 'stop'],
    ['/v1/chat/completions', chat({ stop: [1] }), 'stop'],
    ['/v1/chat/completions', chat({ seed: 'x' }), 'seed'],
    ['/v1/chat/completions', chat({ stream: 1 }), 'stream'],
    ['/v1/chat/completions', chat({ stream: true, stream_options: 5 }), 'stream_options'],
    ['/v1/chat/completions', chat({ n: 2 }), 'n'],
    ['/v1/chat/completions', chat({ response_format: { type: 'json_schema' } }), 'response_format'],
    ['/v1/chat/completions', chat({ modalities: 'audio' }), 'modalities'],
    ['/v1/chat/completions', chat({ modalities: ['smell'] }), 'modalities'],
    ['/v1/chat/completions', chat({ audio: { voice: 'alloy', format: 'wav' } }), 'audio'],
    ['/v1/chat/completions', chat({ modalities: ['text', 'audio'] }), 'audio'],
    ['/v1/chat/completions', chat({ modalities: ['text', 'audio'], audio: 'alloy' }), 'audio'],
    ['/v1/chat/completions', chat({ modalities: ['text', 'audio'], audio: { format: 'wav' } }), 'audio.voice'],
    ['/v1/chat/completions', chat({ modalities: ['text', 'audio'], audio: { voice: 'alloy', format: 'aiff' } }), 'audio.format'],
    ['/v1/completions', comp({ model: undefined }), 'model'],
    ['/v1/completions', comp({ prompt: undefined }), 'prompt'],
    ['/v1/completions', comp({ prompt: 5 }), 'prompt'],
    ['/v1/completions', comp({ prompt: '' }), 'prompt'],
    ['/v1/completions', comp({ prompt: ['a', 'b'] }), 'prompt'],
    ['/v1/completions', comp({ echo: true }), 'echo'],
    ['/v1/completions', comp({ max_tokens: [] }), 'max_tokens'],
    ['/v1/completions', comp({ temperature: {} }), 'temperature'],
    ['/v1/embeddings', emb({ input: undefined }), 'input'],
    ['/v1/embeddings', emb({ input: 5 }), 'input'],
    ['/v1/embeddings', emb({ input: [1, 2] }), 'input'],
    ['/v1/embeddings', emb({ input: '' }), 'input'],
    ['/v1/embeddings', emb({ encoding_format: 'base64' }), 'encoding_format'],
    ['/v1/audio/speech', tts({ model: 5 }), 'model'],
    ['/v1/audio/speech', tts({ input: undefined }), 'input'],
    ['/v1/audio/speech', tts({ voice: undefined }), 'voice'],
    ['/v1/audio/speech', tts({ voice: 5 }), 'voice'],
    ['/v1/audio/speech', tts({ speed: 'fast' }), 'speed'],
    ['/v1/audio/speech', tts({ response_format: 5 }), 'response_format'],
  ];
  const wrong = [];
  for (const [ep, body, param] of cases) {
    const r = await postJson(srv.url + ep, body);
    try {
      errorShape(r, 400, param);
    } catch {
      wrong.push(`${ep} ${JSON.stringify(body).slice(0, 120)} -> ${r.status} ${r.text.slice(0, 160)}`);
    }
  }
  assert.deepEqual(wrong, []);
  // Multipart endpoints: a missing model, a model that is not a string field, a bad number.
  const form = (fields) => {
    const f = new FormData();
    f.set('file', new Blob([readFileSync(refdata(SPEECH_WAV))]), 'speech.wav');
    for (const [k, v] of Object.entries(fields)) f.set(k, v);
    return f;
  };
  for (const ep of ['/v1/audio/transcriptions', '/v1/audio/translations']) {
    for (const [fields, param] of [[{}, 'model'], [{ model: 'whisper-1', temperature: 'warm' }, 'temperature'],
                                   [{ model: 'whisper-1', response_format: 'pdf' }, 'response_format']]) {
      const r = await fetch(srv.url + ep, { method: 'POST', body: form(fields) });
      errorShape({ status: r.status, json: await r.json() }, 400, param);
    }
  }
  assert.equal((await fetch(srv.url + '/health')).status, 200);
});

test('metrics count requests per endpoint and stage latencies', async () => {
  const text = await (await fetch(srv.url + '/metrics')).text();
  for (const ep of ['/v1/chat/completions', '/v1/audio/transcriptions', '/v1/audio/speech']) {
    assert.match(text, new RegExp(`omni_requests_total\\{endpoint="${ep.replaceAll('/', '\\/')}",status="200"\\} [1-9]`));
  }
  for (const stage of ['asr', 'llm', 'tts']) {
    assert.match(text, new RegExp(`omni_stage_duration_seconds_count\\{stage="${stage}"\\} [1-9]`));
  }
});

test('API key: missing and wrong keys get 401, the right one works', async () => {
  const s = await startServer(['--api-key', 'sekrit'], { asr: false });
  try {
    const wrong = new OpenAI({ baseURL: s.url + '/v1', apiKey: 'nope', maxRetries: 0 });
    await rejects(wrong.models.list(), 401);
    await rejects(wrong.audio.speech.create({ model: 'tts-1', voice: 'alloy', input: 'hi' }), 401);
    const r = await fetch(s.url + '/v1/models');
    errorShape({ status: r.status, json: await r.json() }, 401);
    const right = new OpenAI({ baseURL: s.url + '/v1', apiKey: 'sekrit', maxRetries: 0 });
    assert.equal((await right.models.list()).data.length, 1);
    // Without --asr-model, speech input explains what is missing.
    const e = await rejects(right.chat.completions.create({ ...chatReq, messages: [{ role: 'user',
      content: [{ type: 'input_audio', input_audio: { data: 'AAAA', format: 'wav' } }] }] }), 400);
    assert.match(e.message, /--asr-model/);
    // The web UI itself needs no key (it asks for one in its settings).
    assert.equal((await fetch(s.url + '/')).status, 200);
  } finally {
    await s.stop();
  }
});

test('web UI files are served from the binary', async () => {
  for (const [p, type] of [['/', 'text/html'], ['/app.js', 'text/javascript'], ['/style.css', 'text/css'],
                           ['/mic-worklet.js', 'text/javascript']]) {
    const r = await fetch(srv.url + p);
    assert.equal(r.status, 200, p);
    assert.ok(r.headers.get('content-type').startsWith(type), p);
    assert.ok(r.headers.get('content-security-policy').includes("default-src 'self'"));
  }
  assert.equal((await fetch(srv.url + '/nope.js')).status, 404);
});
