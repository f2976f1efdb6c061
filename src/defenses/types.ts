import type { z } from 'zod';
import type { Rng } from '../engine/rng.js';
import type { Classifier } from '../models/classifier.js';
import type { AttackResult, Fidelity, Modality } from '../attacks/types.js';

/** When a defense acts (SPEC.md §4.5). */
export type DefenseStage = 'pre' | 'in' | 'post';

export interface DefenseCapabilities {
  stage: DefenseStage;
  modality: Modality;
  /** Needs a model trained on the (possibly poisoned) data, e.g. to read features. */
  needsModel: boolean;
  /** Needs a small trusted clean set (fine-tuning, pruning). */
  needsCleanData: boolean;
}

export interface DefenseInfo {
  name: string;
  title: string;
  paper: string;
  capabilities: DefenseCapabilities;
  fidelity: Fidelity;
  fidelityNote: string;
}

/** A pre-processing defense's verdict on an attack result: a score per training sample and what it keeps. */
export interface DetectionResult {
  defense: string;
  /** Suspicion score per sample of the poisoned training set (higher = more suspicious). */
  scores: Float32Array;
  /** Indices the defense keeps for retraining. */
  kept: Int32Array;
}

export interface DetectionDefense<C extends z.ZodType = z.ZodType> {
  info: DefenseInfo;
  configSchema: C;
  detect(artifact: AttackResult, ctx: { model?: Classifier; rng: Rng }, config: z.output<C>): Promise<DetectionResult>;
}
