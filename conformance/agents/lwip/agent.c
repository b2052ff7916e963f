/*
 * timewait's lwIP agent: one lwIP 2.1 instance (Debian's liblwip, built with
 * lwIP's unix port) behind the agent protocol v1, JSON lines on stdin and
 * stdout (conformance/agents/PROTOCOL.md).
 *
 * lwIP's core runs in this program's main thread only, through the raw
 * tcp_* API, whatever the mode:
 *
 * - virtual mode: this file defines sys_now(), which replaces the library's
 *   (the library calls it through the PLT), so lwIP's clock is the
 *   protocol's clock and only moves on `advance`. Packets leave through an
 *   IP-level netif whose output callback collects them for the reply.
 * - tap mode: lwIP's own TAP driver (tapif) on the interface the harness
 *   created, real time. Because the library is built with NO_SYS=0, tapif
 *   reads the device in a thread of its own; that thread only queues the
 *   frames it reads, and the main loop feeds them to lwIP between requests
 *   and timers.
 *
 * Build: gcc -O2 -Wall -Wextra -I/usr/include/lwip agent.c -llwip -o lwip-agent
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "lwip/init.h"
#include "lwip/ip.h"
#include "lwip/ip4.h"
#include "lwip/ip_addr.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/tcp.h"
#include "lwip/timeouts.h"
#include "netif/ethernet.h"
#include "netif/tapif.h"

#define MAX_LINE (64 * 1024) /* longest request line, newline excluded */
#define MAX_FIELDS 32        /* fields in one request */
#define MAX_DEPTH 16         /* nesting of ignored (unknown) field values */
#define QUOTED 200           /* bytes of a bad line quoted in a fatal reply */
#define BACKLOG 4            /* established connections awaiting accept */
#define RXQ_LEN 256          /* frames read from the TAP device, not yet fed to lwIP */
#define TAP_POLL_MS 10       /* longest sleep of the tap-mode main loop */
/* The longest `advance`: with connections open, lwIP's timers must run
 * every 100-250 ms of virtual time, about 30 calls a virtual second; a day
 * of them still answers well within the harness's deadline. */
#define MAX_ADVANCE_US (86400ull * 1000000u)
#define IDLE_STEP_US (3600ull * 1000000u) /* an idle jump, well below 2^31 ms */

/* ---- growable byte strings, for replies ---- */

struct sb {
    char *data;
    size_t len, cap;
};

static void sb_put(struct sb *b, const void *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (b->len + n + 1 > cap)
            cap *= 2;
        char *d = realloc(b->data, cap);
        if (!d) {
            fputs("lwip agent: out of memory\n", stderr);
            exit(70);
        }
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = 0;
}

static void sb_str(struct sb *b, const char *s)
{
    sb_put(b, s, strlen(s));
}

static void sb_printf(struct sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(struct sb *b, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0)
        sb_put(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    size_t len;
    unsigned char lo = 0x80, hi = 0xbf;
    if (s[0] >= 0xc2 && s[0] <= 0xdf)
        len = 2;
    else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        len = 3;
        if (s[0] == 0xe0)
            lo = 0xa0;
        if (s[0] == 0xed)
            hi = 0x9f; /* no surrogates */
    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        len = 4;
        if (s[0] == 0xf0)
            lo = 0x90;
        if (s[0] == 0xf4)
            hi = 0x8f;
    } else
        return 0;
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    return len;
}

/* A JSON string. Input quoted back may be anything: bytes that are not
 * UTF-8 are shown as \xNN so that the reply stays valid JSON. */
static void sb_json(struct sb *b, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    sb_put(b, "\"", 1);
    for (size_t i = 0; i < n;) {
        unsigned char c = u[i];
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            sb_put(b, e, 2);
            i++;
        } else if (c < 0x20 || c == 0x7f) {
            sb_printf(b, "\\u%04x", c);
            i++;
        } else if (c < 0x80) {
            sb_put(b, &u[i], 1);
            i++;
        } else {
            size_t len = utf8_len(u + i, n - i);
            if (len) {
                sb_put(b, &u[i], len);
                i += len;
            } else {
                sb_printf(b, "\\\\x%02x", c);
                i++;
            }
        }
    }
    sb_put(b, "\"", 1);
}

/* ---- the agent's state ---- */

enum mode { MODE_NONE, MODE_VIRTUAL, MODE_TAP };

static enum mode mode = MODE_NONE;
static u64_t virtual_us;        /* the protocol's clock, virtual mode */
static struct timespec started; /* tap mode: the clock's origin */
static struct netif nif;
static ip4_addr_t sut_ip, peer_ip;
static u16_t sut_port, peer_port;

static struct sb frames; /* "hex","hex" sent since the last reply (virtual mode) */
static unsigned long frames_sent;
static struct sb events; /* {...},{...} seen since the last reply */

/* The application's sockets. A connection's pcb carries a pointer to its
 * slot as callback arg, so that lwIP's err callback (which runs when the
 * pcb is already gone) can empty the slot. */
struct slot {
    struct tcp_pcb *pcb;
};
static struct tcp_pcb *listener;
static struct slot conn;              /* the current connection */
static struct slot pending[BACKLOG];  /* established, not yet accepted, oldest first */

/* ---- clocks ---- */

static u64_t clock_us(void)
{
    if (mode != MODE_TAP)
        return virtual_us;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (u64_t)(ts.tv_sec - started.tv_sec) * 1000000u + (u64_t)ts.tv_nsec / 1000u -
           (u64_t)started.tv_nsec / 1000u;
}

/* Replaces the library's sys_now() (it is called through the PLT): lwIP's
 * timeouts run on the protocol's clock in virtual mode, on real time (since
 * the agent started) in tap mode. */
u32_t sys_now(void)
{
    return (u32_t)(clock_us() / 1000u);
}

/*
 * TIME-WAIT's time left. lwIP drops a TIME-WAIT pcb in tcp_slowtmr once
 * (u32_t)(tcp_ticks - pcb->tmr) > 2 * TCP_MSL / TCP_SLOW_INTERVAL, where
 * tcp_ticks counts tcp_slowtmr runs. tcp_slowtmr runs on every other call
 * of tcp_tmr, which a 250 ms timeout calls while any pcb is active or in
 * TIME-WAIT, restarted by tcp_timer_needed. Neither the timeout's due time
 * nor tcp_tmr's call counter is exported, so this program wraps both
 * functions (the library calls them through the PLT) to follow them and
 * then calls the library's own.
 */
