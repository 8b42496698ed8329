// The web UI in headless Chromium (Debian's /usr/bin/chromium driven by playwright-core): text,
// an image (file picker and drag-drop), and a spoken question through Chromium's fake
// microphone, which plays a WAV file. Checks the answers appear, that spoken answers were
// played (the page counts finished audio chunks in window.omniStats), and saves screenshots.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { startServer, refdata, artifacts } from './helpers.js';

const QUESTION_WAV = 'asr/audio/pocketsphinx_goforward.wav';
let srv;
let browser;
let page;
const pageErrors = [];
const requests = [];  // POST /v1/* bodies the page sent

before(async () => {
  srv = await startServer();
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
           `--use-file-for-fake-audio-capture=${refdata(QUESTION_WAV)}`, '--no-sandbox',
           '--autoplay-policy=no-user-gesture-required'],
  });
  // A phone-sized screen (390x844: a current mid-size phone in CSS pixels).
  const ctx = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2 });
  page = await ctx.newPage();
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  page.on('request', (r) => {
    if (r.method() === 'POST' && r.url().includes('/v1/')) requests.push({ url: r.url(), body: r.postData() });
  });
  // The image turn's 400 is expected (and checked) when the build has no image-to-text stage.
  page.on('console', (m) => {
    if (m.type() === 'error' && !/status of 400/.test(m.text())) pageErrors.push(m.text());
  });
  await page.goto(srv.url + '/');
  await page.waitForFunction(() => document.getElementById('status').textContent.includes('mic on'));
  // Short answers; temperature 1 (random weights: greedy decoding only produces newlines).
  await page.click('#settings-toggle');
  await page.fill('#max-tokens', '12');
  await page.fill('#temperature', '1');
  await page.dispatchEvent('#temperature', 'change');
  await page.dispatchEvent('#max-tokens', 'change');
  await page.screenshot({ path: path.join(artifacts(), 'ui-settings.png') });
  await page.click('#settings-toggle');
});

after(async () => {
  await browser?.close();
  await srv?.stop();
});

const stats = () => page.evaluate(() => ({ ...window.omniStats }));
async function cancelled() {
  const text = await (await fetch(srv.url + '/metrics')).text();
  return Number(/^omni_requests_cancelled_total (\d+)/m.exec(text)[1]);
}
async function setMaxTokens(n) {
  await page.evaluate((v) => {
    const m = document.getElementById('max-tokens');
    m.value = v;
    m.dispatchEvent(new Event('change'));
  }, n);
}
async function waitTurns(n) {
  await page.waitForFunction((k) => window.omniStats.turns + window.omniStats.errors >= k, n,
                             { timeout: 60000 });
}

test('text: the streamed answer appears with its latency, and is spoken', async () => {
  await page.fill('#input', 'Hello there, tell me something.');
  await page.press('#input', 'Enter');
  await waitTurns(1);
  const s = await stats();
  assert.equal(s.errors, 0);
  assert.ok(s.lastTurn.text.length > 0);
  const answer = page.locator('.msg.assistant').last();
  assert.equal(await answer.locator('.text').textContent(), s.lastTurn.text);
  assert.match(await answer.locator('.meta').textContent(), /first token .* total /);
  // Spoken sentence by sentence: wait until every requested chunk has finished playing.
  await page.waitForFunction(() => window.omniStats.chunksRequested > 0 &&
    window.omniStats.chunksPlayed === window.omniStats.chunksRequested, null, { timeout: 60000 });
  assert.match(await answer.locator('.meta').textContent(), /first audio \d/);
  await page.screenshot({ path: path.join(artifacts(), 'ui-text.png') });
});

test('stop: the Send button stops a long answer and the server stops generating', async () => {
  const cancelledBefore = await cancelled();
  await setMaxTokens('100000');
  await page.evaluate(() => { document.getElementById('speak').checked = false; });
  await page.fill('#input', 'Tell me a very long story.');
  await page.press('#input', 'Enter');
  await page.waitForFunction(() => document.getElementById('send').textContent === 'Stop');
  await page.waitForFunction(() => [...document.querySelectorAll('.msg.assistant .text')].pop()?.textContent.length > 20);
  await page.click('#send');
  await page.waitForFunction(() => document.getElementById('send').textContent === 'Send');
  for (let i = 0; i < 100 && (await cancelled()) === cancelledBefore; i++) await page.waitForTimeout(50);
  assert.equal(await cancelled(), cancelledBefore + 1);
  assert.equal((await stats()).errors, 0);
  await page.evaluate(() => { document.getElementById('speak').checked = true; });
  await setMaxTokens('12');
});

test('image: picked and dropped images are attached and sent', async () => {
  const png = refdata('vision/images/horse.png');
  await page.setInputFiles('#file', png);
  await page.waitForSelector('.chip img');
  // Drag-drop a second copy onto the page.
  const dt = await page.evaluateHandle((b64) => {
    const d = new DataTransfer();
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    d.items.add(new File([bytes], 'horse.png', { type: 'image/png' }));
    return d;
  }, readFileSync(png).toString('base64'));
  await page.dispatchEvent('body', 'drop', { dataTransfer: dt });
  await page.waitForFunction(() => document.querySelectorAll('.chip').length === 2);
  await page.screenshot({ path: path.join(artifacts(), 'ui-image-attached.png') });
  const before = await stats();
  const voices = await (await fetch(srv.url + '/v1/audio/voices')).json();
  await page.fill('#input', 'What does the image say?');
  await page.click('#send');
  await waitTurns(before.turns + before.errors + 1);
  const after = await stats();
  assert.equal(await page.locator('.msg.user').last().locator('img').count(), 2);
  if (voices.image_input) {
    assert.equal(after.turns, before.turns + 1);
  } else {
    // No image-to-text stage in this build: the server's 400 is shown to the user.
    assert.equal(after.errors, before.errors + 1);
    assert.match(await page.locator('.msg.error').last().textContent(), /Image input needs/);
  }
  assert.equal(await page.locator('.chip').count(), 0);
  await page.screenshot({ path: path.join(artifacts(), 'ui-image.png') });
});

