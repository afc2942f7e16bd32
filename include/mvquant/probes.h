/* Probes of contextual and parametric knowledge (the seed paper's
 * distinction): small tasks generated from a seed (or read from a file),
 * tokenized with the model's tokenizer, and scored by the model's
 * log-probability of the answer under teacher forcing (no sampling).
 *
 *   copy      a span of text (or random vocabulary tokens) and its repetition:
 *             top-1 accuracy on the second copy (after its first token), against
 *             the first copy's (what the text alone predicts); contextual
 *   passkey   a key inserted at a depth of filler text, asked for at the end:
 *             exact match of the greedy answer, its log-probability, and how
 *             often it outranks other keys; contextual
 *   recall    a name introduced early in a story and needed later: how often
 *             the introduced name outranks the other candidate names; contextual
 *   facts     closed-book prompt<TAB>answer pairs: exact match of the greedy
 *             answer, and its log-probability; parametric */
#ifndef MVQUANT_PROBES_H
#define MVQUANT_PROBES_H

#include <mvquant/model.h>
#include <mvquant/tokenizer.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum mvq_probe_kind {
    MVQ_PROBE_COPY = 0,
    MVQ_PROBE_PASSKEY = 1,
    MVQ_PROBE_RECALL = 2,
    MVQ_PROBE_FACTS = 3,
    MVQ_PROBE_KIND_COUNT = 4
} mvq_probe_kind;

/* A prompt and one answer: tokens[0 .. answer_start) is the prompt,
 * tokens[answer_start .. n_tokens) the answer. */
typedef struct mvq_probe_seq {
    int32_t *tokens;
    int64_t n_tokens, answer_start;
} mvq_probe_seq;

#define MVQ_PROBE_MAX_ALTS 15

/* One item: the prompt with its right answer; scored_from (>= its
 * answer_start) is the first answer token counted in the top-1 accuracy.
 * For recall, alts are the same prompt with the other candidates' names,
 * ranked against the right one by the answer's log-probability. */
typedef struct mvq_probe_item {
    mvq_probe_seq answer;
    int64_t scored_from;
    mvq_probe_seq alts[MVQ_PROBE_MAX_ALTS];
    int n_alts;
    /* copy: answer tokens [base_from, scored_from) are the first copy, whose
     * top-1 accuracy (base_top1) is what the text alone lets the model
     * predict; 0 for the others */
    int64_t base_from;
} mvq_probe_item;

typedef struct mvq_probe_set {
    mvq_probe_kind kind;
    mvq_probe_item *items;
    int64_t n_items;
    /* what the task's main score (mvq_probe_result.score) reaches by chance */
    double chance;
    char chance_note[96]; /* how chance was computed, e.g. "1/4 candidates" */
} mvq_probe_set;

typedef enum mvq_passkey_form {
    MVQ_PASSKEY_DIGITS = 0, /* "The pass key is 71432." (the paper's) */
    MVQ_PASSKEY_WORDS = 1,  /* "The secret word is ball." (story words) */
    MVQ_PASSKEY_NAMES = 2   /* "The secret name is Mia." (names: what stories make small models recall) */
} mvq_passkey_form;

typedef struct mvq_probe_opts {
    int64_t n_items;  /* items to make (> 0) */
    uint64_t seed;
    int64_t n_ctx;    /* the most tokens an item may have (> 16) */
    /* copy: span length in tokens; with text NULL (or random set) random
     * vocabulary tokens (NORMAL ones) instead of spans of text */
    int64_t copy_len;
    bool copy_random;
    const int32_t *text; /* tokenized text (BOS first) for copy spans */
    int64_t n_text;
    /* passkey: digits or words in the key (<= 0: 5 digits, 1 word); depth of the key in the filler
     * (0: start, 1: end; < 0: items spread evenly from 0 to 1) */
    int passkey_len;
    double passkey_pos;
    mvq_passkey_form passkey_form;
    /* recall: candidates per item, the right one included (2 .. MVQ_PROBE_MAX_ALTS + 1) */
    int recall_candidates;
} mvq_probe_opts;

/* Fills opts with the defaults: 32 items, seed 1, n_ctx 256, spans of 24,
 * keys of the form's default length, depths spread, digits, 4 candidates. */
MVQ_API void mvq_probe_opts_default(mvq_probe_opts *opts);

/* Makes a set of copy, passkey or recall items (facts: mvq_probes_read_facts).
 * Errors: options out of range, a text too short for the spans, a
 * vocabulary without enough single-token names or story words. */
MVQ_API mvq_status mvq_probes_make(const mvq_tokenizer *t, mvq_probe_kind kind, const mvq_probe_opts *opts,
                                   mvq_probe_set *out, mvq_error *err);
/* Reads prompt<TAB>answer lines (UTF-8; empty lines and lines starting
 * with '#' skipped); each item is the prompt followed by a space and the
 * answer.  Errors name the file and line: no tab, an empty prompt or
 * answer, a pair longer than n_ctx tokens, no pairs at all. */
MVQ_API mvq_status mvq_probes_read_facts(const mvq_tokenizer *t, const char *path, int64_t n_ctx,
                                         mvq_probe_set *out, mvq_error *err);
MVQ_API void mvq_probe_set_free(mvq_probe_set *s);
MVQ_API const char *mvq_probe_kind_name(mvq_probe_kind kind); /* "copy", "passkey", "recall", "facts" */
/* Whether the kind measures contextual knowledge (copy, passkey, recall) or parametric (facts). */
MVQ_API bool mvq_probe_contextual(mvq_probe_kind kind);

typedef struct mvq_probe_score_opts {
    /* installed on the passes, as mvq_forward_add_observer (a disruption,
     * say); with several threads they run concurrently, on different items */
    const mvq_observer *observers;
    int n_observers;
} mvq_probe_score_opts;

typedef struct mvq_probe_result {
    int64_t n_items;
    /* the task's score, a fraction: copy top-1 accuracy, passkey and facts
     * exact match, recall ranking accuracy */
    double score;
    double top1;         /* top-1 accuracy over the scored answer tokens */
    double exact;        /* items whose every answer token is the greedy choice */
    double logprob;      /* mean over items of the answer's summed log-probability (nats) */
    double rank_acc;     /* recall, passkey: the right answer outranks every other candidate */
    double base_top1;    /* copy: top-1 accuracy on the first copy (no repetition to copy yet) */
    int64_t n_tokens;    /* tokens run through the model */
    double seconds;
    double tokens_per_s;
} mvq_probe_result;

/* Runs every item through the model (one batched pass each, items shared
 * out over the pool's threads) and scores it.  The result does not depend
 * on the thread count. */
MVQ_API mvq_status mvq_probes_score(const mvq_model *m, const mvq_probe_set *s, const mvq_probe_score_opts *opts,
                                    mvq_pool *pool, mvq_probe_result *out, mvq_error *err);

#ifdef __cplusplus
}
#endif
#endif
