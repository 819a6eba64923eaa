/* The bench's open-loop generator: one HTTP request (read from stdin) offered every 1/RATE s for SECONDS, each on
 * a connection of its own, whatever became of the earlier ones; an attempt unanswered after TIMEOUT s counts as
 * status 0. In C because a generator in Python spent 0.3-0.5 ms of CPU per attempt on the two cores it shares with
 * the server it loads, which at 5x offered was a tenth of the machine.
 *
 *   openloop PORT RATE SECONDS TIMEOUT < request
 *
 * Prints `window SECONDS OFFERED CPU_SECONDS`, then `STATUS LATENCY_MS ENDED_S` for each attempt (ENDED_S from the
 * first attempt's start). Build: cc -O2 -o openloop openloop.c */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    int fd, slot, status;
    size_t sent_bytes, got, head, need;  /* need: head + Content-Length once the head is read, else 0 */
    double started;
    char buf[2048];                      /* the head (and what fits of the body); the rest is counted, not kept */
} attempt_t;

typedef struct { int status; double ms, ended; } result_t;

static char *request;
static size_t request_len;
static struct sockaddr_in server;
static int ep;
static attempt_t **live;
static size_t live_n, live_cap;
static result_t *results;
static size_t results_n, results_cap;
static double origin;

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void *grow(void *p, size_t *cap, size_t size) {
    *cap = *cap ? *cap * 2 : 1024;
    void *q = realloc(p, *cap * size);
    if (!q) { perror("realloc"); exit(1); }
    return q;
}

static void finish(attempt_t *a, int status) {
    double t = now();
    if (results_n == results_cap) results = grow(results, &results_cap, sizeof *results);
    results[results_n++] = (result_t){status, (t - a->started) * 1000.0, t - origin};
    close(a->fd);
    live[a->slot] = live[--live_n];
    live[a->slot]->slot = a->slot;
    free(a);
}

static void start(void) {
    attempt_t *a = calloc(1, sizeof *a);
    if (!a) { perror("calloc"); exit(1); }
    a->started = now();
    a->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (live_n == live_cap) live = grow(live, &live_cap, sizeof *live);
    a->slot = (int)live_n;
    live[live_n++] = a;
    if (a->fd < 0) { finish(a, 0); return; }
    if (connect(a->fd, (struct sockaddr *)&server, sizeof server) < 0 && errno != EINPROGRESS) { finish(a, 0); return; }
    struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = a};
    epoll_ctl(ep, EPOLL_CTL_ADD, a->fd, &ev);
}

/* The answer is whole when its head and Content-Length bytes of body have come, or when the server closes. */
static void readable(attempt_t *a) {
    for (;;) {
        char scratch[4096];
        size_t room = a->got < sizeof a->buf - 1 ? sizeof a->buf - 1 - a->got : 0;  /* once full, read to scratch */
        char *into = room ? a->buf + a->got : scratch;
        ssize_t n = read(a->fd, into, room ? room : sizeof scratch);
        if (n == 0) { finish(a, a->head ? a->status : 0); return; }
        if (n < 0) { if (errno == EAGAIN) return; finish(a, 0); return; }
        a->got += (size_t)n;
        if (!a->head) {
            a->buf[a->got < sizeof a->buf ? a->got : sizeof a->buf - 1] = 0;
            char *end = strstr(a->buf, "\r\n\r\n");
            if (!end) { if (a->got >= sizeof a->buf - 1) { finish(a, 0); return; } continue; }
            a->head = (size_t)(end - a->buf) + 4;
            a->status = (int)strtol(a->buf + 9, NULL, 10);
            for (char *line = strstr(a->buf, "\r\n"); line && line < end; line = strstr(line + 2, "\r\n"))
                if (!strncasecmp(line + 2, "content-length:", 15)) a->need = a->head + strtoul(line + 17, NULL, 10);
        }
        if (a->need && a->got >= a->need) { finish(a, a->status); return; }
    }
}

static void writable(attempt_t *a) {
    int error = 0;
    socklen_t len = sizeof error;
    if (getsockopt(a->fd, SOL_SOCKET, SO_ERROR, &error, &len) < 0 || error) { finish(a, 0); return; }
    ssize_t n = write(a->fd, request + a->sent_bytes, request_len - a->sent_bytes);
    if (n < 0) { if (errno != EAGAIN) finish(a, 0); return; }
    a->sent_bytes += (size_t)n;
    if (a->sent_bytes == request_len) {
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = a};
        epoll_ctl(ep, EPOLL_CTL_MOD, a->fd, &ev);
    }
}

int main(int argc, char **argv) {
    if (argc != 5) { fprintf(stderr, "usage: openloop PORT RATE SECONDS TIMEOUT < request\n"); return 2; }
    double rate = atof(argv[2]), seconds = atof(argv[3]), timeout = atof(argv[4]);
    size_t cap = 0;
    ssize_t got;
    do {
        if (request_len == cap) request = grow(request, &cap, 1);
        got = read(0, request + request_len, cap - request_len);
        request_len += got > 0 ? (size_t)got : 0;
    } while (got > 0);
    struct rlimit files;
    getrlimit(RLIMIT_NOFILE, &files);
    files.rlim_cur = files.rlim_max;
    setrlimit(RLIMIT_NOFILE, &files);
    server = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1]))};
    inet_pton(AF_INET, "127.0.0.1", &server.sin_addr);

    ep = epoll_create1(0);
    int timer = timerfd_create(CLOCK_MONOTONIC, 0);
    long period = (long)(1e9 / rate);
    struct itimerspec every = {{period / 1000000000, period % 1000000000}, {0, 1}};
    timerfd_settime(timer, 0, &every, NULL);
    struct epoll_event tick = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(ep, EPOLL_CTL_ADD, timer, &tick);

    origin = now();
    double window = 0, swept = origin;
    long offered = 0;
    struct epoll_event events[256];
    while (!window || live_n) {
        int n = epoll_wait(ep, events, 256, 50);
        for (int i = 0; i < n; i++) {
            attempt_t *a = events[i].data.ptr;
            if (!a) {
                uint64_t due = 0;
                if (read(timer, &due, sizeof due) != sizeof due) continue;
                for (double since; due && !window; due--) {
                    if ((since = now() - origin) >= seconds) { window = since; close(timer); break; }
                    start();
                    offered++;
                }
            } else if (events[i].events & EPOLLOUT) {
                writable(a);
            } else {
                readable(a);
            }
        }
        double t = now();
        if (t - swept > 0.1) {  /* the unanswered ones, oldest anywhere in the list */
            swept = t;
            for (size_t k = live_n; k-- > 0;)
                if (t - live[k]->started > timeout) finish(live[k], 0);
        }
    }
    struct rusage used;
    getrusage(RUSAGE_SELF, &used);
    double cpu = (double)used.ru_utime.tv_sec + used.ru_utime.tv_usec / 1e6 + (double)used.ru_stime.tv_sec +
                 used.ru_stime.tv_usec / 1e6;
    printf("window %.6f %ld %.6f\n", window, offered, cpu);
    for (size_t k = 0; k < results_n; k++) printf("%d %.3f %.6f\n", results[k].status, results[k].ms, results[k].ended);
    return 0;
}
