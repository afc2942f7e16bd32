/* mvquant eval: the table of probe scores (models x tasks) that the
 * command prints, writes as JSON and draws as SVG. */
#ifndef MVQ_EVAL_CLI_H
#define MVQ_EVAL_CLI_H

#include <mvquant/probes.h>

#define EVAL_MAX_COLS 32

/* What a column summarises into. */
typedef enum eval_class { EVAL_CONTEXTUAL = 0, EVAL_PARAMETRIC = 1, EVAL_SANITY = 2 } eval_class;

typedef struct eval_col {
    char name[64];      /* "copy", "passkey:words", "facts:FILE", "ppl:closed", ... */
    eval_class cls;
    bool lower_better;  /* perplexities */
    double chance;      /* the score by chance (NaN: none) */
    char chance_note[96];
} eval_col;

/* One model (or one model under a disruption): a row. */
typedef struct eval_row {
    char name[160];
    const char *path;
    const char *disrupt; /* NULL, "massive", "lowest", "random" */
    double value[EVAL_MAX_COLS];  /* the score (a fraction) or the perplexity */
    double logprob[EVAL_MAX_COLS]; /* probes: mean answer log-probability (NaN for ppl columns) */
    double tokens_per_s[EVAL_MAX_COLS];
    double rel[EVAL_MAX_COLS];    /* against the first row: score ratio, or first PPL / PPL */
    double summary[2];            /* mean rel over the contextual and the parametric columns counted */
} eval_row;

typedef struct eval_table {
    eval_col cols[EVAL_MAX_COLS];
    int n_cols;
    eval_row *rows;
    int n_rows;
    long n_items; /* per probe, for the margin above chance */
    /* columns counted in the summaries: the first row above chance there */
    bool counted[EVAL_MAX_COLS];
} eval_table;

/* Grouped bars like the paper's Figure 5: per column, one bar per row,
 * the score relative to the first row.  Written as mvq_write_file writes. */
mvq_status eval_write_svg(const char *path, const eval_table *t, const char *title, mvq_error *err);

#endif