static int tcp_timer_on;        /* mirrors timeouts.c's tcpip_tcp_timer_active */
static u32_t tcp_timer_next_ms; /* sys_now() at which tcp_tmr runs next */
static unsigned long tcp_tmr_calls;
static int tcp_timer_seen;      /* the wrappers work: remaining_us can be told */

static void *library_function(const char *name)
{
    void *f = dlsym(RTLD_NEXT, name);
    if (!f) {
        fprintf(stderr, "lwip agent: %s not found in liblwip: %s\n", name, dlerror());
        abort();
    }
    return f;
}

static void forget_freed_pcbs(void);

void tcp_tmr(void)
{
    static void (*real)(void);
    if (!real)
        real = (void (*)(void))library_function("tcp_tmr");
    tcp_tmr_calls++;
    real();
    forget_freed_pcbs();
    /* What tcpip_tcp_timer decides right after calling tcp_tmr. */
    if (tcp_active_pcbs || tcp_tw_pcbs)
        tcp_timer_next_ms = sys_now() + TCP_TMR_INTERVAL;
    else
        tcp_timer_on = 0;
}

void tcp_timer_needed(void)
{
    static void (*real)(void);
    if (!real)
        real = (void (*)(void))library_function("tcp_timer_needed");
    if (!tcp_timer_on && (tcp_active_pcbs || tcp_tw_pcbs)) {
        tcp_timer_on = 1;
        tcp_timer_seen = 1;
        tcp_timer_next_ms = sys_now() + TCP_TMR_INTERVAL;
    }
    real();
}

/* Microseconds until tcp_slowtmr frees this TIME-WAIT pcb, -1 if unknown. */
static long long time_wait_left_us(const struct tcp_pcb *pcb)
{
    if (!tcp_timer_seen || !tcp_timer_on)
        return -1;
    const u32_t limit = 2 * TCP_MSL / TCP_SLOW_INTERVAL;
    u32_t age = tcp_ticks - pcb->tmr;
    u32_t runs = age > limit ? 1 : limit + 1 - age; /* tcp_slowtmr runs still to come */
    /* tcp_tmr's next call is its (calls+1)th; lwIP runs tcp_slowtmr on odd ones. */
    u32_t first = tcp_timer_next_ms + (tcp_tmr_calls % 2 ? TCP_TMR_INTERVAL : 0);
    u32_t gone_ms = first + (runs - 1) * TCP_SLOW_INTERVAL;
    u64_t now = clock_us();
    long long left = (long long)(int32_t)(gone_ms - (u32_t)(now / 1000u)) * 1000 -
                     (long long)(now % 1000u);
    return left > 0 ? left : 0;
}

/* ---- events the application sees ---- */

static void event(const char *kind)
{
    sb_printf(&events, "%s{\"kind\":\"%s\"}", events.len ? "," : "", kind);
}

static void event_bytes(const char *kind, unsigned long bytes)
{
    sb_printf(&events, "%s{\"kind\":\"%s\",\"bytes\":%lu}", events.len ? "," : "", kind, bytes);
}

static void event_error(const char *detail)
{
    sb_printf(&events, "%s{\"kind\":\"error\",\"detail\":", events.len ? "," : "");
    sb_json(&events, detail, strlen(detail));
    sb_put(&events, "}", 1);
}

static const char *err_text(err_t e)
{
    switch (e) {
    case ERR_OK: return "no error (ERR_OK)";
    case ERR_MEM: return "out of memory (ERR_MEM)";
    case ERR_BUF: return "buffer error (ERR_BUF)";
    case ERR_TIMEOUT: return "timeout (ERR_TIMEOUT)";
    case ERR_RTE: return "no route (ERR_RTE)";
    case ERR_INPROGRESS: return "operation in progress (ERR_INPROGRESS)";
    case ERR_VAL: return "illegal value (ERR_VAL)";
    case ERR_WOULDBLOCK: return "operation would block (ERR_WOULDBLOCK)";
    case ERR_USE: return "address in use (ERR_USE)";
    case ERR_ALREADY: return "already connecting (ERR_ALREADY)";
    case ERR_ISCONN: return "already connected (ERR_ISCONN)";
    case ERR_CONN: return "not connected (ERR_CONN)";
    case ERR_IF: return "low-level netif error (ERR_IF)";
    case ERR_ABRT: return "connection aborted (ERR_ABRT)";
    case ERR_RST: return "connection reset (ERR_RST)";
    case ERR_CLSD: return "connection closed (ERR_CLSD)";
    case ERR_ARG: return "illegal argument (ERR_ARG)";
    }
    return "unknown lwIP error";
}

/* ---- virtual mode's netif: what lwIP sends goes into the reply ---- */

static err_t virtual_output(struct netif *n, struct pbuf *p, const ip4_addr_t *dst)
{
    static const char hex[] = "0123456789abcdef";
    static u8_t packet[0x10000];
    (void)n;
    (void)dst;
    u16_t len = pbuf_copy_partial(p, packet, p->tot_len, 0);
    sb_put(&frames, frames.len ? ",\"" : "\"", frames.len ? 2 : 1);
    for (u16_t i = 0; i < len; i++) {
        char h[2] = {hex[packet[i] >> 4], hex[packet[i] & 15]};
        sb_put(&frames, h, 2);
    }
    sb_put(&frames, "\"", 1);
    frames_sent++;
    return ERR_OK;
}

#if LWIP_IPV6
/* The netif has no IPv6 address, so lwIP should never send IPv6; if it
 * does, say so rather than hand the harness a packet it did not ask for. */
static err_t virtual_output_ip6(struct netif *n, struct pbuf *p, const ip6_addr_t *dst)
{
    (void)n;
    (void)p;
    (void)dst;
    fputs("lwip agent: dropped an IPv6 packet lwIP sent\n", stderr);
    return ERR_OK;
}
#endif

