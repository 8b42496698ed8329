// Starts `omni serve` for a test file and stops it afterwards. Paths come from the environment
// ctest sets (OMNI_BIN, OMNI_REFDATA, OMNI_ARTIFACTS); missing ones fail the test, never skip it.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';

export function env(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set (run the suite through ctest, or set it by hand)`);
  return v;
}

export function refdata(rel) {
  const p = path.join(env('OMNI_REFDATA'), rel);
  if (!existsSync(p)) throw new Error(`missing reference file ${p}`);
  return p;
}

export function artifacts() {
  const dir = env('OMNI_ARTIFACTS');
  mkdirSync(dir, { recursive: true });
  return dir;
}

export const CHAT_MODEL = 'llm/models/tiny-qwen2-rand-f32.gguf';
export const ASR_MODEL = 'asr/models/ggml-micro.en-random-f16.bin';

// Spawns the server on a free port (--port 0) and resolves once /health answers.
export async function startServer(extra = [], { model = CHAT_MODEL, asr = true } = {}) {
  const bin = env('OMNI_BIN');
  if (!existsSync(bin)) throw new Error(`missing server binary ${bin}`);
  const args = ['serve', '-m', refdata(model), '--port', '0', '-t', '1'];
  if (asr) args.push('--asr-model', refdata(ASR_MODEL));
  args.push(...extra);
  const proc = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('server did not start:\n' + log)), 60000);
    proc.stderr.on('data', (d) => {
      log += d;
      const m = /on http:\/\/[^:]+:(\d+)/.exec(log);
      if (m) { clearTimeout(timer); resolve(Number(m[1])); }
    });
    proc.on('exit', (code) => { clearTimeout(timer); reject(new Error(`server exited (${code}):\n${log}`)); });
  });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 200; i++) {
    try {
      if ((await fetch(url + '/health')).ok) break;
    } catch { /* not listening yet */ }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url, port, proc,
    log: () => log,
    // SIGTERM: the server finishes in-flight requests and exits 0; anything else fails the test.
    async stop() {
      if (proc.exitCode !== null) throw new Error(`server died earlier (${proc.exitCode}):\n${log}`);
      const done = new Promise((r) => proc.on('exit', (code, sig) => r({ code, sig })));
      proc.kill('SIGTERM');
      const { code, sig } = await done;
      if (code !== 0) throw new Error(`server exit ${code ?? sig}:\n${log}`);
    },
  };
}

// POST JSON with fetch; returns { status, headers, json, text }.
export async function postJson(url, body, headers = {}) {
  const r = await fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await r.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: r.status, headers: r.headers, json, text };
}

// A WAV's format fields (little-endian PCM header as written by the server).
export function wavInfo(buf) {
  const b = Buffer.from(buf);
  if (b.toString('ascii', 0, 4) !== 'RIFF' || b.toString('ascii', 8, 12) !== 'WAVE') {
    throw new Error('not a WAV file');
  }
  return {
    format: b.readUInt16LE(20), channels: b.readUInt16LE(22), rate: b.readUInt32LE(24),
    bits: b.readUInt16LE(34), dataSize: b.readUInt32LE(40), samples: (b.length - 44) / 2,
  };
}

// Root-mean-square of 16-bit samples: real speech is far from silence.
export function rms16(buf, offset = 0) {
  const b = Buffer.from(buf);
  let s = 0;
  const n = Math.floor((b.length - offset) / 2);
  for (let i = 0; i < n; i++) { const v = b.readInt16LE(offset + 2 * i); s += v * v; }
  return n ? Math.sqrt(s / n) : 0;
}
