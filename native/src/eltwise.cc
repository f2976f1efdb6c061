// Element-wise kernels for W4-like workloads: tfjs-backend-wasm runs Exp as a
// scalar libm loop (~23 ns per element, 13.7 ms of CPU for W4's [60000,10]
// logits) and broadcasting Add/Sub/Mul through a generic per-element index
// computation (6.1 ms for [60000,10] x [60000,1]); AVX-512 does both at
// memory speed. No -ffast-math: NaN and +-Inf behave as IEEE says.
#include "eltwise.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "pool.h"

namespace hemlock {
namespace {

// Splits [0, n) into up to `threads` contiguous tasks when n is large enough
// for a parallel region (~5 us to wake a worker) to pay off.
template <typename F>
void split(long n, long min_per_task, int threads, F body) {
  const int T = std::max(1, std::min<int>(threads, pool_threads()));
  const long tasks = std::min<long>(T, std::max<long>(1, n / min_per_task));
  if (tasks <= 1) {
    body(0L, n);
    return;
  }
  const long chunk = (n + tasks - 1) / tasks;
  parallel_for(static_cast<int>(tasks), [&](int t, int) {
    const long i0 = std::min(n, t * chunk), i1 = std::min(n, (t + 1) * chunk);
    if (i0 < i1) body(i0, i1);
  });
}

#if defined(__AVX512F__)
// exp(x) = 2^k * exp(r), k = round(x / ln 2), r = x - k ln 2 in [-ln2/2, ln2/2],
// exp(r) by its Taylor polynomial of degree 7 (truncation error < 6e-9,
// below float32 rounding). ln 2 is split in two (Cody-Waite) so r is exact
// enough. scalef computes p * 2^k with correct overflow to +Inf and gradual
// underflow to 0. Inputs are clamped to [-104, 89] first (exp is 0 / Inf
// beyond in float32); max/min are ordered so a NaN input passes through.
inline __m512 exp512(__m512 x) {
  x = _mm512_min_ps(_mm512_set1_ps(89.0f), _mm512_max_ps(_mm512_set1_ps(-104.0f), x));
  const __m512 k = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(k, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(k, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.0f / 5040);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 720));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  return _mm512_scalef_ps(p, k);
}
#endif

inline float apply(int op, float x, float y) { return op == kAdd ? x + y : op == kSub ? x - y : x * y; }

#if defined(__AVX512F__)
inline __m512 apply512(int op, __m512 x, __m512 y) {
  return op == kAdd ? _mm512_add_ps(x, y) : op == kSub ? _mm512_sub_ps(x, y) : _mm512_mul_ps(x, y);
}
#endif

// One innermost run of n outputs; ia/ib are 0 (broadcast) or 1.
template <int OP>
inline void run(const float* a, long ia, const float* b, long ib, float* o, long n) {
#if defined(__AVX512F__)
  long i = 0;
  const __m512 as = _mm512_set1_ps(a[0]), bs = _mm512_set1_ps(b[0]);
  for (; i + 16 <= n; i += 16) {
    const __m512 x = ia ? _mm512_loadu_ps(a + i) : as;
    const __m512 y = ib ? _mm512_loadu_ps(b + i) : bs;
    _mm512_storeu_ps(o + i, apply512(OP, x, y));
  }
  if (i < n) {
    const __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1);
    const __m512 x = ia ? _mm512_maskz_loadu_ps(m, a + i) : as;
    const __m512 y = ib ? _mm512_maskz_loadu_ps(m, b + i) : bs;
    _mm512_mask_storeu_ps(o + i, m, apply512(OP, x, y));
  }
#else
  for (long i = 0; i < n; i++) o[i] = apply(OP, a[i * ia], b[i * ib]);
#endif
}

