/* mvquant: tokenizer API (to be filled in). */
#ifndef MVQUANT_TOKENIZER_H
#define MVQUANT_TOKENIZER_H
#include <mvquant/common.h>
#endif
