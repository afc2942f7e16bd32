/* Observation hooks: order, shapes, meaning of each tap, the mask, ablation. */
#include <criterion/criterion.h>
#include <mvquant.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tests/synth_model.h"

#define MAX_SEEN 256

typedef struct seen {
    int n;
    mvq_tap tap[MAX_SEEN];
    int64_t layer[MAX_SEEN], rows[MAX_SEEN], dim[MAX_SEEN], heads[MAX_SEEN];
    float *copy[MVQ_TAP_COUNT]; /* layer 1's data of each tap */
    bool zero_attn_out;
} seen;

static void record(void *user, const mvq_observation *o)
{
    seen *s = user;
    cr_assert_lt(s->n, MAX_SEEN);
    s->tap[s->n] = o->tap;
    s->layer[s->n] = o->layer;
    s->rows[s->n] = o->n_tokens;
    s->dim[s->n] = o->dim;
    s->heads[s->n] = o->n_heads;
    s->n++;
    cr_assert_eq(o->dim, o->n_heads * o->head_dim);
    if (o->layer == 1) {
        size_t bytes = (size_t)(o->n_tokens * o->dim) * sizeof(float);
        s->copy[o->tap] = realloc(s->copy[o->tap], bytes);
        memcpy(s->copy[o->tap], o->data, bytes);
    }
    if (s->zero_attn_out && o->tap == MVQ_TAP_ATTN_OUT)
        memset(o->data, 0, (size_t)(o->n_tokens * o->dim) * sizeof(float));
}

/* Adds fn as one observer of the pass; returns its id. */
static int observe_with(mvq_forward *f, uint32_t taps, mvq_observer_kind kind, mvq_observe_fn fn, void *user)
{
    const mvq_observer o = {.taps = taps, .kind = kind, .fn = fn, .user = user};
    int id = 0;
    mvq_error err;
    cr_assert_eq(mvq_forward_add_observer(f, &o, &id, &err), MVQ_OK, "%s", err.msg);
    cr_assert_gt(id, 0);
    return id;
}

static const synth_shape shape = {.dim = 64, .layers = 2, .heads = 4, .kv_heads = 2, .head_dim = 16, .n_rot = 16,
                                  .ff = 96, .vocab = 40, .arch = MVQ_ARCH_QWEN2, .biases = true};

Test(hooks, every_tap_in_order_with_its_shape_and_meaning)
{
    synth_model sm;
    synth_build(&sm, &shape, 5);
    int32_t tokens[12];
    synth_tokens(tokens, 12, shape.vocab, 6);
    mvq_error err;
    mvq_forward *f = mvq_forward_create(&sm.m, 12, NULL, &err);
    cr_assert_not_null(f, "%s", err.msg);
    seen s = {0};
    observe_with(f, MVQ_TAP_ALL, MVQ_OBSERVER_READ, record, &s);
    float logits[12 * 40];
    cr_assert_eq(mvq_forward_run(f, tokens, 12, 11, logits, &err), MVQ_OK, "%s", err.msg);

    const mvq_tap order[] = {MVQ_TAP_RESIDUAL, MVQ_TAP_ATTN_IN, MVQ_TAP_Q_PRE_ROPE, MVQ_TAP_K_PRE_ROPE,
                             MVQ_TAP_Q,        MVQ_TAP_K,       MVQ_TAP_V,          MVQ_TAP_ATTN_OUT,
                             MVQ_TAP_FFN_IN,   MVQ_TAP_FFN_DOWN_IN};
    const int64_t dims[] = {64, 64, 64, 32, 64, 32, 32, 64, 64, 96};
    const int64_t heads[] = {1, 1, 4, 2, 4, 2, 2, 4, 1, 1};
    cr_assert_eq(s.n, 2 * 10 + 1);
    for (int il = 0; il < 2; il++)
        for (int i = 0; i < 10; i++) {
            int k = il * 10 + i;
            cr_assert_eq(s.tap[k], order[i], "call %d: %s", k, mvq_tap_name(s.tap[k]));
            cr_assert_eq(s.layer[k], il);
            cr_assert_eq(s.rows[k], 12);
            cr_assert_eq(s.dim[k], dims[i], "%s dim %lld", mvq_tap_name(order[i]), (long long)s.dim[k]);
            cr_assert_eq(s.heads[k], heads[i]);
        }
    cr_assert_eq(s.tap[20], MVQ_TAP_OUTPUT_IN);
    cr_assert_eq(s.layer[20], 2);
    cr_assert_eq(s.rows[20], 12, "OUTPUT_IN covers all tokens when observed");

    /* Q before RoPE is attn_in x W_q^T + b_q; position 0 is not rotated, later ones are */
    const mvq_layer *L = &sm.m.layers[1];
    const float *wq = L->linear[MVQ_LINEAR_Q].data, *bq = L->bias[MVQ_LINEAR_Q].data;
    for (int t = 0; t < 12; t++)
        for (int o = 0; o < 64; o++) {
            double acc = bq[o];
            for (int i = 0; i < 64; i++)
                acc += (double)s.copy[MVQ_TAP_ATTN_IN][t * 64 + i] * wq[o * 64 + i];
            cr_assert_float_eq(s.copy[MVQ_TAP_Q_PRE_ROPE][t * 64 + o], acc, 1e-4 * (1 + fabs(acc)));
        }
    cr_assert_eq(memcmp(s.copy[MVQ_TAP_Q], s.copy[MVQ_TAP_Q_PRE_ROPE], 64 * sizeof(float)), 0);
    cr_assert_neq(memcmp(s.copy[MVQ_TAP_Q] + 64, s.copy[MVQ_TAP_Q_PRE_ROPE] + 64, 64 * sizeof(float)), 0);
    /* RoPE keeps the norm of each rotated pair (NEOX: d and d + 8) */
    for (int d = 0; d < 8; d++) {
        const float *a = s.copy[MVQ_TAP_K] + 5 * 32, *b = s.copy[MVQ_TAP_K_PRE_ROPE] + 5 * 32;
        cr_assert_float_eq(hypotf(a[d], a[d + 8]), hypotf(b[d], b[d + 8]), 1e-4f);
    }
    /* ffn_down's input is silu(gate) * up of ffn_in */
    const float *wg = L->linear[MVQ_LINEAR_GATE].data, *wu = L->linear[MVQ_LINEAR_UP].data;
    for (int o = 0; o < 96; o++) {
        double g = 0, u = 0;
        for (int i = 0; i < 64; i++) {
            g += (double)s.copy[MVQ_TAP_FFN_IN][3 * 64 + i] * wg[o * 64 + i];
            u += (double)s.copy[MVQ_TAP_FFN_IN][3 * 64 + i] * wu[o * 64 + i];
        }
        double want = g / (1 + exp(-g)) * u;
        cr_assert_float_eq(s.copy[MVQ_TAP_FFN_DOWN_IN][3 * 96 + o], want, 1e-4 * (1 + fabs(want)));
    }
    for (int i = 0; i < MVQ_TAP_COUNT; i++)
        free(s.copy[i]);
    mvq_forward_free(f);
    synth_free(&sm);
}

