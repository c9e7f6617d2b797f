// How the SIMD ISAs (ops_x86.h, quant_neon.cc) tile kernels/ops.h's dot_f32_f16_key_groups and
// dot_f32_key_groups (keys of type T, half or float): the query rows Tiles::kRows at a time, each
// run of rows against the groups of keys Tiles::kGroups<R> at a time, what is left of either by
// narrower tiles. Tiles::tile<R, G, T> scores R rows against G groups; kRows and kGroups<R> are
// what fits the ISA's registers.
// Include inside `namespace nagare { namespace {`, where Tiles is defined.

template <typename Tiles, int R, int G, typename T>
void key_group_tiles(const float* q, int64_t q_stride, const T* const* groups, int64_t n_groups, int64_t stride,
                     int64_t n, float scale, float* out, int64_t out_stride) {
  int64_t g = 0;
  for (; g + G <= n_groups; g += G) Tiles::template tile<R, G, T>(q, q_stride, groups + g, stride, n, scale, out + 8 * g, out_stride);
  if constexpr (G > 1)
    if (g < n_groups) key_group_tiles<Tiles, R, G - 1, T>(q, q_stride, groups + g, n_groups - g, stride, n, scale, out + 8 * g, out_stride);
}

// min(rows, R) rows.
template <typename Tiles, int R, typename T>
void key_group_rows(const float* q, int64_t q_stride, const T* const* groups, int64_t n_groups, int64_t stride,
                    int64_t n, float scale, float* out, int64_t out_stride, int64_t rows) {
  if constexpr (R > 1)
    if (rows < R) return key_group_rows<Tiles, R - 1, T>(q, q_stride, groups, n_groups, stride, n, scale, out, out_stride, rows);
  key_group_tiles<Tiles, R, Tiles::template kGroups<R>, T>(q, q_stride, groups, n_groups, stride, n, scale, out, out_stride);
}

template <typename Tiles, typename T>
void key_groups_tiled(const float* q, int64_t n_q, int64_t q_stride, const T* const* groups, int64_t n_groups,
                      int64_t stride, int64_t n, float scale, float* out, int64_t out_stride) {
  for (int64_t j = 0; j < n_q; j += Tiles::kRows)
    key_group_rows<Tiles, Tiles::kRows, T>(q + j * q_stride, q_stride, groups, n_groups, stride, n, scale,
                                           out + j * out_stride, out_stride, n_q - j);
}
