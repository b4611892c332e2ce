/*
 * luaotad's HTTP listener (http_listen, off by default; or the socket
 * systemd passes as FileDescriptorName=http): GET /metrics for
 * Prometheus, the JSON API under /api/v1, and the dashboard at /.
 */
#ifndef LUAOTAD_HTTP_H
#define LUAOTAD_HTTP_H

struct daemon;

/*
 * Serves HTTP on inherited_fd (>= 0), else on d->conf.http_listen when
 * set; 0 (also when neither is there), or -1 with the reason logged.
 */
int http_open(struct daemon *d, int inherited_fd);

/* Stops serving HTTP: open requests are dropped. */
void http_close(struct daemon *d);

#endif /* LUAOTAD_HTTP_H */
