// A short run of the load test (load.mjs) in the suite: 64 clients for 20 s, mixed endpoints,
// every answer identical to its idle-server reference. The few-minute run is in docs/TESTING.md.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runLoad } from './load.mjs';

test('64 concurrent clients, mixed endpoints: no failed or corrupted response', async () => {
  const lines = [];
  const s = await runLoad({ seconds: 20, clients: 64, parallel: 2, log: (l) => lines.push(l) });
  console.log(lines.join('\n'));
  for (const [name, x] of Object.entries(s)) {
    assert.equal(x.failed, 0, `${name}: ${x.errors.join(' | ')}`);
    assert.ok(x.ok > 0, `${name} was exercised`);
  }
});
