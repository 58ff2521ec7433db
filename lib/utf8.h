/* UTF-8 validation: JSON strings must be valid UTF-8, so paths that are not
 * cannot be recorded in an image JSON. */
#ifndef STW_LIB_UTF8_H
#define STW_LIB_UTF8_H

#include <stddef.h>

int utf8_valid(const char *s, size_t len);

#endif
