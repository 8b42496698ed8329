// Writes ONNX Runtime's audio for one golden sentence of a Piper voice as raw float32, to
// compare our engine's output on voices without shipped goldens (e.g. the generated medium one).
// usage: node tts_ort_audio.js ORT_NODE_DIR voice.onnx golden.json out.f32
// Scales [0, 1, 0] (no noise), 1 intra-op thread. Nothing is installed here.
'use strict';
const path = require('path');
const fs = require('fs');
const [dir, voice, golden, outPath] = process.argv.slice(2);
const ort = require(path.join(path.resolve(dir), 'node_modules', 'onnxruntime-node'));
(async () => {
  const ids = BigInt64Array.from(JSON.parse(fs.readFileSync(golden)).phoneme_ids.map(BigInt));
  const session = await ort.InferenceSession.create(voice,
    {intraOpNumThreads: 1, interOpNumThreads: 1});
  const out = await session.run({
    input: new ort.Tensor('int64', ids, [1, ids.length]),
    input_lengths: new ort.Tensor('int64', BigInt64Array.from([BigInt(ids.length)]), [1]),
    scales: new ort.Tensor('float32', Float32Array.from([0, 1, 0]), [3]),
  });
  const data = out.output.data;
  fs.writeFileSync(outPath, Buffer.from(data.buffer, data.byteOffset, data.byteLength));
  console.log(`samples=${data.length}`);
})();
