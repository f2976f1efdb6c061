/**
 * A backdoor trigger: a pure function on NHWC image arrays in [0,1]. Triggers
 * are kept apart from the attacks that use them (ART style), so BadNets, the
 * no-label backdoors of T3 and the evaluation's triggered test sets stamp the
 * very same pattern, rebuilt from the trigger's config alone.
 */
export type ImageShape = [n: number, height: number, width: number, channels: number];

export interface Trigger {
  /** Short description, e.g. `patch 4×4 checkerboard at bottom-right`. */
  name: string;
  /** The triggered copies of `images` (NHWC, shape `shape`), values in [0,1]. Never mutates its input. */
  apply(images: Float32Array, shape: ImageShape): Float32Array;
}
