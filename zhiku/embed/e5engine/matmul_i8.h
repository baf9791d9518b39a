/* matmul_i8.h - the int8 x int8 matmul of zhiku's build of the e5 engine, included by e5.c once per
 * instruction set. E5_I8 names the function; E5_ZMM selects the 512-bit kernel (AVX-512 VNNI),
 * else the 256-bit one with E5_DOTY(acc, w, au, as, aa): acc += the 4-byte dot products of the
 * weights w (int8) with the activations broadcast as unsigned bytes au (a + 128), as signed bytes
 * as (a) and as their absolute values aa. E5_OFFSET 1 when the dot product was taken with a + 128
 * (vpdpbusd) and 128 x the weights' sum is to be taken off, 0 when it is exact (AVX2's sign trick).
 *
 * Y[t, r] = bias[r] + sum over groups g of  ws[g, r] * ad[t, g] * <w[r, g], a[t, g]>
 * The weights were requantised at load to int8 (one scale per output row and group of M->kg inputs,
 * qmat_build), the activations are quantised per token and group (quantize_rows), so the inner loop
 * is integer multiply-adds only. The weights are packed 16 rows x 4 inputs per 64 bytes, so each
 * vector lane is an output row and no horizontal sum is needed: a token's 4 activation bytes are
 * broadcast and multiplied with 16 (zmm) or 8 (ymm) rows at once. */
