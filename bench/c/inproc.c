/*
 * vh-bench-inproc: the in-process baseline. It does what python_pi plus the
 * original wrapper do for one hook, inside one process with CPython
 * embedded, with the same hook function and the same arguments as the
 * vh-runner measurements (docs/abi.md §2-§5, §9):
 *
 *   plugin:  args = w_pack("ss", nick, text); w_HasHook(id, hook);
 *            r = w_CallHook(id, hook, args); w_unpack(r, "l", ...); free(r); free(args)
 *   wrapper: take the script's thread state (GIL), look the hook function up
 *            by name, build the argument tuple, call it, turn the result into
 *            a w_Targs ("l"), release the thread state
 *   vh.usermc: parse the arguments, w_pack("sss"), release the GIL, call the
 *            hub's _usermc (finds the user, formats the line), take the GIL,
 *            unpack the result, free both structs
 *
 * Every wrapper function is called through a pointer, as the plugin calls
 * the dlsym'ed ones. Built against Python 3 it is generation B's plugin
 * (hook arguments decoded as UTF-8 `str`); built against Python 2.7 it is
 * generation A's (python_pi 1.6: byte strings, `int` results, the GIL
 * made by PyEval_InitThreads), the baseline of Python 2 workers.
 *
 * Usage: vh-bench-inproc CHAT_SCRIPT USERMC_SCRIPT N
 *        vh-bench-inproc --lines SCRIPT N FD...   (the hub-shaped
 *            scenario: N chat lines back to back, each then sent to every
 *            client socket FD as a hub broadcasts it; only `value lines`
 *            and `value sends`)
 * Output, nanoseconds, one line each:
 *   value <name> <ns>                       mean of a batch
 *   series <name> <p50> <p99> <p99.9> <mean>  per-call times
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

/* The few calls that differ between the two generations' Pythons. */
#if PY_MAJOR_VERSION >= 3
#define VB_INT_CHECK(o) PyLong_Check(o)
#define VB_INT_AS_LONG(o) PyLong_AsLong(o)
#define VB_STR(s) PyUnicode_FromString(s)
#define VB_FINALIZE() Py_FinalizeEx()
#else
#define VB_INT_CHECK(o) (PyInt_Check(o) || PyLong_Check(o))
#define VB_INT_AS_LONG(o) PyInt_AsLong(o)
#define VB_STR(s) PyString_FromString(s)
#define VB_FINALIZE() Py_Finalize()
#endif

/* docs/abi.md §2.1 */
typedef struct {
	char type;
	union {
		long l;
		char *s;
		double d;
		void *p;
	};
} w_Telement;

typedef struct {
	const char *format;
	w_Telement args[];
} w_Targs;

/* ---- the wrapper's w_pack / w_unpack (generation A semantics) ---------- */

__attribute__((noinline)) static w_Targs *pack_impl(const char *format, ...)
{
	size_t n = strlen(format);
	w_Targs *a = calloc(n + 1, sizeof(w_Telement));
	if (!a)
		return NULL;
	a->format = format;
	va_list ap;
	va_start(ap, format);
	for (size_t i = 0; i < n; i++) {
		a->args[i].type = format[i];
		switch (format[i]) {
		case 'l': a->args[i].l = va_arg(ap, long); break;
		case 's': a->args[i].s = va_arg(ap, char *); break;
		case 'd': a->args[i].d = va_arg(ap, double); break;
		default: a->args[i].p = va_arg(ap, void *); break;
		}
	}
	va_end(ap);
	return a;
}

__attribute__((noinline)) static int unpack_impl(w_Targs *a, const char *format, ...)
{
	if (!a || !a->format || strcmp(format, a->format))
		return 0;
	va_list ap;
	va_start(ap, format);
	for (size_t i = 0; format[i]; i++) {
		switch (format[i]) {
		case 'l': *va_arg(ap, long *) = a->args[i].l; break;
		case 's': *va_arg(ap, char **) = a->args[i].s; break;
		case 'd': *va_arg(ap, double *) = a->args[i].d; break;
		default: *va_arg(ap, void **) = a->args[i].p; break;
		}
	}
	va_end(ap);
	return 1;
}

/* ---- scripts ------------------------------------------------------------ */

