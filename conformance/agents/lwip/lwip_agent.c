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
 * Tap mode: lwIP runs as it would in a product, with its tcpip thread, its
 * own TAP port (tapif) on the interface the harness created, and real time.
 * The main thread takes the core lock around every raw API call.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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
#include "netif/tapif.h"

#define MAX_LINE (64 * 1024)

/* ---- output buffer for one reply (events, frames) ---- */

struct buf {
    char *data;
    size_t len, cap;
};

static void buf_put(struct buf *b, const char *s, size_t n)
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

static void buf_printf(struct buf *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0)
        buf_put(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* A JSON string body: the only strings we print are ours or quoted input. */
static void buf_json_string(struct buf *b, const char *s)
{
    buf_put(b, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            buf_put(b, e, 2);
        } else if (c < 0x20) {
            buf_printf(b, "\\u%04x", c);
        } else {
            buf_put(b, (const char *)&c, 1);
        }
    }
    buf_put(b, "\"", 1);
}

/* ---- the agent's state ---- */

enum mode { MODE_NONE, MODE_VIRTUAL, MODE_TAP };

static enum mode mode = MODE_NONE;
static u64_t now_us;            /* virtual clock */
static struct netif nif;
static ip4_addr_t sut_ip, peer_ip;
static u16_t sut_port, peer_port;
static struct tcp_pcb *listener; /* the application's listener */
static struct tcp_pcb *pending;  /* established, not yet accepted */
static struct tcp_pcb *conn;     /* the application's connection */
static struct buf events, frames;
static int nframes;

static void event(const char *kind, long bytes)
{
    if (events.len)
        buf_put(&events, ",", 1);
    if (bytes >= 0)
        buf_printf(&events, "{\"kind\":\"%s\",\"bytes\":%ld}", kind, bytes);
    else
        buf_printf(&events, "{\"kind\":\"%s\"}", kind);
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
    u16_t len = pbuf_copy_partial(p, tmp, sizeof tmp, 0);
    if (nframes++)
        buf_put(&frames, ",", 1);
    buf_put(&frames, "\"", 1);
    for (u16_t i = 0; i < len; i++) {
        char h[2] = {hex[tmp[i] >> 4], hex[tmp[i] & 15]};
        buf_put(&frames, h, 2);
    }
    buf_put(&frames, "\"", 1);
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
    if (pending) {
        /* One connection per listen: refuse (lwIP aborts it). */
        return ERR_MEM;
    }
    pending = pcb;
    watch(pcb, &pending);
    event("accepted", -1);
    return ERR_OK;
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

/* The value of "key" in a flat JSON object: a string (unescaped, no
 * escapes allowed) or a bare number/word. Returns 0 when absent. */
static int field(const char *line, const char *key, char *out, size_t cap)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\"", key);
    /* The key is the quoted word followed by a colon (a value may spell it too). */
    const char *p = line;
    for (;;) {
        p = strstr(p, pat);
        if (!p)
            return 0;
        p += strlen(pat);
        while (*p == ' ')
            p++;
        if (*p == ':')
            break;
    }
    p++;
    while (*p == ' ')
        p++;
    size_t n = 0;
    if (*p == '"') {
        p++;
        while (*p && *p != '"') {
            if (*p == '\\' || n + 1 >= cap)
                return 0;
            out[n++] = *p++;
        }
        if (*p != '"')
            return 0;
    } else {
        while (*p && *p != ',' && *p != '}' && *p != ' ') {
            if (n + 1 >= cap)
                return 0;
            out[n++] = *p++;
        }
    }
    out[n] = 0;
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

static struct buf reply;

static void reply_error(const char *kind, const char *msg)
{
    buf_put(&reply, "{\"ok\":false,\"", 13);
    buf_put(&reply, kind, strlen(kind));
    buf_put(&reply, "\":", 2);
    buf_json_string(&reply, msg);
    buf_put(&reply, "}", 1);
}

static void reply_ok(const char *extra)
{
    buf_put(&reply, "{\"ok\":true", 10);
    if (mode == MODE_VIRTUAL) {
        buf_printf(&reply, ",\"now_us\":%llu,\"frames\":[", (unsigned long long)now_us);
        if (frames.len)
            buf_put(&reply, frames.data, frames.len);
        buf_put(&reply, "]", 1);
    }
    buf_put(&reply, ",\"events\":[", 11);
    if (events.len)
        buf_put(&reply, events.data, events.len);
    buf_put(&reply, "]", 1);
    if (extra)
        buf_put(&reply, extra, strlen(extra));
    buf_put(&reply, "}", 1);
    events.len = 0;
    frames.len = 0;
    nframes = 0;
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
    if (pending && !alive(pending))
        pending = NULL;
}

static struct tcp_pcb *new_pcb(void)
{
    struct tcp_pcb *pcb = tcp_new_ip_type(IPADDR_TYPE_V4);
    if (pcb)
        /* The 4-tuple is reused while an older incarnation is in TIME-WAIT. */
        ip_set_option(pcb, SOF_REUSEADDR);
    return pcb;
}

static void op_listen(void)
{
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
    tcp_accept(l, on_accept);
    reply_ok(NULL);
}

