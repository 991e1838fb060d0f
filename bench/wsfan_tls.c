/* wsfan_tls: the peers' wsfan.c (peers/wsfan.c beside the project, an independent WebSocket fan-out
 * meter) with two additions, so that rtpush and Nchan are measured by the same client over TLS and plain
 * (bench/tls.sh). What changed from wsfan.c:
 *   -S      every connection (subscribers and publishers) speaks TLS through OpenSSL, certificate not
 *           verified; each subscriber's TCP connect and TLS handshake are done blocking, one after the
 *           other, before its socket turns non-blocking and joins the epoll loop (the measured part,
 *           publish to last delivery, is unchanged); the negotiated protocol and cipher are printed.
 *   -W W    a window of messages in flight: message i is published only once every subscriber has
 *           received message i-W (W=1: one message at a time, each fanned out completely before the
 *           next). Without -W publishers go as fast as the HTTP answers come back, as in wsfan.c.
 *   The summary also prints the serving processes' CPU seconds with -C PID[,PID...], and the meter's
 *   own (all its threads; it shares the machine with the server) from the first publish to the end.
 * Otherwise the code is wsfan.c's: the send/recv calls go through two small wrappers.
 *
 * wsfan: an independent WebSocket fan-out meter (a measuring tool beside the project, not project code).
 * Opens N client connections (epoll, non-blocking, source addresses 127.0.0.2..), optionally sends one
 * text frame to each (a subscribe), then publishes M messages over one keep-alive HTTP connection
 * (POST) and counts deliveries. Each published body carries "ts":<ns>; latency = receive - ts.
 *
 *   wsfan -p PORT -u /sub/ch -n 10000 [-P subprotocol] [-s 'subscribe-frame'] [-w 'text that marks ready']
 *         [-U /pub/ch -m 100 -r RATE -c publishers] [-H hold_secs] [-t timeout] [-b pad_bytes]
 * -Q PORT: publish to another port (another node) than the subscribers use.
 * -c K: K publisher threads, each on its own keep-alive connection, sharing the M messages (default 1).
 * Prints one summary line: conns, deliveries, seconds, deliveries/s, latency p50/p99/max ms.
 * Build: cc -O2 -pthread -o wsfan_tls wsfan_tls.c -lssl -lcrypto (or the bench target in CMake)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

static int port = 0, n = 100, m = 0, hold = 0, tmo = 60, pad = 64, npub = 1, pubport = 0;
static int use_tls = 0, window = 0; /* -S, -W */
static const char *cpu_pids = NULL;  /* -C */
static SSL_CTX *tls_ctx;
static double rate = 0;
static const char *path = "/", *proto = NULL, *subframe = NULL, *ready_mark = NULL, *pubpath = NULL;

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (uint64_t)t.tv_sec * 1000000000ull + t.tv_nsec;
}

typedef struct {
    int fd, state; /* 0 handshake, 1 open */
    SSL *ssl;      /* -S */
    char *buf;
    size_t len, cap;
    int ready;
} conn_t;

static conn_t *cs;
static uint64_t delivered = 0, first_rx = 0, last_rx = 0;
static uint32_t *lat_us;
static size_t nlat = 0, caplat = 0;
static int nready = 0, nfailed = 0;
/* -W: a publisher waiting for deliveries sleeps on win_cond until delivered >= win_want */
static pthread_mutex_t win_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t win_cond = PTHREAD_COND_INITIALIZER;
static uint64_t win_want = UINT64_MAX;

/* Bytes out and in, through TLS with -S. io_send: as send(); io_recv: as recv(), EAGAIN when TLS has
 * nothing to give yet (a record not complete, or only a handshake message). */
