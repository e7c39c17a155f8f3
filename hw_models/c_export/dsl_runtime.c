/* dslnas portable kernels: C99, float32, no dynamic allocation, no libm (CMSIS-NN / TFLite-Micro style).
 * The generator pastes the blocks a model calls (each block opens with a marker: name, then what it needs);
 * all functions are static.
 * Tensors are channel-major: x[c * ld + t] is channel c, frame t, with row stride ld (frames). */

/*@ types */
typedef struct {
    const float *w; /* dense: [c_out][c_in][k]; sparse (skip zero inputs): [c_in][k][c_out] */
    const float *b; /* [c_out] */
    int c_in, c_out, k, stride, dilation;
    int hist;       /* input frames kept as state: dilation * (k - 1) + 1 - stride */
    int sparse;     /* 1: accumulate over non-zero inputs only (weights in the sparse layout) */
} dsl_conv_t;

typedef union { float f; unsigned int u; } dsl_bits_t;

/*@ dsl_expf: types */
/* exp(x), |relative error| < 2e-7 on [-87, 88]: 2^n * p(r), r = x - n ln2 in [-ln2/2, ln2/2]. */
static float dsl_expf(float x)
{
    dsl_bits_t scale;
    float r, p;
    int n;
    if (x > 88.0f) x = 88.0f;
    if (x < -87.0f) return 0.0f;
    n = (int)(x * 1.44269504f + (x >= 0.0f ? 0.5f : -0.5f));
    r = (x - (float)n * 0.693145752f) - (float)n * 1.42860677e-6f;
    p = 1.0f + r * (1.0f + r * (0.5f + r * (0.166666672f + r * (0.0416666679f
        + r * (0.00833333377f + r * (0.00138888892f + r * 0.000198412701f))))));
    scale.u = (unsigned int)(n + 127) << 23;
    return p * scale.f;
}

/*@ dsl_logf: types */
/* log(x) for x > 0: x = m 2^e with m in [sqrt(1/2), sqrt(2)), log m = 2 atanh((m - 1) / (m + 1)). */
static float dsl_logf(float x)
{
    dsl_bits_t bits;
    float m, s, s2;
    int e;
    bits.f = x;
    e = (int)((bits.u >> 23) & 0xffu) - 127;
    bits.u = (bits.u & 0x007fffffu) | 0x3f800000u;
    m = bits.f;
    if (m > 1.41421356f) { m *= 0.5f; e += 1; }
    s = (m - 1.0f) / (m + 1.0f);
    s2 = s * s;
    return 2.0f * s * (1.0f + s2 * (0.333333343f + s2 * (0.2f + s2 * (0.142857149f + s2 * 0.111111112f))))
           + (float)e * 0.693147182f;
}

/*@ dsl_log1pf: dsl_logf */
/* log(1 + y), exact for tiny y: log(u) * y / (u - 1) with u = 1 + y rounded. */
static float dsl_log1pf(float y)
{
    float u = 1.0f + y;
    if (u == 1.0f) return y;
    return dsl_logf(u) * (y / (u - 1.0f));
}

/*@ dsl_elu: dsl_expf */
static float dsl_elu(float x) { return x > 0.0f ? x : dsl_expf(x) - 1.0f; }

/*@ dsl_softplus: dsl_expf dsl_log1pf */
/* torch.nn.functional.softplus (beta 1, threshold 20). */
static float dsl_softplus(float x) { return x > 20.0f ? x : dsl_log1pf(dsl_expf(x)); }

/*@ dsl_zero */
static void dsl_zero(float *p, int n)
{
    int i;
    for (i = 0; i < n; ++i) p[i] = 0.0f;
}

/*@ dsl_copy */
/* dst[c][0..n) = src[c][0..n) (row strides ld_dst, ld_src). */
static void dsl_copy(float *dst, int ld_dst, const float *src, int ld_src, int channels, int n)
{
    int c, t;
    for (c = 0; c < channels; ++c)
        for (t = 0; t < n; ++t) dst[c * ld_dst + t] = src[c * ld_src + t];
}

/*@ dsl_elu_inplace: dsl_elu */
static void dsl_elu_inplace(float *x, int ld, int channels, int n)
{
    int c, t;
    for (c = 0; c < channels; ++c)
        for (t = 0; t < n; ++t) x[c * ld + t] = dsl_elu(x[c * ld + t]);
}

/*@ dsl_gather: types dsl_elu */
/* cat[i] = hist[i] ++ f(x[i][0..n)), f = ELU when elu_in; cat row stride hist + n. */
static void dsl_gather(const dsl_conv_t *L, const float *hist, const float *x, int ldx, int n, int elu_in, float *cat)
{
    int i, t, ldc = L->hist + n;
    for (i = 0; i < L->c_in; ++i) {
        float *row = cat + i * ldc;
        const float *xi = x + i * ldx;
        for (t = 0; t < L->hist; ++t) row[t] = hist[i * L->hist + t];
        if (elu_in) {
            for (t = 0; t < n; ++t) row[L->hist + t] = dsl_elu(xi[t]);
        } else {
            for (t = 0; t < n; ++t) row[L->hist + t] = xi[t];
        }
    }
}

/*@ dsl_conv_dense: types */
/* y[o][t] (+)= b[o] + sum_i sum_j w[o][i][j] * src[i][t * stride + j * dilation], t < n_out.
 * Four output frames per pass share each weight load (register blocking); each sum keeps the order i, j. */
