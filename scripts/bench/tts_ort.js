// ONNX Runtime timing of a Piper voice, for side-by-side runs with bench/tts_bench.cc.
// usage: node tts_ort.js ORT_NODE_DIR voice.onnx golden.json threads runs
// ORT_NODE_DIR holds an existing node_modules/onnxruntime-node (nothing is installed here).
// Scales [0, 1, 0] (no noise), intra-op threads as given, one inter-op thread. Prints one line:
// wall ms per run, RTF (wall / audio seconds), process CPU RTF (all threads), samples.
'use strict';
const path = require('path');
const fs = require('fs');
const [dir, voice, golden, threadsArg, runsArg] = process.argv.slice(2);
const ort = require(path.join(path.resolve(dir), 'node_modules', 'onnxruntime-node'));
(async () => {
  const threads = Number(threadsArg || 1);
  const runs = Number(runsArg || 10);
  const ids = BigInt64Array.from(JSON.parse(fs.readFileSync(golden)).phoneme_ids.map(BigInt));
  const session = await ort.InferenceSession.create(voice,
    {intraOpNumThreads: threads, interOpNumThreads: 1});
  const feeds = {
    input: new ort.Tensor('int64', ids, [1, ids.length]),
    input_lengths: new ort.Tensor('int64', BigInt64Array.from([BigInt(ids.length)]), [1]),
    scales: new ort.Tensor('float32', Float32Array.from([0, 1, 0]), [3]),
  };
  let out = await session.run(feeds);  // warm-up
  const samples = out.output.dims[out.output.dims.length - 1];
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < runs; ++i) out = await session.run(feeds);
  const wall = Number(process.hrtime.bigint() - t0) / 1e9 / runs;
  const cu = process.cpuUsage(c0);
  const cpu = (cu.user + cu.system) / 1e6 / runs;
  const audio = samples / 22050;
  console.log(`ort threads=${threads} wall_ms=${(wall * 1e3).toFixed(1)} ` +
              `rtf=${(wall / audio).toFixed(4)} cpu_rtf=${(cpu / audio).toFixed(4)} ` +
              `samples=${samples}`);
})();
