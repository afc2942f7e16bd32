/* The probes' items: copy spans, passkeys in filler text and names to
 * recall in stories, made from a seed with the model's tokenizer, and
 * closed-book facts read from a TSV file. */
#include "config.h"
#include <mvquant/probes.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* splitmix64: the items depend on the seed alone */
static uint64_t next_random(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static int64_t random_below(uint64_t *state, int64_t n)
{
    return n > 0 ? (int64_t)(next_random(state) % (uint64_t)n) : 0;
}

void mvq_probe_opts_default(mvq_probe_opts *o)
{
    memset(o, 0, sizeof *o);
    o->n_items = 32;
    o->seed = 1;
    o->n_ctx = 256;
    o->copy_len = 24;
    o->passkey_pos = -1;
    o->recall_candidates = 4;
}

const char *mvq_probe_kind_name(mvq_probe_kind kind)
{
    static const char *const names[] = {"copy", "passkey", "recall", "facts"};
    return kind >= 0 && kind < MVQ_PROBE_KIND_COUNT ? names[kind] : "?";
}

bool mvq_probe_contextual(mvq_probe_kind kind)
{
    return kind != MVQ_PROBE_FACTS;
}

static void seq_free(mvq_probe_seq *s)
{
    free(s->tokens);
    s->tokens = NULL;
}

void mvq_probe_set_free(mvq_probe_set *s)
{
    if (!s)
        return;
    for (int64_t i = 0; s->items && i < s->n_items; i++) {
        seq_free(&s->items[i].answer);
        for (int a = 0; a < s->items[i].n_alts; a++)
            seq_free(&s->items[i].alts[a]);
    }
    free(s->items);
    memset(s, 0, sizeof *s);
}

/* ---------------------------------------------------------------- text */

/* A growing string. */
typedef struct strbuf {
    char *s;
    size_t len, cap;
    bool failed;
} strbuf;

static void sb_add(strbuf *b, const char *s)
{
    const size_t n = strlen(s);
    if (b->failed)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->s, cap);
        if (!p) {
            b->failed = true;
            return;
        }
        b->s = p;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n + 1);
    b->len += n;
}

/* prompt followed by answer, tokenized with BOS: the answer starts where
 * the tokens of the whole part from those of the prompt alone (so a merge
 * across the boundary counts as answer). */
static mvq_status make_seq(const mvq_tokenizer *t, const char *prompt, const char *answer, mvq_probe_seq *out,
                           mvq_error *err)
{
    const size_t np = strlen(prompt), na = strlen(answer);
    char *full = malloc(np + na + 1);
    if (!full)
        return mvq_error_set(err, MVQ_ERR_NOMEM, "probes: out of memory");
    memcpy(full, prompt, np);
    memcpy(full + np, answer, na + 1);
    int32_t *pt = NULL;
    int64_t n_pt = 0;
    mvq_status st = mvq_tokenize(t, prompt, np, true, &pt, &n_pt, err);
    if (st == MVQ_OK)
        st = mvq_tokenize(t, full, np + na, true, &out->tokens, &out->n_tokens, err);
    free(full);
    if (st == MVQ_OK) {
        int64_t k = 0;
        while (k < n_pt && k < out->n_tokens && pt[k] == out->tokens[k])
            k++;
        out->answer_start = k < 1 ? 1 : k;
        if (out->answer_start >= out->n_tokens)
            st = mvq_error_set(err, MVQ_ERR_ARG, "probes: the answer '%s' gives no tokens after its prompt", answer);
    }
    free(pt);
    return st;
}

/* ---------------------------------------------------------------- copy */

static bool usable_token(const mvq_tokenizer *t, int32_t id)
{
    const char *s = mvq_token_text(t, id);
    return mvq_token_get_type(t, id) == MVQ_TOKEN_NORMAL && s && s[0];
}

