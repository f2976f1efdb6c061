#include "conv.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "gemm.h"
#include "pool.h"

namespace hemlock {
namespace {

// Odometers over the im2col indices: the next tap (kh, kw) in HWIO order and
// the next output pixel (n, oh, ow); pixel() splits a flat pixel index.
inline void next_tap(long& kh, long& kw, const ConvDims& d) {
  if (++kw == d.KW) {
    kw = 0;
    ++kh;
  }
}

inline void next_pixel(long& n, long& oh, long& ow, const ConvDims& d) {
  if (++ow == d.OW) {
    ow = 0;
    if (++oh == d.OH) {
      oh = 0;
      ++n;
    }
  }
}

inline void pixel(long p, const ConvDims& d, long& n, long& oh, long& ow) {
  const long ohw = d.OH * d.OW;
  n = p / ohw;
  const long rem = p - n * ohw;
  oh = rem / d.OW;
  ow = rem - oh * d.OW;
}

// im2col as the A operand of the forward conv: row p = pixel (n, oh, ow) of
// the output, column k = tap (kh, kw, ci) in HWIO filter order, so that
// y[P, CO] = A[P, K] . w[K, CO] with w used as stored.
struct Im2colA final : ASource {
  const float* x;
  ConvDims d;
  Im2colA(const float* x_, const ConvDims& d_) : x(x_), d(d_) {}
  void pack(float* dst, long i0, int mr, long p0, int kc) const override {
    if (d.C < 16) {
      pack_few_channels(dst, i0, mr, p0, kc);
      return;
    }
    const long kend = p0 + kc;
    for (int r = 0; r < mr; r++) {
      const long p = i0 + r;
      long n, oh, ow;
      pixel(p, d, n, oh, ow);
      const float* xn = x + n * d.H * d.W * d.C;
      long k = p0;
      const long tap = k / d.C;
      long ci = k - tap * d.C, kh = tap / d.KW, kw = tap - kh * d.KW;
      while (k < kend) {
        // One run of consecutive channels under one tap: contiguous in x.
        const long run = std::min(d.C - ci, kend - k);
        const long ih = oh * d.sh + kh * d.dh - d.pt, iw = ow * d.sw + kw * d.dw - d.pl;
        float* o = dst + (k - p0) * MR + r;
        if (ih >= 0 && ih < d.H && iw >= 0 && iw < d.W) {
          const float* s = xn + (ih * d.W + iw) * d.C + ci;
          for (long t = 0; t < run; t++) o[t * MR] = s[t];
        } else {
          for (long t = 0; t < run; t++) o[t * MR] = 0.0f;
        }
        k += run;
        ci = 0;
        next_tap(kh, kw, d);
      }
    }
    for (int r = mr; r < MR; r++)
      for (int p = 0; p < kc; p++) dst[p * MR + r] = 0.0f;
  }

