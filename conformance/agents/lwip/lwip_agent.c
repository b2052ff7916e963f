/*
 * timewait's lwIP agent: one lwIP 2.1 instance (Debian's liblwip, unix
 * port) behind the agent protocol v1 (conformance/agents/PROTOCOL.md).
 *
 * Virtual mode: lwIP runs single-threaded on this program's clock. This
 * file defines sys_now(), which replaces the library's (it is called
 * through the PLT), so time only moves when the harness says `advance`;
 * packets leave through an IP-level netif whose output collects them for
 * the reply.
 *
 * Tap mode: lwIP runs as it would in a product, with its tcpip thread, a
 * TAP port on the interface the harness created, and real time. The main
 * thread takes the core lock around every raw API call. This file reads
 * the TAP port itself (not lwIP's tapif, whose thread hands frames over at
 * its own pace): a reader thread feeds each frame to the stack as it
 * arrives, and before every request the main thread takes every frame
 * still queued, under the same lock, so no request overtakes a frame the
 * harness sent before it.
 *
 * Requests are parsed and replies printed with cJSON (Debian's
 * libcjson): every field's presence and type is checked, and a request
 * that is not what the protocol says gets a `fatal` reply naming what was
 * expected.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "lwip/init.h"
#include "lwip/ip4.h"
#include "lwip/ip_addr.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/tcp.h"
#include "lwip/tcpip.h"
#include "lwip/timeouts.h"
#include "netif/etharp.h"
#include "netif/ethernet.h"

#define MAX_LINE (64 * 1024)
/* The largest whole number a JSON number (a double, in cJSON) holds exactly. */
#define MAX_EXACT 9007199254740992.0

/* ---- replies: built as cJSON values, printed one per line ---- */

static void *need(void *p)
{
    if (!p) {
        fputs("lwip agent: out of memory\n", stderr);
        exit(70);
    }
    return p;
}

/* Adds `item` to an object under `key`, or to an array when `key` is NULL. */
static void add(cJSON *to, const char *key, cJSON *item)
{
    need(item);
    if (!(key ? cJSON_AddItemToObject(to, key, item) : cJSON_AddItemToArray(to, item)))
        need(NULL);
}

/* ---- the agent's state ---- */

enum mode { MODE_NONE, MODE_VIRTUAL, MODE_TAP };

static enum mode mode = MODE_NONE;
static u64_t now_us;            /* virtual clock */
static struct netif nif;
static ip4_addr_t sut_ip, peer_ip;
static u16_t sut_port, peer_port;
static struct tcp_pcb *listener; /* the application's listener */
static int persistent;           /* the listener stays open after accept */
#define BACKLOG 4
/* Established, not yet accepted, oldest first; on_err empties a slot. */
static struct tcp_pcb *pending[BACKLOG];
static struct tcp_pcb *conn;     /* the application's connection */
/* What the next successful reply carries (arrays; NULL until the first). */
static cJSON *events, *frames;
static int nframes;

static cJSON *array(cJSON **a)
{
    if (!*a)
        *a = need(cJSON_CreateArray());
    return *a;
}

static void event(const char *kind, long bytes)
{
    cJSON *e = need(cJSON_CreateObject());
    add(e, "kind", cJSON_CreateString(kind));
    if (bytes >= 0)
        add(e, "bytes", cJSON_CreateNumber((double)bytes));
    add(array(&events), NULL, e);
}

