/* matmul_q4q8.h - the int8 x int4 matmul of zhiku's build of the e5 engine, included by e5.c
 * once per instruction set: E5_MATMUL names the function, E5_DOT(w, a) is the 8 x int32 sums of
 * four unsigned-byte x signed-byte products each (w: weight nibbles 0..15, a: int8 activations).
 * AVX2 does it in two instructions (vpmaddubsw, then vpmaddwd by ones; no saturation: 15 x 127 x 2
 * fits in int16); AVX-512 VNNI / AVX-VNNI in one (vpdpbusd). Same integers either way. */
/* Y[L,nout] = X * W^T + bias,  W is Q4_0 [nout,nin]; X already quantized.
 * 4 output rows are computed together so each activation block is loaded once
 * and reused across 4 weight rows (4x less activation memory traffic). The
 * int32 block partials accumulate straight into float vectors (one hsum per
 * output); the -8 nibble offset is folded in through the activation sums. */
#ifndef RO
#define RO 8
#endif
static void E5_MATMUL(const block_q4_0 *W, const float *bias,
                        const int8_t *aq, const float *ad, const int32_t *as,
                        float *Y, int L, int nout, int nin) {
    int nb = nin / QK;
#pragma omp parallel if (!omp_in_parallel())
    {
        /* per-row-group weights pre-expanded to int8 once, reused over all L
         * tokens: the inner token loop then runs pure int8 x int8 maddubs. */
        int8_t *wexp = (int8_t *)aligned_alloc(32, (size_t)RO * nin);
#pragma omp for schedule(static)
        for (int oo = 0; oo < nout; oo += RO) {
            int ro = nout - oo < RO ? nout - oo : RO;
            float dwf[RO][64], dwT[64][RO];
            for (int r = 0; r < ro; r++) {
                const block_q4_0 *wr = W + (size_t)(oo + r) * nb;
                int8_t *we = wexp + (size_t)r * nin;
                for (int b = 0; b < nb; b++) {
                    dwf[r][b] = dwT[b][r] = fp16_to_fp32(wr[b].d);
                    const uint8_t *qs = wr[b].qs; int8_t *o = we + b * QK;
#if defined(__AVX2__)
                    __m128i bytes = _mm_loadu_si128((const __m128i *)qs);
                    _mm_storeu_si128((__m128i *)o, _mm_and_si128(bytes, _mm_set1_epi8(0x0F)));
                    _mm_storeu_si128((__m128i *)(o + 16), _mm_and_si128(_mm_srli_epi16(bytes, 4), _mm_set1_epi8(0x0F)));
#else
                    for (int j = 0; j < 16; j++) { o[j] = (qs[j] & 0x0F); o[j + 16] = (qs[j] >> 4); }
#endif
                }
            }
            for (int t = 0; t < L; t++) {
                const int8_t *a = aq + (size_t)t * nin;
                const float *dT = ad + (size_t)t * nb;
                const int32_t *sT = as + (size_t)t * nb;
#if defined(__AVX2__)
                const __m256i ones = _mm256_set1_epi16(1); (void)ones;
                if (ro == RO) {
                    __m256 f0 = _mm256_setzero_ps(), f1 = f0, f2 = f0, f3 = f0,
                           f4 = f0, f5 = f0, f6 = f0, f7 = f0;
                    const int8_t *w0 = wexp;
#define E5_ROW(F, R) { __m256i wv = _mm256_load_si256((const __m256i *)(w0 + (size_t)(R) * nin + b * QK)); \
                       __m256i s = E5_DOT(wv, av); \
                       F = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_set1_ps(dwf[R][b] * da), F); }
                    for (int b = 0; b < nb; b++) {
                        __m256i av = _mm256_loadu_si256((const __m256i *)(a + b * QK));
                        float da = dT[b];
                        E5_ROW(f0, 0) E5_ROW(f1, 1) E5_ROW(f2, 2) E5_ROW(f3, 3)
                        E5_ROW(f4, 4) E5_ROW(f5, 5) E5_ROW(f6, 6) E5_ROW(f7, 7)
                    }
#undef E5_ROW
                    /* the 8 rows' sums as one vector; the -8 nibble offset folded in per row */
                    __m256 h0123 = _mm256_hadd_ps(_mm256_hadd_ps(f0, f1), _mm256_hadd_ps(f2, f3));
                    __m256 h4567 = _mm256_hadd_ps(_mm256_hadd_ps(f4, f5), _mm256_hadd_ps(f6, f7));
                    __m256 sums = _mm256_add_ps(_mm256_permute2f128_ps(h0123, h4567, 0x20),
                                                _mm256_permute2f128_ps(h0123, h4567, 0x31));
                    __m256 corr = _mm256_setzero_ps();
                    for (int b = 0; b < nb; b++)
                        corr = _mm256_fmadd_ps(_mm256_loadu_ps(dwT[b]), _mm256_set1_ps(dT[b] * (float)sT[b]), corr);
                    __m256 y = _mm256_fnmadd_ps(_mm256_set1_ps(8.f), corr, sums);
                    if (bias) y = _mm256_add_ps(y, _mm256_loadu_ps(bias + oo));
                    _mm256_storeu_ps(Y + (size_t)t * nout + oo, y);
                    continue;
                }
                __m256 facc[RO]; float corr[RO];
                for (int r = 0; r < ro; r++) { facc[r] = _mm256_setzero_ps(); corr[r] = 0.f; }
                for (int b = 0; b < nb; b++) {
                    __m256i av = _mm256_loadu_si256((const __m256i *)(a + b * QK));
                    float da = dT[b]; float sa = (float)sT[b];
                    for (int r = 0; r < ro; r++) {
                        __m256i wv = _mm256_loadu_si256((const __m256i *)(wexp + (size_t)r * nin + b * QK));
                        __m256i s = E5_DOT(wv, av);
                        float scale = dwf[r][b] * da;
                        facc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_set1_ps(scale), facc[r]);
                        corr[r] += scale * sa;
                    }
                }
                for (int r = 0; r < ro; r++)
                    Y[(size_t)t * nout + oo + r] =
                        (bias ? bias[oo + r] : 0.f) + hsum256(facc[r]) - 8.f * corr[r];
#else
                for (int r = 0; r < ro; r++) {
                    const int8_t *we = wexp + (size_t)r * nin; float acc = 0.f;
                    for (int b = 0; b < nb; b++) {
                        const int8_t *wb = we + b * QK; const int8_t *ab = a + b * QK; int isum = 0;
                        for (int j = 0; j < QK; j++) isum += wb[j] * (int)ab[j];
                        acc += dwf[r][b] * dT[b] * (float)(isum - 8 * sT[b]);
                    }
                    Y[(size_t)t * nout + oo + r] = (bias ? bias[oo + r] : 0.f) + acc;
                }
#endif
            }
        }
        free(wexp);
    }
}
