// omni web UI: streamed chat, images (upload, paste, drop), push-to-talk microphone sent as
// 16 kHz mono WAV (`input_audio`), answers spoken sentence by sentence via /v1/audio/speech.
// Plain browser APIs only; everything talks to the server that served this page.
'use strict';

const $ = (id) => document.getElementById(id);
const el = {
  log: $('log'), input: $('input'), send: $('send'), mic: $('mic'), file: $('file'),
  attachments: $('attachments'), status: $('status'), settings: $('settings'),
  settingsToggle: $('settings-toggle'), model: $('model'), voice: $('voice'), speak: $('speak'),
  imageMode: $('image-mode'), maxTokens: $('max-tokens'), temperature: $('temperature'), apiKey: $('api-key'),
  clear: $('clear'), dropHint: $('drop-hint'), composer: $('composer'),
};

// Counters the browser test reads (and a human can inspect in the console).
const stats = { turns: 0, errors: 0, chunksRequested: 0, chunksPlayed: 0, lastTurn: null };
window.omniStats = stats;

const history = [];      // OpenAI chat messages of this conversation
let attachments = [];    // data URLs of images waiting to be sent
let busy = false;
let abortTurn = null;    // stops the answer being streamed (the Send button turns into Stop)

// ---------- settings ----------

const saved = JSON.parse(localStorage.getItem('omni.settings') || '{}');
function saveSettings() {
  localStorage.setItem('omni.settings', JSON.stringify({
    model: el.model.value, voice: el.voice.value, speak: el.speak.checked,
    imageMode: el.imageMode.value, maxTokens: el.maxTokens.value, apiKey: el.apiKey.value,
    temperature: el.temperature.value,
  }));
}
if (saved.speak !== undefined) el.speak.checked = saved.speak;
// "words" was the mode before the server knew several; auto covers it.
if (saved.imageMode && [...el.imageMode.options].some((o) => o.value === saved.imageMode)) {
  el.imageMode.value = saved.imageMode;
}
if (saved.maxTokens) el.maxTokens.value = saved.maxTokens;
if (saved.apiKey) el.apiKey.value = saved.apiKey;
if (saved.temperature) el.temperature.value = saved.temperature;
for (const x of [el.model, el.voice, el.speak, el.imageMode, el.maxTokens, el.temperature, el.apiKey]) {
  x.addEventListener('change', () => { saveSettings(); updateStatus(); });
}
el.settingsToggle.addEventListener('click', () => {
  el.settings.hidden = !el.settings.hidden;
  el.settingsToggle.setAttribute('aria-expanded', String(!el.settings.hidden));
});
el.clear.addEventListener('click', () => {
  history.length = 0;
  el.log.replaceChildren();
});

function headers(json = true) {
  const h = {};
  if (json) h['Content-Type'] = 'application/json';
  if (el.apiKey.value) h.Authorization = 'Bearer ' + el.apiKey.value;
  return h;
}

let serverInfo = { asr: null, image_input: false };
async function loadServerInfo() {
  try {
    const [models, voices] = await Promise.all([
      fetch('/v1/models', { headers: headers(false) }).then(okJson),
      fetch('/v1/audio/voices', { headers: headers(false) }).then(okJson),
    ]);
    serverInfo = voices;
    el.model.replaceChildren(...models.data.filter((m) => m.id !== voices.asr)
      .map((m) => new Option(m.id, m.id)));
    if (saved.model && [...el.model.options].some((o) => o.value === saved.model)) {
      el.model.value = saved.model;
    }
    el.voice.replaceChildren(...voices.voices.map((v) => new Option(v, v)));
    el.voice.value = saved.voice && voices.voices.includes(saved.voice) ? saved.voice : voices.default;
    updateStatus();
  } catch (e) {
    el.status.textContent = 'server not reachable: ' + e.message;
  }
}
function updateStatus() {
  const parts = [el.model.value || 'no model'];
  parts.push(serverInfo.asr ? 'mic on' : 'no speech input');
  if (el.speak.checked) parts.push('voice ' + el.voice.value);
  el.status.textContent = parts.join(' · ');
  el.mic.disabled = !serverInfo.asr;
}
async function okJson(r) {
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error((body.error && body.error.message) || 'HTTP ' + r.status);
  return body;
}

// ---------- rendering ----------

function bubble(role, text = '') {
  const d = document.createElement('div');
  d.className = 'msg ' + role;
  const t = document.createElement('span');
  t.className = 'text';
  t.textContent = text;
  d.append(t);
  el.log.append(d);
  el.log.scrollTop = el.log.scrollHeight;
  return d;
}
function showError(message) {
  stats.errors++;
  bubble('error', message);
}
const fmt = (ms) => (ms == null ? '–' : ms < 1000 ? Math.round(ms) + ' ms' : (ms / 1000).toFixed(2) + ' s');
function showLatency(meta, turn) {
  const parts = ['first token ' + fmt(turn.firstToken), 'total ' + fmt(turn.done)];
  if (turn.tokens) parts.push(turn.tokens + ' tokens');
  if (turn.spoken) parts.push('first audio ' + fmt(turn.firstAudio));
  meta.textContent = parts.join(' · ');
}

