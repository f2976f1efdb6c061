import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);

/** The folder of an installed package (found from its entry point, since `exports` hides subpaths). */
function packageDir(name: string): string {
  let dir = dirname(require.resolve(name));
  for (;;) {
    const pj = join(dir, 'package.json');
    if (existsSync(pj) && (JSON.parse(readFileSync(pj, 'utf8')) as { name?: string }).name === name) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error(`cannot find the folder of package ${name}`);
    dir = up;
  }
}

export interface VegaBundle {
  /** Minified UMD builds, in load order (vega, vega-lite, vega-embed), safe to put inside <script>. */
  scripts: { name: string; version: string; code: string }[];
}

let cached: VegaBundle | null = null;

/** The Vega, Vega-Lite and vega-embed browser builds from node_modules, to inline into a report (no network). */
export function vegaBundle(): VegaBundle {
  if (cached) return cached;
  const files: [string, string][] = [
    ['vega', 'build/vega.min.js'],
    ['vega-lite', 'build/vega-lite.min.js'],
    ['vega-embed', 'build/vega-embed.min.js'],
  ];
  cached = {
    scripts: files.map(([name, file]) => {
      const dir = packageDir(name);
      const version = (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string }).version;
      // `</script` inside inline code would end the element early.
      const code = readFileSync(join(dir, file), 'utf8').replace(/<\/script/gi, '<\\/script');
      return { name, version, code };
    }),
  };
  return cached;
}
