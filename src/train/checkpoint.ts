import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tf, type Tensor, type Variable } from '../engine/tf.js';
import { sha256, writeFileAtomic, writeJsonAtomic } from '../engine/files.js';
import type { Optimizer } from './optimizers.js';

/**
 * Per-epoch training checkpoints shared by the supervised trainer and the SSL
 * pre-trainer: named tensors (parameters, buffers, any extra state such as a
 * momentum encoder or a queue) plus the optimizer's state, and a JSON meta.
 *
 * Layout: `checkpoint-<epoch>.bin` (the weights) and `checkpoint.json` (the
 * meta, naming its weights file and their sha256). The weights go to a fresh
 * file first and the meta is renamed over the old one afterwards, so a kill at
 * any moment leaves either the old complete pair or the new one — never a meta
 * that points at weights of another epoch.
 */
export interface CheckpointMeta<H = unknown, X = unknown> {
  epoch: number;
  history: H[];
  steps: number;
  /** Caller state that is not a tensor (e.g. a queue pointer). */
  extra?: X;
  /** The weights file in the same directory and its sha256 (absent in old checkpoints: checkpoint.bin). */
  weightsFile?: string;
  weightsSha256?: string;
  tensors: tf.io.WeightsManifestEntry[];
}

const OPTIMIZER_PREFIX = 'optimizer:';

export async function saveCheckpoint<H, X>(
  dir: string,
  tensors: Record<string, Tensor>,
  optimizer: Optimizer,
  meta: { epoch: number; history: H[]; steps: number; extra?: X },
): Promise<void> {
  const optWeights = await optimizer.getWeights();
  const named: Record<string, Tensor> = { ...tensors };
  for (const { name, tensor } of optWeights) named[`${OPTIMIZER_PREFIX}${name}`] = tensor;
  const { data, specs } = await tf.io.encodeWeights(named);
  // tfjs optimizers return a fresh `iter` scalar with their (live) slot
  // variables; it is ours to dispose, or every checkpoint leaks one tensor.
  for (const { name, tensor } of optWeights) if (name === 'iter') tensor.dispose();
  const bytes = new Uint8Array(data);
  const weightsFile = `checkpoint-${meta.epoch}.bin`;
  await writeFileAtomic(join(dir, weightsFile), bytes);
  const full: CheckpointMeta<H, X> = { ...meta, weightsFile, weightsSha256: sha256(bytes), tensors: specs };
  await writeJsonAtomic(join(dir, 'checkpoint.json'), full);
  // Older weights files are no longer referenced.
  for (const f of readdirSync(dir)) {
    if (f !== weightsFile && (/^checkpoint-\d+\.bin$/.test(f) || f === 'checkpoint.bin')) rmSync(join(dir, f), { force: true });
  }
}

/**
 * Restores the latest checkpoint in `dir` into `targets` (every tensor in the
 * checkpoint must have a target of the same name) and the optimizer. Returns
 * null when there is none.
 */
export async function loadCheckpoint<H, X>(
  dir: string,
  targets: Record<string, Variable>,
  optimizer: Optimizer,
): Promise<CheckpointMeta<H, X> | null> {
  const metaPath = join(dir, 'checkpoint.json');
  if (!existsSync(metaPath)) return null;
  const meta = JSON.parse(readFileSync(metaPath, 'utf8')) as CheckpointMeta<H, X>;
  const weightsPath = join(dir, meta.weightsFile ?? 'checkpoint.bin');
  if (!existsSync(weightsPath)) return null;
  const bytes = readFileSync(weightsPath);
  if (meta.weightsSha256 && sha256(bytes) !== meta.weightsSha256) {
    throw new Error(`checkpoint ${weightsPath}: sha256 does not match checkpoint.json (corrupt checkpoint; delete ${dir} to start over)`);
  }
  const named = tf.io.decodeWeights(new Uint8Array(bytes).buffer as ArrayBuffer, meta.tensors);
  const optWeights: { name: string; tensor: Tensor }[] = [];
  try {
    for (const [name, t] of Object.entries(named)) {
      if (name.startsWith(OPTIMIZER_PREFIX)) {
        optWeights.push({ name: name.slice(OPTIMIZER_PREFIX.length), tensor: t });
        continue;
      }
      const v = targets[name];
      if (!v) throw new Error(`checkpoint ${dir}: unknown tensor ${name}`);
      if (v.shape.join('x') !== t.shape.join('x')) throw new Error(`checkpoint ${dir}: tensor ${name} has shape [${t.shape}], expected [${v.shape}]`);
      v.assign(t);
      t.dispose();
    }
  } catch (e) {
    tf.dispose(Object.values(named));
    throw e;
  }
  // tfjs optimizers adopt the tensors passed to setWeights as their state.
  await optimizer.setWeights(optWeights);
  return meta;
}