static const char *const HOOK_NAMES[] = {
	"OnNewConn", "OnCloseConn", "OnCloseConnEx", "OnParsedMsgChat", "OnParsedMsgPM",
	"OnParsedMsgMCTo", "OnParsedMsgSearch", "OnParsedMsgSR", "OnParsedMsgMyINFO",
	"OnFirstMyINFO", "OnParsedMsgValidateNick", "OnParsedMsgAny", "OnParsedMsgAnyEx",
	"OnOpChatMessage", "OnPublicBotMessage", "OnUnLoad", "OnCtmToHub", "OnParsedMsgSupports",
	"OnParsedMsgMyHubURL", "OnParsedMsgExtJSON", "OnParsedMsgBotINFO", "OnParsedMsgVersion",
	"OnParsedMsgMyPass", "OnParsedMsgConnectToMe", "OnParsedMsgRevConnectToMe", "OnUnknownMsg",
	"OnOperatorCommand", "OnOperatorKicks", "OnOperatorDrops", "OnOperatorDropsWithReason",
	"OnValidateTag", "OnUserCommand", "OnHubCommand", "OnScriptCommand", "OnUserInList",
	"OnUserLogin", "OnUserLogout", "OnTimer", "OnNewReg", "OnNewBan", "OnSetConfig",
};
#define HOOKS ((int)(sizeof HOOK_NAMES / sizeof HOOK_NAMES[0]))
#define ON_PARSED_MSG_CHAT 3
#define ON_PARSED_MSG_SEARCH 6

struct script {
	PyObject *globals;
	uint64_t hooks;
};

static struct script scripts[2];
static int nscripts;
static PyThreadState *main_ts;

__attribute__((noinline)) static int has_hook_impl(int id, int hook)
{
	if (id < 0 || id >= nscripts || hook < 0 || hook >= HOOKS)
		return 0;
	return (int)((scripts[id].hooks >> hook) & 1);
}

__attribute__((noinline)) static w_Targs *call_hook_impl(int id, int hook, w_Targs *params)
{
	if (id < 0 || id >= nscripts || hook < 0 || hook >= HOOKS || !params)
		return NULL;
	char *nick = NULL, *text = NULL;
	if (!unpack_impl(params, "ss", &nick, &text))
		return NULL;
	PyEval_RestoreThread(main_ts);
	w_Targs *out = NULL;
	PyObject *fn = PyDict_GetItemString(scripts[id].globals, HOOK_NAMES[hook]);
	if (fn && PyCallable_Check(fn)) {
		PyObject *res = PyObject_CallFunction(fn, "ss", nick, text);
		if (!res) {
			PyErr_Print();
		} else {
			if (VB_INT_CHECK(res))
				out = pack_impl("l", VB_INT_AS_LONG(res));
			Py_DECREF(res);
		}
	}
	main_ts = PyEval_SaveThread();
	return out;
}

/* What the plugin calls: pointers, as from dlsym. */
static w_Targs *(*volatile w_pack)(const char *, ...) = pack_impl;
static int (*volatile w_unpack)(w_Targs *, const char *, ...) = unpack_impl;
static int (*volatile w_HasHook)(int, int) = has_hook_impl;
static w_Targs *(*volatile w_CallHook)(int, int, w_Targs *) = call_hook_impl;

/* ---- the hub's _usermc and the vh module -------------------------------- */

static const char *const USERS[] = {"Verlihub", "OpChat", "bench"};

/* cpipython.cpp _usermc: find the user, send him the line (formatted here). */
__attribute__((noinline)) static w_Targs *hub_usermc(int id, w_Targs *args)
{
	(void)id;
	char *text, *to, *from;
	if (!unpack_impl(args, "sss", &text, &to, &from) || !text || !to)
		return NULL;
	int found = 0;
	for (size_t i = 0; i < sizeof USERS / sizeof USERS[0]; i++)
		found |= !strcmp(USERS[i], to);
	if (!found)
		return NULL;
	size_t len = strlen(text) + strlen(from ? from : "Verlihub") + 8;
	char *line = malloc(len);
	if (!line)
		return NULL;
	snprintf(line, len, "<%s> %s|", from ? from : "Verlihub", text);
	free(line);
	return pack_impl("l", 1L);
}

static w_Targs *(*volatile hub_callback)(int, w_Targs *) = hub_usermc;

static PyObject *vh_usermc(PyObject *self, PyObject *args)
{
	(void)self;
	const char *text, *nick, *from = NULL;
	if (!PyArg_ParseTuple(args, "ss|z", &text, &nick, &from))
		return NULL;
	w_Targs *a = w_pack("sss", text, nick, from), *r;
	Py_BEGIN_ALLOW_THREADS
	r = hub_callback(0, a);
	Py_END_ALLOW_THREADS
	free(a);
	long ok = 0;
	if (r) {
		w_unpack(r, "l", &ok);
		free(r);
	}
	return PyBool_FromLong(ok);
}

static PyMethodDef VH_METHODS[] = {
	{"usermc", vh_usermc, METH_VARARGS, "usermc(text, nick, from=None)"},
	{NULL, NULL, 0, NULL},
};

#if PY_MAJOR_VERSION >= 3
static struct PyModuleDef VH_MODULE = {PyModuleDef_HEAD_INIT, "vh", NULL, -1, VH_METHODS,
				       NULL, NULL, NULL, NULL};