static ssize_t io_send(int fd, SSL *ssl, const void *p, size_t l) {
    if (!ssl) return send(fd, p, l, MSG_NOSIGNAL);
    int w = SSL_write(ssl, p, (int)l);
    if (w > 0) return w;
    int e = SSL_get_error(ssl, w);
    errno = (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) ? EAGAIN : EPIPE;
    return -1;
}
static ssize_t io_recv(int fd, SSL *ssl, void *p, size_t l) {
    if (!ssl) return recv(fd, p, l, 0);
    int r = SSL_read(ssl, p, (int)l);
    if (r > 0) return r;
    int e = SSL_get_error(ssl, r);
    if (e == SSL_ERROR_ZERO_RETURN) return 0;
    errno = (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) ? EAGAIN : ECONNRESET;
    return -1;
}
/* TLS over a connected blocking socket; NULL without -S. */
static SSL *tls_start(int fd) {
    if (!use_tls) return NULL;
    SSL *ssl = SSL_new(tls_ctx);
    SSL_set_fd(ssl, fd);
    SSL_set_tlsext_host_name(ssl, "127.0.0.1");
    if (SSL_connect(ssl) != 1) { ERR_print_errors_fp(stderr); fprintf(stderr, "TLS handshake failed\n"); exit(1); }
    static int said = 0;
    if (!said++) fprintf(stderr, "tls %s %s\n", SSL_get_version(ssl), SSL_get_cipher_name(ssl));
    return ssl;
}

static void die(const char *s) { perror(s); exit(1); }

static void send_all(int fd, SSL *ssl, const void *p, size_t l) {
    const char *c = p;
    while (l) {
        ssize_t w = io_send(fd, ssl, c, l);
        if (w < 0) {
            if (errno == EAGAIN || errno == EINTR) { usleep(100); continue; }
            return;
        }
        c += w; l -= (size_t)w;
    }
}

static void send_frame(int fd, SSL *ssl, int opcode, const char *p, size_t l) {
    unsigned char h[14]; size_t hl = 0; unsigned char mask[4] = {1, 2, 3, 4};
    h[hl++] = 0x80 | opcode;
    if (l < 126) h[hl++] = 0x80 | l;
    else if (l < 65536) { h[hl++] = 0x80 | 126; h[hl++] = l >> 8; h[hl++] = l & 255; }
    else { h[hl++] = 0x80 | 127; for (int i = 7; i >= 0; i--) h[hl++] = (l >> (8 * i)) & 255; }
    memcpy(h + hl, mask, 4); hl += 4;
    char *b = malloc(hl + l);
    memcpy(b, h, hl);
    for (size_t i = 0; i < l; i++) b[hl + i] = p[i] ^ mask[i & 3];
    send_all(fd, ssl, b, hl + l);
    free(b);
}

static void on_message(conn_t *c, const char *p, size_t l) {
    if (!c->ready) {
        if (!ready_mark || memmem(p, l, ready_mark, strlen(ready_mark))) { c->ready = 1; nready++; }
        if (ready_mark) return;
    }
    const char *t = memmem(p, l, "\"ts\":", 5);
    if (!t) return;
    uint64_t ts = strtoull(t + 5, NULL, 10), r = now_ns();
    __atomic_store_n(&delivered, delivered + 1, __ATOMIC_RELEASE); /* read by a windowed publisher */
    if (!first_rx) first_rx = r;
    last_rx = r;
    if (nlat == caplat) { caplat = caplat ? caplat * 2 : 1 << 20; lat_us = realloc(lat_us, caplat * 4); }
    lat_us[nlat++] = r > ts ? (uint32_t)((r - ts) / 1000) : 0;
}