// ---------- images ----------

function addImageFile(file) {
  if (!file || !file.type.startsWith('image/')) return;
  if (el.imageMode.value === 'off') {
    showError('Images are off in the settings; this image was not attached.');
    return;
  }
  const reader = new FileReader();
  reader.onload = () => {
    attachments.push(reader.result);
    renderAttachments();
  };
  reader.readAsDataURL(file);
}
function renderAttachments() {
  el.attachments.replaceChildren(...attachments.map((url, i) => {
    const chip = document.createElement('div');
    chip.className = 'chip';
    const img = document.createElement('img');
    img.src = url;
    img.alt = 'attached image ' + (i + 1);
    const x = document.createElement('button');
    x.type = 'button';
    x.textContent = '✕';
    x.title = 'Remove';
    x.addEventListener('click', () => { attachments.splice(i, 1); renderAttachments(); });
    chip.append(img, x);
    return chip;
  }));
}
el.file.addEventListener('change', () => {
  for (const f of el.file.files) addImageFile(f);
  el.file.value = '';
});
el.input.addEventListener('paste', (e) => {
  for (const item of e.clipboardData.items) {
    if (item.kind === 'file' && item.type.startsWith('image/')) {
      addImageFile(item.getAsFile());
      e.preventDefault();
    }
  }
});
let dragDepth = 0;
window.addEventListener('dragenter', (e) => { e.preventDefault(); dragDepth++; el.dropHint.hidden = false; });
window.addEventListener('dragleave', () => { if (--dragDepth <= 0) { dragDepth = 0; el.dropHint.hidden = true; } });
window.addEventListener('dragover', (e) => e.preventDefault());
window.addEventListener('drop', (e) => {
  e.preventDefault();
  dragDepth = 0;
  el.dropHint.hidden = true;
  for (const f of e.dataTransfer.files) addImageFile(f);
});

// ---------- audio out: one /v1/audio/speech request per sentence, played in order ----------

const player = { ctx: null, next: 0, chain: Promise.resolve() };
function audioContext() {
  if (!player.ctx) player.ctx = new AudioContext();
  if (player.ctx.state === 'suspended') player.ctx.resume();
  return player.ctx;
}
function speakSentence(text, turn) {
  if (!/[\p{L}\p{N}]/u.test(text)) return;
  stats.chunksRequested++;
  turn.spoken = true;
  // Fetch at once (synthesis overlaps the stream); play strictly in order.
  const audio = fetch('/v1/audio/speech', {
    method: 'POST', headers: headers(),
    body: JSON.stringify({ model: 'tts-1', input: text, voice: el.voice.value, response_format: 'pcm' }),
  }).then(async (r) => {
    if (!r.ok) throw new Error((await okJson(r).catch((e) => e)).message || 'speech failed');
    return { buf: await r.arrayBuffer(), rate: Number(r.headers.get('X-Sample-Rate')) || 24000 };
  });
  player.chain = player.chain.then(() => audio).then(({ buf, rate }) => {
    const ctx = audioContext();
    const pcm = new Int16Array(buf, 0, buf.byteLength >> 1);
    if (!pcm.length) return;
    const ab = ctx.createBuffer(1, pcm.length, rate);
    const ch = ab.getChannelData(0);
    for (let i = 0; i < pcm.length; i++) ch[i] = pcm[i] / 32768;
    const src = ctx.createBufferSource();
    src.buffer = ab;
    src.connect(ctx.destination);
    const at = Math.max(ctx.currentTime + 0.02, player.next);
    src.start(at);
    player.next = at + ab.duration;
    if (turn.firstAudio == null) {
      turn.firstAudio = performance.now() + (at - ctx.currentTime) * 1000 - turn.t0;
      showLatency(turn.meta, turn);
    }
    src.onended = () => { stats.chunksPlayed++; };
  }).catch((e) => showError('Speech: ' + e.message));
}
// Splits finished sentences off the streamed text; returns the unfinished rest.
function takeSentences(buffer, turn, final) {
  const re = /[.!?。！？](?=\s)|\n/g;
  let start = 0;
  let m;
  while ((m = re.exec(buffer)) !== null) {
    speakSentence(buffer.slice(start, m.index + 1).trim(), turn);
    start = m.index + 1;
  }
  let rest = buffer.slice(start);
  if (final) {
    speakSentence(rest.trim(), turn);
    rest = '';
  }
  return rest;
}

