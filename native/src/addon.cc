// N-API entry points. Every kernel takes Float32Arrays that view the tfjs
// wasm backend's heap (a WebAssembly.Memory buffer, shared or not) and works
// on them in place, synchronously, on the calling (main) thread plus the pool.
// Sizes are checked against the arrays' lengths here, so a wrong shape from
// JavaScript throws instead of writing outside the tensors.
#include <node_api.h>

#include <cstdint>
#include <exception>
#include <string>
#include <vector>

#include "conv.h"
#include "eltwise.h"
#include "gemm.h"
#include "pool.h"

namespace {

using hemlock::ConvDims;

struct JsError {
  std::string msg;
};

void check(napi_env env, napi_status s, const char* what) {
  if (s != napi_ok) throw JsError{std::string("napi call failed: ") + what};
}

// A typed array of element type T, checked to be of kind Kind and attached.
template <typename T>
struct Typed {
  T* data;
  size_t length;
};
using F32 = Typed<float>;
using U8 = Typed<unsigned char>;

template <typename T, napi_typedarray_type Kind>
Typed<T> typed(napi_env env, napi_value v, const char* name, const char* expected) {
  bool is_ta = false;
  check(env, napi_is_typedarray(env, v, &is_ta), "is_typedarray");
  if (!is_ta) throw JsError{std::string(name) + ": expected a " + expected};
  napi_typedarray_type type;
  size_t length = 0;
  void* data = nullptr;
  napi_value ab;
  size_t offset = 0;
  check(env, napi_get_typedarray_info(env, v, &type, &length, &data, &ab, &offset), "get_typedarray_info");
  if (type != Kind) throw JsError{std::string(name) + ": expected a " + expected};
  if (length > 0 && data == nullptr) throw JsError{std::string(name) + ": detached buffer"};
  return {static_cast<T*>(data), length};
}

F32 f32(napi_env env, napi_value v, const char* name) {
  return typed<float, napi_float32_array>(env, v, name, "Float32Array");
}

U8 u8(napi_env env, napi_value v, const char* name) {
  return typed<unsigned char, napi_uint8_array>(env, v, name, "Uint8Array");
}

long integer(napi_env env, napi_value v, const char* name) {
  int64_t x = 0;
  if (napi_get_value_int64(env, v, &x) != napi_ok) throw JsError{std::string(name) + ": expected a number"};
  return static_cast<long>(x);
}

bool boolean(napi_env env, napi_value v, const char* name) {
  bool b = false;
  if (napi_get_value_bool(env, v, &b) != napi_ok) throw JsError{std::string(name) + ": expected a boolean"};
  return b;
}

void need(const F32& a, long n, const char* name) {
  if (n < 0 || static_cast<size_t>(n) > a.length)
    throw JsError{std::string(name) + ": array has " + std::to_string(a.length) + " elements, the shapes need " +
                  std::to_string(n)};
}

template <size_t N>
void args(napi_env env, napi_callback_info info, napi_value (&argv)[N]) {
  size_t argc = N;
  check(env, napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr), "get_cb_info");
  if (argc < N) throw JsError{"expected " + std::to_string(N) + " arguments, got " + std::to_string(argc)};
}

// Runs body, turning C++ exceptions into JavaScript errors.
template <typename F>
napi_value guarded(napi_env env, F body) {
  try {
    return body();
  } catch (const JsError& e) {
    napi_throw_error(env, "HEMLOCK_NATIVE", e.msg.c_str());
  } catch (const std::exception& e) {
    napi_throw_error(env, "HEMLOCK_NATIVE", e.what());
  } catch (...) {
    napi_throw_error(env, "HEMLOCK_NATIVE", "unknown native error");
  }
  return nullptr;
}