static PyObject *init_vh(void)
{
	return PyModule_Create(&VH_MODULE);
}
#else
static void init_vh(void)
{
	Py_InitModule("vh", VH_METHODS);
}
#endif

/* The interpreter with the `vh` module, as the plugin starts it. */
static void start_python(void)
{
	PyImport_AppendInittab("vh", init_vh);
	Py_InitializeEx(0);
#if PY_MAJOR_VERSION < 3
	PyEval_InitThreads();
#endif
}

/* Runs a script file as __main__ of its own namespace; returns its id. */
static int load_script(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		perror(path);
		exit(2);
	}
	PyObject *globals = PyDict_New();
	PyDict_SetItemString(globals, "__builtins__", PyEval_GetBuiltins());
	PyObject *name = VB_STR("__main__");
	PyDict_SetItemString(globals, "__name__", name);
	Py_DECREF(name);
	PyObject *r = PyRun_FileEx(f, path, Py_file_input, globals, globals, 1);
	if (!r) {
		PyErr_Print();
		exit(2);
	}
	Py_DECREF(r);
	struct script *s = &scripts[nscripts];
	s->globals = globals;
	for (int h = 0; h < HOOKS; h++) {
		PyObject *fn = PyDict_GetItemString(globals, HOOK_NAMES[h]);
		if (fn && PyCallable_Check(fn))
			s->hooks |= 1ull << h;
	}
	return nscripts++;
}

/* ---- measuring ------------------------------------------------------------ */

static inline uint64_t now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static const char NICK[] = "bench";
static const char TEXT[] = "hello everyone, how is the hub doing today?";

