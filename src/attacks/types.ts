import type { z } from 'zod';
import type { ImageDataset } from '../data/dataset.js';
import type { Classifier } from '../models/classifier.js';
import type { Rng } from '../engine/rng.js';

/**
 * The one small interface every attack implements. Capabilities are declared
 * as data (ART-style) so that the runner can refuse an impossible pairing —
 * e.g. a gradient attack without model access, or a pre-training attack in a
 * spec that does no pre-training — when the spec is validated, not an hour in.
 */

export type Modality = 'image' | 'text';

/** Where in the pipeline the attacker acts (SPEC.md §3). */
export type AttackStage =
  /** adds to / edits the unlabeled pre-training set (T2, T3) */
  | 'pretrain-data'
  /** adds to / edits the labelled downstream training set of a frozen encoder (T1) */
  | 'downstream-data'
  /** edits the training set of a model trained from scratch (T4) */
  | 'training-data'
  /** releases poisoned pre-trained weights (T5) */
  | 'weights';

export type ThreatModel = 'T1' | 'T2' | 'T3' | 'T4' | 'T5';

export interface AttackCapabilities {
  /** Needs gradients through the victim's model (white-box). */
  needsGradients: boolean;
  /** Uses the true labels of the data it poisons. */
  needsLabels: boolean;
  /** Controls (part of) the pre-training data or procedure. */
  controlsPretraining: boolean;
  modality: Modality;
  stage: AttackStage;
  threatModel: ThreatModel;
}

/**
 * How far an implementation is known to match its paper: `reproduced` (its
 * headline finding reproduced by a checked-in experiment, numbers in the
 * README), `partial`, or `untested`.
 */
export type Fidelity = 'reproduced' | 'partial' | 'untested';

export interface AttackInfo {
  name: string;
  title: string;
  paper: string;
  capabilities: AttackCapabilities;
  fidelity: Fidelity;
  /** What backs the fidelity label (experiment spec and numbers), or what is missing. */
  fidelityNote: string;
}

/** What an attack may use; fields it did not declare a capability for are absent. */
export interface AttackContext {
  /** The clean training set the attacker poisons (downstream or from-scratch). */
  train: ImageDataset;
  /** Held-out data the attacker may draw targets from (T4: the target comes from the test set). */
  test?: ImageDataset;
  /** The model the attacker differentiates through (needsGradients). */
  model?: Classifier;
  rng: Rng;
}

/**
 * The attack-result artifact (BackdoorBench-style): everything a defense or an
 * evaluation needs, independent of the attack that made it.
 */
export interface AttackResult {
  attack: string;
  config: Record<string, unknown>;
  seed: number;
  /** The full training set as the victim receives it (clean + poisons). */
  poisonedTrain: ImageDataset;
  /** Indices into poisonedTrain of the samples the attacker added or changed. */
  poisonIndices: Int32Array;
  /** Whether poisons were added to (true) or substituted into (false) the clean set. */
  added: boolean;
  /** Per-poison ℓ∞ norm of the perturbation, for attacks that perturb existing images. */
  linfNorms?: Float32Array;
  /** Attack-specific facts: target index, adversarial class, trigger, residuals... */
  details: Record<string, unknown>;
}

export interface Attack<C extends z.ZodType = z.ZodType> {
  info: AttackInfo;
  /** Strict zod schema of the attack's options, with defaults. */
  configSchema: C;
  craft(ctx: AttackContext, config: z.output<C>): Promise<AttackResult>;
}
