/* Quoted strings (JSON escaping, valid UTF-8 out) and a small streaming
 * JSON writer for --json outputs. */
#include "config.h"
#include "tools/mvquant/cli.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (len == 0 || len > n)
        return 0;
    uint32_t cp = len == 1 ? c : len == 2 ? c & 0x1f : len == 3 ? c & 0x0f : c & 0x07;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_cp[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

void cli_write_quoted(FILE *f, const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    fputc('"', f);
    for (size_t i = 0; i < n;) {
        unsigned c = s[i];
        size_t len = utf8_len(s + i, n - i);
        if (len == 0) {
            fputs("\\ufffd", f);
            i++;
            continue;
        }
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", f);
        else if (c == '\t')
            fputs("\\t", f);
        else if (c == '\r')
            fputs("\\r", f);
        else if (c < 0x20 || c == 0x7f)
            fprintf(f, "\\u%04x", c);
        else
            fwrite(s + i, 1, len, f);
        i += len;
    }
    fputc('"', f);
}

void cli_json_init(cli_json *j, FILE *f)
{
    j->f = f;
    j->depth = 0;
    j->has_items[0] = false;
    j->after_key = false;
}

static void indent(cli_json *j)
{
    fputc('\n', j->f);
    for (int i = 0; i < j->depth; i++)
        fputs("  ", j->f);
}

/* Before any value: a comma and a new line unless it follows a key. */
static void before_value(cli_json *j)
{
    if (j->after_key) {
        j->after_key = false;
        return;
    }
    if (j->depth > 0) {
        if (j->has_items[j->depth])
            fputc(',', j->f);
        indent(j);
    }
    j->has_items[j->depth] = true;
}

static void open_container(cli_json *j, char c)
{
    before_value(j);
    fputc(c, j->f);
    if (j->depth + 1 < CLI_JSON_MAX_DEPTH)
        j->depth++;
    j->has_items[j->depth] = false;
}

static void close_container(cli_json *j, char c)
{
    bool had = j->has_items[j->depth];
    if (j->depth > 0)
        j->depth--;
    if (had)
        indent(j);
    fputc(c, j->f);
}

void cli_json_begin_object(cli_json *j) { open_container(j, '{'); }
void cli_json_end_object(cli_json *j) { close_container(j, '}'); }
void cli_json_begin_array(cli_json *j) { open_container(j, '['); }
void cli_json_end_array(cli_json *j) { close_container(j, ']'); }

void cli_json_key(cli_json *j, const char *key)
{
    before_value(j);
    cli_write_quoted(j->f, key, strlen(key));
    fputs(": ", j->f);
    j->after_key = true;
}

void cli_json_strn(cli_json *j, const char *s, size_t n)
{
    before_value(j);
    cli_write_quoted(j->f, s, n);
}

void cli_json_str(cli_json *j, const char *s)
{
    cli_json_strn(j, s, strlen(s));
}

void cli_json_u64(cli_json *j, uint64_t v)
{
    before_value(j);
    fprintf(j->f, "%" PRIu64, v);
}

void cli_json_i64(cli_json *j, int64_t v)
{
    before_value(j);
    fprintf(j->f, "%" PRId64, v);
}

void cli_json_f64(cli_json *j, double v)
{
    before_value(j);
    if (isfinite(v))
        fprintf(j->f, "%.17g", v);
    else
        fputs("null", j->f);
}

void cli_json_f32(cli_json *j, float v)
{
    before_value(j);
    if (isfinite(v))
        fprintf(j->f, "%.9g", (double)v);
    else
        fputs("null", j->f);
}

void cli_json_bool(cli_json *j, bool v)
{
    before_value(j);
    fputs(v ? "true" : "false", j->f);
}

void cli_json_null(cli_json *j)
{
    before_value(j);
    fputs("null", j->f);
}

void cli_json_finish(cli_json *j)
{
    fputc('\n', j->f);
}
