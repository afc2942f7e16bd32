/* The mvquant CLI's shared helpers: messages, exit codes, progress, a
 * small JSON writer, and the subcommands' entry points.  Only the CLI
 * prints; the library fills mvq_error. */
#ifndef MVQ_CLI_H
#define MVQ_CLI_H

#include <mvquant/gguf.h>
#include <mvquant/kernels.h>
#include <mvquant/model.h>
#include <stdio.h>

/* Exit codes, documented in --help. */
enum { CLI_EXIT_OK = 0, CLI_EXIT_USAGE = 1, CLI_EXIT_FAIL = 2 };

/* 0: errors only (-q), 1: default, 2 and up: more (-v, -vv). */
extern int cli_verbosity;

/* Subcommands: each parses its own options (argv[0] is its name) and
 * returns an exit code.  Add one line here and one in main.c's table. */
int cmd_inspect(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_copy(int argc, char **argv);
int cmd_perplexity(int argc, char **argv);
int cmd_synth(int argc, char **argv);
int cmd_quantize(int argc, char **argv);
int cmd_massive(int argc, char **argv);
int cmd_disrupt(int argc, char **argv);
int cmd_eval(int argc, char **argv);

/* "mvquant: MESSAGE" on stderr, whatever the verbosity. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A note on stderr when verbosity >= level. */
void cli_info(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "mvquant CMD: MESSAGE" and a hint to --help on stderr; returns CLI_EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints err's one line and returns the exit code for its status. */
int cli_fail(const mvq_error *err);
int cli_exit_code(mvq_status st);

/* Common option parsing for subcommands: getopt_long over argv with the
 * given options; returns the option, -1 at the end, or '?' after printing
 * a usage error for an unknown option or a missing argument. */
struct option;
int cli_getopt(const char *cmd, int argc, char **argv, const char *shortopts, const struct option *longopts);
extern char *cli_optarg;
extern int cli_optind;

/* s as a decimal integer from lo to hi; false when it is not one. */
bool cli_parse_long(const char *s, long lo, long hi, long *out);

/* "1 token", "2 tokens": the noun with an s unless n is 1. */
const char *cli_plural(long long n);

/* The prefix of a split output's parts: path without a trailing ".gguf"
 * (copied into buf), as llama.cpp's tools take it; path itself otherwise. */
const char *cli_split_prefix(const char *path, char *buf, size_t size);

/* An output path checked before the long work (missing or unwritable
 * folder, a directory, one of the inputs): prints the error and returns
 * its exit code, or CLI_EXIT_OK. */
int cli_check_output(const char *path, const char *const *inputs);

/* One warning line when a context of n_ctx tokens is beyond the model's
 * training context (<arch>.context_length). */
void cli_warn_ctx(long long n_ctx, const mvq_hparams *hp);

/* Refuses a text file that is not text (a NUL byte, or not UTF-8):
 * prints the error and returns CLI_EXIT_FAIL, or CLI_EXIT_OK. */
int cli_check_text(const char *path);

/* The text file tokenized with the model's tokenizer as the library's
 * calibration text is (BOS first when the model wants one), and that BOS
 * (-1: none): what 'mvquant perplexity' evaluates. */
mvq_status cli_tokenize_text(const mvq_model *m, const char *path, int32_t **tokens, int64_t *n_tokens,
                             int32_t *bos, mvq_error *err);

/* "\rWHAT 42%, 0:12 left" on stderr, only when stderr is a terminal and
 * not quiet; the time left is estimated from the phase's start. */
void cli_progress(const char *what, uint64_t done, uint64_t total);
/* "\rWHAT 12/48 NAME TYPE, 0:12 left", as cli_progress. */
void cli_progress_item(const char *what, uint64_t i, uint64_t n, const char *name, const char *type);
void cli_progress_done(void);

/* s (n bytes) with control bytes shown as '?', padded to width: names
 * from files must not move the terminal's cursor. */
void cli_print_name(FILE *f, const char *s, size_t n, int width);

/* s (n bytes) as a double-quoted string, escaped by JSON's rules; bytes
 * that are not valid UTF-8 become U+FFFD. */
void cli_write_quoted(FILE *f, const char *s, size_t n);

/* A streaming JSON writer: commas and indentation are handled here. */
#define CLI_JSON_MAX_DEPTH 16
typedef struct cli_json {
    FILE *f;
    int depth;
    bool has_items[CLI_JSON_MAX_DEPTH];
    bool after_key;
} cli_json;
void cli_json_init(cli_json *j, FILE *f);
void cli_json_begin_object(cli_json *j);
void cli_json_end_object(cli_json *j);
void cli_json_begin_array(cli_json *j);
void cli_json_end_array(cli_json *j);
void cli_json_key(cli_json *j, const char *key);
void cli_json_str(cli_json *j, const char *s);
void cli_json_strn(cli_json *j, const char *s, size_t n);
void cli_json_u64(cli_json *j, uint64_t v);
void cli_json_i64(cli_json *j, int64_t v);
void cli_json_f64(cli_json *j, double v); /* null for NaN and infinities */
void cli_json_f32(cli_json *j, float v); /* shortest digits that round-trip a float */
void cli_json_bool(cli_json *j, bool v);
void cli_json_null(cli_json *j);
void cli_json_finish(cli_json *j); /* final newline */

#endif