Test(hooks, mask_selects_taps_and_observers_can_ablate)
{
    synth_model sm;
    synth_build(&sm, &shape, 7);
    int32_t tokens[8];
    synth_tokens(tokens, 8, shape.vocab, 8);
    mvq_error err;
    mvq_forward *f = mvq_forward_create(&sm.m, 8, NULL, &err);
    float plain[8 * 40], ablated[8 * 40];
    cr_assert_eq(mvq_forward_run(f, tokens, 8, 0, plain, &err), MVQ_OK, "%s", err.msg);

    seen s = {0};
    int id = observe_with(f, MVQ_TAP_BIT(MVQ_TAP_Q) | MVQ_TAP_BIT(MVQ_TAP_K), MVQ_OBSERVER_READ, record, &s);
    float again[8 * 40];
    cr_assert_eq(mvq_forward_run(f, tokens, 8, 0, again, &err), MVQ_OK, "%s", err.msg);
    cr_assert_eq(s.n, 4);
    cr_assert_eq(memcmp(plain, again, sizeof plain), 0, "observing changes nothing");

    mvq_forward_remove_observer(f, id);
    seen z = {.zero_attn_out = true};
    id = observe_with(f, MVQ_TAP_BIT(MVQ_TAP_ATTN_OUT), MVQ_OBSERVER_MODIFY, record, &z);
    cr_assert_eq(mvq_forward_run(f, tokens, 8, 0, ablated, &err), MVQ_OK, "%s", err.msg);
    cr_assert_neq(memcmp(plain, ablated, sizeof plain), 0, "an observer's change reaches the logits");

    mvq_forward_remove_observer(f, id);
    cr_assert_eq(mvq_forward_run(f, tokens, 8, 0, again, &err), MVQ_OK, "%s", err.msg);
    cr_assert_eq(memcmp(plain, again, sizeof plain), 0);
    for (int i = 0; i < MVQ_TAP_COUNT; i++) {
        free(s.copy[i]);
        free(z.copy[i]);
    }
    mvq_forward_free(f);
    synth_free(&sm);
}

typedef struct column {
    int64_t layer, col, seen;
    bool zero;          /* the modifying one */
    bool saw_zeros;     /* the reader: the column it saw was zero */
} column;

static void zero_q_column(void *user, const mvq_observation *o)
{
    column *c = user;
    if (o->layer != c->layer)
        return;
    c->seen++;
    bool zeros = true;
    for (int64_t t = 0; t < o->n_tokens; t++) {
        if (c->zero)
            o->data[t * o->dim + c->col] = 0.0f;
        zeros &= o->data[t * o->dim + c->col] == 0.0f;
    }
    c->saw_zeros = zeros;
}