static void op_accept(void)
{
    if (!pending)
        return reply_error("error", "accept would block: no connection is established");
    conn = pending;
    pending = NULL;
    tcp_arg(conn, &conn);
    if (listener) {
        tcp_close(listener);
        listener = NULL;
    }
    reply_ok(NULL);
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
    reply_ok(NULL);
}

static void op_send(const char *line)
{
    char v[32];
    char *end;
    long n = field(line, "bytes", v, sizeof v) ? strtol(v, &end, 10) : -1;
    if (n < 0 || n > 65535 || *end)
        return reply_error("fatal", "send needs \"bytes\": 0..65535");
    if (!conn)
        return reply_error("error", "no connection");
    static char data[65536];
    memset(data, 'x', (size_t)n);
    err_t e = tcp_write(conn, data, (u16_t)n, TCP_WRITE_FLAG_COPY);
    if (e != ERR_OK)
        return app_error("send", e);
    tcp_output(conn);
    reply_ok(NULL);
}

static void op_shutdown(void)
{
    if (!conn)
        return reply_error("error", "no connection");
    err_t e = tcp_shutdown(conn, 0, 1);
    if (e != ERR_OK)
        return app_error("shutdown", e);
    reply_ok(NULL);
}

static void op_close(void)
{
    struct tcp_pcb **slot = conn ? &conn : listener ? &listener : NULL;
    if (slot) {
        struct tcp_pcb *pcb = *slot;
        /* The application is gone: lwIP's defaults take what still arrives. */
        unwatch(pcb);
        *slot = NULL;
        err_t e = tcp_close(pcb);
        if (e != ERR_OK)
            return app_error("close", e);
    }
    reply_ok(NULL);
}

