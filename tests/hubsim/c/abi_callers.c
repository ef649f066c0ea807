/*
 * C callers of the wrapper other than python_pi (`hubsim --abi SCENARIO`): each scenario
 * makes the raw C calls a program linking against libvh_python_wrapper.so may make, reads
 * the results the way the wrapper's own header allows (docs/abi.md §2.1 layout), and writes
 * one `ABI <key> <value>` line per observation. The same scenario runs against an original
 * wrapper and the shim; tests/hubsim/tests/abi_callers.rs compares the lines.
 *
 * Lines go to the file $HUBSIM_ABI_OUT (else stdout); a scenario that crashes the process
 * leaves its `ABI done` line out. Scenarios (scripts are given with --script, in order):
 *   results  hook and w_CallFunction results freed field by field, then the struct (§2.7)
 *   args     hooks called with other formats than the plugin's (§4.3, §5)
 *   reserve  w_ReserveID twice before any load, then a load (§3.4)
 *   register w_RegisterFunction for a reserved id, before and during w_Load (§3.10)
 *   late     a callback filled in after w_Begin (§3.2; run with HUBSIM_LATE_CALLBACK)
 *   config   GetConfig calls the wrapper makes by itself at a load (§8)
 *   fds      fds 0, 1 and 2 after a load with them closed (run with --close-std, §1.1)
 *   stress   loads, hooks and unloads in a loop; hook counts and time ($HUBSIM_ABI_ROUNDS
 *            rounds of $HUBSIM_ABI_HOOKS hooks, default 20 and 50)
 */
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

/* The w_Targs layout every C caller may rely on (docs/abi.md §2.1). */
struct elem {
	char type;
	union { long l; char *s; double d; void *p; };
};
struct targs {
	const char *format;
	struct elem args[];
};

static FILE *out;

static void line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void line(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("ABI ", out);
	vfprintf(out, fmt, ap);
	fputc('\n', out);
	fflush(out);
	va_end(ap);
}

/* A result as `<format>:<v1>:<v2>...` (strings as text, NULL as (null)), or NULL. */
static void show(const char *key, w_Targs *r)
{
	struct targs *t = (struct targs *)r;
	if (!t || !t->format) {
		line("%s NULL", key);
		return;
	}
	char buf[512];
	size_t n = (size_t)snprintf(buf, sizeof buf, "%s", t->format);
	for (size_t i = 0; t->format[i] && n < sizeof buf; i++) {
		const struct elem *e = &t->args[i];
		switch (t->format[i]) {
		case 'l': n += (size_t)snprintf(buf + n, sizeof buf - n, ":%ld", e->l); break;
		case 'd': n += (size_t)snprintf(buf + n, sizeof buf - n, ":%g", e->d); break;
		case 's':
		case 'D': n += (size_t)snprintf(buf + n, sizeof buf - n, ":%s", e->s ? e->s : "(null)"); break;
		default: n += (size_t)snprintf(buf + n, sizeof buf - n, ":?"); break;
		}
	}
	line("%s %s", key, buf);
}

/* What a C caller may do with generation B's results: free each string, then the struct. */
static void free_fields_then_struct(w_Targs *r)
{
	struct targs *t = (struct targs *)r;
	if (!t)
		return;
	for (size_t i = 0; t->format && t->format[i]; i++)
		if ((t->format[i] == 's' || t->format[i] == 'D') && t->args[i].s)
			free(t->args[i].s);
	free(t);
}

static w_Targs *hook(int id, int h, w_Targs *params)
{
	w_Targs *r = g.w.CallHook(id, h, params);
	free(params);
	return r;
}

static int load(const char *path)
{
	return path ? hubsim_load(path) : -1;
}

static void results(const char *const *scripts)
{
	int id = load(scripts[0]);
	line("loaded %d", id >= 0);
	w_Targs *r = hook(id, H_OnParsedMsgChat, g.w.pack("ss", "nick", "text"));
	show("chat", r);
	if (g.gen == 'A') {
		free(r); /* A's plugin: the struct only (§2.7) */
		return;
	}
	free_fields_then_struct(r);
	show("chat_again", r = hook(id, H_OnParsedMsgChat, g.w.pack("ss", "nick", "more")));
	g.w.free_args(r);
	w_Targs *params = g.w.pack("s", "abc");
	r = g.w.CallFunction(id, "echo", params);
	show("function", r);
	free_fields_then_struct(r);
	show("function_again", r = g.w.CallFunction(id, "echo", params));
	g.w.free_args(r);
	free(params);
}

