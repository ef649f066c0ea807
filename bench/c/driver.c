/*
 * The hub side of the benchmark: loops that drive an already loaded wrapper
 * (the vh-runner shim, opened by hubsim) exactly as python_pi's CallAll does
 * (docs/abi.md §4.2): one w_pack per event, then for every script
 * w_HasHook and, if it says yes, w_CallHook; the result is read with
 * w_unpack in the plugin's order ("l", then "ss" for chat, then "sl") and
 * released with free() (generation A); the arguments are released with
 * free() at the end. Every call goes through a pointer from dlsym, as in
 * the plugin, so nothing is inlined.
 *
 * Times come from clock_gettime(CLOCK_MONOTONIC) (vDSO, about 20 ns a call
 * here; vb_clock_cost measures it).
 */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

typedef struct w_Targs w_Targs;

static struct {
	void *lib;
	w_Targs *(*pack)(const char *, ...);
	int (*unpack)(w_Targs *, const char *, ...);
	int (*has_hook)(int, int);
	w_Targs *(*call_hook)(int, int, w_Targs *);
} W;

/* Hook-result tallies of a loop (what the plugin would have seen). */
struct vb_counts {
	uint64_t events;   /* hub events dispatched */
	uint64_t calls;    /* w_CallHook calls made */
	uint64_t nulls;    /* NULL results: no opinion, deadline, or dead worker */
	uint64_t allowed;  /* "l" != 0 */
	uint64_t blocked;  /* "l" == 0 */
	uint64_t other;    /* "ss" / "sl" / anything else */
};

/*
 * Resolves the plugin's symbols in the wrapper at `path`, which must already
 * be loaded (by hubsim_open). 0 on success, -1 with a message on stderr.
 */
int vb_attach(const char *path)
{
	W.lib = dlopen(path, RTLD_LAZY | RTLD_NOLOAD);
	if (!W.lib) {
		fprintf(stderr, "vh-bench: %s is not loaded: %s\n", path, dlerror());
		return -1;
	}
	*(void **)&W.pack = dlsym(W.lib, "w_pack");
	*(void **)&W.unpack = dlsym(W.lib, "w_unpack");
	*(void **)&W.has_hook = dlsym(W.lib, "w_HasHook");
	*(void **)&W.call_hook = dlsym(W.lib, "w_CallHook");
	if (!W.pack || !W.unpack || !W.has_hook || !W.call_hook) {
		fprintf(stderr, "vh-bench: missing wrapper symbol in %s\n", path);
		dlclose(W.lib);
		W.lib = NULL;
		return -1;
	}
	return 0;
}

/* Drops the reference taken by vb_attach (hubsim holds its own). */
void vb_detach(void)
{
	if (W.lib)
		dlclose(W.lib);
	memset(&W, 0, sizeof W);
}

static inline uint64_t now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* CLOCK_MONOTONIC now, nanoseconds. */
uint64_t vb_now_ns(void)
{
	return now_ns();
}

/* Packs one event's arguments: fmt is "s", "ss" or "sss". */
static w_Targs *pack_args(const char *fmt, const char *a0, const char *a1, const char *a2)
{
	if (!strcmp(fmt, "s"))
		return W.pack(fmt, a0);
	if (!strcmp(fmt, "ss"))
		return W.pack(fmt, a0, a1);
	return W.pack(fmt, a0, a1, a2);
}

/* One hub event through python_pi's CallAll; returns the combined result. */
static int dispatch(const int *ids, int nids, int hook, int chat, const char *fmt,
		    const char *a0, const char *a1, const char *a2, struct vb_counts *c)
{
	w_Targs *args = pack_args(fmt, a0, a1, a2);
	int result = 1;
	for (int i = 0; i < nids; i++) {
		if (!W.has_hook(ids[i], hook))
			continue;
		w_Targs *r = W.call_hook(ids[i], hook, args);
		c->calls++;
		long n = 0;
		char *s0 = NULL, *s1 = NULL;
		if (!r) {
			c->nulls++;
			continue;
		}
		if (W.unpack(r, "l", &n)) {
			if (n) {
				c->allowed++;
			} else {
				c->blocked++;
				result = 0;
			}
		} else if (chat && W.unpack(r, "ss", &s0, &s1)) {
			c->other++;
		} else if (W.unpack(r, "sl", &s0, &n)) {
			c->other++;
		} else {
			c->other++;
		}
		free(r);
	}
	free(args);
	c->events++;
	return result;
}

