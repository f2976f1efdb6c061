{
  # hemlock's optional native kernels (see native/src/*.cc and
  # src/engine/native/). Plain C N-API: no node-addon-api dependency, so the
  # build needs only node-gyp (bundled with npm) and a C++17 compiler.
  "targets": [
    {
      "target_name": "hemlock_native",
      "sources": ["src/addon.cc", "src/gemm.cc", "src/conv.cc", "src/pool.cc", "src/eltwise.cc"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17", "-std=gnu++1y", "-std=gnu++20"],
      # -O3 and the host's vector ISA (AVX-512 or AVX2 chosen by the compiler's
      # predefined macros in gemm.cc). No -ffast-math: results must match the
      # cpu backend to float32 rounding, and NaN/Inf must propagate.
      "cflags_cc": ["-std=c++17", "-O3", "-fexceptions"],
      "ldflags": ["-pthread"],
      "conditions": [
        ["target_arch=='x64' or target_arch=='ia32'", { "cflags_cc": ["-march=native"] }],
        ["target_arch=='arm64'", { "cflags_cc": ["-mcpu=native"] }]
      ]
    }
  ]
}