static err_t virtual_netif_init(struct netif *n)
{
    n->name[0] = 't';
    n->name[1] = 'w';
    n->output = virtual_output;
#if LWIP_IPV6
    n->output_ip6 = virtual_output_ip6;
#endif
    n->mtu = 1500;
    n->flags = 0; /* point to point: no ARP, no broadcast */
    return ERR_OK;
}

/* ---- tap mode: tapif's thread queues frames, the main thread feeds lwIP ---- */

static pthread_mutex_t rxq_lock = PTHREAD_MUTEX_INITIALIZER;
static struct pbuf *rxq[RXQ_LEN];
static unsigned rxq_head, rxq_count;
static int wake_pipe[2] = {-1, -1};

/* netif->input, called by tapif's thread: no lwIP core call may happen here. */
static err_t tap_enqueue(struct pbuf *p, struct netif *n)
{
    (void)n;
    pthread_mutex_lock(&rxq_lock);
    int full = rxq_count == RXQ_LEN;
    if (!full)
        rxq[(rxq_head + rxq_count++) % RXQ_LEN] = p;
    pthread_mutex_unlock(&rxq_lock);
    if (full)
        return ERR_MEM; /* tapif frees the pbuf */
    char c = 0;
    if (write(wake_pipe[1], &c, 1) < 0 && errno != EAGAIN)
        perror("lwip agent: waking the main loop");
    return ERR_OK;
}

static void tap_feed(void)
{
    char drain[64];
    while (read(wake_pipe[0], drain, sizeof drain) > 0)
        ;
    for (;;) {
        pthread_mutex_lock(&rxq_lock);
        struct pbuf *p = NULL;
        if (rxq_count) {
            p = rxq[rxq_head];
            rxq_head = (rxq_head + 1) % RXQ_LEN;
            rxq_count--;
        }
        pthread_mutex_unlock(&rxq_lock);
        if (!p)
            return;
        if (ethernet_input(p, &nif) != ERR_OK)
            pbuf_free(p);
    }
}

/* tapif exits the process when it cannot attach, so try first: the
 * interface must exist (TUNSETIFF would create a new one) and be free. */
static int tap_usable(const char *name, char *why, size_t cap)
{
    if (strlen(name) >= IFNAMSIZ || if_nametoindex(name) == 0) {
        snprintf(why, cap, "no network interface \"%.40s\" in this namespace", name);
        return 0;
    }
    int fd = open("/dev/net/tun", O_RDWR);
    if (fd < 0) {
        snprintf(why, cap, "opening /dev/net/tun: %s", strerror(errno));
        return 0;
    }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    memcpy(ifr.ifr_name, name, strlen(name) + 1); /* fits: checked above */
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    int ok = ioctl(fd, TUNSETIFF, &ifr) == 0;
    if (!ok)
        snprintf(why, cap, "attaching to TAP interface %.40s: %s", name, strerror(errno));
    close(fd);
    return ok;
}

/* ---- lwIP callbacks: what the application sees ---- */

static err_t on_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
    (void)arg;
    (void)err;
    if (!p) {
        event("eof");
        return ERR_OK;
    }
    /* The application reads everything at once, so the window reopens and
     * closing never meets unread data. */
    event_bytes("received", p->tot_len);
    tcp_recved(pcb, p->tot_len);
    pbuf_free(p);
    return ERR_OK;
}

/* lwIP has freed the pcb when this runs. */
static void on_err(void *arg, err_t err)
{
    struct slot *s = arg;
    if (s)
        s->pcb = NULL;
    switch (err) {
    case ERR_RST:
        event("reset");
        break;
    case ERR_CLSD:
        event("closed");
        break;
    case ERR_ABRT:
        /* tcp_slowtmr gave up (retransmissions, SYN-RECEIVED, LAST-ACK...):
         * the application's own aborts never get here, it drops the
         * callbacks first. */
        event("timeout");
        break;
    default:
        event_error(err_text(err));
    }
}

static err_t on_connected(void *arg, struct tcp_pcb *pcb, err_t err)
{
    (void)arg;
    (void)pcb;
    (void)err;
    event("connected");
    return ERR_OK;
}

static void watch(struct tcp_pcb *pcb, struct slot *s)
{
    s->pcb = pcb;
    tcp_arg(pcb, s);
    tcp_recv(pcb, on_recv);
    tcp_err(pcb, on_err);
}

/* The application lets go of a pcb: lwIP must not call back into a slot
 * that may hold another pcb by then. */
static struct tcp_pcb *unwatch(struct slot *s)
{
    struct tcp_pcb *pcb = s->pcb;
    s->pcb = NULL;
    if (pcb) {
        tcp_arg(pcb, NULL);
        tcp_recv(pcb, NULL);
        tcp_err(pcb, NULL);
    }
    return pcb;
}

/* lwIP frees a TIME-WAIT pcb in tcp_slowtmr without calling its err
 * callback, and one can reach TIME-WAIT under the application (shutdown,
 * then the peer's FIN). Called right after tcp_slowtmr, before lwIP can
 * allocate another pcb at the same address. */
static int pcb_alive(const struct tcp_pcb *pcb)
{
    for (const struct tcp_pcb *p = tcp_active_pcbs; p; p = p->next)
        if (p == pcb)
            return 1;
    for (const struct tcp_pcb *p = tcp_tw_pcbs; p; p = p->next)
        if (p == pcb)
            return 1;
    return 0;
}

static void forget_freed_pcbs(void)
{
    if (conn.pcb && !pcb_alive(conn.pcb)) {
        conn.pcb = NULL;
        event("closed");
    }
    for (int i = 0; i < BACKLOG; i++)
        if (pending[i].pcb && !pcb_alive(pending[i].pcb)) {
            pending[i].pcb = NULL;
            event("closed");
        }
}

static int pending_count(void)
{
    int n = 0;
    while (n < BACKLOG && pending[n].pcb)
        n++;
    return n;
}

/* Close up the queue after slots were emptied, keeping each pcb's arg on
 * its slot. */
static void pending_compact(void)
{
    int w = 0;
    for (int r = 0; r < BACKLOG; r++) {
        struct tcp_pcb *pcb = pending[r].pcb;
        if (!pcb)
            continue;
        if (r != w) {
            pending[r].pcb = NULL;
            pending[w].pcb = pcb;
            tcp_arg(pcb, &pending[w]);
        }
        w++;
    }
}