// The JSON body of the last POST the page made to `endpoint`.
function lastBody(endpoint) {
  const r = requests.filter((x) => x.url.endsWith(endpoint)).pop();
  assert.ok(r, 'no request to ' + endpoint);
  return JSON.parse(r.body);
}

test('settings: model, voice and image mode reach the requests, persist, and fit a phone', async () => {
  await page.click('#settings-toggle');
  // The model menu lists the chat model (not the speech recognizer); the voice menu is the
  // server's /v1/audio/voices list.
  const models = await page.locator('#model option').allTextContents();
  assert.deepEqual(models, ['tiny-qwen2-rand-f32']);
  const voices = await (await fetch(srv.url + '/v1/audio/voices')).json();
  assert.deepEqual(await page.locator('#voice option').allTextContents(), voices.voices);
  assert.equal(await page.inputValue('#voice'), voices.default);
  assert.deepEqual(await page.locator('#image-mode option').evaluateAll((o) => o.map((x) => x.value)),
                   ['auto', 'embed', 'ocr', 'caption', 'off']);
  await page.selectOption('#voice', 'nova');
  await page.selectOption('#image-mode', 'ocr');
  // Every control is on screen and nothing overflows sideways at phone width.
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `page is ${overflow}px wider than the screen`);
  for (const id of ['#model', '#voice', '#image-mode', '#max-tokens', '#api-key']) {
    const box = await page.locator(id).boundingBox();
    assert.ok(box && box.x >= 0 && box.x + box.width <= 390, id);
  }
  await page.screenshot({ path: path.join(artifacts(), 'ui-phone-settings.png') });
  await page.click('#settings-toggle');

  // A turn with an image: the chat request carries model and image_mode; each spoken sentence
  // asks for the chosen voice. A server without image modes ignores the field.
  const sent = requests.length;
  const before = await stats();
  await page.setInputFiles('#file', refdata('vision/images/horse.png'));
  await page.waitForSelector('.chip img');
  await page.fill('#input', 'Read the picture to me.');
  await page.press('#input', 'Enter');
  await waitTurns(before.turns + before.errors + 1);
  const chat = lastBody('/v1/chat/completions');
  assert.equal(chat.model, 'tiny-qwen2-rand-f32');
  assert.equal(chat.image_mode, 'ocr');
  assert.equal(chat.max_tokens, 12);
  const after = await stats();
  if (voices.image_input) {
    assert.equal(after.turns, before.turns + 1, JSON.stringify(await page.locator('.msg.error').allTextContents()));
    assert.match(await page.locator('.msg.assistant .meta').last().textContent(), /first token .* total /);
    await page.waitForFunction(() => window.omniStats.chunksPlayed === window.omniStats.chunksRequested,
                               null, { timeout: 60000 });
    const speech = requests.slice(sent).filter((x) => x.url.endsWith('/v1/audio/speech')).map((x) => JSON.parse(x.body));
    assert.ok(speech.length > 0 && speech.every((b) => b.voice === 'nova'), JSON.stringify(speech));
  }
  await page.screenshot({ path: path.join(artifacts(), 'ui-phone-turn.png') });

  // Settings survive a reload (localStorage); the conversation does not.
  await page.reload();
  await page.waitForFunction(() => document.getElementById('status').textContent.includes('mic on'));
  assert.equal(await page.inputValue('#voice'), 'nova');
  assert.equal(await page.inputValue('#image-mode'), 'ocr');
  assert.equal(await page.inputValue('#max-tokens'), '12');
  assert.match(await page.locator('#status').textContent(), /voice nova/);
  await page.click('#settings-toggle');
  await page.selectOption('#image-mode', 'auto');
  await page.click('#settings-toggle');
});

test('microphone: a held push-to-talk button sends the recording as a spoken question', async () => {
  const before = await stats();
  const mic = page.locator('#mic');
  await mic.hover();
  await page.mouse.down();
  await page.waitForFunction(() => document.getElementById('mic').getAttribute('aria-pressed') === 'true');
  await page.waitForTimeout(2500);
  await page.screenshot({ path: path.join(artifacts(), 'ui-recording.png') });
  await page.mouse.up();
  await waitTurns(before.turns + before.errors + 1);
  const after = await stats();
  assert.equal(after.errors, before.errors, JSON.stringify(await page.locator('.msg.error').allTextContents()));
  assert.equal(after.turns, before.turns + 1);
  const user = page.locator('.msg.user').last();
  assert.match(await user.locator('.text').textContent(), /Voice message · \d+\.\d s/);
  // The recording the page made is a 16 kHz mono WAV of (about) the 2.5 s held.
  const seconds = Number((await user.locator('.text').textContent()).match(/(\d+\.\d)/)[1]);
  assert.ok(seconds > 1.5 && seconds < 4, String(seconds));
  assert.ok(after.lastTurn.text.length > 0);
  await page.waitForFunction((n) => window.omniStats.chunksPlayed > n &&
    window.omniStats.chunksPlayed === window.omniStats.chunksRequested, before.chunksPlayed, { timeout: 60000 });
  await page.screenshot({ path: path.join(artifacts(), 'ui-voice.png'), fullPage: true });
});

test('desktop width and no page errors', async () => {
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.screenshot({ path: path.join(artifacts(), 'ui-desktop.png') });
  assert.deepEqual(pageErrors, []);
});