static void args(const char *const *scripts)
{
	int id = load(scripts[0]);
	line("loaded %d", id >= 0);
	show("timer_no_arg", hook(id, H_OnTimer, g.w.pack("")));
	show("timer_d", hook(id, H_OnTimer, g.w.pack("d", 1.5)));
	show("timer_l", hook(id, H_OnTimer, g.w.pack("l", 7L)));
	show("newconn_sl", hook(id, H_OnNewConn, g.w.pack("sl", "1.2.3.4", 5L)));
	show("newconn_s", hook(id, H_OnNewConn, g.w.pack("s", "1.2.3.4")));
	show("login_float", hook(id, H_OnUserLogin, g.w.pack("s", "nick")));
	show("inlist_list", hook(id, H_OnUserInList, g.w.pack("s", "nick")));
	show("pm_str", hook(id, H_OnParsedMsgPM, g.w.pack("sss", "a", "b", "c")));
}

static void reserve(const char *const *scripts)
{
	int a = g.w.ReserveID();
	int b = g.w.ReserveID();
	line("reserve %d %d", a, b);
	int id = load(scripts[0]);
	line("loaded_as %d", id);
	hubsim_unload(id);
	line("reserve_after_unload %d", g.w.ReserveID());
	if (g.gen == 'A') {
		/* A loads only at the id w_ReserveID gives (§3.5); B's has no bounds check. */
		w_Targs *a = g.w.pack("lssssls", 7L, scripts[0], g.botname, g.opchatname,
				      g.config_dir, (long)g.start_time, g.config_name);
		line("load_unreserved %d", g.w.Load(a));
		free(a);
	}
}

/* Dynamic functions (§3.10): called with id -1; results read by their first element. */
static w_Targs *times_ten(int id, w_Targs *a)
{
	long n = 0;
	(void)id;
	g.w.unpack(a, "l", &n);
	return g.w.pack("l", n * 10);
}

static int register_id = -1;

/* GetConfig as the hub answers it, after registering "during" for the loading script. */
static w_Targs *registering_get_config(int id, w_Targs *a)
{
	const char *conf = NULL, *var = NULL, *dflt = NULL;
	(void)id;
	if (g.w.unpack(a, "sss", &conf, &var, &dflt) && var && !strcmp(var, "abi"))
		line("register_during %d", g.w.RegisterFunction(register_id, "during", times_ten));
	return g.w.pack("s", xstrdup("x"));
}

static void register_functions(const char *const *scripts)
{
	if (!g.w.RegisterFunction || g.gen != 'B') {
		line("register absent"); /* generation B's functions (§3.10) */
		return;
	}
	line("register_unreserved %d", g.w.RegisterFunction(99, "pre", times_ten));
	int id = register_id = g.w.ReserveID();
	line("register_reserved %d", g.w.RegisterFunction(id, "pre", times_ten));
	face_override("GetConfig", registering_get_config);
	w_Targs *a = g.w.pack("lssssls", (long)id, scripts[0], g.botname, g.opchatname,
			      g.config_dir, (long)g.start_time, g.config_name);
	int r = g.w.Load(a);
	free(a);
	face_override("GetConfig", NULL);
	line("loaded_as_reserved %d", r == id);
	w_Targs *res = g.w.CallFunction(id, "report", NULL);
	show("report", res);
	g.w.free_args(res);
	g.w.Unload(id);
	line("register_after_unload %d", g.w.RegisterFunction(id, "pre", times_ten));
}

static void late(const char *const *scripts)
{
	const char *name = getenv("HUBSIM_LATE_CALLBACK");
	int id = load(scripts[0]);
	line("loaded %d", id >= 0);
	long before = hubsim_callback_calls(name);
	w_Targs *r = hook(id, H_OnNewConn, g.w.pack("s", "1.2.3.4"));
	g.gen == 'A' ? free(r) : g.w.free_args(r);
	line("late_callback_calls %ld", hubsim_callback_calls(name) - before);
}

static void config(const char *const *scripts)
{
	line("getconfig_before_load %ld", hubsim_callback_calls("GetConfig"));
	line("loaded %d", load(scripts[0]) >= 0);
	line("getconfig_after_load %ld", hubsim_callback_calls("GetConfig"));
}