static mvq_status make_copy(const mvq_tokenizer *t, const mvq_probe_opts *o, mvq_probe_set *out, mvq_error *err)
{
    const int64_t L = o->copy_len, n_vocab = mvq_tokenizer_n_vocab(t);
    const bool random = o->copy_random || !o->text;
    if (L < 2 || 2 * L + 1 > o->n_ctx)
        return mvq_error_set(err, MVQ_ERR_ARG, "probes: a copy span of %lld tokens does not fit twice in %lld",
                             (long long)L, (long long)o->n_ctx);
    if (!random && o->n_text < L + 2)
        return mvq_error_set(err, MVQ_ERR_ARG, "probes: the text (%lld tokens) is shorter than a copy span of %lld",
                             (long long)o->n_text, (long long)L);
    int32_t *pool = malloc((size_t)(n_vocab > 0 ? n_vocab : 1) * sizeof *pool);
    int64_t n_pool = 0;
    if (!pool)
        return mvq_error_set(err, MVQ_ERR_NOMEM, "probes: out of memory");
    for (int32_t id = 0; id < n_vocab; id++)
        if (usable_token(t, id))
            pool[n_pool++] = id;
    uint64_t rng = o->seed;
    const int32_t bos = mvq_tokenizer_bos(t);
    const int64_t head = bos >= 0 ? 1 : 0;
    mvq_status st = MVQ_OK;
    if (random && n_pool < 2)
        st = mvq_error_set(err, MVQ_ERR_ARG, "probes: the vocabulary has no tokens to copy");
    out->chance = 1.0 / (double)(random ? n_pool : n_vocab);
    snprintf(out->chance_note, sizeof out->chance_note, "1/%lld %s", (long long)(random ? n_pool : n_vocab),
             random ? "tokens drawn from" : "tokens of the vocabulary");
    for (int64_t i = 0; st == MVQ_OK && i < o->n_items; i++) {
        mvq_probe_seq *s = &out->items[i].answer;
        s->n_tokens = head + 2 * L;
        if (!(s->tokens = malloc((size_t)s->n_tokens * sizeof(int32_t)))) {
            st = mvq_error_set(err, MVQ_ERR_NOMEM, "probes: out of memory");
            break;
        }
        if (head)
            s->tokens[0] = bos;
        const int64_t from = 1 + random_below(&rng, o->n_text - L - 1);
        for (int64_t k = 0; k < L; k++)
            s->tokens[head + k] = random ? pool[random_below(&rng, n_pool)] : o->text[from + k];
        memcpy(s->tokens + head + L, s->tokens + head, (size_t)L * sizeof(int32_t));
        /* the second copy's first token cannot be known; the rest can be
         * copied.  The first copy's predictions (from its second token) are
         * the baseline. */
        s->answer_start = head + 1;
        out->items[i].base_from = head + 1;
        out->items[i].scored_from = head + L + 1;
    }
    free(pool);
    return st;
}

/* ------------------------------------------------------------- passkey */

/* Names of children's stories, short in a small vocabulary; none is the
 * start of another, so an answer's tokens are the name's alone. */
static const struct {
    const char *name;
    bool girl;
} names[] = {{"Lily", true}, {"Tom", false}, {"Ben", false}, {"Sue", true}, {"Max", false}, {"Mia", true},
             {"Amy", true},  {"Sam", false}, {"Lucy", true}, {"Jack", false}, {"Anna", true}, {"Bob", false},
             {"Sara", true}, {"Tim", false}, {"Jane", true}, {"Joe", false}};
#define N_NAMES (int)(sizeof names / sizeof names[0])


/* The paper's filler, and its key sentences. */
static const char filler[] = " The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again.";

/* Story words for keys a model trained on children's stories can read. */
static const char *const key_words[] = {"ball", "cat", "dog", "tree", "cake", "bird", "park", "toy",
                                        "box",  "cup", "car", "fish", "hat",  "book", "frog", "boat"};
#define N_KEY_WORDS (int)(sizeof key_words / sizeof key_words[0])

