/* Internal to quant/methods/: each method file's table entry, for the registry. */
#ifndef MVQ_METHODS_INTERNAL_H
#define MVQ_METHODS_INTERNAL_H

#include <mvquant/methods.h>

extern const mvq_method mvq_method_rtn;

#endif
