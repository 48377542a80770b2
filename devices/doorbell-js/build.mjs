// Build the doorbell device component: `node build.mjs [OUT.wasm]`
// (default: ../../target/js-devices/doorbell-js.wasm). Needs `npm ci` in
// this directory first (`just setup-js` does it).
//
// The WIT package is assembled in a temporary directory: our world.wit,
// with the contract (the repository's wit/device.wit) as its dependency.

import { mkdtemp, mkdir, copyFile, writeFile, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = resolve(process.argv[2] ?? join(here, '../../target/js-devices/doorbell-js.wasm'));

let componentize;
try {
  ({ componentize } = await import('@bytecodealliance/componentize-js'));
} catch (e) {
  console.error(`componentize-js is not installed (${e.code ?? e.message}): run \`just setup-js\` (npm ci in ${here})`);
  process.exit(2);
}

const wit = await mkdtemp(join(tmpdir(), 'doorbell-js-wit-'));
try {
  await copyFile(join(here, 'wit/world.wit'), join(wit, 'world.wit'));
  await mkdir(join(wit, 'deps/wemu-device'), { recursive: true });
  await copyFile(join(here, '../../wit/device.wit'), join(wit, 'deps/wemu-device/device.wit'));

  const { component } = await componentize({
    sourcePath: join(here, 'src/doorbell.js'),
    witPath: wit,
    worldName: 'doorbell',
    // A "pure" component: no WASI at all (stdio, random, clocks, http).
    // wemu refuses WASI imports; the device logs through wemu:device/log.
    disableFeatures: ['stdio', 'random', 'clocks', 'http', 'fetch-event'],
  });
  await mkdir(dirname(out), { recursive: true });
  // Write then rename, so a concurrent reader never sees half a file.
  const tmp = `${out}.${process.pid}.tmp`;
  await writeFile(tmp, component);
  await rename(tmp, out);
  console.log(`${out}: ${component.length} bytes`);
} finally {
  await rm(wit, { recursive: true, force: true });
}