static void make_key(mvq_passkey_form form, int len, uint64_t *rng, char *key, size_t size)
{
    size_t n = 0;
    key[0] = '\0';
    for (int i = 0; i < len && n + 16 < size; i++) {
        if (form == MVQ_PASSKEY_DIGITS)
            n += (size_t)snprintf(key + n, size - n, "%d", (int)random_below(rng, 10));
        else if (form == MVQ_PASSKEY_NAMES)
            n += (size_t)snprintf(key + n, size - n, "%s%s", i ? " " : "", names[random_below(rng, N_NAMES)].name);
        else
            n += (size_t)snprintf(key + n, size - n, "%s%s", i ? " " : "", key_words[random_below(rng, N_KEY_WORDS)]);
    }
}

/* The prompt with the key after `before` of the n_fill fillers. */
static char *passkey_prompt(mvq_passkey_form form, const char *key, int n_fill, int before)
{
    const char *what = form == MVQ_PASSKEY_DIGITS ? "pass key" : form == MVQ_PASSKEY_NAMES ? "secret name" : "secret word";
    char line[640];
    strbuf b = {0};
    snprintf(line, sizeof line, "There is a %s hidden in this text. Remember it.", what);
    sb_add(&b, line);
    for (int i = 0; i <= n_fill; i++) {
        if (i == before) {
            snprintf(line, sizeof line, " The %s is %s. Remember it. %s is the %s.", what, key, key, what);
            sb_add(&b, line);
        }
        if (i < n_fill)
            sb_add(&b, filler);
    }
    snprintf(line, sizeof line, " What is the %s? The %s is", what, what);
    sb_add(&b, line);
    if (b.failed) {
        free(b.s);
        return NULL;
    }
    return b.s;
}

static mvq_status make_passkey(const mvq_tokenizer *t, const mvq_probe_opts *o, mvq_probe_set *out,
                               mvq_error *err)
{
    const mvq_passkey_form form = o->passkey_form;
    const int len = o->passkey_len > 0 ? o->passkey_len : form == MVQ_PASSKEY_DIGITS ? 5 : 1;
    if (form < MVQ_PASSKEY_DIGITS || form > MVQ_PASSKEY_NAMES)
        return mvq_error_set(err, MVQ_ERR_ARG, "probes: unknown passkey form %d", (int)form);
    if (len > 32 || o->passkey_pos > 1)
        return mvq_error_set(err, MVQ_ERR_ARG, "probes: a passkey of %d (at most 32) at depth %g (at most 1)", len,
                             o->passkey_pos);
    if (form == MVQ_PASSKEY_DIGITS) {
        out->chance = pow(10.0, -len);
        snprintf(out->chance_note, sizeof out->chance_note, "10^-%d: a guess of %d digits", len, len);
    } else {
        const int n = form == MVQ_PASSKEY_NAMES ? N_NAMES : N_KEY_WORDS;
        out->chance = pow(1.0 / n, len);
        snprintf(out->chance_note, sizeof out->chance_note, "(1/%d)^%d: a guess among the key %s", n, len,
                 form == MVQ_PASSKEY_NAMES ? "names" : "words");
    }
    /* as many fillers as fit in n_ctx with the key and the question */
    int32_t *ft = NULL;
    int64_t n_ft = 0;
    mvq_status st = mvq_tokenize(t, filler, strlen(filler), false, &ft, &n_ft, err);
    free(ft);
    if (st != MVQ_OK)
        return st;
    const int k = o->recall_candidates;
    if (k < 1 || k > MVQ_PROBE_MAX_ALTS + 1)
        return mvq_error_set(err, MVQ_ERR_ARG, "probes: %d passkey candidates (1 to %d)", k, MVQ_PROBE_MAX_ALTS + 1);
    uint64_t rng = o->seed;
    for (int64_t i = 0; st == MVQ_OK && i < o->n_items; i++) {
        /* the key, and k - 1 others to rank it against */
        char keys[MVQ_PROBE_MAX_ALTS + 1][256], answer[264];
        for (int j = 0; j < k; j++) {
            int same = 1;
            for (int tries = 0; same && tries < 100; tries++) {
                make_key(form, len, &rng, keys[j], sizeof keys[j]);
                same = 0;
                for (int q = 0; q < j; q++)
                    same |= strcmp(keys[q], keys[j]) == 0;
            }
        }
        const char *key = keys[0];
        snprintf(answer, sizeof answer, " %s", key);
        const double depth = o->passkey_pos >= 0 ? o->passkey_pos
                             : o->n_items > 1   ? (double)i / (double)(o->n_items - 1)
                                                : 0.5;
        mvq_probe_item *it = &out->items[i];
        char *prompt = NULL;
        for (int n_fill = (int)(o->n_ctx / (n_ft > 0 ? n_ft : 1)); n_fill >= 0; n_fill--) {
            free(prompt);
            if (!(prompt = passkey_prompt(form, key, n_fill, (int)lround(depth * n_fill))))
                return mvq_error_set(err, MVQ_ERR_NOMEM, "probes: out of memory");
            seq_free(&it->answer);
            st = make_seq(t, prompt, answer, &it->answer, err);
            if (st != MVQ_OK || it->answer.n_tokens <= o->n_ctx)
                break;
            if (n_fill == 0)
                st = mvq_error_set(err, MVQ_ERR_ARG, "probes: a passkey prompt does not fit in %lld tokens",
                                   (long long)o->n_ctx);
        }
        it->scored_from = it->answer.answer_start;
        /* the other keys after the same prompt, to rank the right one against */
        for (int j = 1; st == MVQ_OK && j < k; j++) {
            snprintf(answer, sizeof answer, " %s", keys[j]);
            st = make_seq(t, prompt, answer, &it->alts[j - 1], err);
            it->n_alts = j;
        }
        free(prompt);
    }
    return st;
}

