/* Massive-value detection over per-head norms, and where a dimension sits
 * in RoPE (pair, frequency, wavelength). */
#include "config.h"
#include <mvquant/massive.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

mvq_rope_dim mvq_rope_dim_info(int d, int n_rot, double base, bool neox)
{
    mvq_rope_dim r = { -1, 0.0, INFINITY };
    if (d < 0 || d >= n_rot || n_rot < 2)
        return r;
    r.pair = neox ? d % (n_rot / 2) : d / 2;
    r.freq = pow(base, -2.0 * r.pair / n_rot);
    r.wavelength = 2.0 * M_PI / r.freq;
    return r;
}

/* Is dimension d in the low-frequency half of the rotated pairs (or not rotated at all)? */
static bool low_frequency(int d, int n_rot, bool neox)
{
    if (d >= n_rot)
        return true;
    int pair = neox ? d % (n_rot / 2) : d / 2;
    return pair >= n_rot / 4;
}

/* Marks the k largest of m[0..n) in mask (ties: lower index first). */
static int mark_topk(const float *m, int n, int k, uint8_t *mask)
{
    int marked = 0;
    for (int j = 0; j < k && j < n; j++) {
        int best = -1;
        for (int d = 0; d < n; d++)
            if (!mask[d] && (best < 0 || m[d] > m[best]))
                best = d;
        mask[best] = 1;
        marked++;
    }
    return marked;
}

int mvq_massive_detect(const float *M, int n_head, int head_dim, int n_rot, double rope_base, bool neox,
                       const mvq_massive_params *p, uint8_t *mask, mvq_massive_head *heads)
{
    double lambda = p && p->lambda > 0 ? p->lambda : 5.0;
    int topk = p ? p->topk : 0;
    uint8_t *own = mask ? NULL : calloc((size_t)n_head * (size_t)head_dim, 1);
    uint8_t *mk = mask ? mask : own;
    if (!mk)
        return -1;
    memset(mk, 0, (size_t)n_head * (size_t)head_dim);
    int total = 0;
    for (int h = 0; h < n_head; h++) {
        const float *m = M + (size_t)h * head_dim;
        uint8_t *hm = mk + (size_t)h * head_dim;
        double sum = 0, sq = 0, low_sq = 0;
        int top = 0;
        for (int d = 0; d < head_dim; d++) {
            sum += m[d];
            sq += (double)m[d] * m[d];
            if (low_frequency(d, n_rot, neox))
                low_sq += (double)m[d] * m[d];
            if (m[d] > m[top])
                top = d;
        }
        double mean = sum / head_dim;
        int count = 0;
        if (topk > 0)
            count = mark_topk(m, head_dim, topk, hm);
        else
            for (int d = 0; d < head_dim; d++)
                if (mean > 0 && m[d] > lambda * mean) {
                    hm[d] = 1;
                    count++;
                }
        total += count;
        if (heads) {
            heads[h].top_dim = top;
            heads[h].top_ratio = mean > 0 ? m[top] / mean : 0.0;
            heads[h].n_massive = count;
            heads[h].lowfreq_share = sq > 0 ? low_sq / sq : 0.0;
        }
    }
    free(own);
    return total;
}
