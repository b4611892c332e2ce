/* Listening sockets: from systemd socket activation, or from the config. */
#ifndef LUAOTAD_LISTENER_H
#define LUAOTAD_LISTENER_H

struct daemon;

/*
 * Opens the listeners: the listening sockets systemd passed
 * (sd_listen_fds_with_names), else one per configured address.  Logs each bound
 * address (with the port the kernel chose for ":0").  Returns 0, or -1 after
 * logging why.
 */
int listener_open(struct daemon *d);

/* Stops accepting (drain) without closing sessions. */
void listener_disable(struct daemon *d);

/* Closes every listener. */
void listener_close(struct daemon *d);

#endif /* LUAOTAD_LISTENER_H */