/* What each of fds 0, 1 and 2 is now: closed, a socket, or something else. */
static void std_fds(void)
{
	for (int fd = 0; fd < 3; fd++) {
		char path[32], target[256];
		snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
		ssize_t n = readlink(path, target, sizeof target - 1);
		const char *what = "closed";
		if (n >= 0) {
			target[n] = '\0';
			what = !strncmp(target, "socket:", 7) ? "socket"
			     : strstr(target, "eventfd") ? "eventfd" : "other";
		}
		line("fd%d %s", fd, what);
		if (getenv("HUBSIM_ABI_FD_DEBUG") && n >= 0)
			line("fd%d_target %s", fd, target);
	}
}

static void fds(const char *const *scripts)
{
	int id = load(scripts[0]);
	line("loaded %d", id >= 0);
	w_Targs *r = hook(id, H_OnNewConn, g.w.pack("s", "1.2.3.4"));
	show("newconn", r);
	g.gen == 'A' ? free(r) : g.w.free_args(r);
	std_fds();
	/* $HUBSIM_ABI_HOLD_MS: stay up (the worker too) while a test looks at the fds. */
	const char *hold = getenv("HUBSIM_ABI_HOLD_MS");
	if (hold && *hold) {
		line("held");
		usleep((useconds_t)atoi(hold) * 1000);
	}
}

static double now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

/* Loads, hooks through w_HasHook/w_CallHook as python_pi makes them, unloads; per round
 * the script reports how many hooks it saw. */
static void stress(const char *const *scripts)
{
	const char *env = getenv("HUBSIM_ABI_ROUNDS");
	const char *hooks = getenv("HUBSIM_ABI_HOOKS");
	int rounds = env && *env ? atoi(env) : 20, per_round = hooks && *hooks ? atoi(hooks) : 50;
	long called = 0, seen = 0, failed = 0;
	double t0 = now_ms();
	for (int round = 0; round < rounds; round++) {
		int id = load(scripts[0]);
		if (id < 0) {
			failed++;
			continue;
		}
		for (int i = 0; i < per_round; i++) {
			int h = i % 2 ? H_OnParsedMsgChat : H_OnTimer;
			w_Targs *p = h == H_OnTimer ? g.w.pack("d", 1.0 + i) : g.w.pack("ss", "nick", "hello");
			if (!g.w.HasHook(id, h)) {
				free(p);
				continue;
			}
			w_Targs *r = hook(id, h, p);
			called += r != NULL;
			g.gen == 'A' ? free(r) : g.w.free_args(r);
		}
		struct targs *r = (struct targs *)hook(id, H_OnUserLogin, g.w.pack("s", "nick"));
		if (r && r->format && !strcmp(r->format, "l"))
			seen += r->args[0].l;
		g.gen == 'A' ? free(r) : g.w.free_args((w_Targs *)r);
		hubsim_unload(id);
	}
	line("stress_rounds %d", rounds);
	line("stress_failed_loads %ld", failed);
	line("stress_results %ld", called);
	line("stress_hooks_seen %ld", seen);
	fprintf(out, "TIME stress_ms %.0f\n", now_ms() - t0);
	fflush(out);
}

int abi_open_out(void)
{
	const char *path = getenv("HUBSIM_ABI_OUT");
	if (!out)
		out = path && *path ? fopen(path, "w") : stdout;
	return out != NULL;
}

int abi_run(const char *scenario, const char *const *scripts, size_t nscripts)
{
	static const struct { const char *name; void (*run)(const char *const *); size_t scripts; } all[] = {
		{ "results", results, 1 }, { "args", args, 1 }, { "reserve", reserve, 1 },
		{ "register", register_functions, 1 }, { "late", late, 1 }, { "config", config, 1 },
		{ "fds", fds, 1 }, { "stress", stress, 1 },
	};
	if (!abi_open_out())
		return 1;
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
		if (strcmp(all[i].name, scenario))
			continue;
		if (nscripts < all[i].scripts) {
			fprintf(stderr, "hubsim: --abi %s needs %zu --script\n", scenario, all[i].scripts);
			return 2;
		}
		all[i].run(scripts);
		line("done %s", scenario);
		if (out != stdout)
			fclose(out);
		out = NULL;
		return 0;
	}
	fprintf(stderr, "hubsim: unknown --abi scenario %s\n", scenario);
	return 2;
}