// Walks the outer rows of a broadcast [.., inner] result, split over threads:
// row(r, ar, br) for each row r, with ar/br the start of its operand rows.
template <typename Row>
void broadcast_rows(const float* a, const float* b, int rank, const long* shape, const long* sa, const long* sb,
                    int threads, Row row) {
  const long inner = shape[rank - 1];
  long outer = 1;
  for (int d = 0; d < rank - 1; d++) outer *= shape[d];
  split(outer, std::max<long>(1, 32768 / std::max<long>(1, inner)), threads, [&](long r0, long r1) {
    // Offsets of row r0, then advanced like an odometer over the outer axes.
    long idx[8] = {0}, oa = 0, ob = 0;
    long rem = r0;
    for (int d = rank - 2; d >= 0; d--) {
      idx[d] = rem % shape[d];
      rem /= shape[d];
      oa += idx[d] * sa[d];
      ob += idx[d] * sb[d];
    }
    for (long r = r0; r < r1; r++) {
      row(r, a + oa, b + ob);
      for (int d = rank - 2; d >= 0; d--) {
        oa += sa[d];
        ob += sb[d];
        if (++idx[d] < shape[d]) break;
        oa -= idx[d] * sa[d];
        ob -= idx[d] * sb[d];
        idx[d] = 0;
      }
    }
  });
}

template <int OP>
void binary_t(const float* a, const float* b, float* out, int rank, const long* shape, const long* sa, const long* sb,
              int threads) {
  const long inner = shape[rank - 1];
  const long ia = sa[rank - 1], ib = sb[rank - 1];
  broadcast_rows(a, b, rank, shape, sa, sb, threads, [&](long r, const float* ar, const float* br) {
    run<OP>(ar, ia, br, ib, out + r * inner, inner);
  });
}

}  // namespace

void exp_f32(const float* x, float* y, long n, int threads) {
  split(n, 1L << 16, threads, [&](long i0, long i1) {
#if defined(__AVX512F__)
    long i = i0;
    for (; i + 16 <= i1; i += 16) _mm512_storeu_ps(y + i, exp512(_mm512_loadu_ps(x + i)));
    if (i < i1) {
      const __mmask16 m = static_cast<__mmask16>((1u << (i1 - i)) - 1);
      _mm512_mask_storeu_ps(y + i, m, exp512(_mm512_maskz_loadu_ps(m, x + i)));
    }
#else
    for (long i = i0; i < i1; i++) y[i] = std::exp(x[i]);
#endif
  });
}

void relu_f32(const float* x, float* y, long n, int threads) {
  split(n, 1L << 16, threads, [&](long i0, long i1) {
#if defined(__AVX512F__)
    // max_ps returns its second operand when either is NaN or both are
    // zeros, so max(0, x) keeps NaN; adding +0 then turns -0 into +0. That
    // is Math.max(0, x), what tfjs's cpu backend computes.
    const __m512 z = _mm512_setzero_ps();
    auto relu = [&](__m512 v) { return _mm512_add_ps(_mm512_max_ps(z, v), z); };
    long i = i0;
    for (; i + 16 <= i1; i += 16) _mm512_storeu_ps(y + i, relu(_mm512_loadu_ps(x + i)));
    if (i < i1) {
      const __mmask16 m = static_cast<__mmask16>((1u << (i1 - i)) - 1);
      _mm512_mask_storeu_ps(y + i, m, relu(_mm512_maskz_loadu_ps(m, x + i)));
    }
#else
    for (long i = i0; i < i1; i++) y[i] = x[i] < 0 ? 0.0f : x[i] + 0.0f;
#endif
  });
}

void binary_f32(int op, const float* a, const float* b, float* out, int rank, const long* shape, const long* sa,
                const long* sb, int threads) {
  if (op == kAdd) binary_t<kAdd>(a, b, out, rank, shape, sa, sb, threads);
  else if (op == kSub) binary_t<kSub>(a, b, out, rank, shape, sa, sb, threads);
  else binary_t<kMul>(a, b, out, rank, shape, sa, sb, threads);
}