napi_value undefined(napi_env env) {
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

napi_value Info(napi_env env, napi_callback_info) {
  return guarded(env, [&] {
    napi_value o, v;
    check(env, napi_create_object(env, &o), "create_object");
    check(env, napi_create_string_utf8(env, hemlock::kIsa, NAPI_AUTO_LENGTH, &v), "string");
    check(env, napi_set_named_property(env, o, "isa", v), "set");
    check(env, napi_create_int32(env, hemlock::pool_threads(), &v), "int");
    check(env, napi_set_named_property(env, o, "threads", v), "set");
    check(env, napi_create_int32(env, hemlock::MR, &v), "int");
    check(env, napi_set_named_property(env, o, "mr", v), "set");
    check(env, napi_create_int32(env, hemlock::NR, &v), "int");
    check(env, napi_set_named_property(env, o, "nr", v), "set");
    return o;
  });
}

napi_value SetThreads(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    napi_value argv[1];
    args(env, info, argv);
    const long n = integer(env, argv[0], "threads");
    if (n < 1 || n > 256) throw JsError{"threads: expected 1..256, got " + std::to_string(n)};
    hemlock::set_pool_threads(static_cast<int>(n));
    return undefined(env);
  });
}

// matmul(a, b, c, batch, m, n, k, transA, transB, strideA, strideB)
napi_value Matmul(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    napi_value argv[11];
    args(env, info, argv);
    F32 a = f32(env, argv[0], "a"), b = f32(env, argv[1], "b"), c = f32(env, argv[2], "c");
    const long batch = integer(env, argv[3], "batch"), m = integer(env, argv[4], "m"), n = integer(env, argv[5], "n"),
               k = integer(env, argv[6], "k");
    const bool ta = boolean(env, argv[7], "transA"), tb = boolean(env, argv[8], "transB");
    const long sa = integer(env, argv[9], "strideA"), sb = integer(env, argv[10], "strideB");
    if (batch < 0 || m < 0 || n < 0 || k < 0 || sa < 0 || sb < 0) throw JsError{"matmul: negative size"};
    if (batch == 0 || m == 0 || n == 0) return undefined(env);
    need(a, (batch - 1) * sa + m * k, "a");
    need(b, (batch - 1) * sb + k * n, "b");
    need(c, batch * m * n, "c");
    hemlock::matmul(batch, m, n, k, a.data, sa, ta, b.data, sb, tb, c.data, hemlock::pool_threads());
    return undefined(env);
  });
}

// The length of a JavaScript array; not_array is the message when v is not one.
uint32_t array_length(napi_env env, napi_value v, const std::string& not_array) {
  bool is_array = false;
  check(env, napi_is_array(env, v, &is_array), "is_array");
  if (!is_array) throw JsError{not_array};
  uint32_t len = 0;
  check(env, napi_get_array_length(env, v, &len), "array_length");
  return len;
}

// Elements 0..len-1 of a JavaScript array as integers (name: for the error message).
std::vector<long> integers(napi_env env, napi_value v, uint32_t len, const char* name) {
  std::vector<long> out(len);
  for (uint32_t i = 0; i < len; i++) {
    napi_value e;
    check(env, napi_get_element(env, v, i, &e), "get_element");
    out[i] = integer(env, e, name);
  }
  return out;
}

std::vector<long> longs(napi_env env, napi_value v, const char* name) {
  return integers(env, v, array_length(env, v, std::string(name) + ": expected an array of integers"), name);
}

// The op code of an entry point, checked to be 0..max.
long op_code(napi_env env, napi_value v, const char* what, long max) {
  const long op = integer(env, v, "op");
  if (op < 0 || op > max) throw JsError{std::string(what) + ": unknown op " + std::to_string(op)};
  return op;
}

// The (shape, stridesA, stridesB) arguments of binary/compare at argv[4..6],
// checked, with the element count and the last offsets read in a and b.
struct Broadcast {
  std::vector<long> shape, sa, sb;
  long total = 1, lastA = 0, lastB = 0;
  int rank() const { return static_cast<int>(shape.size()); }
};