// ---------- chat ----------

const hasImage = (m) => Array.isArray(m.content) && m.content.some((p) => p.type === 'image_url');

async function send(extraParts = []) {
  if (busy) return;
  const text = el.input.value.trim();
  const images = el.imageMode.value === 'off' ? [] : attachments;
  if (!text && !images.length && !extraParts.length) return;
  if (el.speak.checked) audioContext();  // created inside the click/press gesture
  busy = true;
  const ac = new AbortController();
  abortTurn = () => ac.abort();
  el.send.textContent = 'Stop';

  const parts = [];
  if (text) parts.push({ type: 'text', text });
  for (const url of images) parts.push({ type: 'image_url', image_url: { url } });
  parts.push(...extraParts);
  const content = parts.length === 1 && parts[0].type === 'text' ? text : parts;
  const user = bubble('user', text);
  for (const url of images) {
    const img = document.createElement('img');
    img.src = url;
    img.alt = 'sent image';
    user.append(img);
  }
  for (const p of extraParts) {
    if (p.type !== 'input_audio') continue;
    const a = document.createElement('audio');
    a.controls = true;
    a.src = 'data:audio/wav;base64,' + p.input_audio.data;
    user.append(a);
    if (!text) user.querySelector('.text').textContent = 'Voice message · ' + (p.seconds || 0).toFixed(1) + ' s';
    delete p.seconds;
  }
  el.input.value = '';
  attachments = [];
  renderAttachments();
  history.push({ role: 'user', content });

  const turn = { t0: performance.now(), firstToken: null, done: null, firstAudio: null, tokens: 0 };
  const answer = bubble('assistant');
  const out = answer.querySelector('.text');
  turn.meta = document.createElement('span');
  turn.meta.className = 'meta';
  answer.append(turn.meta);
  let reply = '';
  let unspoken = '';
  try {
    const r = await fetch('/v1/chat/completions', {
      method: 'POST', headers: headers(), signal: ac.signal,
      body: JSON.stringify({
        model: el.model.value, messages: history, stream: true,
        max_tokens: Number(el.maxTokens.value) || 256,
        // How the server should read images (a server without modes ignores the field).
        ...(history.some(hasImage) && el.imageMode.value !== 'auto' && { image_mode: el.imageMode.value }),
        ...(el.temperature.value !== '' && { temperature: Number(el.temperature.value) }),
      }),
    });
    if (!r.ok) throw new Error(await okJson(r).then(() => 'HTTP ' + r.status, (e) => e.message));
    const reader = r.body.getReader();
    const dec = new TextDecoder();
    let buf = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += dec.decode(value, { stream: true });
      let cut;
      while ((cut = buf.indexOf('\n\n')) >= 0) {
        const event = buf.slice(0, cut);
        buf = buf.slice(cut + 2);
        for (const line of event.split('\n')) {
          if (!line.startsWith('data: ')) continue;
          const data = line.slice(6);
          if (data === '[DONE]') continue;
          const j = JSON.parse(data);
          if (j.error) throw new Error(j.error.message);
          const delta = j.choices && j.choices[0] && j.choices[0].delta;
          const piece = delta && delta.content;
          if (!piece) continue;
          if (turn.firstToken == null) turn.firstToken = performance.now() - turn.t0;
          turn.tokens++;
          reply += piece;
          out.textContent = reply;
          el.log.scrollTop = el.log.scrollHeight;
          if (el.speak.checked) unspoken = takeSentences(unspoken + piece, turn, false);
        }
      }
    }
    if (el.speak.checked) takeSentences(unspoken, turn, true);
    history.push({ role: 'assistant', content: reply });
    stats.turns++;
  } catch (e) {
    if (e.name === 'AbortError' && reply) {
      // Stopped by the user: keep what was said so far (the server stops generating).
      history.push({ role: 'assistant', content: reply });
      stats.turns++;
    } else {
      history.pop();  // keep the conversation valid for the next request
      answer.remove();
      if (e.name !== 'AbortError') showError(e.message);
    }
  } finally {
    turn.done = performance.now() - turn.t0;
    showLatency(turn.meta, turn);
    stats.lastTurn = { firstToken: turn.firstToken, done: turn.done, tokens: turn.tokens, text: reply };
    busy = false;
    abortTurn = null;
    el.send.textContent = 'Send';
  }
}
el.composer.addEventListener('submit', (e) => {
  e.preventDefault();
  if (abortTurn) abortTurn(); else send();
});
el.input.addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && !e.shiftKey) { e.preventDefault(); send(); }
});
el.input.addEventListener('input', () => {
  el.input.style.height = 'auto';
  el.input.style.height = Math.min(el.input.scrollHeight, 128) + 'px';
});

// ---------- microphone: push to talk (hold), or click once to start and again to stop ----------