static void parse(conn_t *c) {
    size_t off = 0;
    if (c->state == 0) {
        char *e = memmem(c->buf, c->len, "\r\n\r\n", 4);
        if (!e) return;
        if (strncmp(c->buf, "HTTP/1.1 101", 12)) { fprintf(stderr, "handshake refused: %.60s\n", c->buf); exit(1); }
        c->state = 1;
        off = (size_t)(e - c->buf) + 4;
        if (subframe) send_frame(c->fd, c->ssl, 1, subframe, strlen(subframe));
        else if (!ready_mark) { c->ready = 1; nready++; }
    }
    for (;;) {
        unsigned char *b = (unsigned char *)c->buf + off; size_t a = c->len - off;
        if (a < 2) break;
        int op = b[0] & 15; uint64_t pl = b[1] & 127; size_t hl = 2;
        if (pl == 126) { if (a < 4) break; pl = (b[2] << 8) | b[3]; hl = 4; }
        else if (pl == 127) { if (a < 10) break; pl = 0; for (int i = 0; i < 8; i++) pl = (pl << 8) | b[2 + i]; hl = 10; }
        if (a < hl + pl) break;
        if (op == 9) send_frame(c->fd, c->ssl, 10, (char *)b + hl, pl);
        else if (op == 1 || op == 2 || op == 0) on_message(c, (char *)b + hl, pl);
        off += hl + pl;
    }
    memmove(c->buf, c->buf + off, c->len - off);
    c->len -= off;
}

static int pub_connect(SSL **ssl) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(pubport ? pubport : port)};
    sa.sin_addr.s_addr = htonl(0x7f000001);
    if (connect(fd, (void *)&sa, sizeof sa)) die("publisher connect");
    int one = 1; setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    *ssl = tls_start(fd);
    return fd;
}

static void *publisher(void *arg) {
    int first = (int)(intptr_t)arg; /* publisher k of npub sends messages k, k+npub, ... */
    SSL *ssl;
    int fd = pub_connect(&ssl);
    char *padding = malloc(pad + 1); memset(padding, 'x', pad); padding[pad] = 0;
    char body[70000], req[72000], rb[65536];
    uint64_t start = now_ns();
    for (int i = first; i < m; i += npub) {
        if (window > 0 && i >= window) { /* every subscriber has message i - window */
            uint64_t want = (uint64_t)(i - window + 1) * n;
            pthread_mutex_lock(&win_mu);
            while (__atomic_load_n(&delivered, __ATOMIC_ACQUIRE) < want) {
                win_want = want;
                pthread_cond_wait(&win_cond, &win_mu);
            }
            pthread_mutex_unlock(&win_mu);
        }
        if (rate > 0) { uint64_t due = start + (uint64_t)(i * 1e9 / rate); while (now_ns() < due) usleep(50); }
        int bl = snprintf(body, sizeof body, "{\"ts\":%llu,\"i\":%d,\"pad\":\"%s\"}", (unsigned long long)now_ns(), i, padding);
        int rl = snprintf(req, sizeof req, "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", pubpath, bl, body);
        send_all(fd, ssl, req, rl);
        /* read one response: headers + Content-Length body; a server that closes a keep-alive
         * connection (nginx keepalive_requests) before answering gets the request again */
        size_t got = 0; long want = -1;
        for (;;) {
            ssize_t r = io_recv(fd, ssl, rb + got, sizeof rb - got);
            if (r <= 0 && got == 0) {
                if (ssl) SSL_free(ssl);
                close(fd); fd = pub_connect(&ssl); send_all(fd, ssl, req, rl); continue;
            }
            if (r <= 0) die("publisher recv");
            got += r;
            char *e = memmem(rb, got, "\r\n\r\n", 4);
            if (!e) continue;
            size_t hl = e - rb + 4;
            if (want < 0) {
                char *cl = strcasestr(rb, "Content-Length:");
                want = cl && cl < e ? atol(cl + 15) : 0;
                if (strncmp(rb + 9, "20", 2)) fprintf(stderr, "publish %d: %.40s\n", i, rb);
            }
            if (got >= hl + (size_t)want) break;
        }
    }
    return NULL;
}