/* -------------------------------------------------------------- recall */

static const char *const middles[] = {
    " %s liked to play outside.",       " %s had a red ball.",          " One day, %s went to the park.",
    " The sun was warm and bright.",     " %s saw a big tree.",          " A little bird sang a song.",
    " %s was very happy.",               " The sky was blue.",           " %s found a shiny stone.",
    " Mom made a yummy cake.",          " %s ran fast.",                " The dog wagged its tail.",
};
#define N_MIDDLES (int)(sizeof middles / sizeof middles[0])
static const char *const endings[] = {" The next day,", " After that,", " Then", " At the end of the day,"};
#define N_ENDINGS (int)(sizeof endings / sizeof endings[0])

/* "Once upon a time, there was a little girl named Lily." and a few
 * sentences (pronouns for the name), ending where the name comes next. */
static char *recall_prompt(int who, uint64_t *rng)
{
    char line[256];
    strbuf b = {0};
    snprintf(line, sizeof line, "Once upon a time, there was a little %s named %s.", names[who].girl ? "girl" : "boy",
             names[who].name);
    sb_add(&b, line);
    const int n = 3 + (int)random_below(rng, 4);
    for (int i = 0; i < n; i++) {
        snprintf(line, sizeof line, middles[random_below(rng, N_MIDDLES)], names[who].girl ? "She" : "He");
        /* "One day, She went": the pronoun inside a sentence in lower case */
        char *p = strstr(line, ", S");
        if (!p)
            p = strstr(line, ", H");
        if (p)
            p[2] = (char)(p[2] - 'A' + 'a');
        sb_add(&b, line);
    }
    sb_add(&b, endings[random_below(rng, N_ENDINGS)]);
    if (b.failed) {
        free(b.s);
        return NULL;
    }
    return b.s;
}

