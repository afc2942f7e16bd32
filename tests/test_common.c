/* Error helper and version (Criterion). */
#include <criterion/criterion.h>
#include <mvquant.h>
#include <string.h>

Test(common, error_set_formats_message_and_status)
{
    mvq_error e;
    mvq_status s = mvq_error_set(&e, MVQ_ERR_FORMAT, "%s: bad magic %#x", "a.gguf", 0x12u);
    cr_assert_eq(s, MVQ_ERR_FORMAT);
    cr_assert_eq(e.status, MVQ_ERR_FORMAT);
    cr_assert_str_eq(e.msg, "a.gguf: bad magic 0x12");
    mvq_error_clear(&e);
    cr_assert_eq(e.status, MVQ_OK);
    cr_assert_str_eq(e.msg, "");
}

Test(common, version_matches_package)
{
    cr_assert_str_eq(mvq_version(), PACKAGE_VERSION);
}