/* lwIP calls this through the PLT: the virtual clock replaces its own. */
u32_t sys_now(void)
{
    if (mode == MODE_VIRTUAL)
        return (u32_t)(now_us / 1000);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (u32_t)(ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

/* ---- netif for virtual mode: packets out go into the reply ---- */

static err_t collect_output(struct netif *n, struct pbuf *p, const ip4_addr_t *dst)
{
    (void)n;
    (void)dst;
    static const char hex[] = "0123456789abcdef";
    u8_t tmp[2048];
    char text[2 * sizeof tmp + 1];
    u16_t len = pbuf_copy_partial(p, tmp, sizeof tmp, 0);
    for (u16_t i = 0; i < len; i++) {
        text[2 * i] = hex[tmp[i] >> 4];
        text[2 * i + 1] = hex[tmp[i] & 15];
    }
    text[2 * len] = 0;
    add(array(&frames), NULL, cJSON_CreateString(text));
    nframes++;
    return ERR_OK;
}

static err_t virtual_netif_init(struct netif *n)
{
    n->name[0] = 't';
    n->name[1] = 'w';
    n->output = collect_output;
    n->mtu = 1500;
    n->flags = NETIF_FLAG_BROADCAST;
    return ERR_OK;
}

/* ---- callbacks: what the application sees ---- */

static err_t on_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
    (void)arg;
    (void)err;
    if (!p) {
        event("eof", -1);
        return ERR_OK;
    }
    /* The application reads everything at once, as the protocol says. */
    event("received", p->tot_len);
    tcp_recved(pcb, p->tot_len);
    pbuf_free(p);
    return ERR_OK;
}

/* The pcb is gone when this runs: forget whichever slot held it. */
static void on_err(void *arg, err_t err)
{
    struct tcp_pcb **slot = arg;
    if (slot)
        *slot = NULL;
    switch (err) {
    case ERR_RST:
        event("reset", -1);
        break;
    case ERR_ABRT:
        event("timeout", -1);
        break;
    default:
        event("closed", -1);
    }
}

static void watch(struct tcp_pcb *pcb, struct tcp_pcb **slot)
{
    tcp_arg(pcb, slot);
    tcp_recv(pcb, on_recv);
    tcp_err(pcb, on_err);
}

static void unwatch(struct tcp_pcb *pcb)
{
    tcp_arg(pcb, NULL);
    tcp_recv(pcb, NULL);
    tcp_err(pcb, NULL);
}

static err_t on_accept(void *arg, struct tcp_pcb *pcb, err_t err)
{
    (void)arg;
    if (err != ERR_OK || !pcb)
        return ERR_VAL;
    /* The accept queue: a one-shot listener takes one connection, a
     * persistent one up to its backlog. Beyond that, refuse (lwIP aborts it). */
    int room = persistent ? BACKLOG : 1;
    for (int i = 0; i < room; i++)
        if (!pending[i]) {
            pending[i] = pcb;
            watch(pcb, &pending[i]);
            event("accepted", -1);
            return ERR_OK;
        }
    return ERR_MEM;
}

static err_t on_connected(void *arg, struct tcp_pcb *pcb, err_t err)
{
    (void)arg;
    (void)pcb;
    (void)err;
    event("connected", -1);
    return ERR_OK;
}

/* ---- requests ---- */

/* The string field `key` of the request, or NULL when it is absent or not
 * a string. */
static const char *str_field(const cJSON *req, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(req, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* The whole-number field `key` of the request, 0..max (max at most
 * MAX_EXACT): 1 and the value in *out, or 0 when it is absent, not a
 * number, fractional or out of range. */
static int uint_field(const cJSON *req, const char *key, double max, unsigned long long *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(req, key);
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0 && v->valuedouble <= max))
        return 0;
    unsigned long long n = (unsigned long long)v->valuedouble;
    if ((double)n != v->valuedouble)
        return 0;
    *out = n;
    return 1;
}

static int parse_endpoint(const char *s, ip4_addr_t *ip, u16_t *port)
{
    char host[64];
    const char *colon = strrchr(s, ':');
    if (!colon || (size_t)(colon - s) >= sizeof host)
        return 0;
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = 0;
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (*end || p <= 0 || p > 65535 || !ip4addr_aton(host, ip))
        return 0;
    *port = (u16_t)p;
    return 1;
}

static const char *err_name(err_t e)
{
    switch (e) {
    case ERR_MEM: return "out of memory (ERR_MEM)";
    case ERR_BUF: return "buffer error (ERR_BUF)";
    case ERR_RTE: return "no route (ERR_RTE)";
    case ERR_VAL: return "illegal value (ERR_VAL)";
    case ERR_USE: return "address in use (ERR_USE)";
    case ERR_ISCONN: return "already connected (ERR_ISCONN)";
    case ERR_CONN: return "not connected (ERR_CONN)";
    case ERR_ARG: return "illegal argument (ERR_ARG)";
    default: return "error";
    }
}

/* The reply to the request being handled. */
static cJSON *reply;

static void reply_error(const char *kind, const char *msg)
{
    cJSON_Delete(reply);
    reply = need(cJSON_CreateObject());
    add(reply, "ok", cJSON_CreateFalse());
    add(reply, kind, cJSON_CreateString(msg));
}

/* The success reply, carrying what happened since the last one; the
 * caller may add fields to it. */
static cJSON *reply_ok(void)
{
    cJSON_Delete(reply);
    reply = need(cJSON_CreateObject());
    add(reply, "ok", cJSON_CreateTrue());
    if (mode == MODE_VIRTUAL) {
        add(reply, "now_us", cJSON_CreateNumber((double)now_us));
        add(reply, "frames", array(&frames));
        frames = NULL;
    }
    add(reply, "events", array(&events));
    events = NULL;
    nframes = 0;
    return reply;
}

static void app_error(const char *what, err_t e)
{
    char msg[128];
    snprintf(msg, sizeof msg, "%s: %s", what, err_name(e));
    reply_error("error", msg);
}

/* lwIP frees a TIME-WAIT pcb on its timer without telling the application
 * (a connection that was shut down but never closed ends that way), so a
 * pointer we hold is checked against lwIP's lists before each use. */
static int alive(struct tcp_pcb *pcb)
{
    for (struct tcp_pcb *p = tcp_active_pcbs; p; p = p->next)
        if (p == pcb)
            return 1;
    for (struct tcp_pcb *p = tcp_tw_pcbs; p; p = p->next)
        if (p == pcb)
            return 1;
    return 0;
}

static void forget_freed(void)
{
    if (conn && !alive(conn))
        conn = NULL;
    for (int i = 0; i < BACKLOG; i++)
        if (pending[i] && !alive(pending[i]))
            pending[i] = NULL;
}

static struct tcp_pcb *new_pcb(void)
{
    struct tcp_pcb *pcb = tcp_new_ip_type(IPADDR_TYPE_V4);
    if (pcb)
        /* The 4-tuple is reused while an older incarnation is in TIME-WAIT. */
        ip_set_option(pcb, SOF_REUSEADDR);
    return pcb;
}

static void op_listen(int keep)
{
    if (listener && persistent)
        return reply_error("error", "listen: the persistent listener is open");
    struct tcp_pcb *pcb = new_pcb();
    if (!pcb)
        return app_error("listen", ERR_MEM);
    ip_addr_t any = IPADDR4_INIT(0);
    ip_addr_copy_from_ip4(any, sut_ip);
    err_t e = tcp_bind(pcb, &any, sut_port);
    if (e != ERR_OK) {
        tcp_close(pcb);
        return app_error("bind", e);
    }
    struct tcp_pcb *l = tcp_listen_with_backlog_and_err(pcb, 4, &e);
    if (!l) {
        tcp_close(pcb);
        return app_error("listen", e);
    }
    listener = l;
    persistent = keep;
    tcp_accept(l, on_accept);
    reply_ok();
}

/* The oldest queued connection, taken off the queue (NULL if none). */
static struct tcp_pcb *dequeue(void)
{
    struct tcp_pcb *first = NULL;
    int n = 0;
    for (int i = 0; i < BACKLOG; i++) {
        if (!pending[i])
            continue;
        if (!first) {
            first = pending[i];
        } else {
            /* Close up the queue; on_err must find the pcb's new slot. */
            pending[n] = pending[i];
            tcp_arg(pending[n], &pending[n]);
            n++;
        }
        pending[i] = NULL;
    }
    return first;
}

static void op_accept(void)
{
    struct tcp_pcb *pcb = dequeue();
    if (!pcb)
        return reply_error("error", "accept would block: no connection is established");
    conn = pcb;
    tcp_arg(conn, &conn);
    /* A one-shot listener closes here; a persistent one stays. */
    if (listener && !persistent) {
        tcp_close(listener);
        listener = NULL;
    }
    reply_ok();
}

static void op_close_listener(void)
{
    if (!listener || !persistent)
        return reply_error("error", "close-listener without a persistent listener");
    err_t e = tcp_close(listener);
    listener = NULL;
    persistent = 0;
    if (e != ERR_OK)
        return app_error("close-listener", e);
    reply_ok();
}

static void op_connect(void)
{
    struct tcp_pcb *pcb = new_pcb();
    if (!pcb)
        return app_error("connect", ERR_MEM);
    ip_addr_t local = IPADDR4_INIT(0), remote = IPADDR4_INIT(0);
    ip_addr_copy_from_ip4(local, sut_ip);
    ip_addr_copy_from_ip4(remote, peer_ip);
    err_t e = tcp_bind(pcb, &local, sut_port);
    if (e != ERR_OK) {
        tcp_close(pcb);
        return app_error("bind", e);
    }
    conn = pcb;
    watch(pcb, &conn);
    e = tcp_connect(pcb, &remote, peer_port, on_connected);
    if (e != ERR_OK) {
        unwatch(pcb);
        conn = NULL;
        tcp_abort(pcb);
        return app_error("connect", e);
    }
    reply_ok();
}

static void op_send(const cJSON *req)
{
    unsigned long long n;
    if (!uint_field(req, "bytes", 65535, &n))
        return reply_error("fatal", "send needs \"bytes\": a whole number 0..65535");
    if (!conn)
        return reply_error("error", "no connection");
    static char data[65536];
    memset(data, 'x', (size_t)n);
    err_t e = tcp_write(conn, data, (u16_t)n, TCP_WRITE_FLAG_COPY);
    if (e != ERR_OK)
        return app_error("send", e);
    tcp_output(conn);
    reply_ok();
}

static void op_shutdown(void)
{
    if (!conn)
        return reply_error("error", "no connection");
    err_t e = tcp_shutdown(conn, 0, 1);
    if (e != ERR_OK)
        return app_error("shutdown", e);
    reply_ok();
}

static void op_close(void)
{
    /* Without a connection, `close` closes a one-shot listener; the
     * persistent one goes only with `close-listener`. */
    struct tcp_pcb **slot = conn ? &conn : listener && !persistent ? &listener : NULL;
    if (slot) {
        struct tcp_pcb *pcb = *slot;
        /* The application is gone: lwIP's defaults take what still arrives. */
        unwatch(pcb);
        *slot = NULL;
        err_t e = tcp_close(pcb);
        if (e != ERR_OK)
            return app_error("close", e);
    }
    reply_ok();
}

static void op_abort(void)
{
    if (!conn)
        return reply_error("error", "abort without a connection");
    struct tcp_pcb *pcb = conn;
    unwatch(pcb);
    conn = NULL;
    tcp_abort(pcb);
    reply_ok();
}

static int unhex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static void op_frame(const cJSON *req)
{
    const char *hexdata = str_field(req, "data");
    size_t n = hexdata ? strlen(hexdata) : 0;
    if (!hexdata || n > 2 * 4096)
        return reply_error("fatal", "frame needs \"data\": a hex string, at most 4096 bytes");
    if (n % 2)
        return reply_error("fatal", "frame data has an odd number of hex digits");
    struct pbuf *p = pbuf_alloc(PBUF_RAW, (u16_t)(n / 2), PBUF_RAM);
    if (!p)
        return reply_error("fatal", "out of pbufs");
    u8_t *d = p->payload;
    for (size_t i = 0; i < n / 2; i++) {
        int hi = unhex(hexdata[2 * i]), lo = unhex(hexdata[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            pbuf_free(p);
            return reply_error("fatal", "frame data is not hex");
        }
        d[i] = (u8_t)(hi << 4 | lo);
    }
    /* ip_input processes the packet completely, replies included. */
    nif.input(p, &nif);
    reply_ok();
}

static void op_advance(const cJSON *req)
{
    unsigned long long until;
    if (!uint_field(req, "until_us", MAX_EXACT, &until))
        return reply_error("fatal",
                           "advance needs \"until_us\": a whole number of microseconds, 0..2^53");
    /* Fire lwIP's timeouts in time order; stop at the first that sends. */
    while (now_us < until && nframes == 0) {
        u32_t sleep = sys_timeouts_sleeptime();
        unsigned long long next =
            sleep == SYS_TIMEOUTS_SLEEPTIME_INFINITE ? until : (now_us / 1000 + sleep) * 1000;
        if (next <= now_us)
            next = (now_us / 1000 + 1) * 1000;
        if (next > until) {
            now_us = until;
            break;
        }
        now_us = next;
        sys_check_timeouts();
    }
    reply_ok();
}

static const char *state_name(enum tcp_state s)
{
    switch (s) {
    case CLOSED: return "CLOSED";
    case LISTEN: return "LISTEN";
    case SYN_SENT: return "SYN-SENT";
    case SYN_RCVD: return "SYN-RECEIVED";
    case ESTABLISHED: return "ESTABLISHED";
    case FIN_WAIT_1: return "FIN-WAIT-1";
    case FIN_WAIT_2: return "FIN-WAIT-2";
    case CLOSE_WAIT: return "CLOSE-WAIT";
    case CLOSING: return "CLOSING";
    case LAST_ACK: return "LAST-ACK";
    case TIME_WAIT: return "TIME-WAIT";
    }
    return "CLOSED";
}

static cJSON *conn_entry(const char *local, const char *remote, const char *state, cJSON *remaining)
{
    cJSON *c = need(cJSON_CreateObject());
    add(c, "local", cJSON_CreateString(local));
    add(c, "remote", cJSON_CreateString(remote));
    add(c, "state", cJSON_CreateString(state));
    add(c, "remaining_us", remaining);
    return c;
}

static cJSON *pcb_entry(struct tcp_pcb *pcb)
{
    char local[32], remote[32];
    snprintf(local, sizeof local, "%s:%u", ip4addr_ntoa(ip_2_ip4(&pcb->local_ip)), pcb->local_port);
    snprintf(remote, sizeof remote, "%s:%u", ip4addr_ntoa(ip_2_ip4(&pcb->remote_ip)), pcb->remote_port);
    cJSON *remaining;
    if (pcb->state == TIME_WAIT) {
        /* tcp_slowtmr drops a TIME-WAIT pcb once tcp_ticks - tmr exceeds this. */
        long limit = 2 * TCP_MSL / TCP_SLOW_INTERVAL;
        long left = limit + 1 - (long)(u32_t)(tcp_ticks - pcb->tmr);
        remaining = cJSON_CreateNumber((double)((left > 0 ? left : 0) * TCP_SLOW_INTERVAL * 1000L));
    } else {
        remaining = cJSON_CreateNull();
    }
    return conn_entry(local, remote, state_name(pcb->state), remaining);
}

static void op_state(void)
{
    cJSON *conns = need(cJSON_CreateArray());
    for (struct tcp_pcb_listen *l = tcp_listen_pcbs.listen_pcbs; l; l = l->next)
        if (l->local_port == sut_port) {
            char local[32];
            snprintf(local, sizeof local, "%s:%u", ip4addr_ntoa(&sut_ip), sut_port);
            add(conns, NULL, conn_entry(local, "0.0.0.0:0", "LISTEN", cJSON_CreateNull()));
        }
    /* TIME-WAIT pcbs are older than any active one on the same port. */
    for (struct tcp_pcb *p = tcp_tw_pcbs; p; p = p->next)
        if (p->local_port == sut_port)
            add(conns, NULL, pcb_entry(p));
    for (struct tcp_pcb *p = tcp_active_pcbs; p; p = p->next)
        if (p->local_port == sut_port)
            add(conns, NULL, pcb_entry(p));
    add(reply_ok(), "conns", conns);
}

/* ---- tap mode: the TAP port, read by this program ---- */

static int tap_fd = -1;
/* Held while queued frames are taken off the TAP port and fed to the
 * stack: by the reader thread, and by the main thread before each request. */
static pthread_mutex_t tap_lock = PTHREAD_MUTEX_INITIALIZER;

static err_t tap_linkoutput(struct netif *n, struct pbuf *p)
{
    (void)n;
    static u8_t buf[65536]; /* tot_len is a u16_t: any frame fits */
    u16_t len = pbuf_copy_partial(p, buf, p->tot_len, 0);
    return write(tap_fd, buf, len) == (ssize_t)len ? ERR_OK : ERR_IF;
}

static err_t tap_netif_init(struct netif *n)
{
    n->name[0] = 't';
    n->name[1] = 'p';
    n->output = etharp_output;
    n->linkoutput = tap_linkoutput;
    n->mtu = 1500;
    n->hwaddr_len = 6;
    n->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET;
    return ERR_OK;
}

/* Feeds every frame queued on the TAP port to the stack; the caller holds
 * tap_lock. 0 once the queue is empty, -1 on a read error (errno set). */
static int tap_drain(void)
{
    static u8_t buf[65536];
    for (;;) {
        ssize_t n = read(tap_fd, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
        }
        /* Out of pbufs, the frame is dropped, as a NIC would drop it. */
        struct pbuf *p = pbuf_alloc(PBUF_RAW, (u16_t)n, PBUF_POOL);
        if (!p)
            continue;
        pbuf_take(p, buf, (u16_t)n);
        LOCK_TCPIP_CORE();
        if (nif.input(p, &nif) != ERR_OK)
            pbuf_free(p);
        UNLOCK_TCPIP_CORE();
    }
}

/* Takes every queued frame off the TAP port; a port that cannot be read
 * ends the agent, which the harness reports with this reason. */
static void tap_take_all(void)
{
    pthread_mutex_lock(&tap_lock);
    int rc = tap_drain();
    pthread_mutex_unlock(&tap_lock);
    if (rc < 0) {
        fprintf(stderr, "reading the TAP port: %s\n", strerror(errno));
        _exit(1);
    }
}

static void *tap_reader(void *arg)
{
    (void)arg;
    struct pollfd pfd = {.fd = tap_fd, .events = POLLIN};
    for (;;) {
        if (poll(&pfd, 1, -1) < 0 && errno != EINTR) {
            fprintf(stderr, "waiting on the TAP port: %s\n", strerror(errno));
            _exit(1);
        }
        tap_take_all();
    }
    return NULL;
}

/* Attaches to the harness's TAP interface `name`; an error message or NULL. */
static const char *tap_open(const char *name)
{
    static char why[160];
    tap_fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (tap_fd < 0) {
        snprintf(why, sizeof why, "opening /dev/net/tun: %s", strerror(errno));
        return why;
    }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    memcpy(ifr.ifr_name, name, strlen(name));
    if (ioctl(tap_fd, TUNSETIFF, &ifr) < 0) {
        snprintf(why, sizeof why, "attaching to TAP interface %s: %s", name, strerror(errno));
        return why;
    }
    return NULL;
}

static void on_tcpip_ready(void *arg)
{
    *(volatile int *)arg = 1;
}

/* A MAC address as six colon-separated pairs of hex digits. */
static int parse_mac(const char *s, u8_t mac[6])
{
    if (strlen(s) != 17)
        return 0;
    for (int i = 0; i < 6; i++) {
        int hi = unhex(s[3 * i]), lo = unhex(s[3 * i + 1]);
        if (hi < 0 || lo < 0 || (i < 5 && s[3 * i + 2] != ':'))
            return 0;
        mac[i] = (u8_t)(hi << 4 | lo);
    }
    return 1;
}

static void op_hello(const cJSON *req)
{
    unsigned long long version;
    if (mode != MODE_NONE)
        return reply_error("fatal", "hello twice");
    if (!uint_field(req, "version", MAX_EXACT, &version) || version != 1)
        return reply_error("fatal", "hello needs \"version\": 1 (the protocol version this agent speaks)");
    const char *m = str_field(req, "mode"), *sut = str_field(req, "sut"),
               *peer = str_field(req, "peer");
    if (!m || !sut || !peer)
        return reply_error("fatal", "hello needs \"mode\", \"sut\" and \"peer\" as strings");
    if (!parse_endpoint(sut, &sut_ip, &sut_port) || !parse_endpoint(peer, &peer_ip, &peer_port))
        return reply_error("fatal", "sut and peer must be IPv4 address:port");
    ip4_addr_t mask, gw;
    IP4_ADDR(&mask, 255, 255, 255, 0);
    ip4_addr_set_zero(&gw);
    if (strcmp(m, "virtual") == 0) {
        mode = MODE_VIRTUAL;
        lwip_init();
        netif_add(&nif, &sut_ip, &mask, &gw, NULL, virtual_netif_init, ip_input);
    } else if (strcmp(m, "tap") == 0) {
        u8_t mac[6];
        const char *tap = str_field(req, "tap"), *sut_mac = str_field(req, "sut_mac");
        /* An interface name is shorter than IFNAMSIZ (16). */
        if (!tap || !*tap || strlen(tap) > 15 || !sut_mac || !parse_mac(sut_mac, mac))
            return reply_error("fatal", "tap mode needs \"tap\" (an interface name) and \"sut_mac\" (xx:xx:xx:xx:xx:xx)");
        const char *why = tap_open(tap);
        if (why)
            return reply_error("fatal", why);
        mode = MODE_TAP;
        volatile int ready = 0;
        tcpip_init(on_tcpip_ready, (void *)&ready);
        while (!ready)
            usleep(1000);
        LOCK_TCPIP_CORE();
        /* Frames go in under the core lock (tap_drain), so straight to
         * ethernet_input rather than through the tcpip thread's queue. */
        netif_add(&nif, &sut_ip, &mask, &gw, NULL, tap_netif_init, ethernet_input);
        memcpy(nif.hwaddr, mac, 6);
        UNLOCK_TCPIP_CORE();
    } else {
        return reply_error("fatal", "mode must be virtual or tap");
    }
    if (mode == MODE_TAP)
        LOCK_TCPIP_CORE();
    netif_set_default(&nif);
    netif_set_link_up(&nif);
    netif_set_up(&nif);
    if (mode == MODE_TAP) {
        UNLOCK_TCPIP_CORE();
        pthread_t reader;
        if (pthread_create(&reader, NULL, tap_reader, NULL) != 0)
            return reply_error("fatal", "cannot start the TAP reader thread");
        pthread_detach(reader);
    }
    cJSON *r = reply_ok();
    add(r, "version", cJSON_CreateNumber(1));
    add(r, "stack", cJSON_CreateString(mode == MODE_VIRTUAL ? "lwIP " LWIP_VERSION_STRING
                                                            : "lwIP " LWIP_VERSION_STRING " (TAP port)"));
    add(r, "clock", cJSON_CreateString(mode == MODE_VIRTUAL ? "virtual" : "real"));
}

/* `what` followed by at most `max` bytes of `s` (length `n`), for quoting
 * input in a message: bytes that are not ASCII become '?', so the reply
 * stays valid UTF-8 whatever came in (cJSON escapes the rest). */
static void reply_quoting(const char *what, const char *s, size_t n, size_t max)
{
    size_t w = strlen(what);
    char *msg = need(malloc(w + max + 1));
    memcpy(msg, what, w);
    size_t k = 0;
    for (; k < n && k < max; k++) {
        unsigned char c = (unsigned char)s[k];
        msg[w + k] = c == 0 || c >= 0x80 ? '?' : (char)c;
    }
    msg[w + k] = 0;
    reply_error("fatal", msg);
    free(msg);
}

static void dispatch(const char *op, const cJSON *req)
{
    if (strcmp(op, "listen") == 0)
        op_listen(0);
    else if (strcmp(op, "listen-persistent") == 0)
        op_listen(1);
    else if (strcmp(op, "accept") == 0)
        op_accept();
    else if (strcmp(op, "close-listener") == 0)
        op_close_listener();
    else if (strcmp(op, "connect") == 0)
        op_connect();
    else if (strcmp(op, "send") == 0)
        op_send(req);
    else if (strcmp(op, "shutdown") == 0)
        op_shutdown();
    else if (strcmp(op, "close") == 0)
        op_close();
    else if (strcmp(op, "abort") == 0)
        op_abort();
    else if (strcmp(op, "frame") == 0)
        op_frame(req);
    else if (strcmp(op, "advance") == 0)
        op_advance(req);
    else if (strcmp(op, "state") == 0)
        op_state();
    else
        reply_quoting("unknown op: ", op, strlen(op), 40);
}

/* Answers one request line (`n` bytes, NUL-terminated); 0 after quit. */
static int handle(const char *line, size_t n)
{
    /* The length with the terminating NUL, which cJSON must find right
     * after the object: trailing text is not a request. A NUL inside the
     * line would end it early, so such a line is refused first. */
    cJSON *req = memchr(line, 0, n) ? NULL : cJSON_ParseWithLengthOpts(line, n + 1, NULL, 1);
    const cJSON *opv = cJSON_IsObject(req) ? cJSON_GetObjectItemCaseSensitive(req, "op") : NULL;
    const char *op = cJSON_IsString(opv) ? opv->valuestring : NULL;
    int go_on = 1;
    if (!op) {
        reply_quoting("not a request (a JSON object with \"op\" a string): ", line, n, 200);
    } else if (strcmp(op, "hello") == 0) {
        op_hello(req);
    } else if (strcmp(op, "quit") == 0) {
        cJSON_Delete(reply);
        reply = need(cJSON_CreateObject());
        add(reply, "ok", cJSON_CreateTrue());
        go_on = 0;
    } else if (mode == MODE_NONE) {
        reply_error("fatal", "the first request must be hello");
    } else if ((strcmp(op, "frame") == 0 || strcmp(op, "advance") == 0) && mode != MODE_VIRTUAL) {
        reply_error("fatal", "frame and advance are for virtual mode");
    } else {
        if (mode == MODE_TAP) {
            /* Whatever the harness sent before this request comes first. */
            tap_take_all();
            LOCK_TCPIP_CORE();
        }
        forget_freed();
        dispatch(op, req);
        if (mode == MODE_TAP)
            UNLOCK_TCPIP_CORE();
    }
    cJSON_Delete(req);
    return go_on;
}

/* Reads one line into `line` (MAX_LINE + 1 bytes) without its newline:
 * its length, -1 at the end of input, or -2 when it is longer than
 * MAX_LINE (the rest of it is read and dropped). */
static long read_line(char *line)
{
    size_t n = 0;
    int c;
    while ((c = getchar()) != EOF && c != '\n') {
        if (n < MAX_LINE)
            line[n] = (char)c;
        if (n <= MAX_LINE)
            n++;
    }
    if (c == EOF && n == 0)
        return -1;
    if (n > MAX_LINE)
        return -2;
    line[n] = 0;
    return (long)n;
}

static void send_reply(void)
{
    char *text = need(cJSON_PrintUnformatted(reply));
    printf("%s\n", text);
    fflush(stdout);
    free(text);
    cJSON_Delete(reply);
    reply = NULL;
}

int main(void)
{
    static char line[MAX_LINE + 1];
    for (;;) {
        long n = read_line(line);
        if (n == -1)
            break;
        int go_on = 1;
        if (n == -2)
            reply_error("fatal", "request line longer than 64 KiB");
        else
            go_on = handle(line, (size_t)n);
        send_reply();
        if (!go_on)
            break;
    }
    return 0;
}
