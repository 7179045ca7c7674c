import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** The repository root: the nearest folder above this file holding package.json and schemas/. */
export function repoRoot(from = __dirname): string {
  let dir = resolve(from);
  while (!(existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'schemas')))) {
    const parent = resolve(dir, '..');
    if (parent === dir) throw new Error(`repository root not found above ${from}`);
    dir = parent;
  }
  return dir;
}

/** The folder of the product spec's examples (`../shared/spec` beside the repository). */
export function specDir(): string {
  return join(repoRoot(), '..', 'shared', 'spec');
}
