/* libFuzzer's entry for one harness: MVQ_FUZZ_TARGET names it (set per
 * program in tests/fuzz.mk). */
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    MVQ_FUZZ_TARGET(data, size);
    return 0;
}
