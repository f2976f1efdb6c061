import { createReadStream, promises as fsp, type Stats } from 'node:fs';
import { createGunzip } from 'node:zlib';
import { inputError } from '../engine/errors.js';

/** True when `bytes` starts with the gzip magic number 1f 8b. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

function describeFsError(e: unknown): string {
  const code = (e as NodeJS.ErrnoException)?.code;
  switch (code) {
    case 'ENOENT':
      return 'no such file or directory';
    case 'EISDIR':
      return 'is a directory, expected a file';
    case 'ENOTDIR':
      return 'not a directory';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    default:
      return `cannot read (${(e as Error)?.message ?? String(e)})`;
  }
}

/** Rethrows filesystem errors about `path` as HemlockInputError naming it. */
export function fsInputError(path: string, e: unknown): never {
  inputError(path, describeFsError(e));
}

/** Reads a whole file; a missing or unreadable file is a HemlockInputError naming it. */
export async function readFileBytes(path: string): Promise<Uint8Array> {
  try {
    const b = await fsp.readFile(path);
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  } catch (e) {
    fsInputError(path, e);
  }
}

export async function readText(path: string): Promise<string> {
  try {
    return await fsp.readFile(path, 'utf8');
  } catch (e) {
    fsInputError(path, e);
  }
}

export async function statPath(path: string): Promise<Stats> {
  try {
    return await fsp.stat(path);
  } catch (e) {
    fsInputError(path, e);
  }
}

export async function exists(path: string): Promise<boolean> {
  try {
    await fsp.access(path);
    return true;
  } catch {
    return false;
  }
}

/** Reads up to `n` bytes from the start of a file (fewer if the file is shorter). */
export async function readHead(path: string, n: number, position = 0): Promise<Uint8Array> {
  let fh: Awaited<ReturnType<typeof fsp.open>>;
  try {
    fh = await fsp.open(path, 'r');
  } catch (e) {
    fsInputError(path, e);
  }
  try {
    const buf = new Uint8Array(n);
    let got = 0;
    while (got < n) {
      const { bytesRead } = await fh.read(buf, got, n - got, position + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return buf.subarray(0, got);
  } catch (e) {
    fsInputError(path, e);
  } finally {
    await fh.close();
  }
}

/**
 * Streams a gzip file, returning its first `keep` decompressed bytes and the
 * total decompressed size, without holding the whole payload in memory.
 */
export async function gunzipHeadAndSize(path: string, keep: number): Promise<{ head: Uint8Array; size: number }> {
  const chunks: Buffer[] = [];
  let kept = 0;
  let size = 0;
  try {
    await new Promise<void>((resolve, reject) => {
      const src = createReadStream(path);
      const gz = createGunzip();
      src.on('error', (e) => reject(Object.assign(e, { fromFs: true })));
      gz.on('error', reject);
      gz.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (kept < keep) {
          const part = chunk.subarray(0, Math.min(chunk.length, keep - kept));
          chunks.push(Buffer.from(part));
          kept += part.length;
        }
      });
      gz.on('end', () => resolve());
      src.pipe(gz);
    });
  } catch (e) {
    if ((e as { fromFs?: boolean }).fromFs) fsInputError(path, e);
    inputError(path, `corrupt gzip data (${(e as Error).message})`);
  }
  const head = Buffer.concat(chunks);
  return { head: new Uint8Array(head.buffer, head.byteOffset, head.byteLength), size };
}

/** Lists a directory's entries, sorted by name; errors name the directory. */
export async function listDir(dir: string): Promise<import('node:fs').Dirent[]> {
  try {
    const entries = await fsp.readdir(dir, { withFileTypes: true });
    return entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  } catch (e) {
    fsInputError(dir, e);
  }
}

/** Maps `fn` over `items` with at most `limit` calls in flight; results keep input order. */
export async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  });
  await Promise.all(workers);
  return out;
}