/* One hub event as python_pi's OnParsedMsgChat dispatch (one script). */
static inline int event(int id, int hook)
{
	w_Targs *args = w_pack("ss", NICK, TEXT);
	int result = 1;
	if (w_HasHook(id, hook)) {
		w_Targs *r = w_CallHook(id, hook, args);
		long n = 1;
		if (r) {
			if (w_unpack(r, "l", &n) && !n)
				result = 0;
			free(r);
		}
	}
	free(args);
	return result;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

static void series(const char *name, int id, int hook, uint64_t *lat, size_t n)
{
	for (size_t i = 0; i < n / 10 + 1; i++) /* warm-up */
		event(id, hook);
	uint64_t sum = 0, prev = now_ns();
	for (size_t i = 0; i < n; i++) {
		event(id, hook);
		uint64_t t = now_ns();
		lat[i] = t - prev;
		sum += lat[i];
		prev = t;
	}
	qsort(lat, n, sizeof *lat, cmp_u64);
	size_t i50 = (size_t)(n * 0.50), i99 = (size_t)(n * 0.99), i999 = (size_t)(n * 0.999);
	printf("series %s %llu %llu %llu %.1f\n", name, (unsigned long long)lat[i50 < n ? i50 : n - 1],
	       (unsigned long long)lat[i99 < n ? i99 : n - 1],
	       (unsigned long long)lat[i999 < n ? i999 : n - 1], (double)sum / (double)n);
}

static void batch(const char *name, int id, int hook, size_t n)
{
	volatile int sink = 0;
	uint64_t t0 = now_ns();
	for (size_t i = 0; i < n; i++)
		sink += event(id, hook);
	uint64_t t = now_ns() - t0;
	(void)sink;
	printf("value %s %.2f\n", name, (double)t / (double)n);
}

/* The chat line as the hub broadcasts it (vh-bench's hubshaped.rs sends the same). */
static const char LINE[] = "<bench> hello everyone, how is the hub doing today?|";

/* Nanoseconds spent in the sends of hub-shaped lines (see line()). */
static uint64_t send_ns;

/* One hub-shaped line: the event, then the line to every client (full
 * client buffers drop the copy, as in c/driver.c vb_lines); the sends'
 * time is added to send_ns. */
static void line(int id, const int *fds, int nfds)
{
	event(id, ON_PARSED_MSG_CHAT);
	uint64_t t = now_ns();
	for (int k = 0; k < nfds; k++)
		(void)send(fds[k], LINE, sizeof LINE - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
	send_ns += now_ns() - t;
}

/* --lines SCRIPT N FD...: N hub-shaped lines back to back to SCRIPT, after
 * a warm-up; prints `value lines <ns per line>` and `value sends <ns per
 * line spent in the sends>`. */
static int lines_main(const char *script, size_t n, int nfds, char **fd_args)
{
	int fds[256];
	if (nfds > 256)
		nfds = 256;
	for (int k = 0; k < nfds; k++)
		fds[k] = atoi(fd_args[k]);
	start_python();
	int id = load_script(script);
	main_ts = PyEval_SaveThread();
	for (size_t i = 0; i < n / 10 + 10; i++)
		line(id, fds, nfds);
	uint64_t t0 = now_ns();
	send_ns = 0;
	for (size_t i = 0; i < n; i++)
		line(id, fds, nfds);
	printf("value lines %.2f\n", (double)(now_ns() - t0) / (double)(n ? n : 1));
	printf("value sends %.2f\n", (double)send_ns / (double)(n ? n : 1));
	PyEval_RestoreThread(main_ts);
	VB_FINALIZE();
	return 0;
}

/* --paced CHAT USERMC N INTERVAL_US: loads both scripts, prints `ready`,
 * reads the first event's CLOCK_MONOTONIC time (ns) from stdin, then runs
 * N chat events to each script, one every INTERVAL_US from then
 * (alternating the scripts; this thread sleeps in clock_nanosleep until
 * each is due, and skips a time already past rather than run two events
 * back to back); prints `samples chat|usermc` and each event's own time,
 * ns. The bench starts its own paced events at times in between, so that
 * both see the same minutes of a shared machine. */
static int paced_main(const char *chat_script, const char *usermc_script, size_t n,
		      uint64_t interval_ns)
{
	start_python();
	int ids[2] = {load_script(chat_script), load_script(usermc_script)};
	main_ts = PyEval_SaveThread();
	uint64_t *lat = calloc(2 * n + 1, sizeof *lat);
	if (!lat)
		return 1;
	printf("ready\n");
	fflush(stdout);
	unsigned long long start = 0;
	if (scanf("%llu", &start) != 1)
		return 1;
	uint64_t due_ns = start;
	for (size_t i = 0; i < 2 * n; i++, due_ns += interval_ns) {
		while (due_ns < now_ns())
			due_ns += interval_ns;
		struct timespec due = {
			.tv_sec = (time_t)(due_ns / 1000000000u),
			.tv_nsec = (long)(due_ns % 1000000000u),
		};
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &due, NULL))
			;
		uint64_t t = now_ns();
		event(ids[i % 2], ON_PARSED_MSG_CHAT);
		lat[i] = now_ns() - t;
	}
	for (int k = 0; k < 2; k++) {
		printf("samples %s", k ? "usermc" : "chat");
		for (size_t i = (size_t)k; i < 2 * n; i += 2)
			printf(" %llu", (unsigned long long)lat[i]);
		printf("\n");
	}
	free(lat);
	PyEval_RestoreThread(main_ts);
	VB_FINALIZE();
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 6 && !strcmp(argv[1], "--paced"))
		return paced_main(argv[2], argv[3], strtoull(argv[4], NULL, 10),
				  strtoull(argv[5], NULL, 10) * 1000u);
	if (argc >= 4 && !strcmp(argv[1], "--lines"))
		return lines_main(argv[2], strtoull(argv[3], NULL, 10), argc - 4, argv + 4);
	if (argc != 4) {
		fprintf(stderr, "usage: %s CHAT_SCRIPT USERMC_SCRIPT N\n", argv[0]);
		return 2;
	}
	size_t n = strtoull(argv[3], NULL, 10);
	if (n < 10)
		n = 10;
	start_python();
	int chat = load_script(argv[1]);
	int usermc = load_script(argv[2]);
	main_ts = PyEval_SaveThread();

	uint64_t *lat = malloc(n * sizeof *lat);
	if (!lat)
		return 1;

	/* The clock itself. */
	uint64_t t0 = now_ns();
	volatile uint64_t sink = 0;
	for (size_t i = 0; i < n; i++)
		sink += now_ns();
	printf("value clock %.2f\n", (double)(now_ns() - t0) / (double)n);

	/* w_HasHook alone: 10 n calls back to back. */
	size_t m = 10 * n;
	for (int hook = ON_PARSED_MSG_CHAT; hook <= ON_PARSED_MSG_SEARCH; hook += 3) {
		uint64_t yes = 0;
		t0 = now_ns();
		for (size_t i = 0; i < m; i++)
			yes += (uint64_t)(w_HasHook(chat, hook) != 0);
		double per = (double)(now_ns() - t0) / (double)m;
		printf("value %s %.2f\n", hook == ON_PARSED_MSG_CHAT ? "hashook_yes" : "hashook_no",
		       per);
		sink += yes;
	}
	(void)sink;

	batch("nohook", chat, ON_PARSED_MSG_SEARCH, m);
	batch("chat_batch", chat, ON_PARSED_MSG_CHAT, n);
	series("chat", chat, ON_PARSED_MSG_CHAT, lat, n);
	batch("usermc_batch", usermc, ON_PARSED_MSG_CHAT, n);
	series("usermc", usermc, ON_PARSED_MSG_CHAT, lat, n);

	free(lat);
	PyEval_RestoreThread(main_ts);
	VB_FINALIZE();
	return 0;
}