// unit_inner: the innermost strides must be 0 or 1 (binary's vector loop).
Broadcast broadcast(napi_env env, const napi_value* argv, const char* what, bool unit_inner) {
  Broadcast b{longs(env, argv[4], "shape"), longs(env, argv[5], "stridesA"), longs(env, argv[6], "stridesB")};
  const size_t rank = b.shape.size();
  if (rank < 1 || rank > 8 || b.sa.size() != rank || b.sb.size() != rank)
    throw JsError{std::string(what) + ": shape and strides must have the same length, 1..8"};
  if (unit_inner && ((b.sa[rank - 1] != 0 && b.sa[rank - 1] != 1) || (b.sb[rank - 1] != 0 && b.sb[rank - 1] != 1)))
    throw JsError{std::string(what) + ": innermost strides must be 0 or 1"};
  for (size_t d = 0; d < rank; d++) {
    if (b.shape[d] < 0 || b.sa[d] < 0 || b.sb[d] < 0) throw JsError{std::string(what) + ": negative size or stride"};
    b.total *= b.shape[d];
    b.lastA += (b.shape[d] - 1) * b.sa[d];
    b.lastB += (b.shape[d] - 1) * b.sb[d];
  }
  return b;
}

// dims: [N,H,W,C, KH,KW,CO, OH,OW, sh,sw, dh,dw, pt,pl]
ConvDims dims(napi_env env, napi_value v) {
  const uint32_t len = array_length(env, v, "dims: expected an array of 15 integers");
  if (len != 15) throw JsError{"dims: expected 15 integers, got " + std::to_string(len)};
  const std::vector<long> x = integers(env, v, len, "dims[i]");
  ConvDims d{x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7], x[8], x[9], x[10], x[11], x[12], x[13], x[14]};
  for (int i = 0; i < 9; i++)
    if (x[i] < 0) throw JsError{"dims: negative size"};
  if (d.sh < 1 || d.sw < 1 || d.dh < 1 || d.dw < 1) throw JsError{"dims: strides and dilations must be >= 1"};
  return d;
}

template <typename F>
napi_value conv_entry(napi_env env, napi_callback_info info, const char* n0, const char* n1, const char* n2,
                      long (*s0)(const ConvDims&), long (*s1)(const ConvDims&), long (*s2)(const ConvDims&), F run) {
  return guarded(env, [&] {
    napi_value argv[4];
    args(env, info, argv);
    F32 a = f32(env, argv[0], n0), b = f32(env, argv[1], n1), c = f32(env, argv[2], n2);
    const ConvDims d = dims(env, argv[3]);
    need(a, s0(d), n0);
    need(b, s1(d), n1);
    need(c, s2(d), n2);
    if (s2(d) > 0) run(a.data, b.data, c.data, d);
    return undefined(env);
  });
}

long x_size(const ConvDims& d) { return d.N * d.H * d.W * d.C; }
long w_size(const ConvDims& d) { return d.KH * d.KW * d.C * d.CO; }
long y_size(const ConvDims& d) { return d.N * d.OH * d.OW * d.CO; }

napi_value Conv2d(napi_env env, napi_callback_info info) {
  return conv_entry(env, info, "x", "filter", "y", x_size, w_size, y_size,
                    [](float* x, float* w, float* y, const ConvDims& d) {
                      hemlock::conv2d(x, w, y, d, hemlock::pool_threads());
                    });
}

napi_value Conv2dBackpropInput(napi_env env, napi_callback_info info) {
  return conv_entry(env, info, "dy", "filter", "dx", y_size, w_size, x_size,
                    [](float* dy, float* w, float* dx, const ConvDims& d) {
                      hemlock::conv2d_backprop_input(dy, w, dx, d, hemlock::pool_threads());
                    });
}

napi_value Conv2dBackpropFilter(napi_env env, napi_callback_info info) {
  return conv_entry(env, info, "x", "dy", "dw", x_size, y_size, w_size,
                    [](float* x, float* dy, float* dw, const ConvDims& d) {
                      hemlock::conv2d_backprop_filter(x, dy, dw, d, hemlock::pool_threads());
                    });
}


// unary(op, x, y, n): y[i] = f(x[i]) for i < n; op 0 exp, 1 relu.
napi_value Unary(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    napi_value argv[4];
    args(env, info, argv);
    const long op = op_code(env, argv[0], "unary", 1);
    F32 x = f32(env, argv[1], "x"), y = f32(env, argv[2], "y");
    const long n = integer(env, argv[3], "n");
    need(x, n, "x");
    need(y, n, "y");
    if (op == 0) hemlock::exp_f32(x.data, y.data, n, hemlock::pool_threads());
    else hemlock::relu_f32(x.data, y.data, n, hemlock::pool_threads());
    return undefined(env);
  });
}

