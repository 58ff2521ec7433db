/* Functions with no bound on what they write: use snprintf, memcpy with
 * an explicit length, or struct buf (git's banned.h does the same). */
#ifndef STW_BANNED_H
#define STW_BANNED_H

#define BANNED(f) sorry_##f##_is_banned_in_stowage

#undef strcpy
#define strcpy(a, b) BANNED(strcpy)
#undef strcat
#define strcat(a, b) BANNED(strcat)
#undef sprintf
#define sprintf(...) BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) BANNED(vsprintf)
#undef gets
#define gets(a) BANNED(gets)
#undef strncpy
#define strncpy(a, b, c) BANNED(strncpy)

#endif
