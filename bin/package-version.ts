// This package's version: in the single executable, the one it was built
// with (its `version` asset); otherwise read from package.json, found by
// walking up from this module, so it works from the sources and from dist/.

import { readFileSync } from 'node:fs';
import { getAsset, isSea } from 'node:sea';

export function packageVersion(): string {
  if (isSea()) return getAsset('version', 'utf8');
  for (let url = new URL('../package.json', import.meta.url), i = 0; i < 5; i++, url = new URL('../package.json', url)) {
    try {
      const pkg = JSON.parse(readFileSync(url, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'clocktower') return pkg.version ?? '0.0.0';
    } catch {
      // not here: look one folder up
    }
  }
  return '0.0.0';
}
