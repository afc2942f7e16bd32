/* mvquant: model API (to be filled in). */
#ifndef MVQUANT_MODEL_H
#define MVQUANT_MODEL_H
#include <mvquant/common.h>
#endif