static mvq_status make_recall(const mvq_tokenizer *t, const mvq_probe_opts *o, mvq_probe_set *out,
                              mvq_error *err)
{
    const int k = o->recall_candidates;
    if (k < 2 || k > MVQ_PROBE_MAX_ALTS + 1 || k > N_NAMES)
        return mvq_error_set(err, MVQ_ERR_ARG, "probes: %d recall candidates (2 to %d)", k,
                             MVQ_PROBE_MAX_ALTS + 1 < N_NAMES ? MVQ_PROBE_MAX_ALTS + 1 : N_NAMES);
    out->chance = 1.0 / k;
    snprintf(out->chance_note, sizeof out->chance_note, "1/%d candidate names", k);
    uint64_t rng = o->seed;
    mvq_status st = MVQ_OK;
    for (int64_t i = 0; st == MVQ_OK && i < o->n_items; i++) {
        int order[N_NAMES];
        for (int j = 0; j < N_NAMES; j++)
            order[j] = j;
        for (int j = 0; j < k; j++) { /* the first k of a shuffle: the right name, then the others */
            const int r = j + (int)random_below(&rng, N_NAMES - j), tmp = order[j];
            order[j] = order[r];
            order[r] = tmp;
        }
        char *prompt = recall_prompt(order[0], &rng);
        if (!prompt)
            return mvq_error_set(err, MVQ_ERR_NOMEM, "probes: out of memory");
        mvq_probe_item *it = &out->items[i];
        for (int j = 0; st == MVQ_OK && j < k; j++) {
            char answer[64];
            snprintf(answer, sizeof answer, " %s", names[order[j]].name);
            mvq_probe_seq *s = j == 0 ? &it->answer : &it->alts[j - 1];
            st = make_seq(t, prompt, answer, s, err);
            if (st == MVQ_OK && s->n_tokens > o->n_ctx)
                st = mvq_error_set(err, MVQ_ERR_ARG, "probes: a recall story does not fit in %lld tokens",
                                   (long long)o->n_ctx);
            it->n_alts = j;
        }
        it->scored_from = it->answer.answer_start;
        free(prompt);
    }
    return st;
}

mvq_status mvq_probes_make(const mvq_tokenizer *t, mvq_probe_kind kind, const mvq_probe_opts *opts,
                           mvq_probe_set *out, mvq_error *err)
{
    mvq_probe_opts dflt;
    mvq_probe_opts_default(&dflt);
    const mvq_probe_opts *o = opts ? opts : &dflt;
    memset(out, 0, sizeof *out);
    out->kind = kind;
    if (kind == MVQ_PROBE_FACTS || kind < 0 || kind >= MVQ_PROBE_KIND_COUNT)
        return mvq_error_set(err, MVQ_ERR_ARG, "probes: %s items are not generated",
                             mvq_probe_kind_name(kind));
    if (o->n_items < 1 || o->n_items > 1000000 || o->n_ctx <= 16)
        return mvq_error_set(err, MVQ_ERR_ARG, "probes: %lld items of at most %lld tokens", (long long)o->n_items,
                             (long long)o->n_ctx);
    if (!(out->items = calloc((size_t)o->n_items, sizeof *out->items)))
        return mvq_error_set(err, MVQ_ERR_NOMEM, "probes: out of memory");
    out->n_items = o->n_items;
    mvq_status st = kind == MVQ_PROBE_COPY      ? make_copy(t, o, out, err)
                    : kind == MVQ_PROBE_PASSKEY ? make_passkey(t, o, out, err)
                                                : make_recall(t, o, out, err);
    if (st != MVQ_OK)
        mvq_probe_set_free(out);
    return st;
}

/* --------------------------------------------------------------- facts */