void reduce_f32(int op, const float* x, float* out, long outer, long mid, long inner, int threads) {
  if (inner == 1) {
    // Reductions over the last axis: one value per row.
    split(outer, std::max<long>(1, 65536 / std::max<long>(1, mid)), threads, [&](long r0, long r1) {
      for (long r = r0; r < r1; r++) {
        const float* xr = x + r * mid;
        if (op != kMax) {
          double s = 0;
          for (long m = 0; m < mid; m++) s += xr[m];
          out[r] = static_cast<float>(op == kMean ? s / mid : s);
        } else {
          float v = xr[0];
          for (long m = 1; m < mid && !std::isnan(v); m++)
            if (std::isnan(xr[m]) || xr[m] > v) v = xr[m];
          out[r] = v;
        }
      }
    });
    return;
  }
  // Reductions over a middle/leading axis (bias gradients: [P, C] -> [C]).
  // Rows of `mid` are split between tasks, each with a private float64 (or
  // float32 for max) accumulator row; partials are combined in task order,
  // so the result depends only on the thread count.
  for (long o = 0; o < outer; o++) {
    const float* xo = x + o * mid * inner;
    float* oo = out + o * inner;
    const int T = std::max(1, std::min<int>(threads, pool_threads()));
    const long tasks = std::min<long>(T, std::max<long>(1, mid * inner / 65536));
    const long chunk = (mid + tasks - 1) / tasks;
    std::vector<double> acc(static_cast<size_t>(tasks) * inner);
    auto body = [&](long t) {
      const long m0 = std::min(mid, t * chunk), m1 = std::min(mid, (t + 1) * chunk);
      double* at = acc.data() + t * inner;
      if (op != kMax) {
        std::fill(at, at + inner, 0.0);
        for (long m = m0; m < m1; m++) {
          const float* xm = xo + m * inner;
          for (long i = 0; i < inner; i++) at[i] += xm[i];
        }
      } else {
        for (long i = 0; i < inner; i++) at[i] = m0 < m1 ? xo[m0 * inner + i] : -INFINITY;
        for (long m = m0 + 1; m < m1; m++) {
          const float* xm = xo + m * inner;
          for (long i = 0; i < inner; i++)
            if (!std::isnan(at[i]) && (std::isnan(xm[i]) || xm[i] > at[i])) at[i] = xm[i];
        }
      }
    };
    if (tasks == 1) body(0);
    else parallel_for(static_cast<int>(tasks), [&](int t, int) { body(t); });
    for (long i = 0; i < inner; i++) {
      double v = acc[i];
      for (long t = 1; t < tasks; t++) {
        const double w = acc[t * inner + i];
        if (op != kMax) v += w;
        else if (!std::isnan(v) && (std::isnan(w) || w > v)) v = w;
      }
      oo[i] = static_cast<float>(op == kMean ? v / mid : v);
    }
  }
}

namespace {
template <int OP>
inline bool cmp1(float x, float y) {
  return OP == kEqual ? x == y : OP == kNotEqual ? x != y : OP == kGreater ? x > y : OP == kGreaterEqual ? x >= y
         : OP == kLess ? x < y : x <= y;
}

template <int OP>
void compare_t(const float* a, const float* b, unsigned char* out, int rank, const long* shape, const long* sa,
               const long* sb, int threads) {
  const long inner = shape[rank - 1];
  const long ia = sa[rank - 1], ib = sb[rank - 1];
  broadcast_rows(a, b, rank, shape, sa, sb, threads, [&](long r, const float* ar, const float* br) {
    unsigned char* orow = out + r * inner;
    for (long i = 0; i < inner; i++) orow[i] = cmp1<OP>(ar[i * ia], br[i * ib]) ? 1 : 0;
  });
}
}  // namespace

void compare_f32(int op, const float* a, const float* b, unsigned char* out, int rank, const long* shape,
                 const long* sa, const long* sb, int threads) {
  switch (op) {
    case kEqual: return compare_t<kEqual>(a, b, out, rank, shape, sa, sb, threads);
    case kNotEqual: return compare_t<kNotEqual>(a, b, out, rank, shape, sa, sb, threads);
    case kGreater: return compare_t<kGreater>(a, b, out, rank, shape, sa, sb, threads);
    case kGreaterEqual: return compare_t<kGreaterEqual>(a, b, out, rank, shape, sa, sb, threads);
    case kLess: return compare_t<kLess>(a, b, out, rank, shape, sa, sb, threads);
    default: return compare_t<kLessEqual>(a, b, out, rank, shape, sa, sb, threads);
  }
}

}  // namespace hemlock
