/**
 * Metric definitions of ALGORITHMS.md §0, in one place. Inputs are predicted
 * and true labels as integer arrays; every function is unit-tested on
 * hand-computed cases.
 */

function checkLengths(pred: ArrayLike<number>, truth: ArrayLike<number>): void {
  if (pred.length !== truth.length) throw new RangeError(`metrics: ${pred.length} predictions for ${truth.length} labels`);
}

/** Clean accuracy: fraction of predictions equal to the labels (NaN when empty). */
export function accuracy(pred: ArrayLike<number>, truth: ArrayLike<number>): number {
  checkLengths(pred, truth);
  if (pred.length === 0) return NaN;
  let ok = 0;
  for (let i = 0; i < pred.length; i++) if (pred[i] === truth[i]) ok++;
  return ok / pred.length;
}

/** confusion[t][p] = number of samples of true class t predicted as p. */
export function confusionMatrix(pred: ArrayLike<number>, truth: ArrayLike<number>, numClasses: number): number[][] {
  checkLengths(pred, truth);
  const m = Array.from({ length: numClasses }, () => new Array<number>(numClasses).fill(0));
  for (let i = 0; i < pred.length; i++) {
    const t = truth[i]!;
    const p = pred[i]!;
    if (t < 0 || t >= numClasses || p < 0 || p >= numClasses) throw new RangeError(`metrics: label out of range at ${i}`);
    m[t]![p]!++;
  }
  return m;
}

/** Accuracy within each true class (NaN for a class with no samples). */
export function perClassAccuracy(pred: ArrayLike<number>, truth: ArrayLike<number>, numClasses: number): number[] {
  return confusionMatrix(pred, truth, numClasses).map((row, c) => {
    const n = row.reduce((a, b) => a + b, 0);
    return n === 0 ? NaN : row[c]! / n;
  });
}

/** T1 accuracy drop: CA(clean training) − CA(poisoned training). */
export function accuracyDrop(cleanAccuracy: number, poisonedAccuracy: number): number {
  return cleanAccuracy - poisonedAccuracy;
}

/**
 * Backdoor attack success rate: on the triggered test set, the fraction of
 * samples whose true label ≠ target that are predicted as target. Samples of
 * the target class are excluded from the denominator.
 */
export function attackSuccessRate(predTriggered: ArrayLike<number>, truth: ArrayLike<number>, target: number): number {
  checkLengths(predTriggered, truth);
  let n = 0;
  let hit = 0;
  for (let i = 0; i < truth.length; i++) {
    if (truth[i] === target) continue;
    n++;
    if (predTriggered[i] === target) hit++;
  }
  return n === 0 ? NaN : hit / n;
}

/** Target success (T2, T4): fraction of trials where the target was classified as the adversarial class. */
export function targetSuccess(predictions: ArrayLike<number>, adversarialClass: number): { rate: number; successes: number; trials: number } {
  let successes = 0;
  for (let i = 0; i < predictions.length; i++) if (predictions[i] === adversarialClass) successes++;
  const trials = predictions.length;
  return { rate: trials === 0 ? NaN : successes / trials, successes, trials };
}

/** Cluster consistency rate: fraction of the selected set whose true label is the set's majority label. */
export function clusterConsistencyRate(labelsOfSelected: ArrayLike<number>): { rate: number; majorityLabel: number } {
  const counts = new Map<number, number>();
  for (let i = 0; i < labelsOfSelected.length; i++) counts.set(labelsOfSelected[i]!, (counts.get(labelsOfSelected[i]!) ?? 0) + 1);
  let majorityLabel = -1;
  let best = 0;
  for (const [label, c] of [...counts].sort((a, b) => a[0] - b[0])) if (c > best) [majorityLabel, best] = [label, c];
  return { rate: labelsOfSelected.length === 0 ? NaN : best / labelsOfSelected.length, majorityLabel };
}

/**
 * Wilson score interval for a binomial proportion (95% by default): unlike
 * the normal approximation it stays inside [0,1] and is sensible at 0/n and n/n.
 */
export function wilsonInterval(successes: number, trials: number, z = 1.959963984540054): [number, number] {
  if (trials <= 0) return [0, 1];
  const p = successes / trials;
  const z2 = z * z;
  const denom = 1 + z2 / trials;
  const centre = (p + z2 / (2 * trials)) / denom;
  const half = (z * Math.sqrt((p * (1 - p)) / trials + z2 / (4 * trials * trials))) / denom;
  // At 0/n and n/n the bound is exactly 0 or 1; computing it leaves a rounding residue.
  return [successes === 0 ? 0 : Math.max(0, centre - half), successes === trials ? 1 : Math.min(1, centre + half)];
}

/** Two-sided 97.5% quantiles of Student's t for 1..30 degrees of freedom. */
const T975 = [
  12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11, 2.101,
  2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042,
];

/** Mean and 95% t-interval half-width over seeds (half-width NaN for one value). */
export function meanCI(values: number[]): { mean: number; halfWidth: number; n: number; std: number } {
  const n = values.length;
  if (n === 0) return { mean: NaN, halfWidth: NaN, n, std: NaN };
  const mean = values.reduce((a, b) => a + b, 0) / n;
  if (n === 1) return { mean, halfWidth: NaN, n, std: NaN };
  const variance = values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1);
  const std = Math.sqrt(variance);
  const t = n - 1 <= 30 ? T975[n - 2]! : 1.96;
  return { mean, halfWidth: (t * std) / Math.sqrt(n), n, std };
}

/** Detection rates at a threshold: scores ≥ threshold are flagged as poison. */
export function detectionRates(scores: ArrayLike<number>, isPoison: ArrayLike<boolean | number>, threshold: number): { tpr: number; fpr: number } {
  let tp = 0, fp = 0, pos = 0, neg = 0;
  for (let i = 0; i < scores.length; i++) {
    const flagged = scores[i]! >= threshold;
    if (isPoison[i]) { pos++; if (flagged) tp++; } else { neg++; if (flagged) fp++; }
  }
  return { tpr: pos ? tp / pos : NaN, fpr: neg ? fp / neg : NaN };
}

/**
 * AUROC of detector scores (higher = more suspicious): the probability that a
 * random poison scores above a random clean sample, ties counting ½
 * (Mann–Whitney U with average ranks).
 */
export function auroc(scores: ArrayLike<number>, isPoison: ArrayLike<boolean | number>): number {
  const items = Array.from({ length: scores.length }, (_, i) => ({ s: scores[i]!, p: Boolean(isPoison[i]) }));
  items.sort((a, b) => a.s - b.s);
  let rankSumPos = 0;
  let pos = 0;
  for (let i = 0; i < items.length; ) {
    let j = i;
    while (j < items.length && items[j]!.s === items[i]!.s) j++;
    const avgRank = (i + 1 + j) / 2;
    for (let k = i; k < j; k++) if (items[k]!.p) { rankSumPos += avgRank; pos++; }
    i = j;
  }
  const neg = items.length - pos;
  if (pos === 0 || neg === 0) return NaN;
  return (rankSumPos - (pos * (pos + 1)) / 2) / (pos * neg);
}