static mvq_status facts_line(const mvq_tokenizer *t, const char *path, long lineno, char *line, int64_t n_ctx,
                             mvq_probe_item *it, mvq_error *err)
{
    char *tab = strchr(line, '\t');
    if (!tab)
        return mvq_error_set(err, MVQ_ERR_FORMAT, "%s:%ld: no tab between the prompt and the answer", path, lineno);
    *tab = '\0';
    char *prompt = line, *answer = tab + 1;
    size_t np = strlen(prompt);
    while (np > 0 && prompt[np - 1] == ' ')
        prompt[--np] = '\0';
    while (*answer == ' ')
        answer++;
    if (np == 0 || !*answer || strchr(answer, '\t'))
        return mvq_error_set(err, MVQ_ERR_FORMAT, "%s:%ld: %s", path, lineno,
                             np == 0 ? "empty prompt" : *answer ? "more than one tab" : "empty answer");
    char spaced[1024];
    if (snprintf(spaced, sizeof spaced, " %s", answer) >= (int)sizeof spaced)
        return mvq_error_set(err, MVQ_ERR_FORMAT, "%s:%ld: answer too long", path, lineno);
    mvq_status st = make_seq(t, prompt, spaced, &it->answer, err);
    if (st != MVQ_OK) {
        char why[sizeof err->msg];
        snprintf(why, sizeof why, "%s", err ? err->msg : "bad pair");
        return mvq_error_set(err, st, "%s:%ld: %s", path, lineno, why);
    }
    if (it->answer.n_tokens > n_ctx)
        return mvq_error_set(err, MVQ_ERR_FORMAT, "%s:%ld: %lld tokens, more than the context of %lld", path, lineno,
                             (long long)it->answer.n_tokens, (long long)n_ctx);
    it->scored_from = it->answer.answer_start;
    return MVQ_OK;
}

mvq_status mvq_probes_read_facts(const mvq_tokenizer *t, const char *path, int64_t n_ctx, mvq_probe_set *out,
                                 mvq_error *err)
{
    memset(out, 0, sizeof *out);
    out->kind = MVQ_PROBE_FACTS;
    FILE *f = fopen(path, "rb");
    if (!f)
        return mvq_error_set(err, MVQ_ERR_IO, "%s: %s", path, strerror(errno));
    char line[4096];
    long lineno = 0;
    int64_t cap = 0;
    mvq_status st = MVQ_OK;
    while (st == MVQ_OK && fgets(line, sizeof line, f)) {
        lineno++;
        size_t n = strlen(line);
        if (n == sizeof line - 1 && line[n - 1] != '\n') {
            st = mvq_error_set(err, MVQ_ERR_FORMAT, "%s:%ld: line longer than %zu bytes", path, lineno,
                               sizeof line - 2);
            break;
        }
        if (memchr(line, '\0', n) != NULL && strlen(line) != n) {
            st = mvq_error_set(err, MVQ_ERR_FORMAT, "%s:%ld: a NUL byte: not text", path, lineno);
            break;
        }
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        if (n == 0 || line[0] == '#')
            continue;
        if (out->n_items == cap) {
            cap = cap ? 2 * cap : 16;
            mvq_probe_item *p = realloc(out->items, (size_t)cap * sizeof *p);
            if (!p) {
                st = mvq_error_set(err, MVQ_ERR_NOMEM, "probes: out of memory");
                break;
            }
            out->items = p;
        }
        mvq_probe_item *it = &out->items[out->n_items++];
        memset(it, 0, sizeof *it);
        st = facts_line(t, path, lineno, line, n_ctx, it, err);
    }
    if (st == MVQ_OK && ferror(f))
        st = mvq_error_set(err, MVQ_ERR_IO, "%s: read error", path);
    fclose(f);
    if (st == MVQ_OK && out->n_items == 0)
        st = mvq_error_set(err, MVQ_ERR_FORMAT, "%s: no prompt<TAB>answer pairs", path);
    if (st != MVQ_OK) {
        mvq_probe_set_free(out);
        return st;
    }
    /* a uniform guess of each answer token, averaged over the pairs */
    const double v = (double)mvq_tokenizer_n_vocab(t);
    out->chance = 0;
    for (int64_t i = 0; i < out->n_items; i++)
        out->chance += pow(v, -(double)(out->items[i].answer.n_tokens - out->items[i].answer.answer_start));
    out->chance /= (double)out->n_items;
    snprintf(out->chance_note, sizeof out->chance_note, "1/%.0f per answer token", v);
    return MVQ_OK;
}