// binary(op, a, b, out, shape, stridesA, stridesB): op 0 add, 1 sub, 2 mul.
napi_value Binary(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    napi_value argv[7];
    args(env, info, argv);
    const long op = op_code(env, argv[0], "binary", 2);
    F32 a = f32(env, argv[1], "a"), b = f32(env, argv[2], "b"), o = f32(env, argv[3], "out");
    const Broadcast s = broadcast(env, argv, "binary", true);
    if (s.total == 0) return undefined(env);
    need(a, s.lastA + 1, "a");
    need(b, s.lastB + 1, "b");
    need(o, s.total, "out");
    hemlock::binary_f32(static_cast<int>(op), a.data, b.data, o.data, s.rank(), s.shape.data(), s.sa.data(),
                        s.sb.data(), hemlock::pool_threads());
    return undefined(env);
  });
}

// reduce(op, x, out, outer, mid, inner): op 0 sum, 1 max, 2 mean over the middle axis of x [outer, mid, inner].
napi_value Reduce(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    napi_value argv[6];
    args(env, info, argv);
    const long op = op_code(env, argv[0], "reduce", 2);
    F32 x = f32(env, argv[1], "x"), o = f32(env, argv[2], "out");
    const long outer = integer(env, argv[3], "outer"), mid = integer(env, argv[4], "mid"),
               inner = integer(env, argv[5], "inner");
    if (outer < 0 || mid < 1 || inner < 0) throw JsError{"reduce: bad sizes"};
    need(x, outer * mid * inner, "x");
    need(o, outer * inner, "out");
    if (outer * inner > 0)
      hemlock::reduce_f32(static_cast<int>(op), x.data, o.data, outer, mid, inner, hemlock::pool_threads());
    return undefined(env);
  });
}

// compare(op, a, b, out, shape, stridesA, stridesB): op 0..5 = == != > >= < <=, out bytes 0/1.
napi_value Compare(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    napi_value argv[7];
    args(env, info, argv);
    const long op = op_code(env, argv[0], "compare", 5);
    F32 a = f32(env, argv[1], "a"), b = f32(env, argv[2], "b");
    U8 o = u8(env, argv[3], "out");
    const Broadcast s = broadcast(env, argv, "compare", false);
    if (s.total == 0) return undefined(env);
    need(a, s.lastA + 1, "a");
    need(b, s.lastB + 1, "b");
    if (static_cast<size_t>(s.total) > o.length) throw JsError{"out: array too small for the shape"};
    hemlock::compare_f32(static_cast<int>(op), a.data, b.data, o.data, s.rank(), s.shape.data(), s.sa.data(),
                         s.sb.data(), hemlock::pool_threads());
    return undefined(env);
  });
}

}  // namespace

NAPI_MODULE_INIT() {
  // A binary built with -march=native on another machine may use
  // instructions this CPU lacks; refuse to load (the JS loader then reports
  // why and hemlock stays on the wasm kernels) instead of dying of SIGILL.
#if defined(__AVX512F__)
  if (!__builtin_cpu_supports("avx512f")) {
    napi_throw_error(env, "HEMLOCK_NATIVE", "built for AVX-512 but this CPU lacks it: rebuild with `npm run prepare`");
    return nullptr;
  }
#elif defined(__AVX2__)
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) {
    napi_throw_error(env, "HEMLOCK_NATIVE", "built for AVX2 but this CPU lacks it: rebuild with `npm run prepare`");
    return nullptr;
  }
#endif
  napi_property_descriptor props[] = {
      {"info", nullptr, Info, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"setThreads", nullptr, SetThreads, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"matmul", nullptr, Matmul, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"conv2d", nullptr, Conv2d, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"conv2dBackpropInput", nullptr, Conv2dBackpropInput, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"conv2dBackpropFilter", nullptr, Conv2dBackpropFilter, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"unary", nullptr, Unary, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"binary", nullptr, Binary, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"reduce", nullptr, Reduce, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"compare", nullptr, Compare, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  return exports;
}
