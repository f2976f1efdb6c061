// Element-wise and reduction kernels on float32 (see eltwise.cc).
#pragma once

namespace hemlock {

// y[i] = exp(x[i]) for i in [0, n).
void exp_f32(const float* x, float* y, long n, int threads);

// y[i] = Math.max(0, x[i]) as in tfjs's cpu backend: NaN stays NaN, -0 becomes +0.
void relu_f32(const float* x, float* y, long n, int threads);

enum BinaryOp { kAdd = 0, kSub = 1, kMul = 2 };

// out[idx] = a[idx . sa] op b[idx . sb] over an output of shape[0..rank),
// row-major; sa/sb are element strides (0 on a broadcast axis). The
// innermost strides must be 0 or 1.
void binary_f32(int op, const float* a, const float* b, float* out, int rank, const long* shape, const long* sa,
                const long* sb, int threads);

enum ReduceOp { kSum = 0, kMax = 1, kMean = 2 };

// out[o * inner + i] = reduce_m x[(o * mid + m) * inner + i]: sums (and means,
// divided once at the end) accumulate in float64; max propagates NaN (as
// tfjs's cpu backend does).
void reduce_f32(int op, const float* x, float* out, long outer, long mid, long inner, int threads);

enum CompareOp { kEqual = 0, kNotEqual = 1, kGreater = 2, kGreaterEqual = 3, kLess = 4, kLessEqual = 5 };

// out[idx] = a[idx . sa] cmp b[idx . sb] as 0/1 bytes (strides as binary_f32).
void compare_f32(int op, const float* a, const float* b, unsigned char* out, int rank, const long* shape,
                 const long* sa, const long* sb, int threads);

}  // namespace hemlock
