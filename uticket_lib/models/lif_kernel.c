/* The LIF neuron's multi-step forward and backward, one pass over memory each.
 *
 * Compiled at first use by uticket_lib/models/native.py (cc -O3 -march=native -ffp-contract=off
 * -fopenmp) and called through ctypes on the neurons [lo, hi) of each timestep, in blocks shared
 * out over `threads` OpenMP threads. The shared object names libgomp.so.1, which resolves to the
 * one torch has loaded, so the kernel runs on torch's own thread pool (a second pool would fight
 * torch's spinning workers for the cores).
 *
 * Layout: every [T, n] array holds timestep t's n values at offset t * n, except the input x, at
 * t * xs: xs = 0 for an input repeated over time (the encoder's, expanded from one conv output).
 *
 * The forward writes only the spikes and v[T]. The backward does not read anything the forward
 * saved but the input: it recomputes the membrane of a block of neurons over all T in L1 (cheap
 * arithmetic) instead of reading a saved fp32 surrogate and the spikes back from memory, which
 * took as long as the rest of the neuron (the passes are memory-bound).
 *
 * The arithmetic is, op for op, that of neurons._charge_fire / _LIFFunction (torch ops), so spikes,
 * v[T] and every gradient are bit-for-bit the same on CPUs where torch's kernels use FMA (AVX2,
 * AVX-512): addcmul and add(alpha=) there compute fmaf(value * a, b, c) and fmaf(alpha, b, a), and
 * this file calls fmaf explicitly (-ffp-contract=off keeps the compiler from fusing anything else).
 * Division by tau is a true fp32 division, as torch's div by a Python scalar.
 *
 * Two input dtypes: fp32 and bf16 (as uint16). The membrane is fp32 either way; spikes and the
 * input gradient are written in the input's dtype (bf16 rounded to nearest even, as torch).
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#define BLOCK 512        /* neurons per block in the forward: the carried state stays in L1 */
#define BWD_FLOATS 8192  /* the backward's recomputed membrane, T x block floats (32 KiB) */

