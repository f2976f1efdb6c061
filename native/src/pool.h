// A small persistent thread pool for the native kernels.
//
// Why persistent: a W1 training step calls ~20 heavy kernels; starting
// threads per call would cost ~50-100 us each. Workers sleep on a condition
// variable between calls (no spinning), so they do not compete with the wasm
// backend's own pthread pool, which runs between our calls.
#pragma once
#include <functional>

namespace hemlock {

// Total threads used by parallel regions, including the calling thread.
int pool_threads();
// Sets the total thread count (>= 1). Joins or starts workers as needed.
void set_pool_threads(int n);
// Runs fn(task, worker) for task in [0, ntasks), worker in [0, pool_threads()).
// The caller is worker 0 and takes tasks too. Blocks until every task is
// done. Calls from several threads at once are serialised; fn must not call
// parallel_for itself (nested regions would deadlock: run them serially). A task that throws
// has its exception rethrown here after every task has finished.
void parallel_for(int ntasks, const std::function<void(int task, int worker)>& fn);

}  // namespace hemlock