static err_t on_accept(void *arg, struct tcp_pcb *pcb, err_t err)
{
    (void)arg;
    if (err != ERR_OK || !pcb)
        return ERR_VAL; /* lwIP could not set the connection up */
    pending_compact();
    int n = pending_count();
    if (n == BACKLOG)
        return ERR_MEM; /* a full accept queue: lwIP aborts the connection */
    watch(pcb, &pending[n]);
    event("accepted");
    return ERR_OK;
}

/* ---- application calls ---- */

struct reply {
    const char *error; /* "error" or "fatal", NULL when ok */
    char msg[512];
    struct sb extra; /* more fields of an ok reply: ,"conns":[...] */
};

static void fail(struct reply *r, const char *kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fail(struct reply *r, const char *kind, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->msg, sizeof r->msg, fmt, ap);
    va_end(ap);
    r->error = kind;
}

/* Closing a socket, as dropping one does on Linux: never fails. */
static void drop_conn(struct slot *s)
{
    struct tcp_pcb *pcb = unwatch(s);
    if (pcb && tcp_close(pcb) != ERR_OK)
        tcp_abort(pcb);
}

/* Closing a listener resets the connections still waiting in its accept
 * queue, as Linux does. */
static void drop_listener(void)
{
    if (listener) {
        tcp_close(listener); /* never fails for a listener */
        listener = NULL;
    }
    for (int i = 0; i < BACKLOG; i++) {
        struct tcp_pcb *pcb = unwatch(&pending[i]);
        if (pcb)
            tcp_abort(pcb);
    }
}

static struct tcp_pcb *bound_pcb(struct reply *r)
{
    struct tcp_pcb *pcb = tcp_new_ip_type(IPADDR_TYPE_V4);
    if (!pcb) {
        fail(r, "error", "socket: %s", err_text(ERR_MEM));
        return NULL;
    }
    /* The port is reused while an older incarnation holds it in TIME-WAIT. */
    ip_set_option(pcb, SOF_REUSEADDR);
    ip_addr_t local;
    ip_addr_copy_from_ip4(local, sut_ip);
    err_t e = tcp_bind(pcb, &local, sut_port);
    if (e != ERR_OK) {
        tcp_close(pcb);
        fail(r, "error", "bind %s:%u: %s", ip4addr_ntoa(&sut_ip), sut_port, err_text(e));
        return NULL;
    }
    return pcb;
}

static void op_listen(struct reply *r)
{
    struct tcp_pcb *pcb = bound_pcb(r);
    if (!pcb)
        return;
    err_t e;
    struct tcp_pcb *l = tcp_listen_with_backlog_and_err(pcb, BACKLOG, &e);
    if (!l) {
        tcp_close(pcb);
        return fail(r, "error", "listen: %s", err_text(e));
    }
    drop_listener(); /* Linux would have refused the bind: there is none */
    listener = l;
    tcp_arg(l, NULL);
    tcp_accept(l, on_accept);
}

static void op_accept(struct reply *r)
{
    if (!listener)
        return fail(r, "error", "accept without a listener");
    pending_compact();
    if (!pending[0].pcb)
        return fail(r, "error", "accept would block: no connection is established");
    struct tcp_pcb *pcb = unwatch(&pending[0]);
    drop_conn(&conn);
    watch(pcb, &conn);
    drop_listener();
}

static void op_connect(struct reply *r)
{
    drop_conn(&conn);
    struct tcp_pcb *pcb = bound_pcb(r);
    if (!pcb)
        return;
    ip_addr_t remote;
    ip_addr_copy_from_ip4(remote, peer_ip);
    watch(pcb, &conn);
    err_t e = tcp_connect(pcb, &remote, peer_port, on_connected);
    if (e != ERR_OK) {
        /* ERR_USE: the 4-tuple is still held, e.g. in TIME-WAIT. */
        unwatch(&conn);
        tcp_close(pcb);
        return fail(r, "error", "connect to %s:%u: %s", ip4addr_ntoa(&peer_ip), peer_port,
                    err_text(e));
    }
}

static void op_send(struct reply *r, unsigned long n)
{
    static char data[0xffff];
    if (!conn.pcb)
        return fail(r, "error", "no connection");
    if (n > 0) {
        memset(data, 'x', n);
        err_t e = tcp_write(conn.pcb, data, (u16_t)n, TCP_WRITE_FLAG_COPY);
        if (e != ERR_OK)
            return fail(r, "error", "send %lu bytes (%u free in the send buffer): %s", n,
                        (unsigned)tcp_sndbuf(conn.pcb), err_text(e));
    }
    err_t e = tcp_output(conn.pcb);
    if (e != ERR_OK)
        event_error(err_text(e));
}

static void op_shutdown(struct reply *r)
{
    if (!conn.pcb)
        return fail(r, "error", "no connection");
    err_t e = tcp_shutdown(conn.pcb, 0, 1);
    if (e != ERR_OK)
        fail(r, "error", "shutdown: %s", err_text(e));
}

static void op_close(struct reply *r)
{
    if (!conn.pcb) {
        drop_listener();
        return;
    }
    struct tcp_pcb *pcb = unwatch(&conn);
    err_t e = tcp_close(pcb);
    if (e != ERR_OK) {
        /* lwIP keeps the pcb (it could not queue the FIN): still ours. */
        watch(pcb, &conn);
        fail(r, "error", "close: %s", err_text(e));
    }
}

static void op_abort(struct reply *r)
{
    struct tcp_pcb *pcb = unwatch(&conn);
    if (!pcb)
        return fail(r, "error", "abort without a connection");
    tcp_abort(pcb);
}

