// Where the harness's packages are: beside these files, in <repo>/target/oidc
// (ensure.sh installs them there), or wherever OIDC_NODE_MODULES says.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

/** The URL to import package `name` from. */
export function modulePath(name) {
  const dirs = [
    process.env.OIDC_NODE_MODULES,
    path.join(here, 'node_modules'),
    path.resolve(here, '../../../target/oidc/node_modules'),
  ].filter(Boolean);
  for (const dir of dirs) {
    if (existsSync(path.join(dir, name, 'package.json'))) {
      return pathToFileURL(createRequire(path.join(path.dirname(dir), 'resolve.js')).resolve(name)).href;
    }
  }
  throw new Error(`${name} not found in ${dirs.join(', ')}: run tests/clients/oidc/ensure.sh`);
}
