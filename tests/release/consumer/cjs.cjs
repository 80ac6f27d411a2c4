// The same as esm.mjs, through require(): the CJS build of every package must load.
const assert = require('node:assert/strict');

const expected = JSON.parse(process.env.PV_EXPECTED_VERSIONS);
for (const name of Object.keys(expected)) {
  const mod = require(name);
  assert.equal(mod.VERSION, expected[name], name);
}
const x86 = require('@pv/x86-core');
assert.equal(x86.EXIT_NAMES.length, x86.EXIT_KINDS);
// The shipped guest image resolves from the CJS build too.
const { miniKernelImage, loadMultiboot } = require('@pv/guest');
const image = miniKernelImage();
assert.equal(image[0], 0x7f);
assert.equal(typeof loadMultiboot, 'function');
console.log('cjs ok');