/*
 * Runs `n` events of hook `hook` (arguments `fmt`, a0..a2) over the scripts
 * `ids`, in order. If `lat_ns` is not NULL, stores each event's time in it
 * (n entries). Returns the total time in nanoseconds.
 */
uint64_t vb_events(const int *ids, int nids, int hook, const char *fmt, const char *a0,
		   const char *a1, const char *a2, uint64_t n, uint64_t *lat_ns,
		   struct vb_counts *c)
{
	int chat = hook == 3;
	uint64_t start = now_ns(), prev = start;
	for (uint64_t i = 0; i < n; i++) {
		dispatch(ids, nids, hook, chat, fmt, a0, a1, a2, c);
		if (lat_ns) {
			uint64_t t = now_ns();
			lat_ns[i] = t - prev;
			prev = t;
		}
	}
	return now_ns() - start;
}

/*
 * The hub-shaped lines: n chat events as vb_events runs them, each
 * followed by what a hub does with a chat line it allowed: the line, `len`
 * bytes, sent to each of `nfds` client sockets (non-blocking; a full
 * client buffer drops the copy, counted in *dropped). Returns the total
 * time, nanoseconds; *send_ns gets the part spent in the sends.
 */
uint64_t vb_lines(const int *ids, int nids, const char *fmt, const char *a0, const char *a1,
		  uint64_t n, const int *fds, int nfds, const char *line, size_t len,
		  struct vb_counts *c, uint64_t *dropped, uint64_t *send_ns)
{
	uint64_t start = now_ns(), sends = 0;
	for (uint64_t i = 0; i < n; i++) {
		dispatch(ids, nids, 3, 1, fmt, a0, a1, NULL, c);
		uint64_t t = now_ns();
		for (int k = 0; k < nfds; k++)
			if (send(fds[k], line, len, MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)len)
				(*dropped)++;
		sends += now_ns() - t;
	}
	*send_ns = sends;
	return now_ns() - start;
}

/*
 * Runs events as vb_events does until `duration_ns` have passed or `max`
 * events ran; stores each event's time in lat_ns (max entries) if not NULL.
 * Returns the number of events run; *elapsed_ns gets the time they took.
 */
uint64_t vb_events_for(const int *ids, int nids, int hook, const char *fmt, const char *a0,
		       const char *a1, const char *a2, uint64_t duration_ns, uint64_t max,
		       uint64_t *lat_ns, struct vb_counts *c, uint64_t *elapsed_ns)
{
	int chat = hook == 3;
	uint64_t start = now_ns(), prev = start, i = 0;
	while (i < max) {
		dispatch(ids, nids, hook, chat, fmt, a0, a1, a2, c);
		uint64_t t = now_ns();
		if (lat_ns)
			lat_ns[i] = t - prev;
		prev = t;
		i++;
		if (t - start >= duration_ns)
			break;
	}
	*elapsed_ns = prev - start;
	return i;
}

/*
 * One event when CLOCK_MONOTONIC reaches due_ns (this thread sleeps in
 * clock_nanosleep until then, as a hub thread sleeps in epoll until a
 * user's next line); returns its time from after that wake-up to its
 * result, ns.
 */
uint64_t vb_event_at(const int *ids, int nids, int hook, const char *fmt, const char *a0,
		     const char *a1, const char *a2, uint64_t due_ns, struct vb_counts *c)
{
	struct timespec due = {
		.tv_sec = (time_t)(due_ns / 1000000000u),
		.tv_nsec = (long)(due_ns % 1000000000u),
	};
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &due, NULL))
		;
	uint64_t t = now_ns();
	dispatch(ids, nids, hook, hook == 3, fmt, a0, a1, a2, c);
	return now_ns() - t;
}

/* n calls of w_HasHook(id, hook) back to back; total nanoseconds. */
uint64_t vb_has_hook_loop(int id, int hook, uint64_t n, uint64_t *yes)
{
	uint64_t count = 0, start = now_ns();
	for (uint64_t i = 0; i < n; i++)
		count += (uint64_t)(W.has_hook(id, hook) != 0);
	uint64_t t = now_ns() - start;
	*yes = count;
	return t;
}

/* n back-to-back pairs of clock_gettime; total nanoseconds of the loop. */
uint64_t vb_clock_cost(uint64_t n)
{
	volatile uint64_t sink = 0;
	uint64_t start = now_ns();
	for (uint64_t i = 0; i < n; i++)
		sink += now_ns();
	(void)sink;
	return now_ns() - start;
}