Test(hooks, two_observers_at_once_one_reads_one_changes)
{
    synth_model sm;
    synth_build(&sm, &shape, 9);
    int32_t tokens[10];
    synth_tokens(tokens, 10, shape.vocab, 4);
    mvq_error err;
    /* what zeroing column 5 of layer 1's Q predicts: row 5 of attn_q and its bias zero */
    mvq_model edited = sm.m;
    mvq_layer layers[2] = {sm.m.layers[0], sm.m.layers[1]};
    const mvq_weight *wq = &layers[1].linear[MVQ_LINEAR_Q], *bq = &layers[1].bias[MVQ_LINEAR_Q];
    float *q = malloc((size_t)(wq->n_in * wq->n_out) * sizeof *q), *b = malloc((size_t)bq->n_in * sizeof *b);
    memcpy(q, wq->data, (size_t)(wq->n_in * wq->n_out) * sizeof *q);
    memcpy(b, bq->data, (size_t)bq->n_in * sizeof *b);
    memset(q + 5 * wq->n_in, 0, (size_t)wq->n_in * sizeof *q);
    b[5] = 0.0f;
    layers[1].linear[MVQ_LINEAR_Q].data = q;
    layers[1].bias[MVQ_LINEAR_Q].data = b;
    edited.layers = layers;
    float want[10 * 40], got[10 * 40], plain[10 * 40];
    mvq_forward *fe = mvq_forward_create(&edited, 10, NULL, &err);
    cr_assert_not_null(fe, "%s", err.msg);
    cr_assert_eq(mvq_forward_run(fe, tokens, 10, 0, want, &err), MVQ_OK, "%s", err.msg);
    mvq_forward_free(fe);

    mvq_forward *f = mvq_forward_create(&sm.m, 10, NULL, &err);
    cr_assert_eq(mvq_forward_run(f, tokens, 10, 0, plain, &err), MVQ_OK, "%s", err.msg);
    column reader = {.layer = 1, .col = 5}, changer = {.layer = 1, .col = 5, .zero = true};
    const uint32_t taps = MVQ_TAP_BIT(MVQ_TAP_Q_PRE_ROPE);
    /* the reader first: it still runs after the modifier */
    int r = observe_with(f, taps, MVQ_OBSERVER_READ, zero_q_column, &reader);
    int c = observe_with(f, taps, MVQ_OBSERVER_MODIFY, zero_q_column, &changer);
    cr_assert_neq(r, c);
    cr_assert_eq(mvq_forward_run(f, tokens, 10, 0, got, &err), MVQ_OK, "%s", err.msg);
    cr_expect_eq(reader.seen, 1);
    cr_expect_eq(changer.seen, 1);
    cr_expect(reader.saw_zeros, "readers see the changed values");
    double worst = 0, moved = 0;
    for (int i = 0; i < 10 * 40; i++) {
        worst = fmax(worst, fabs(got[i] - want[i]));
        moved = fmax(moved, fabs(plain[i] - want[i]));
    }
    cr_expect_leq(worst, 1e-6, "zeroed column: the logits of a zero attn_q row (off by %g)", worst);
    cr_expect_gt(moved, 1e-4, "and they differ from the plain pass");
    mvq_forward_remove_observer(f, c);
    cr_assert_eq(mvq_forward_run(f, tokens, 10, 0, got, &err), MVQ_OK, "%s", err.msg);
    cr_expect_eq(memcmp(got, plain, sizeof got), 0, "the reader alone changes nothing");
    cr_expect_eq(reader.seen, 2);
    cr_expect_not(reader.saw_zeros);
    /* the list is bounded */
    for (int i = 1; i < MVQ_MAX_OBSERVERS; i++)
        observe_with(f, taps, MVQ_OBSERVER_READ, zero_q_column, &reader);
    const mvq_observer extra = {.taps = taps, .kind = MVQ_OBSERVER_READ, .fn = zero_q_column, .user = &reader};
    cr_expect_neq(mvq_forward_add_observer(f, &extra, NULL, &err), MVQ_OK);
    mvq_forward_free(f);
    free(q);
    free(b);
    synth_free(&sm);
}

Test(hooks, taps_name_the_linear_layers_they_feed)
{
    mvq_linear l[3];
    cr_assert_eq(mvq_tap_linears(MVQ_TAP_ATTN_IN, l), 3);
    cr_assert_eq(l[0], MVQ_LINEAR_Q);
    cr_assert_eq(mvq_tap_linears(MVQ_TAP_Q, l), 0);
    for (int i = 0; i < MVQ_LINEAR_COUNT; i++) {
        mvq_tap t = mvq_linear_input_tap((mvq_linear)i);
        int n = mvq_tap_linears(t, l);
        bool found = false;
        for (int j = 0; j < n; j++)
            found |= l[j] == (mvq_linear)i;
        cr_assert(found, "%s is fed by %s", mvq_linear_name((mvq_linear)i), mvq_tap_name(t));
    }
    cr_assert_str_eq(mvq_tap_name(MVQ_TAP_K_PRE_ROPE), "k_pre_rope");
}
