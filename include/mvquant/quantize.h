/* mvquant: quantize API (to be filled in). */
#ifndef MVQUANT_QUANTIZE_H
#define MVQUANT_QUANTIZE_H
#include <mvquant/common.h>
#endif