#if defined(E5_ZMM)
#define E5_RT 32  /* rows per tile: two 16-row blocks */
#define E5_TT 8   /* tokens per tile: 16 accumulators */
static inline __attribute__((always_inline)) void E5_CAT(E5_I8, _tile)(
        const qmat *M, const float *bias, const uint8_t *aq, const float *ad, float *Y,
        int r0, int t, const int tt) {
    const int nin = M->nin, npad = M->nout_pad, kg4 = M->kg / 4, ng = M->ng, nout = M->nout;
    const int8_t *w0 = M->w + (size_t)(r0 / 16) * nin * 16, *w1 = w0 + (size_t)nin * 16;
    __m512 f[E5_TT][2];
    for (int i = 0; i < tt; i++) { f[i][0] = _mm512_setzero_ps(); f[i][1] = _mm512_setzero_ps(); }
    for (int g = 0; g < ng; g++) {
        __m512i acc[E5_TT][2];
        for (int i = 0; i < tt; i++) { acc[i][0] = _mm512_setzero_si512(); acc[i][1] = _mm512_setzero_si512(); }
        for (int k4 = g * kg4; k4 < (g + 1) * kg4; k4++) {
            __m512i wa = _mm512_load_si512((const void *)(w0 + (size_t)k4 * 64));
            __m512i wb = _mm512_load_si512((const void *)(w1 + (size_t)k4 * 64));
            for (int i = 0; i < tt; i++) {
                int32_t a4; memcpy(&a4, aq + (size_t)(t + i) * nin + k4 * 4, 4);
                __m512i a = _mm512_set1_epi32(a4);
                acc[i][0] = _mm512_dpbusd_epi32(acc[i][0], a, wa);
                acc[i][1] = _mm512_dpbusd_epi32(acc[i][1], a, wb);
            }
        }
        const __m512 s0 = _mm512_load_ps(M->ws + (size_t)g * npad + r0);
        const __m512 s1 = _mm512_load_ps(M->ws + (size_t)g * npad + r0 + 16);
        const __m512i c0 = _mm512_load_si512((const void *)(M->wc + (size_t)g * npad + r0));
        const __m512i c1 = _mm512_load_si512((const void *)(M->wc + (size_t)g * npad + r0 + 16));
        for (int i = 0; i < tt; i++) {
            __m512 d = _mm512_set1_ps(ad[(size_t)(t + i) * ng + g]);
            f[i][0] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(acc[i][0], c0)), _mm512_mul_ps(s0, d), f[i][0]);
            f[i][1] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(acc[i][1], c1)), _mm512_mul_ps(s1, d), f[i][1]);
        }
    }
    int valid = nout - r0;
    __mmask16 m0 = valid >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (valid > 0 ? valid : 0)) - 1);
    __mmask16 m1 = valid >= 32 ? (__mmask16)0xFFFF : valid <= 16 ? 0 : (__mmask16)((1u << (valid - 16)) - 1);
    __m512 b0 = bias ? _mm512_maskz_loadu_ps(m0, bias + r0) : _mm512_setzero_ps();
    __m512 b1 = bias ? _mm512_maskz_loadu_ps(m1, bias + r0 + 16) : _mm512_setzero_ps();
    for (int i = 0; i < tt; i++) {
        float *y = Y + (size_t)(t + i) * nout + r0;
        _mm512_mask_storeu_ps(y, m0, _mm512_add_ps(f[i][0], b0));
        _mm512_mask_storeu_ps(y + 16, m1, _mm512_add_ps(f[i][1], b1));
    }
}
#else
#define E5_RT 16  /* rows per tile: one 16-row block, two ymm */
#define E5_TT 4   /* tokens per tile: 8 accumulators */
static inline __attribute__((always_inline)) void E5_CAT(E5_I8, _tile)(
        const qmat *M, const float *bias, const uint8_t *aq, const float *ad, float *Y,
        int r0, int t, const int tt) {
    const int nin = M->nin, npad = M->nout_pad, kg4 = M->kg / 4, ng = M->ng, nout = M->nout;
    const int8_t *w0 = M->w + (size_t)(r0 / 16) * nin * 16;
    const __m256i ones = _mm256_set1_epi16(1), flip = _mm256_set1_epi8((char)0x80);
    (void)ones; (void)flip;
    __m256 f[E5_TT][2];
    for (int i = 0; i < tt; i++) { f[i][0] = _mm256_setzero_ps(); f[i][1] = _mm256_setzero_ps(); }
    for (int g = 0; g < ng; g++) {
        __m256i acc[E5_TT][2];
        for (int i = 0; i < tt; i++) { acc[i][0] = _mm256_setzero_si256(); acc[i][1] = _mm256_setzero_si256(); }
        for (int k4 = g * kg4; k4 < (g + 1) * kg4; k4++) {
            __m256i wa = _mm256_load_si256((const __m256i *)(w0 + (size_t)k4 * 64));
            __m256i wb = _mm256_load_si256((const __m256i *)(w0 + (size_t)k4 * 64 + 32));
            for (int i = 0; i < tt; i++) {
                int32_t a4; memcpy(&a4, aq + (size_t)(t + i) * nin + k4 * 4, 4);
                __m256i au = _mm256_set1_epi32(a4);
                E5_DOTY(acc[i][0], acc[i][1], wa, wb, au);
            }
        }
        const __m256 s0 = _mm256_load_ps(M->ws + (size_t)g * npad + r0);
        const __m256 s1 = _mm256_load_ps(M->ws + (size_t)g * npad + r0 + 8);
#if E5_OFFSET
        const __m256i c0 = _mm256_load_si256((const __m256i *)(M->wc + (size_t)g * npad + r0));
        const __m256i c1 = _mm256_load_si256((const __m256i *)(M->wc + (size_t)g * npad + r0 + 8));
#else
        const __m256i c0 = _mm256_setzero_si256(), c1 = c0;
#endif
        for (int i = 0; i < tt; i++) {
            __m256 d = _mm256_set1_ps(ad[(size_t)(t + i) * ng + g]);
            f[i][0] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(acc[i][0], c0)), _mm256_mul_ps(s0, d), f[i][0]);
            f[i][1] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(acc[i][1], c1)), _mm256_mul_ps(s1, d), f[i][1]);
        }
    }
    int valid = nout - r0;
    for (int i = 0; i < tt; i++) {
        float *y = Y + (size_t)(t + i) * nout + r0;
        if (valid >= 16) {
            __m256 y0 = f[i][0], y1 = f[i][1];
            if (bias) { y0 = _mm256_add_ps(y0, _mm256_loadu_ps(bias + r0)); y1 = _mm256_add_ps(y1, _mm256_loadu_ps(bias + r0 + 8)); }
            _mm256_storeu_ps(y, y0); _mm256_storeu_ps(y + 8, y1);
        } else {
            float tmp[16];
            _mm256_storeu_ps(tmp, f[i][0]); _mm256_storeu_ps(tmp + 8, f[i][1]);
            for (int r = 0; r < valid; r++) y[r] = tmp[r] + (bias ? bias[r0 + r] : 0.f);
        }
    }
}
#endif

static void E5_I8(const qmat *M, const float *bias, const uint8_t *aq, const float *ad,
                  float *Y, int L) {
    const int ntile = M->nout_pad / E5_RT;
#pragma omp parallel if (!omp_in_parallel())
    for (int t0 = 0; t0 < L; t0 += E5_TCHUNK) {
        int t1 = t0 + E5_TCHUNK < L ? t0 + E5_TCHUNK : L;
#pragma omp for schedule(static) nowait
        for (int tile = 0; tile < ntile; tile++) {
            int t = t0;
            for (; t + E5_TT <= t1; t += E5_TT) E5_CAT(E5_I8, _tile)(M, bias, aq, ad, Y, tile * E5_RT, t, E5_TT);
            for (; t < t1; t++) E5_CAT(E5_I8, _tile)(M, bias, aq, ad, Y, tile * E5_RT, t, 1);
        }
    }
}
#undef E5_RT
#undef E5_TT
