// NHWC convolutions (filter HWIO) as GEMMs over im2col sources that read the
// input directly (the im2col matrix is never stored whole).
#pragma once

namespace hemlock {

struct ConvDims {
  long N, H, W, C;     // input x [N,H,W,C]
  long KH, KW, CO;     // filter [KH,KW,C,CO]
  long OH, OW;         // output y [N,OH,OW,CO]
  long sh, sw;         // strides
  long dh, dw;         // dilations
  long pt, pl;         // top / left padding (bottom / right follow from OH, OW)
};

// y = conv2d(x, w)
void conv2d(const float* x, const float* w, float* y, const ConvDims& d, int threads);
// dx = d(sum y*dy)/dx = conv2dBackpropInput(dy, w); dx is overwritten
void conv2d_backprop_input(const float* dy, const float* w, float* dx, const ConvDims& d, int threads);
// dw = conv2dBackpropFilter(x, dy); dw is overwritten
void conv2d_backprop_filter(const float* x, const float* dy, float* dw, const ConvDims& d, int threads);

}  // namespace hemlock