  // With few channels the channel runs above are 1-15 long and their loop
  // overhead dominates (layer 1 of ConvNet-S, C = 1: 4.4 ns per element).
  // Here the row geometry is computed once per panel and each tap column is
  // a gather over the MR rows, written contiguously.
  void pack_few_channels(float* dst, long i0, int mr, long p0, int kc) const {
    long base[MR], ih0[MR], iw0[MR];
    for (int r = 0; r < mr; r++) {
      const long p = i0 + r;
      long n, oh, ow;
      pixel(p, d, n, oh, ow);
      base[r] = n * d.H * d.W * d.C;
      ih0[r] = oh * d.sh - d.pt;
      iw0[r] = ow * d.sw - d.pl;
    }
    const long tap = p0 / d.C;
    long ci = p0 - tap * d.C, kh = tap / d.KW, kw = tap - kh * d.KW;
    for (int pp = 0; pp < kc; pp++) {
      float* o = dst + static_cast<long>(pp) * MR;
      const long dh = kh * d.dh, dw = kw * d.dw;
      for (int r = 0; r < mr; r++) {
        const long ih = ih0[r] + dh, iw = iw0[r] + dw;
        o[r] = (ih >= 0 && ih < d.H && iw >= 0 && iw < d.W) ? x[base[r] + (ih * d.W + iw) * d.C + ci] : 0.0f;
      }
      for (int r = mr; r < MR; r++) o[r] = 0.0f;
      if (++ci == d.C) {
        ci = 0;
        next_tap(kh, kw, d);
      }
    }
  }
};

// The same im2col matrix as the B operand (rows = pixels, the GEMM's K
// dimension; columns = taps): for the filter gradient
// dw^T[CO, K] = dy^T[CO, P] . im2col[P, K]. Each packed row is a few
// contiguous channel runs of x.
// Packs rows p0..p0+kc of im2col restricted to columns j0..j0+nr into rows
// of width `width` (NR for a B panel, MR for an A panel of im2col^T).
inline void pack_im2col_rows(const float* x, const ConvDims& d, float* dst, int width, long j0, int nr, long p0,
                             int kc) {
  if (d.C < 16) {
    // Few channels: the runs below would be 1-15 floats each; precompute the
    // tap geometry of the nr columns once and gather element by element.
    long offh[MR > NR ? MR : NR], offw[MR > NR ? MR : NR], chan[MR > NR ? MR : NR];
    for (int t = 0; t < nr; t++) {
      const long j = j0 + t, tap = j / d.C, kh = tap / d.KW;
      chan[t] = j - tap * d.C;
      offh[t] = kh * d.dh;
      offw[t] = (tap - kh * d.KW) * d.dw;
    }
    long n, oh, ow;
    pixel(p0, d, n, oh, ow);
    for (int pp = 0; pp < kc; pp++) {
      float* row = dst + static_cast<long>(pp) * width;
      const float* xn = x + n * d.H * d.W * d.C;
      const long ih0 = oh * d.sh - d.pt, iw0 = ow * d.sw - d.pl;
      for (int t = 0; t < nr; t++) {
        const long ih = ih0 + offh[t], iw = iw0 + offw[t];
        row[t] = (ih >= 0 && ih < d.H && iw >= 0 && iw < d.W) ? xn[(ih * d.W + iw) * d.C + chan[t]] : 0.0f;
      }
      for (int t = nr; t < width; t++) row[t] = 0.0f;
      next_pixel(n, oh, ow, d);
    }
    return;
  }
  {
    long n, oh, ow;
    pixel(p0, d, n, oh, ow);
    const long tap0 = j0 / d.C;
    const long ci0 = j0 - tap0 * d.C, kh0 = tap0 / d.KW, kw0 = tap0 - kh0 * d.KW;
    for (int pp = 0; pp < kc; pp++) {
      float* row = dst + static_cast<long>(pp) * width;
      const float* xn = x + n * d.H * d.W * d.C;
      long j = j0, ci = ci0, kh = kh0, kw = kw0;
      const long jend = j0 + nr;
      while (j < jend) {
        const long run = std::min(d.C - ci, jend - j);
        const long ih = oh * d.sh + kh * d.dh - d.pt, iw = ow * d.sw + kw * d.dw - d.pl;
        float* o = row + (j - j0);
        if (ih >= 0 && ih < d.H && iw >= 0 && iw < d.W) {
          const float* src = xn + (ih * d.W + iw) * d.C + ci;
          if (run >= 16) {
            std::memcpy(o, src, sizeof(float) * run);
          } else {
            for (long t = 0; t < run; t++) o[t] = src[t];  // a call per 1-15 floats costs more than the copy
          }
        } else {
          for (long t = 0; t < run; t++) o[t] = 0.0f;
        }
        j += run;
        ci = 0;
        next_tap(kh, kw, d);
      }
      for (int t = nr; t < width; t++) row[t] = 0.0f;
      next_pixel(n, oh, ow, d);
    }
  }
}

struct Im2colB final : BSource {
  const float* x;
  ConvDims d;
  Im2colB(const float* x_, const ConvDims& d_) : x(x_), d(d_) {}
  void pack(float* dst, long j0, int nr, long p0, int kc) const override {
    pack_im2col_rows(x, d, dst, NR, j0, nr, p0, kc);
  }
};

// im2col^T as an A operand (rows = taps, columns = pixels): A(k, p) =
// im2col(p, k), for dw[K, CO] = im2col^T[K, P] . dy[P, CO]. An A panel
// column is MR consecutive taps of one pixel, so it packs the same way.
struct Im2colTA final : ASource {
  const float* x;
  ConvDims d;
  Im2colTA(const float* x_, const ConvDims& d_) : x(x_), d(d_) {}
  void pack(float* dst, long i0, int mr, long p0, int kc) const override {
    pack_im2col_rows(x, d, dst, MR, i0, mr, p0, kc);
  }
};

// Fraction of a GEMM's micro-tiles that is real work for an m x n result.
double tile_efficiency(long m, long n) {
  const double em = double(m) / (double((m + MR - 1) / MR) * MR);
  const double en = double(n) / (double((n + NR - 1) / NR) * NR);
  return em * en;
}

}  // namespace

void conv2d(const float* x, const float* w, float* y, const ConvDims& d, int threads) {
  const long P = d.N * d.OH * d.OW, K = d.KH * d.KW * d.C;
  MatB B(w, d.CO, false);
  if (d.KH == 1 && d.KW == 1 && d.sh == 1 && d.sw == 1 && d.pt == 0 && d.pl == 0 && d.OH == d.H && d.OW == d.W) {
    // 1x1, stride 1, no padding: x itself is the im2col matrix.
    MatA A(x, d.C, false);
    gemm(P, d.CO, K, A, B, y, d.CO, false, threads);
    return;
  }
  Im2colA A(x, d);
  gemm(P, d.CO, K, A, B, y, d.CO, false, threads);
}

void conv2d_backprop_filter(const float* x, const float* dy, float* dw, const ConvDims& d, int threads) {
  const long P = d.N * d.OH * d.OW, K = d.KH * d.KW * d.C;
  // Two arrangements; both pack from contiguous runs (rows of dy, channel
  // runs of x), and the GEMM splits P (its K dimension) across threads and
  // adds the partial results. Pick the one whose micro-tiles are fuller:
  //   dw[K, CO]   = im2col^T[K, P] . dy[P, CO]   (layer 1: K = 9, CO = 32)
  //   dw^T[CO, K] = dy^T[CO, P] . im2col[P, K]   (then transposed; K = 288..)
  if (tile_efficiency(K, d.CO) >= tile_efficiency(d.CO, K)) {
    Im2colTA A(x, d);
    MatB B(dy, d.CO, false);
    gemm(K, d.CO, P, A, B, dw, d.CO, false, threads);
    return;
  }
  MatA A(dy, d.CO, true);
  Im2colB B(x, d);
  std::vector<float> t(static_cast<size_t>(d.CO) * K);
  gemm(d.CO, K, P, A, B, t.data(), K, false, threads);
  for (long k = 0; k < K; k++)
    for (long co = 0; co < d.CO; co++) dw[k * d.CO + co] = t[co * K + k];
}

void conv2d_backprop_input(const float* dy, const float* w, float* dx, const ConvDims& d, int threads) {
  const long K = d.KH * d.KW * d.C, ohw = d.OH * d.OW, hwc = d.H * d.W * d.C;
  // cols[P, K] = dy[P, CO] . w^T[CO, K], then col2im adds each column block
  // into the dx pixel its tap reads. w^T is made once so that packing it is a
  // row copy.
  std::vector<float> wt(static_cast<size_t>(K) * d.CO);
  for (long k = 0; k < K; k++)
    for (long co = 0; co < d.CO; co++) wt[co * K + k] = w[k * d.CO + co];
  MatB B(wt.data(), K, false);
  // Images are split between threads, so every dx pixel is written by one
  // thread only; each thread works through its rows in chunks of ~1024 so the
  // cols block stays in L2.
  const int T = static_cast<int>(std::max(1L, std::min<long>(std::min(threads, pool_threads()), d.N)));
  const long chunk = std::max(1L, std::min<long>(1024, d.N * ohw));
  parallel_for(T, [&](int t, int) {
    const long n0 = d.N * t / T, n1 = d.N * (t + 1) / T;
    if (n0 >= n1) return;
    std::fill(dx + n0 * hwc, dx + n1 * hwc, 0.0f);
    thread_local std::vector<float> cols;
    cols.resize(static_cast<size_t>(chunk) * K);
    for (long r0 = n0 * ohw; r0 < n1 * ohw; r0 += chunk) {
      const long r1 = std::min(n1 * ohw, r0 + chunk);
      MatA A(dy + r0 * d.CO, d.CO, false);
      gemm_serial(0, r1 - r0, 0, K, 0, d.CO, A, B, cols.data(), K, false);
      long n, oh, ow;
      pixel(r0, d, n, oh, ow);
      for (long p = r0; p < r1; p++) {
        const float* src = cols.data() + (p - r0) * K;
        float* dxn = dx + n * hwc;
        for (long kh = 0; kh < d.KH; kh++) {
          const long ih = oh * d.sh + kh * d.dh - d.pt;
          if (ih < 0 || ih >= d.H) continue;
          for (long kw = 0; kw < d.KW; kw++) {
            const long iw = ow * d.sw + kw * d.dw - d.pl;
            if (iw < 0 || iw >= d.W) continue;
            float* o = dxn + (ih * d.W + iw) * d.C;
            const float* s = src + (kh * d.KW + kw) * d.C;
            for (long c = 0; c < d.C; c++) o[c] += s[c];
          }
        }
        next_pixel(n, oh, ow, d);
      }
    }
  });
}

}  // namespace hemlock
