/* Fuzz entry points.  Each takes arbitrary bytes, drives one part of the
 * library with them and aborts, with a message on stderr, only on a bug
 * (a broken invariant; out-of-bounds accesses are the sanitizers' job).
 * They are built twice: into libFuzzer programs (tests/fuzz/libfuzzer_main.c,
 * ./configure --enable-fuzz), and into tests/fuzz_replay, which feeds them
 * the files under tests/fuzz-regressions/ on every `make check`. */
#ifndef MVQ_FUZZ_H
#define MVQ_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* A GGUF file: parse, walk every pair and tensor, loader rules, hashes,
 * tokenizer and model built from it. */
int mvq_fuzz_gguf(const uint8_t *data, size_t size);
/* Byte 0 chooses the tokenizer and BOS; the rest is text to tokenize and
 * detokenize again. */
int mvq_fuzz_tokenizer(const uint8_t *data, size_t size);
/* Byte 0 chooses a type and a mode; the rest are blocks to dequantize on
 * every kernel set (or floats to quantize and dequantize back). */
int mvq_fuzz_dequant(const uint8_t *data, size_t size);

#define FUZZ_REQUIRE(cond, ...)                                                                  \
    do {                                                                                         \
        if (!(cond)) {                                                                           \
            fprintf(stderr, "%s:%d: fuzz invariant failed: %s: ", __FILE__, __LINE__, #cond);    \
            fprintf(stderr, __VA_ARGS__);                                                        \
            fputc('\n', stderr);                                                                 \
            abort();                                                                             \
        }                                                                                        \
    } while (0)

#endif