static int unhex(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static void op_frame(struct reply *r, const char *hex, size_t n)
{
    if (n == 0 || n % 2 || n / 2 > 0xffff)
        return fail(r, "fatal", "frame \"data\" must be 1 to 65535 bytes in hex, got %zu digits", n);
    struct pbuf *p = pbuf_alloc(PBUF_RAW, (u16_t)(n / 2), PBUF_RAM);
    if (!p)
        return fail(r, "fatal", "no memory for a %zu-byte frame", n / 2);
    u8_t *d = p->payload;
    for (size_t i = 0; i < n / 2; i++) {
        int hi = unhex((unsigned char)hex[2 * i]), lo = unhex((unsigned char)hex[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            pbuf_free(p);
            return fail(r, "fatal", "frame \"data\" is not hex (at digit %zu)", 2 * i);
        }
        d[i] = (u8_t)(hi << 4 | lo);
    }
    /* ip_input processes the packet completely, answers included; a packet
     * it cannot use is dropped, as on a wire. */
    if (nif.input(p, &nif) != ERR_OK)
        pbuf_free(p);
}

/* Fires lwIP's timeouts in time order, stopping at the first instant at
 * which lwIP sends something, else at until. */
static void op_advance(struct reply *r, u64_t until)
{
    if (until > virtual_us + MAX_ADVANCE_US)
        return fail(r, "fatal", "advance by more than %llu s at once (to %llu us from %llu us)",
                    (unsigned long long)MAX_ADVANCE_US / 1000000u, (unsigned long long)until,
                    (unsigned long long)virtual_us);
    unsigned long before = frames_sent;
    while (frames_sent == before && virtual_us < until) {
        if (!tcp_active_pcbs && !tcp_tw_pcbs) {
            /* Only TCP sends on this netif (no ARP, IGMP or IPv6 address)
             * and its timer is off: jump. lwIP's other cyclic timers catch
             * up by firing once; in steps short enough for its 32-bit
             * millisecond time arithmetic. */
            u64_t step = until - virtual_us < IDLE_STEP_US ? until - virtual_us : IDLE_STEP_US;
            virtual_us += step;
            sys_check_timeouts();
            continue;
        }
        u32_t sleep = sys_timeouts_sleeptime();
        u64_t due = sleep == SYS_TIMEOUTS_SLEEPTIME_INFINITE
                        ? UINT64_MAX
                        : (virtual_us / 1000u + sleep) * 1000u;
        if (due > until) {
            virtual_us = until;
            break;
        }
        if (due > virtual_us)
            virtual_us = due;
        sys_check_timeouts();
    }
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

static void conn_json(struct sb *b, int *first, const ip_addr_t *lip, u16_t lport,
                      const ip_addr_t *rip, u16_t rport, enum tcp_state st, long long left_us)
{
    char l[IP4ADDR_STRLEN_MAX], rm[IP4ADDR_STRLEN_MAX];
    ip4addr_ntoa_r(ip_2_ip4(lip), l, sizeof l);
    ip4addr_ntoa_r(ip_2_ip4(rip), rm, sizeof rm);
    sb_printf(b, "%s{\"local\":\"%s:%u\",\"remote\":\"%s:%u\",\"state\":\"%s\",\"remaining_us\":",
              *first ? "" : ",", l, lport, rm, rport, state_name(st));
    *first = 0;
    if (left_us >= 0)
        sb_printf(b, "%lld}", left_us);
    else
        sb_str(b, "null}");
}

/* lwIP's lists are newest first: walk one from its end. */
static void list_json(struct sb *b, int *first, struct tcp_pcb *p)
{
    if (!p)
        return;
    list_json(b, first, p->next);
    if (p->local_port == sut_port)
        conn_json(b, first, &p->local_ip, p->local_port, &p->remote_ip, p->remote_port, p->state,
                  p->state == TIME_WAIT ? time_wait_left_us(p) : -1);
}

static void op_state(struct reply *r)
{
    struct sb *b = &r->extra;
    sb_str(b, ",\"conns\":[");
    const ip_addr_t any = IPADDR4_INIT(0);
    int first = 1;
    for (struct tcp_pcb_listen *l = tcp_listen_pcbs.listen_pcbs; l; l = l->next)
        if (l->local_port == sut_port)
            conn_json(b, &first, &l->local_ip, l->local_port, &any, 0, LISTEN, -1);
    /* A TIME-WAIT pcb is older than an active one on its 4-tuple. */
    list_json(b, &first, tcp_tw_pcbs);
    list_json(b, &first, tcp_active_pcbs);
    sb_str(b, "]");
}

/* ---- requests: flat JSON objects, parsed in place ---- */

enum jtype { J_STRING, J_NUMBER, J_LITERAL, J_NESTED };

struct field {
    const char *key, *val;
    size_t klen, vlen;
    enum jtype type;
};

struct request {
    struct field f[MAX_FIELDS];
    int n;
    const char *err; /* why the line is not a request */
    size_t at;       /* where */
};

struct cursor {
    char *p, *start, *end;
};

static void skip_ws(struct cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\r' || *c->p == '\n'))
        c->p++;
}

static int hex4(const char *s, unsigned *v)
{
    *v = 0;
    for (int i = 0; i < 4; i++) {
        int d = unhex((unsigned char)s[i]);
        if (d < 0)
            return 0;
        *v = *v << 4 | (unsigned)d;
    }
    return 1;
}

/* A string at c->p, decoded in place (escapes only ever shrink). */
static const char *parse_string(struct cursor *c, const char **out, size_t *len)
{
    if (c->p >= c->end || *c->p != '"')
        return "expected a string";
    char *w = ++c->p;
    *out = w;
    while (c->p < c->end) {
        unsigned char ch = (unsigned char)*c->p++;
        if (ch == '"') {
            *len = (size_t)(w - *out);
            return NULL;
        }
        if (ch < 0x20)
            return "control character in a string";
        if (ch != '\\') {
            *w++ = (char)ch;
            continue;
        }
        if (c->p >= c->end)
            break;
        ch = (unsigned char)*c->p++;
        switch (ch) {
        case '"': case '\\': case '/': *w++ = (char)ch; break;
        case 'b': *w++ = '\b'; break;
        case 'f': *w++ = '\f'; break;
        case 'n': *w++ = '\n'; break;
        case 'r': *w++ = '\r'; break;
        case 't': *w++ = '\t'; break;
        case 'u': {
            unsigned v, lo;
            if (c->end - c->p < 4 || !hex4(c->p, &v))
                return "bad \\u escape";
            c->p += 4;
            if (v >= 0xdc00 && v <= 0xdfff)
                return "lone surrogate in a \\u escape";
            if (v >= 0xd800 && v <= 0xdbff) {
                if (c->end - c->p < 6 || c->p[0] != '\\' || c->p[1] != 'u' ||
                    !hex4(c->p + 2, &lo) || lo < 0xdc00 || lo > 0xdfff)
                    return "lone surrogate in a \\u escape";
                c->p += 6;
                v = 0x10000 + ((v - 0xd800) << 10) + (lo - 0xdc00);
            }
            if (v < 0x80) {
                *w++ = (char)v;
            } else if (v < 0x800) {
                *w++ = (char)(0xc0 | v >> 6);
                *w++ = (char)(0x80 | (v & 0x3f));
            } else if (v < 0x10000) {
                *w++ = (char)(0xe0 | v >> 12);
                *w++ = (char)(0x80 | (v >> 6 & 0x3f));
                *w++ = (char)(0x80 | (v & 0x3f));
            } else {
                *w++ = (char)(0xf0 | v >> 18);
                *w++ = (char)(0x80 | (v >> 12 & 0x3f));
                *w++ = (char)(0x80 | (v >> 6 & 0x3f));
                *w++ = (char)(0x80 | (v & 0x3f));
            }
            break;
        }
        default:
            return "bad escape in a string";
        }
    }
    return "unterminated string";
}

static int is_digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

static const char *parse_number(struct cursor *c)
{
    if (c->p < c->end && *c->p == '-')
        c->p++;
    if (c->p >= c->end || !is_digit(*c->p))
        return "bad number";
    if (*c->p == '0')
        c->p++;
    else
        while (c->p < c->end && is_digit(*c->p))
            c->p++;
    if (c->p < c->end && *c->p == '.') {
        c->p++;
        if (c->p >= c->end || !is_digit(*c->p))
            return "bad number";
        while (c->p < c->end && is_digit(*c->p))
            c->p++;
    }
    if (c->p < c->end && (*c->p == 'e' || *c->p == 'E')) {
        c->p++;
        if (c->p < c->end && (*c->p == '+' || *c->p == '-'))
            c->p++;
        if (c->p >= c->end || !is_digit(*c->p))
            return "bad number";
        while (c->p < c->end && is_digit(*c->p))
            c->p++;
    }
    return NULL;
}

/* Any JSON value; containers (only allowed in fields this agent ignores)
 * are checked and skipped. */
static const char *parse_value(struct cursor *c, int depth, struct field *f)
{
    static const char *const literals[] = {"true", "false", "null"};
    const char *err;
    if (c->p >= c->end)
        return "expected a value";
    char ch = *c->p;
    const char *start = c->p;
    if (ch == '"') {
        const char *s;
        size_t n;
        if ((err = parse_string(c, &s, &n)))
            return err;
        f->type = J_STRING;
        f->val = s;
        f->vlen = n;
        return NULL;
    }
    if (ch == '-' || is_digit(ch)) {
        if ((err = parse_number(c)))
            return err;
        f->type = J_NUMBER;
        f->val = start;
        f->vlen = (size_t)(c->p - start);
        return NULL;
    }
    for (int i = 0; i < 3; i++) {
        size_t n = strlen(literals[i]);
        if ((size_t)(c->end - c->p) >= n && memcmp(c->p, literals[i], n) == 0) {
            c->p += n;
            f->type = J_LITERAL;
            f->val = start;
            f->vlen = n;
            return NULL;
        }
    }
    if (ch != '{' && ch != '[')
        return "expected a value";
    if (depth >= MAX_DEPTH)
        return "values nested too deep";
    char close = ch == '{' ? '}' : ']';
    c->p++;
    skip_ws(c);
    if (c->p < c->end && *c->p == close) {
        c->p++;
    } else {
        for (;;) {
            struct field inner;
            skip_ws(c);
            if (close == '}') {
                if ((err = parse_string(c, &inner.key, &inner.klen)))
                    return err;
                skip_ws(c);
                if (c->p >= c->end || *c->p != ':')
                    return "expected ':'";
                c->p++;
                skip_ws(c);
            }
            if ((err = parse_value(c, depth + 1, &inner)))
                return err;
            skip_ws(c);
            if (c->p < c->end && *c->p == ',') {
                c->p++;
                continue;
            }
            if (c->p < c->end && *c->p == close) {
                c->p++;
                break;
            }
            return close == '}' ? "expected ',' or '}'" : "expected ',' or ']'";
        }
    }
    f->type = J_NESTED;
    f->val = start;
    f->vlen = (size_t)(c->p - start);
    return NULL;
}

static int parse_request(char *line, size_t len, struct request *req)
{
    struct cursor c = {line, line, line + len};
    const char *err = NULL;
    req->n = 0;
    skip_ws(&c);
    if (c.p >= c.end || *c.p != '{') {
        err = "expected a JSON object";
        goto bad;
    }
    c.p++;
    skip_ws(&c);
    if (c.p < c.end && *c.p == '}') {
        c.p++;
    } else {
        for (;;) {
            struct field f;
            skip_ws(&c);
            if ((err = parse_string(&c, &f.key, &f.klen)))
                goto bad;
            skip_ws(&c);
            if (c.p >= c.end || *c.p != ':') {
                err = "expected ':'";
                goto bad;
            }
            c.p++;
            skip_ws(&c);
            if ((err = parse_value(&c, 1, &f)))
                goto bad;
            for (int i = 0; i < req->n; i++)
                if (req->f[i].klen == f.klen && memcmp(req->f[i].key, f.key, f.klen) == 0) {
                    err = "duplicate field";
                    goto bad;
                }
            if (req->n == MAX_FIELDS) {
                err = "too many fields";
                goto bad;
            }
            req->f[req->n++] = f;
            skip_ws(&c);
            if (c.p < c.end && *c.p == ',') {
                c.p++;
                continue;
            }
            if (c.p < c.end && *c.p == '}') {
                c.p++;
                break;
            }
            err = "expected ',' or '}'";
            goto bad;
        }
    }
    skip_ws(&c);
    if (c.p == c.end)
        return 1;
    err = "text after the object";
bad:
    req->err = err;
    req->at = (size_t)(c.p - c.start);
    return 0;
}

static const struct field *get(const struct request *req, const char *key)
{
    size_t n = strlen(key);
    for (int i = 0; i < req->n; i++)
        if (req->f[i].klen == n && memcmp(req->f[i].key, key, n) == 0)
            return &req->f[i];
    return NULL;
}

static int is(const struct field *f, const char *s)
{
    return f && f->type == J_STRING && f->vlen == strlen(s) && memcmp(f->val, s, f->vlen) == 0;
}

/* A string field as a C string (no NUL inside, shorter than cap). */
static int get_cstring(const struct request *req, const char *key, char *out, size_t cap)
{
    const struct field *f = get(req, key);
    if (!f || f->type != J_STRING || f->vlen >= cap || memchr(f->val, 0, f->vlen))
        return 0;
    memcpy(out, f->val, f->vlen);
    out[f->vlen] = 0;
    return 1;
}

/* A non-negative integer field no larger than max. */
static int get_uint(const struct request *req, const char *key, u64_t max, u64_t *out)
{
    const struct field *f = get(req, key);
    if (!f || f->type != J_NUMBER || f->vlen > 20)
        return 0;
    u64_t v = 0;
    for (size_t i = 0; i < f->vlen; i++) {
        if (!is_digit(f->val[i]))
            return 0;
        unsigned d = (unsigned)(f->val[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return 0;
        v = v * 10 + d;
    }
    if (v > max)
        return 0;
    *out = v;
    return 1;
}

static int parse_endpoint(const char *s, ip4_addr_t *ip, u16_t *port)
{
    char host[16];
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s || (size_t)(colon - s) >= sizeof host)
        return 0;
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = 0;
    char *end;
    errno = 0;
    long p = strtol(colon + 1, &end, 10);
    if (!is_digit(colon[1]) || *end || errno || p <= 0 || p > 65535 || !ip4addr_aton(host, ip))
        return 0;
    *port = (u16_t)p;
    return 1;
}

static void op_hello(struct reply *r, const struct request *req)
{
    char sut[64], peer[64], tap[64], mac[64];
    u64_t version;
    unsigned x[6];
    char tail;
    if (mode != MODE_NONE)
        return fail(r, "fatal", "hello twice");
    if (!get_uint(req, "version", UINT32_MAX, &version))
        return fail(r, "fatal", "hello needs \"version\": this agent speaks version 1");
    if (version != 1)
        return fail(r, "fatal", "this agent speaks protocol version 1, not %llu",
                    (unsigned long long)version);
    if (!get_cstring(req, "sut", sut, sizeof sut) || !get_cstring(req, "peer", peer, sizeof peer) ||
        !parse_endpoint(sut, &sut_ip, &sut_port) || !parse_endpoint(peer, &peer_ip, &peer_port))
        return fail(r, "fatal", "hello needs \"sut\" and \"peer\" as IPv4 address:port");
    ip4_addr_t mask, gw;
    IP4_ADDR(&mask, 255, 255, 255, 0);
    ip4_addr_set_zero(&gw);
    const struct field *m = get(req, "mode");
    if (is(m, "virtual")) {
        mode = MODE_VIRTUAL;
        lwip_init();
        if (!netif_add(&nif, &sut_ip, &mask, &gw, NULL, virtual_netif_init, ip_input))
            return fail(r, "fatal", "lwIP refused the netif");
    } else if (is(m, "tap")) {
        if (!get_cstring(req, "tap", tap, sizeof tap) ||
            !get_cstring(req, "sut_mac", mac, sizeof mac) ||
            sscanf(mac, "%2x:%2x:%2x:%2x:%2x:%2x%c", &x[0], &x[1], &x[2], &x[3], &x[4], &x[5],
                   &tail) != 6)
            return fail(r, "fatal", "tap mode needs \"tap\" (an interface) and \"sut_mac\"");
        char why[160];
        if (!tap_usable(tap, why, sizeof why))
            return fail(r, "fatal", "%s", why);
        if (pipe2(wake_pipe, O_NONBLOCK | O_CLOEXEC) < 0)
            return fail(r, "fatal", "pipe: %s", strerror(errno));
        mode = MODE_TAP;
        clock_gettime(CLOCK_MONOTONIC, &started);
        /* tapif attaches to this interface and leaves the host side alone
         * (without the variable it runs ifconfig on tap0). */
        setenv("PRECONFIGURED_TAPIF", tap, 1);
        lwip_init();
        if (!netif_add(&nif, &sut_ip, &mask, &gw, NULL, tapif_init, tap_enqueue))
            return fail(r, "fatal", "lwIP refused the TAP netif");
        /* tapif's MAC is a fixed 02:12:34:56:78:ab: take the harness's
         * before the netif is up (its gratuitous ARP uses it). */
        for (int i = 0; i < 6; i++)
            nif.hwaddr[i] = (u8_t)x[i];
    } else {
        return fail(r, "fatal", "hello's \"mode\" must be \"virtual\" or \"tap\"");
    }
    netif_set_default(&nif);
    netif_set_link_up(&nif);
    netif_set_up(&nif);
    sb_str(&r->extra, ",\"version\":1,\"stack\":\"lwIP " LWIP_VERSION_STRING "\",\"clock\":");
    sb_str(&r->extra, mode == MODE_VIRTUAL ? "\"virtual\"" : "\"real\"");
}

/* ---- one line in, one reply out ---- */

static void write_all(const char *s, size_t n)
{
    while (n) {
        ssize_t w = write(STDOUT_FILENO, s, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            exit(0); /* the harness is gone */
        s += w;
        n -= (size_t)w;
    }
}

/* Every reply carries the clock, the frames and the events since the last
 * one, even a failed call's: whatever lwIP did meanwhile is not lost. */
static void send_reply(struct reply *r)
{
    static struct sb out;
    out.len = 0;
    if (r->error) {
        sb_str(&out, "{\"ok\":false,\"");
        sb_str(&out, r->error);
        sb_str(&out, "\":");
        sb_json(&out, r->msg, strlen(r->msg));
    } else {
        sb_str(&out, "{\"ok\":true");
    }
    if (mode != MODE_NONE)
        sb_printf(&out, ",\"now_us\":%llu", (unsigned long long)clock_us());
    if (mode == MODE_VIRTUAL) {
        sb_str(&out, ",\"frames\":[");
        if (frames.len)
            sb_put(&out, frames.data, frames.len);
        sb_str(&out, "]");
    }
    sb_str(&out, ",\"events\":[");
    if (events.len)
        sb_put(&out, events.data, events.len);
    sb_str(&out, "]");
    if (!r->error && r->extra.len)
        sb_put(&out, r->extra.data, r->extra.len);
    sb_str(&out, "}\n");
    write_all(out.data, out.len);
    frames.len = 0;
    events.len = 0;
    r->extra.len = 0;
}

static void quote_line(struct reply *r, const char *why, const char *line, size_t len)
{
    struct sb q = {0};
    sb_json(&q, line, len < QUOTED ? len : QUOTED);
    fail(r, "fatal", "%s: %s%s", why, q.data, len > QUOTED ? "..." : "");
    free(q.data);
}

/* Handles one request line; returns 0 when the agent should exit. */
static int handle_line(char *line, size_t len)
{
    static struct reply r;
    struct request req;
    char quoted[QUOTED];
    size_t qlen = len < QUOTED ? len : QUOTED;
    memcpy(quoted, line, qlen); /* parsing decodes strings in place */
    r.error = NULL;
    r.extra.len = 0;
    if (mode == MODE_TAP)
        tap_feed();
    if (!parse_request(line, len, &req)) {
        char why[96];
        snprintf(why, sizeof why, "not a JSON request (%s at byte %zu)", req.err, req.at);
        quote_line(&r, why, quoted, len);
        send_reply(&r);
        return 1;
    }
    const struct field *op = get(&req, "op");
    if (!op || op->type != J_STRING) {
        quote_line(&r, "a request needs a string \"op\"", quoted, len);
        send_reply(&r);
        return 1;
    }
    int go_on = 1;
    u64_t n;
    const struct field *data;
    if (is(op, "quit")) {
        go_on = 0;
    } else if (is(op, "hello")) {
        op_hello(&r, &req);
    } else if (mode == MODE_NONE) {
        fail(&r, "fatal", "the first request must be hello");
    } else if (is(op, "listen")) {
        op_listen(&r);
    } else if (is(op, "accept")) {
        op_accept(&r);
    } else if (is(op, "connect")) {
        op_connect(&r);
    } else if (is(op, "send")) {
        if (get_uint(&req, "bytes", 0xffff, &n))
            op_send(&r, (unsigned long)n);
        else
            fail(&r, "fatal", "send needs \"bytes\": 0..65535");
    } else if (is(op, "shutdown")) {
        op_shutdown(&r);
    } else if (is(op, "close")) {
        op_close(&r);
    } else if (is(op, "abort")) {
        op_abort(&r);
    } else if (is(op, "state")) {
        op_state(&r);
    } else if (is(op, "frame") || is(op, "advance")) {
        if (mode != MODE_VIRTUAL)
            fail(&r, "fatal", "frame and advance are for virtual mode; this agent is in tap mode");
        else if (is(op, "advance") && get_uint(&req, "until_us", UINT64_MAX, &n))
            op_advance(&r, n);
        else if (is(op, "frame") && (data = get(&req, "data")) && data->type == J_STRING)
            op_frame(&r, data->val, data->vlen);
        else
            fail(&r, "fatal", is(op, "frame") ? "frame needs \"data\": hex"
                                              : "advance needs \"until_us\": microseconds");
    } else {
        struct sb q = {0};
        sb_json(&q, op->val, op->vlen < 64 ? op->vlen : 64);
        fail(&r, "fatal", "unknown op %s", q.data);
        free(q.data);
    }
    if (go_on)
        send_reply(&r);
    else
        write_all("{\"ok\":true}\n", 12);
    return go_on;
}

/* ---- main loop ---- */

int main(void)
{
    static char buf[MAX_LINE + 1]; /* a whole line fits, with its newline */
    static char head[QUOTED];      /* the start of a line too long to keep */
    static struct reply too_long;
    size_t len = 0;                /* bytes of the current line in buf */
    size_t skipped = 0;            /* > 0: the current line is too long, skipped so far */
    signal(SIGPIPE, SIG_IGN);
    for (;;) {
        struct pollfd fds[2] = {{STDIN_FILENO, POLLIN, 0}, {wake_pipe[0], POLLIN, 0}};
        struct timespec timeout, *wait = NULL;
        if (mode == MODE_TAP) {
            /* Wake at the start of the millisecond a timeout is due in:
             * lwIP re-arms its periodic timers from sys_now() when they
             * run, so waking late would make them drift. */
            u32_t sleep = sys_timeouts_sleeptime();
            u64_t now = clock_us();
            u64_t due = (now / 1000u + (sleep < TAP_POLL_MS ? sleep : TAP_POLL_MS)) * 1000u;
            u64_t us = due > now ? due - now : 0;
            timeout.tv_sec = 0;
            timeout.tv_nsec = (long)(us * 1000u);
            wait = &timeout;
        }
        if (ppoll(fds, 2, wait, NULL) < 0 && errno != EINTR) {
            perror("lwip agent: ppoll");
            return 1;
        }
        if (mode == MODE_TAP) {
            tap_feed();
            sys_check_timeouts();
        }
        if (!(fds[0].revents & (POLLIN | POLLHUP | POLLERR)))
            continue;
        ssize_t got = read(STDIN_FILENO, buf + len, sizeof buf - len);
        if (got < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (got <= 0) {
            /* End of input: a last line without its newline still counts. */
            if (len && !skipped)
                handle_line(buf, len);
            return 0;
        }
        size_t end = len + (size_t)got, start = 0;
        for (size_t i = len; i < end; i++) {
            if (buf[i] != '\n')
                continue;
            if (skipped) {
                char why[96];
                snprintf(why, sizeof why, "request line longer than %d bytes (%zu)", MAX_LINE,
                         skipped + i);
                too_long.error = NULL;
                quote_line(&too_long, why, head, skipped + i);
                send_reply(&too_long);
                skipped = 0;
            } else if (!handle_line(buf + start, i - start)) {
                return 0;
            }
            start = i + 1;
        }
        len = end - start;
        if (skipped) {
            skipped += len; /* start is 0: no newline came */
            len = 0;
        } else if (len == sizeof buf) {
            /* No newline in more than MAX_LINE bytes: keep the line's start
             * for the reply, skip the rest up to its newline. */
            memcpy(head, buf, QUOTED);
            skipped = len;
            len = 0;
        } else {
            memmove(buf, buf + start, len);
        }
    }
}