const mic = { stream: null, ctx: null, node: null, source: null, chunks: [], rate: 48000, since: 0 };
async function startRecording() {
  if (mic.node) return;
  mic.chunks = [];
  mic.since = performance.now();
  el.mic.setAttribute('aria-pressed', 'true');
  try {
    if (!mic.stream) {
      mic.stream = await navigator.mediaDevices.getUserMedia({
        audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true },
      });
    }
    if (!mic.ctx) mic.ctx = new AudioContext();
    await mic.ctx.resume();
    mic.rate = mic.ctx.sampleRate;
    mic.source = mic.ctx.createMediaStreamSource(mic.stream);
    if (mic.ctx.audioWorklet) {
      await mic.ctx.audioWorklet.addModule('/mic-worklet.js');
      mic.node = new AudioWorkletNode(mic.ctx, 'mic-capture');
      mic.node.port.onmessage = (e) => mic.chunks.push(e.data);
    } else {
      // Older browsers: ScriptProcessor delivers the same blocks on the main thread.
      mic.node = mic.ctx.createScriptProcessor(4096, 1, 1);
      mic.node.onaudioprocess = (e) => mic.chunks.push(e.inputBuffer.getChannelData(0).slice(0));
    }
    mic.source.connect(mic.node);
    mic.node.connect(mic.ctx.destination);  // keeps the graph pulling; the node outputs silence
  } catch (e) {
    el.mic.setAttribute('aria-pressed', 'false');
    mic.node = null;
    showError('Microphone: ' + e.message);
  }
}
async function stopRecording() {
  if (!mic.node) return;
  el.mic.setAttribute('aria-pressed', 'false');
  mic.source.disconnect();
  mic.node.disconnect();
  mic.node = null;
  const n = mic.chunks.reduce((s, c) => s + c.length, 0);
  const all = new Float32Array(n);
  let at = 0;
  for (const c of mic.chunks) { all.set(c, at); at += c.length; }
  if (n < mic.rate * 0.2) { showError('Recording too short: hold the microphone button while talking.'); return; }
  if (busy) { showError('Still answering: send the recording again once the answer is done.'); return; }
  const pcm16k = await resampleTo16k(all, mic.rate);
  const wav = encodeWav(pcm16k, 16000);
  await send([{ type: 'input_audio', input_audio: { data: toBase64(wav), format: 'wav' },
                seconds: pcm16k.length / 16000 }]);
}
async function resampleTo16k(samples, rate) {
  if (rate === 16000) return samples;
  // The browser's own resampler (band-limited), offline.
  const off = new OfflineAudioContext(1, Math.ceil(samples.length * 16000 / rate), 16000);
  const buf = off.createBuffer(1, samples.length, rate);
  buf.copyToChannel(samples, 0);
  const src = off.createBufferSource();
  src.buffer = buf;
  src.connect(off.destination);
  src.start();
  return (await off.startRendering()).getChannelData(0);
}
function encodeWav(samples, rate) {
  const out = new DataView(new ArrayBuffer(44 + samples.length * 2));
  const str = (o, s) => { for (let i = 0; i < s.length; i++) out.setUint8(o + i, s.charCodeAt(i)); };
  str(0, 'RIFF'); out.setUint32(4, 36 + samples.length * 2, true); str(8, 'WAVE');
  str(12, 'fmt '); out.setUint32(16, 16, true); out.setUint16(20, 1, true); out.setUint16(22, 1, true);
  out.setUint32(24, rate, true); out.setUint32(28, rate * 2, true); out.setUint16(32, 2, true);
  out.setUint16(34, 16, true); str(36, 'data'); out.setUint32(40, samples.length * 2, true);
  for (let i = 0; i < samples.length; i++) {
    const v = Math.max(-1, Math.min(1, samples[i]));
    out.setInt16(44 + i * 2, Math.round(v * 32767), true);
  }
  return new Uint8Array(out.buffer);
}
function toBase64(bytes) {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}
let toggleMode = false;
el.mic.addEventListener('pointerdown', (e) => {
  e.preventDefault();
  if (toggleMode) return;  // the click that ends a toggle recording arrives as pointerup
  if (el.speak.checked) audioContext();
  startRecording();
});
el.mic.addEventListener('pointerup', () => {
  if (toggleMode) { toggleMode = false; stopRecording(); return; }
  // A short tap switches to click-to-stop; a hold ends on release.
  if (performance.now() - mic.since < 300) toggleMode = true; else stopRecording();
});
el.mic.addEventListener('pointerleave', () => { if (!toggleMode) stopRecording(); });
el.mic.addEventListener('keydown', (e) => {
  if (e.key !== ' ' && e.key !== 'Enter') return;
  e.preventDefault();
  if (mic.node) stopRecording(); else startRecording();
});

loadServerInfo();