static void dsl_conv_dense(const dsl_conv_t *L, const float *src, int lds, float *y, int ldy, int n_out, int accumulate)
{
    const int s = L->stride, d = L->dilation, k = L->k;
    int o, t, i, j;
    for (o = 0; o < L->c_out; ++o) {
        const float *wo = L->w + o * L->c_in * k;
        float *yo = y + o * ldy;
        for (t = 0; t + 4 <= n_out; t += 4) {
            float a0 = L->b[o], a1 = a0, a2 = a0, a3 = a0;
            for (i = 0; i < L->c_in; ++i) {
                const float *wi = wo + i * k;
                const float *si = src + i * lds + t * s;
                for (j = 0; j < k; ++j) {
                    const float w = wi[j];
                    const float *x = si + j * d;
                    a0 += w * x[0];
                    a1 += w * x[s];
                    a2 += w * x[2 * s];
                    a3 += w * x[3 * s];
                }
            }
            if (accumulate) { yo[t] += a0; yo[t + 1] += a1; yo[t + 2] += a2; yo[t + 3] += a3; }
            else { yo[t] = a0; yo[t + 1] = a1; yo[t + 2] = a2; yo[t + 3] = a3; }
        }
        for (; t < n_out; ++t) {
            float acc = L->b[o];
            for (i = 0; i < L->c_in; ++i) {
                const float *wi = wo + i * k;
                const float *si = src + i * lds + t * s;
                for (j = 0; j < k; ++j) acc += wi[j] * si[j * d];
            }
            if (accumulate) yo[t] += acc; else yo[t] = acc;
        }
    }
}

/*@ dsl_conv_sparse: types */
/* Same sum as dsl_conv_dense (without accumulate), scattered from the non-zero inputs only. */
static void dsl_conv_sparse(const dsl_conv_t *L, const float *src, int lds, float *y, int ldy, int n_out)
{
    int o, t, i, j, u, n_src = n_out * L->stride + L->hist;
    for (o = 0; o < L->c_out; ++o)
        for (t = 0; t < n_out; ++t) y[o * ldy + t] = L->b[o];
    for (i = 0; i < L->c_in; ++i) {
        const float *si = src + i * lds;
        for (u = 0; u < n_src; ++u) {
            float v = si[u];
            if (v == 0.0f) continue;
            for (j = 0; j < L->k; ++j) {
                int pos = u - j * L->dilation;
                const float *wc;
                if (pos < 0) break;
                if (pos % L->stride) continue;
                t = pos / L->stride;
                if (t >= n_out) continue;
                wc = L->w + (i * L->k + j) * L->c_out;
                for (o = 0; o < L->c_out; ++o) y[o * ldy + t] += wc[o] * v;
            }
        }
    }
}

/*@ dsl_stream_conv: dsl_gather dsl_conv_dense */
/* One streaming step of a causal conv: y = conv(hist ++ f(x)) for n_in new frames; hist keeps the last frames. */
static void dsl_stream_conv(const dsl_conv_t *L, float *hist, const float *x, int ldx, int n_in, int elu_in,
                            float *cat, float *y, int ldy, int accumulate)
{
    const float *src = x;
    int lds = ldx, i, t, n_out = n_in / L->stride;
    if (L->hist > 0 || elu_in) {
        dsl_gather(L, hist, x, ldx, n_in, elu_in, cat);
        src = cat;
        lds = L->hist + n_in;
    }
#if DSL_SKIP_ZERO_INPUTS
    if (L->sparse) dsl_conv_sparse(L, src, lds, y, ldy, n_out);
    else
#endif
    dsl_conv_dense(L, src, lds, y, ldy, n_out, accumulate);
    for (i = 0; i < L->c_in; ++i)
        for (t = 0; t < L->hist; ++t) hist[i * L->hist + t] = cat[i * lds + n_in + t];
}

/*@ dsl_mask */
/* Mask: y = sign(s x) * relu(|s x| - thr), per channel. */
static void dsl_mask(const float *scale, const float *thr, const float *x, int ldx, float *y, int ldy, int channels, int n)
{
    int c, t;
    for (c = 0; c < channels; ++c) {
        for (t = 0; t < n; ++t) {
            float v = scale[c] * x[c * ldx + t];
            float a = (v < 0.0f ? -v : v) - thr[c];
            y[c * ldy + t] = a > 0.0f ? (v < 0.0f ? -a : a) : 0.0f;
        }
    }
}

/*@ dsl_switch: dsl_conv_dense dsl_elu dsl_softplus */
/* Switch head: softplus(b + w . [mean_t elu(e), max_t elu(e)]), e = embed(m) ([H][n] in hidden). */
static float dsl_switch(const dsl_conv_t *embed, const float *head_w, float head_b, const float *m, int ldm, int n,
                        float *hidden)
{
    int h, t;
    float acc = head_b;
    dsl_conv_dense(embed, m, ldm, hidden, n, n, 0);
    for (h = 0; h < embed->c_out; ++h) {
        const float *row = hidden + h * n;
        float sum = 0.0f, max = dsl_elu(row[0]);
        for (t = 0; t < n; ++t) {
            float v = dsl_elu(row[t]);
            sum += v;
            if (v > max) max = v;
        }
        acc += head_w[h] * (sum / (float)n) + head_w[embed->c_out + h] * max;
    }
    return dsl_softplus(acc);
}
