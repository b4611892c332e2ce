/*
 * Rate limits for warnings a peer can trigger at will (bad signatures,
 * unknown chips, a full disk): at most a burst per key and window; the
 * rest are counted and reported as one summary line.
 */
#ifndef LUAOTAD_RATELIMIT_H
#define LUAOTAD_RATELIMIT_H

#include <stdint.h>

/*
 * True when a warning under key may be logged at now_ms (monotonic);
 * false when it is to be counted as suppressed instead.
 */
int ratelimit_allow(const char *key, int64_t now_ms);

/*
 * Logs one summary line per key whose window has ended with warnings
 * suppressed, and starts its next window.  Called periodically.
 */
void ratelimit_report(int64_t now_ms);

/* Forgets every key (tests, and daemon exit after a final report). */
void ratelimit_reset(void);

#endif /* LUAOTAD_RATELIMIT_H */
