import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../engine/tf.js';
import { initBackend } from '../../engine/backend.js';
import { Rng } from '../../engine/rng.js';
import { disposeModule } from '../../models/module.js';
import { copyParams, emaUpdate, l2Normalize, projectorHead } from './heads.js';

const BACKEND = process.env.HEMLOCK_TEST_BACKEND ?? 'wasm';

describe(`SSL heads (${BACKEND})`, () => {
  beforeAll(async () => {
    await initBackend(BACKEND);
  });

  it('the projector has `layers` dense layers (batch norm between them when asked) and the right output size', () => {
    const p3 = projectorHead(6, { hidden: 5, out: 4, layers: 3, batchNorm: true }, new Rng(1));
    expect(Object.keys(p3.params).sort()).toEqual(['bn1/beta', 'bn1/gamma', 'bn2/beta', 'bn2/gamma', 'fc1/bias', 'fc1/kernel', 'fc2/bias', 'fc2/kernel', 'fc3/bias', 'fc3/kernel']);
    expect(p3.params['fc3/kernel']!.shape).toEqual([5, 4]);
    const updates: { variable: tf.Variable; value: tf.Tensor }[] = [];
    const y = p3.apply(tf.ones([7, 6]), { training: true, stateUpdates: updates });
    expect(y.shape).toEqual([7, 4]);
    expect(updates).toHaveLength(4); // running mean and variance of two batch norms
    tf.dispose(updates.map((u) => u.value));
    const p1 = projectorHead(6, { hidden: 5, out: 3, layers: 1, batchNorm: false }, new Rng(1));
    expect(Object.keys(p1.params).sort()).toEqual(['fc1/bias', 'fc1/kernel']);
    disposeModule(p3);
    disposeModule(p1);
  });

  it('l2Normalize gives unit rows; emaUpdate moves copies toward the online weights', () => {
    const z = l2Normalize(tf.tensor2d([[3, 4], [0, 2]])).arraySync() as number[][];
    expect(z[0]![0]).toBeCloseTo(0.6, 6);
    expect(z[1]).toEqual([0, 1]);
    const online = projectorHead(2, { hidden: 2, out: 2, layers: 1, batchNorm: false }, new Rng(2));
    const state: Record<string, tf.Variable> = {};
    const target = copyParams(online, 'target', state);
    expect(Object.keys(state)).toEqual(['target/fc1/kernel', 'target/fc1/bias']);
    const before = Array.from(target['fc1/kernel']!.dataSync());
    online.params['fc1/kernel']!.assign(tf.tensor2d([[1, 1], [1, 1]]));
    emaUpdate(target, online.params, 0.75);
    const after = Array.from(target['fc1/kernel']!.dataSync());
    after.forEach((v, i) => expect(v).toBeCloseTo(0.75 * before[i]! + 0.25, 6));
    disposeModule(online);
    tf.dispose(Object.values(target));
  });
});
