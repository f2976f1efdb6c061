import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tf, type Tensor } from '../engine/tf.js';
import { HemlockInputError } from '../engine/errors.js';
import { sha256, writeFileAtomic, writeJsonAtomic } from '../engine/files.js';
import { buildModel, type ModelSpec } from './registry.js';
import type { Classifier } from './classifier.js';

export const MODEL_FORMAT = 'hemlock-model/1';

/** model.json: the tfjs weights-manifest layout, plus the spec to rebuild the graph. */
interface ModelJson {
  format: typeof MODEL_FORMAT;
  spec: ModelSpec;
  weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
}

/** manifest.json: what the model is and the sha256 of every file, verified on load. */
export interface ModelManifest {
  format: typeof MODEL_FORMAT;
  spec: ModelSpec;
  files: Record<string, string>;
  createdAt: string;
  extra?: Record<string, unknown>;
}

/** All tensors of a model (parameters and buffers) by name. */
export function modelTensors(model: Classifier): Record<string, Tensor> {
  return { ...model.params, ...model.buffers };
}

/**
 * Saves a model in tfjs weights format (model.json + weights.bin) with a
 * manifest holding the sha256 of both. Files are written atomically; the
 * manifest last, so a directory with a manifest is always complete.
 */
export async function saveModel(model: Classifier, spec: ModelSpec, dir: string, extra?: Record<string, unknown>): Promise<ModelManifest> {
  const { data, specs } = await tf.io.encodeWeights(modelTensors(model));
  const weights = new Uint8Array(data);
  const modelJson: ModelJson = {
    format: MODEL_FORMAT,
    spec,
    weightsManifest: [{ paths: ['weights.bin'], weights: specs }],
  };
  const modelJsonText = JSON.stringify(modelJson, null, 2) + '\n';
  await writeFileAtomic(join(dir, 'weights.bin'), weights);
  await writeFileAtomic(join(dir, 'model.json'), modelJsonText);
  const manifest: ModelManifest = {
    format: MODEL_FORMAT,
    spec,
    files: { 'model.json': sha256(modelJsonText), 'weights.bin': sha256(weights) },
    createdAt: new Date().toISOString(),
    ...(extra ? { extra } : {}),
  };
  await writeJsonAtomic(join(dir, 'manifest.json'), manifest);
  return manifest;
}

function readChecked(dir: string, name: string, expected: string | undefined): Buffer {
  const path = join(dir, name);
  if (!existsSync(path)) throw new HemlockInputError(`${path}: missing model file`);
  const bytes = readFileSync(path);
  if (expected !== undefined && sha256(bytes) !== expected) {
    throw new HemlockInputError(`${path}: sha256 does not match manifest.json (file changed or corrupt)`);
  }
  return bytes;
}

/** Loads a saved model, verifying every file's sha256 and every tensor's name and shape. */
export async function loadModel(dir: string): Promise<{ model: Classifier; spec: ModelSpec; manifest: ModelManifest }> {
  const manifestPath = join(dir, 'manifest.json');
  if (!existsSync(manifestPath)) throw new HemlockInputError(`${manifestPath}: not found (not a hemlock model directory)`);
  let manifest: ModelManifest;
  try {
    manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as ModelManifest;
  } catch (e) {
    throw new HemlockInputError(`${manifestPath}: invalid JSON (${(e as Error).message})`);
  }
  if (manifest.format !== MODEL_FORMAT) throw new HemlockInputError(`${manifestPath}: unknown format '${String(manifest.format)}'`);
  const modelJson = JSON.parse(readChecked(dir, 'model.json', manifest.files?.['model.json']).toString('utf8')) as ModelJson;
  const weightsBytes = readChecked(dir, 'weights.bin', manifest.files?.['weights.bin']);
  const specs = modelJson.weightsManifest.flatMap((g) => g.weights);
  const buffer = new Uint8Array(weightsBytes).buffer as ArrayBuffer;
  const named = tf.io.decodeWeights(buffer, specs);
  const model = buildModel(modelJson.spec, 0);
  try {
    const targets = modelTensors(model) as Record<string, tf.Variable>;
    for (const [name, v] of Object.entries(targets)) {
      const t = named[name];
      if (!t) throw new HemlockInputError(`${join(dir, 'model.json')}: weight '${name}' missing`);
      if (t.shape.join('x') !== v.shape.join('x')) {
        throw new HemlockInputError(`${join(dir, 'model.json')}: weight '${name}' has shape [${t.shape}] but the model needs [${v.shape}]`);
      }
      v.assign(t);
    }
  } finally {
    tf.dispose(Object.values(named));
  }
  return { model, spec: modelJson.spec, manifest };
}