static inline float bf16_to_f32(uint16_t b) {
    uint32_t u = (uint32_t)b << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static inline uint16_t f32_to_bf16(float f) {          /* round to nearest even, as c10::BFloat16 */
    uint32_t u;
    memcpy(&u, &f, 4);
    const uint32_t r = u + 0x7FFFu + ((u >> 16) & 1u);
    return (uint16_t)((f != f ? 0x7FC00000u : r) >> 16);
}

static inline float id_f32(float v) { return v; }
static inline float spike_f32(int fire) { return fire ? 1.0f : 0.0f; }
static inline uint16_t spike_bf16(int fire) { return fire ? (uint16_t)0x3F80 : (uint16_t)0; }

/* The charge of one timestep for m neurons, on the negated membrane g = -h (negation is exact):
 *   t = 0 without v0: g = x / -tau;  else g = w - (x + w) / tau, w = -v[t-1]
 *   then w = -v[t] = g if g > -v_th else 0 (torch.threshold), and the spike is g <= -v_th. */
#define CHARGE(LOAD, xt, first, g_out, j)                                                        \
    const float xv = LOAD((xt)[j]);                                                          \
    const float g_out = (first) ? xv / neg_tau : w[j] - (xv + w[j]) / tau;                    \
    w[j] = g_out <= neg_vth ? 0.0f : g_out;

#define LIF_FORWARD(NAME, XT, LOAD, SPIKE)                                                       \
void NAME(const XT *x, int64_t xs, const float *v0, XT *spikes, float *v_last,                  \
          int64_t T, int64_t n, int64_t lo, int64_t hi, int threads, float tau, float v_th) {   \
    const float neg_tau = -tau, neg_vth = -v_th;                                             \
    _Pragma("omp parallel for schedule(static) if(threads > 1) num_threads(threads)")        \
    for (int64_t i0 = lo; i0 < hi; i0 += BLOCK) {                                            \
        float w[BLOCK];                                                                      \
        const int64_t m = (hi - i0 < BLOCK) ? hi - i0 : BLOCK;                               \
        for (int64_t j = 0; j < m; ++j) w[j] = v0 ? -v0[i0 + j] : 0.0f;                     \
        for (int64_t t = 0; t < T; ++t) {                                                    \
            const XT *xt = x + t * xs + i0;                                                  \
            XT *st = spikes + t * n + i0;                                                    \
            const int first = t == 0 && !v0;                                                 \
            for (int64_t j = 0; j < m; ++j) {                                                \
                CHARGE(LOAD, xt, first, g, j)                                                \
                st[j] = SPIKE(g <= neg_vth);                                                 \
            }                                                                                \
        }                                                                                    \
        for (int64_t j = 0; j < m; ++j) v_last[i0 + j] = -w[j];                              \
    }                                                                                        \
}

LIF_FORWARD(lif_forward_f32, float, id_f32, spike_f32)
LIF_FORWARD(lif_forward_bf16, uint16_t, bf16_to_f32, spike_bf16)

/* Backward, reverse time (detach_reset: no d reset / d s term), after recomputing g for the block:
 *   inv_sg = 1 / ATan'(h - v_th) = fmaf(c * u, u, k), u = g + v_th;  s = g <= -v_th
 *   gh[t] = grad_s[t] / inv_sg[t]  (+ fmaf(-grad_v, s[T-1], grad_v) at t = T-1)
 *   gh[t-1] = fmaf(leak, fmaf(-gh[t], s[t-1], gh[t]), gh[t-1])
 *   grad_x[t] = gh[t] / tau;  grad_v0 = gh[0] * leak (when grad_v0 != NULL)
 * grad_s == NULL or grad_v == NULL mean zero. The cases are separate loops so that each vectorizes.
 */
#define SURROGATE(gb, j, inv, s)                                                                 \
    const float u_ = (gb)[j] + v_th;                                                         \
    const float inv = fmaf(c * u_, u_, k);                                                   \
    const float s = (gb)[j] <= neg_vth ? 1.0f : 0.0f;

#define LIF_BACKWARD(NAME, XT, LOAD, STORE)                                                      \
void NAME(const XT *x, int64_t xs, const float *v0, const XT *grad_s, const float *grad_v,      \
          XT *grad_x, float *grad_v0, int64_t T, int64_t n, int64_t lo, int64_t hi, int threads, \
          float tau, float v_th, float k, float c, float leak) {                              \
    const float neg_tau = -tau, neg_vth = -v_th;                                             \
    int64_t B = (BWD_FLOATS / (T > 0 ? T : 1)) / 16 * 16;                                    \
    if (B < 16) B = 16;                                                                      \
    if (B > BLOCK) B = BLOCK;                                                                \
    _Pragma("omp parallel for schedule(static) if(threads > 1) num_threads(threads)")        \
    for (int64_t i0 = lo; i0 < hi; i0 += B) {                                               \
        float gbuf[T * B], w[B], nxt[B];                                                     \
        const int64_t m = (hi - i0 < B) ? hi - i0 : B;                                       \
        for (int64_t j = 0; j < m; ++j) w[j] = v0 ? -v0[i0 + j] : 0.0f;                     \
        for (int64_t t = 0; t < T; ++t) {                                                    \
            const XT *xt = x + t * xs + i0;                                                  \
            float *gb = gbuf + t * B;                                                        \
            const int first = t == 0 && !v0;                                                 \
            for (int64_t j = 0; j < m; ++j) { CHARGE(LOAD, xt, first, g, j) gb[j] = g; }     \
        }                                                                                    \
        const float *gv = grad_v ? grad_v + i0 : 0;                                          \
        for (int64_t t = T - 1; t >= 0; --t) {                                               \
            const float *gb = gbuf + t * B;                                                  \
            const XT *gt = grad_s ? grad_s + t * n + i0 : 0;                                 \
            XT *xt = grad_x + t * n + i0;                                                    \
            if (t == T - 1 && gt && gv)                                                      \
                for (int64_t j = 0; j < m; ++j) {                                            \
                    SURROGATE(gb, j, inv, s)                                                 \
                    const float gh = LOAD(gt[j]) / inv + fmaf(-gv[j], s, gv[j]);             \
                    nxt[j] = gh; xt[j] = STORE(gh / tau);                                    \
                }                                                                            \
            else if (t == T - 1 && gt)                                                       \
                for (int64_t j = 0; j < m; ++j) {                                            \
                    SURROGATE(gb, j, inv, s)                                                 \
                    (void)s;                                                                 \
                    const float gh = LOAD(gt[j]) / inv;                                      \
                    nxt[j] = gh; xt[j] = STORE(gh / tau);                                    \
                }                                                                            \
            else if (t == T - 1 && gv)                                                       \
                for (int64_t j = 0; j < m; ++j) {                                            \
                    const float s = gb[j] <= neg_vth ? 1.0f : 0.0f;                          \
                    const float gh = 0.0f + fmaf(-gv[j], s, gv[j]);                          \
                    nxt[j] = gh; xt[j] = STORE(gh / tau);                                    \
                }                                                                            \
            else if (t == T - 1)                                                             \
                for (int64_t j = 0; j < m; ++j) { nxt[j] = 0.0f; xt[j] = STORE(0.0f); }      \
            else if (gt)                                                                     \
                for (int64_t j = 0; j < m; ++j) {                                            \
                    SURROGATE(gb, j, inv, s)                                                 \
                    const float nx = nxt[j];                                                 \
                    const float gh = fmaf(leak, fmaf(-nx, s, nx), LOAD(gt[j]) / inv);        \
                    nxt[j] = gh; xt[j] = STORE(gh / tau);                                    \
                }                                                                            \
            else                                                                             \
                for (int64_t j = 0; j < m; ++j) {                                            \
                    const float s = gb[j] <= neg_vth ? 1.0f : 0.0f;                          \
                    const float nx = nxt[j];                                                 \
                    const float gh = fmaf(leak, fmaf(-nx, s, nx), 0.0f);                     \
                    nxt[j] = gh; xt[j] = STORE(gh / tau);                                    \
                }                                                                            \
        }                                                                                    \
        if (grad_v0)                                                                         \
            for (int64_t j = 0; j < m; ++j) grad_v0[i0 + j] = nxt[j] * leak;                 \
    }                                                                                        \
}

LIF_BACKWARD(lif_backward_f32, float, id_f32, id_f32)
LIF_BACKWARD(lif_backward_bf16, uint16_t, bf16_to_f32, f32_to_bf16)