/* -C: user + system clock ticks of the listed processes (the server's) */
static long cpu_ticks(void) {
    long sum = 0;
    if (!cpu_pids) return 0;
    char *list = strdup(cpu_pids), *save = NULL;
    for (char *p = strtok_r(list, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
        char fn[64], st[1024];
        snprintf(fn, sizeof fn, "/proc/%s/stat", p);
        FILE *f = fopen(fn, "r");
        if (!f) continue;
        size_t l = fread(st, 1, sizeof st - 1, f);
        fclose(f);
        st[l] = 0;
        char *q = strrchr(st, ')'); /* fields after the command name: state is field 3, utime 14, stime 15 */
        unsigned long ut = 0, stt = 0;
        if (q && sscanf(q + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &stt) == 2) sum += (long)(ut + stt);
    }
    free(list);
    return sum;
}

/* The meter's own CPU (every thread: subscribers' loop and publishers), in seconds: on a small machine
 * the client competes with the server, and under TLS it decrypts every record. */
static double self_cpu(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* The WebSocket upgrade request of one subscriber. */
static void send_upgrade(conn_t *c) {
    char req[1024];
    int l = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n%s%s%s\r\n",
                     path, port, proto ? "Sec-WebSocket-Protocol: " : "", proto ? proto : "", proto ? "\r\n" : "");
    send_all(c->fd, c->ssl, req, l);
}

static int cmp(const void *a, const void *b) { uint32_t x = *(uint32_t *)a, y = *(uint32_t *)b; return x < y ? -1 : x > y; }

int main(int argc, char **argv) {
    int o;
    while ((o = getopt(argc, argv, "p:u:n:P:s:w:U:m:r:H:t:b:c:Q:SW:C:")) != -1) switch (o) {
        case 'p': port = atoi(optarg); break;
        case 'u': path = optarg; break;
        case 'n': n = atoi(optarg); break;
        case 'P': proto = optarg; break;
        case 's': subframe = optarg; break;
        case 'w': ready_mark = optarg; break;
        case 'U': pubpath = optarg; break;
        case 'm': m = atoi(optarg); break;
        case 'r': rate = atof(optarg); break;
        case 'H': hold = atoi(optarg); break;
        case 't': tmo = atoi(optarg); break;
        case 'b': pad = atoi(optarg); break;
        case 'c': npub = atoi(optarg); break;
        case 'Q': pubport = atoi(optarg); break;
        case 'S': use_tls = 1; break;
        case 'W': window = atoi(optarg); break;
        case 'C': cpu_pids = optarg; break;
        default: fprintf(stderr, "see the comment at the top\n"); return 2;
    }
    if (use_tls) {
        tls_ctx = SSL_CTX_new(TLS_client_method());
        SSL_CTX_set_verify(tls_ctx, SSL_VERIFY_NONE, NULL);
    }
    int ep = epoll_create1(0);
    cs = calloc(n, sizeof *cs);
    for (int i = 0; i < n; i++) {
        conn_t *c = &cs[i];
        c->fd = socket(AF_INET, SOCK_STREAM | (use_tls ? 0 : SOCK_NONBLOCK), 0);
        if (c->fd < 0) die("socket");
        struct sockaddr_in src = {.sin_family = AF_INET};
        src.sin_addr.s_addr = htonl(0x7f000002 + (i % 64)); /* spread over 64 source addresses: TIME_WAIT of earlier runs cannot exhaust ports */
        if (bind(c->fd, (void *)&src, sizeof src) < 0) die("bind");
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
        sa.sin_addr.s_addr = htonl(0x7f000001);
        if (connect(c->fd, (void *)&sa, sizeof sa) && use_tls) die("connect");
        if (use_tls) {
            /* TLS handshake and the upgrade request blocking, one connection after the other, then on as
             * wsfan.c does. The request goes at once, as a browser's does: a server with a bounded pool of
             * connections reading their HTTP headers (rtpush: max-http-header-pool 256) does not finish
             * handshakes past the pool until earlier connections have sent their request, so handshaking
             * all N first stalled every run past 256 subscribers until the header timeout (10 s) dropped
             * the first ones. */
            c->ssl = tls_start(c->fd);
            send_upgrade(c);
            fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
        }
        c->cap = 65536; c->buf = malloc(c->cap);
        struct epoll_event ev = {.events = EPOLLIN | (use_tls ? 0 : EPOLLOUT), .data.u32 = i};
        epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
    }
    struct epoll_event evs[1024];
    uint64_t t0 = now_ns(), deadline = t0 + (uint64_t)tmo * 1000000000ull;
    pthread_t pt; int pub_started = 0; uint64_t pub_t0 = 0;
    uint64_t expect = (uint64_t)n * m;
    long cpu0 = 0;
    double self0 = 0;
    while (now_ns() < deadline) {
        int k = epoll_wait(ep, evs, 1024, 100);
        for (int j = 0; j < k; j++) {
            conn_t *c = &cs[evs[j].data.u32];
            if (evs[j].events & EPOLLOUT) {
                send_upgrade(c);
                struct epoll_event ev = {.events = EPOLLIN, .data.u32 = evs[j].data.u32};
                epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
            }
            if (evs[j].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
                for (;;) {
                    if (c->cap - c->len < 16384) { c->cap *= 2; c->buf = realloc(c->buf, c->cap); }
                    ssize_t r = io_recv(c->fd, c->ssl, c->buf + c->len, c->cap - c->len);
                    if (r > 0) { c->len += r; parse(c); continue; }
                    if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
                        if (!c->ready) nfailed++;
                        epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL); close(c->fd);
                    }
                    break;
                }
            }
        }
        if (!pub_started && nready == n) {
            fprintf(stderr, "%d connections ready in %.2fs\n", n, (now_ns() - t0) / 1e9);
            if (hold) { sleep(hold); }
            if (pubpath && m) {
                usleep(300000);
                cpu0 = cpu_ticks();
                self0 = self_cpu();
                pub_t0 = now_ns(); for (int k = 0; k < npub; k++) pthread_create(&pt, NULL, publisher, (void *)(intptr_t)k); pub_started = 1;
            } else break;
        }
        if (window > 0) { /* under the lock: a publisher about to wait cannot miss this */
            pthread_mutex_lock(&win_mu);
            if (delivered >= win_want) { win_want = UINT64_MAX; pthread_cond_broadcast(&win_cond); }
            pthread_mutex_unlock(&win_mu);
        }
        if (pub_started && delivered >= expect) break;
    }
    if (!pub_started) { printf("conns %d ready %d failed %d (no publish)\n", n, nready, nfailed); return nready == n ? 0 : 1; }
    long cpu1 = cpu_ticks();
    double self1 = self_cpu();
    double secs = (last_rx - pub_t0) / 1e9;
    qsort(lat_us, nlat, 4, cmp);
    printf("conns %d deliveries %llu/%llu secs %.3f rate %.0f/s latency_ms p50 %.2f p99 %.2f max %.2f\n", n,
           (unsigned long long)delivered, (unsigned long long)expect, secs, delivered / (secs > 0 ? secs : 1),
           nlat ? lat_us[nlat / 2] / 1000.0 : -1, nlat ? lat_us[(size_t)(nlat * 0.99)] / 1000.0 : -1,
           nlat ? lat_us[nlat - 1] / 1000.0 : -1);
    if (cpu_pids) /* from the first publish to the end: clock ticks are 1/100 s here */
        printf("server_cpu_seconds %.2f us_per_delivery %.2f\n", (cpu1 - cpu0) / 100.0,
               delivered ? (cpu1 - cpu0) * 1e4 / delivered : 0.0);
    printf("meter_cpu_seconds %.2f us_per_delivery %.2f\n", self1 - self0,
           delivered ? (self1 - self0) * 1e6 / delivered : 0.0);
    return delivered >= expect ? 0 : 1;
}