static void op_abort(void)
{
    if (!conn)
        return reply_error("error", "abort without a connection");
    struct tcp_pcb *pcb = conn;
    unwatch(pcb);
    conn = NULL;
    tcp_abort(pcb);
    reply_ok(NULL);
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

static void op_frame(const char *line)
{
    static char hexdata[2 * 4096 + 1];
    if (!field(line, "data", hexdata, sizeof hexdata))
        return reply_error("fatal", "frame needs \"data\": hex, at most 4096 bytes");
    size_t n = strlen(hexdata);
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
    reply_ok(NULL);
}

static void op_advance(const char *line)
{
    char v[32];
    char *end;
    unsigned long long until = field(line, "until_us", v, sizeof v) ? strtoull(v, &end, 10) : 0;
    if (!field(line, "until_us", v, sizeof v) || *end)
        return reply_error("fatal", "advance needs \"until_us\"");
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
    reply_ok(NULL);
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

static void conn_json(struct buf *b, struct tcp_pcb *pcb, int *first)
{
    char local[32], remote[32];
    snprintf(local, sizeof local, "%s:%u", ip4addr_ntoa(ip_2_ip4(&pcb->local_ip)), pcb->local_port);
    snprintf(remote, sizeof remote, "%s:%u", ip4addr_ntoa(ip_2_ip4(&pcb->remote_ip)), pcb->remote_port);
    buf_printf(b, "%s{\"local\":\"%s\",\"remote\":\"%s\",\"state\":\"%s\",\"remaining_us\":",
               *first ? "" : ",", local, remote, state_name(pcb->state));
    if (pcb->state == TIME_WAIT) {
        /* tcp_slowtmr drops a TIME-WAIT pcb once tcp_ticks - tmr exceeds this. */
        long limit = 2 * TCP_MSL / TCP_SLOW_INTERVAL;
        long left = limit + 1 - (long)(u32_t)(tcp_ticks - pcb->tmr);
        buf_printf(b, "%ld}", (left > 0 ? left : 0) * TCP_SLOW_INTERVAL * 1000L);
    } else {
        buf_put(b, "null}", 5);
    }
    *first = 0;
}

static void op_state(void)
{
    struct buf b = {0};
    int first = 1;
    buf_put(&b, ",\"conns\":[", 10);
    for (struct tcp_pcb_listen *l = tcp_listen_pcbs.listen_pcbs; l; l = l->next)
        if (l->local_port == sut_port) {
            buf_printf(&b, "%s{\"local\":\"%s:%u\",\"remote\":\"0.0.0.0:0\",\"state\":\"LISTEN\",\"remaining_us\":null}",
                       first ? "" : ",", ip4addr_ntoa(&sut_ip), sut_port);
            first = 0;
        }
    /* TIME-WAIT pcbs are older than any active one on the same port. */
    for (struct tcp_pcb *p = tcp_tw_pcbs; p; p = p->next)
        if (p->local_port == sut_port)
            conn_json(&b, p, &first);
    for (struct tcp_pcb *p = tcp_active_pcbs; p; p = p->next)
        if (p->local_port == sut_port)
            conn_json(&b, p, &first);
    buf_put(&b, "]", 1);
    reply_ok(b.data);
    free(b.data);
}

static void on_tcpip_ready(void *arg)
{
    *(volatile int *)arg = 1;
}

static void op_hello(const char *line)
{
    char m[16], sut[64], peer[64], tap[32], mac[32];
    if (mode != MODE_NONE)
        return reply_error("fatal", "hello twice");
    if (!field(line, "mode", m, sizeof m) || !field(line, "sut", sut, sizeof sut) ||
        !field(line, "peer", peer, sizeof peer))
        return reply_error("fatal", "hello needs mode, sut and peer");
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
        unsigned int x[6];
        if (!field(line, "tap", tap, sizeof tap) || !field(line, "sut_mac", mac, sizeof mac) ||
            sscanf(mac, "%x:%x:%x:%x:%x:%x", &x[0], &x[1], &x[2], &x[3], &x[4], &x[5]) != 6)
            return reply_error("fatal", "tap mode needs \"tap\" and \"sut_mac\"");
        mode = MODE_TAP;
        /* tapif attaches to this interface and configures nothing on the host. */
        setenv("PRECONFIGURED_TAPIF", tap, 1);
        volatile int ready = 0;
        tcpip_init(on_tcpip_ready, (void *)&ready);
        while (!ready)
            usleep(1000);
        LOCK_TCPIP_CORE();
        netif_add(&nif, &sut_ip, &mask, &gw, NULL, tapif_init, tcpip_input);
        for (int i = 0; i < 6; i++)
            nif.hwaddr[i] = (u8_t)x[i];
        UNLOCK_TCPIP_CORE();
    } else {
        return reply_error("fatal", "mode must be virtual or tap");
    }
    if (mode == MODE_TAP)
        LOCK_TCPIP_CORE();
    netif_set_default(&nif);
    netif_set_link_up(&nif);
    netif_set_up(&nif);
    if (mode == MODE_TAP)
        UNLOCK_TCPIP_CORE();
    reply_ok(mode == MODE_VIRTUAL
                 ? ",\"version\":1,\"stack\":\"lwIP " LWIP_VERSION_STRING "\",\"clock\":\"virtual\""
                 : ",\"version\":1,\"stack\":\"lwIP " LWIP_VERSION_STRING " (tapif)\",\"clock\":\"real\"");
}

static int handle(const char *line)
{
    char op[32];
    const char *s = line;
    while (*s == ' ')
        s++;
    size_t n = strlen(s);
    while (n && s[n - 1] == ' ')
        n--;
    if (n < 2 || s[0] != '{' || s[n - 1] != '}' || !field(line, "op", op, sizeof op)) {
        struct buf msg = {0};
        const char *prefix = "not a request (a JSON object with \"op\"): ";
        buf_put(&msg, prefix, strlen(prefix));
        buf_put(&msg, line, strlen(line) > 200 ? 200 : strlen(line));
        reply_error("fatal", msg.data);
        free(msg.data);
        return 1;
    }
    if (strcmp(op, "hello") == 0) {
        op_hello(line);
        return 1;
    }
    if (strcmp(op, "quit") == 0) {
        buf_put(&reply, "{\"ok\":true}", 11);
        return 0;
    }
    if (mode == MODE_NONE) {
        reply_error("fatal", "the first request must be hello");
        return 1;
    }
    int virtual_only = strcmp(op, "frame") == 0 || strcmp(op, "advance") == 0;
    if (virtual_only && mode != MODE_VIRTUAL) {
        reply_error("fatal", "frame and advance are for virtual mode");
        return 1;
    }
    if (mode == MODE_TAP)
        LOCK_TCPIP_CORE();
    forget_freed();
    if (strcmp(op, "listen") == 0)
        op_listen();
    else if (strcmp(op, "accept") == 0)
        op_accept();
    else if (strcmp(op, "connect") == 0)
        op_connect();
    else if (strcmp(op, "send") == 0)
        op_send(line);
    else if (strcmp(op, "shutdown") == 0)
        op_shutdown();
    else if (strcmp(op, "close") == 0)
        op_close();
    else if (strcmp(op, "abort") == 0)
        op_abort();
    else if (strcmp(op, "frame") == 0)
        op_frame(line);
    else if (strcmp(op, "advance") == 0)
        op_advance(line);
    else if (strcmp(op, "state") == 0)
        op_state();
    else {
        char msg[80];
        snprintf(msg, sizeof msg, "unknown op \"%s\"", op);
        reply_error("fatal", msg);
    }
    if (mode == MODE_TAP)
        UNLOCK_TCPIP_CORE();
    return 1;
}

int main(void)
{
    static char line[MAX_LINE + 2];
    while (fgets(line, sizeof line, stdin)) {
        size_t n = strlen(line);
        if (n && line[n - 1] == '\n') {
            line[--n] = 0;
        } else if (n == sizeof line - 1) {
            /* Too long: answer once, skip the rest of the line. */
            int c;
            while ((c = getchar()) != EOF && c != '\n')
                ;
            reply.len = 0;
            reply_error("fatal", "request line longer than 64 KiB");
            printf("%s\n", reply.data);
            fflush(stdout);
            continue;
        }
        reply.len = 0;
        int go_on = handle(line);
        printf("%s\n", reply.data);
        fflush(stdout);
        if (!go_on)
            break;
    }
    return 0;
}
