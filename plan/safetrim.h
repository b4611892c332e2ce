/* SAFETRIM: comment and blank removal that keeps every line and string. */
#ifndef LUAOTA_PLAN_SAFETRIM_H
#define LUAOTA_PLAN_SAFETRIM_H

#include <stddef.h>

/*
 * SAFETRIM (lexer-aware): removes comments and leading/trailing blanks of
 * every line, keeps every newline and never touches a string literal, so
 * the program and its line numbers are unchanged.  Applies only when src
 * has a line that is exactly "--SAFETRIM"; otherwise copies.  *out is
 * malloc'ed.  Returns 0, or -1 (ENOMEM, or EINVAL for a source the lexer
 * cannot follow: an unfinished string or long bracket, or a NUL byte).
 */
int plan_safetrim(const char *src, size_t len, char **out, size_t *out_len);

/* Whether src has a line that is exactly "--SAFETRIM" (CR LF allowed). */
int plan_safetrim_wanted(const char *src, size_t len);

#endif /* LUAOTA_PLAN_SAFETRIM_H */
