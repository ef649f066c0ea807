/*
 * The 100-entry callback table python_pi builds for its generation (docs/abi.md §6.1), filled with
 * the plugin face's exported `_<Name>` functions (README.md, "Plugin face") or, without a
 * face, with the simulator's own.
 */
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

#ifndef HUBSIM_FACE_DIR
#define HUBSIM_FACE_DIR "."
#endif

#define IMPL(name, a_index, b_index) [b_index] = _##name,
#define IMPL_B(name, b_index) [b_index] = _##name,
static const w_Tcallback impl_by_b[HUBSIM_CB_COUNT] = { HUBSIM_CALLBACKS(IMPL, IMPL_B) };

#define ENTRY(name, a_index, b_index) { "_" #name, a_index, b_index },
#define ENTRY_B(name, b_index) { "_" #name, -1, b_index },
static const struct { const char *symbol; int a, b; } entries[] = {
	HUBSIM_CALLBACKS(ENTRY, ENTRY_B)
};
#define ENTRY_COUNT (sizeof entries / sizeof entries[0])

/* Loads the plugin face and fills the table with its exported functions. */
static int table_from_face(const char *path)
{
	g.face = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
	if (!g.face) {
		hs_error("loading the generation %c plugin face failed (the plugin would not load): %s",
			 g.gen, dlerror());
		return -1;
	}
	void (*init)(const w_Tcallback *, int) =
		(void (*)(const w_Tcallback *, int))dlsym(g.face, "hubsim_face_init");
	if (!init) {
		hs_error("%s: no hubsim_face_init", path);
		return -1;
	}
	init(impl_by_b, HUBSIM_CB_COUNT);
	for (size_t i = 0; i < ENTRY_COUNT; i++) {
		int index = g.gen == 'A' ? entries[i].a : entries[i].b;
		if (index < 0)
			continue;
		g.table[index] = (w_Tcallback)dlsym(g.face, entries[i].symbol);
		if (!g.table[index]) {
			hs_error("%s: no symbol %s", path, entries[i].symbol);
			return -1;
		}
	}
	if (g.gen == 'B') {
		void **member = dlsym(g.face, "_ZN9nVerliHub13nPythonPlugin9cpiPython16lib_callfunctionE");
		if (member)
			*member = (void *)g.w.CallFunction;
	}
	return 0;
}

/* The 100-entry table python_pi builds with calloc for its generation (docs/abi.md §6.1). */
int build_callback_table(void)
{
	g.table = calloc(W_MAX_CALLBACKS, sizeof *g.table);
	if (!g.table) {
		hs_error("out of memory");
		return -1;
	}
	const char *no_face = getenv("HUBSIM_NO_FACE");
	if (!no_face || !*no_face || !strcmp(no_face, "0")) {
		const char *dir = getenv("HUBSIM_FACE_DIR");
		char *path = xstrdup_printf("%s/libhubsim_plugin_%c.so", dir && *dir ? dir : HUBSIM_FACE_DIR,
					    g.gen == 'A' ? 'a' : 'b');
		int found = access(path, R_OK) == 0;
		int r = found ? table_from_face(path) : 0;
		if (!found)
			hs_log(1, "hubsim: plugin face %s not found; using unexported callbacks\n", path);
		free(path);
		if (found)
			return r;
	}
	for (size_t i = 0; i < ENTRY_COUNT; i++) {
		int index = g.gen == 'A' ? entries[i].a : entries[i].b;
		if (index >= 0)
			g.table[index] = impl_by_b[entries[i].b];
	}
	return 0;
}

/* Index of callback `name` (without the `_`) in the open generation's table, or -1. */
static int entry_of(const char *name)
{
	for (size_t i = 0; i < ENTRY_COUNT; i++)
		if (name && !strcmp(entries[i].symbol + 1, name))
			return (int)i;
	return -1;
}

int callback_index(const char *name)
{
	int i = entry_of(name);
	return i < 0 ? -1 : g.gen == 'A' ? entries[i].a : entries[i].b;
}

long hubsim_callback_calls(const char *name)
{
	int i = entry_of(name);
	unsigned long (*calls)(int) =
		g.face ? (unsigned long (*)(int))dlsym(g.face, "hubsim_face_calls") : NULL;
	if (i < 0 || !calls)
		return -1;
	return (long)calls(entries[i].b);
}

int face_override(const char *name, w_Tcallback fn)
{
	int i = entry_of(name);
	void (*init)(const w_Tcallback *, int) =
		g.face ? (void (*)(const w_Tcallback *, int))dlsym(g.face, "hubsim_face_init") : NULL;
	if (i < 0 || !init)
		return -1;
	w_Tcallback impls[HUBSIM_CB_COUNT];
	memcpy(impls, impl_by_b, sizeof impls);
	if (fn)
		impls[entries[i].b] = fn;
	init(impls, HUBSIM_CB_COUNT);
	return 0;
}

/* ---- hubsim_fault_callback (test knob) ---- */

static int fault_mode;

/* Stands in for the faulty callback; never reads its arguments. */
static w_Targs *faulty_callback(int id, w_Targs *args)
{
	(void)id;
	(void)args;
	switch (fault_mode) {
	case HUBSIM_FAULT_NULL: return NULL;
	case HUBSIM_FAULT_FORMAT: return g.w.pack("sd", xstrdup("junk"), 0.5);
	default: return g.w.pack("p", (void *)NULL);
	}
}

int hubsim_fault_callback(const char *name, int mode)
{
	if (!g.open || !g.face || !name || mode < HUBSIM_FAULT_NONE || mode > HUBSIM_FAULT_OPAQUE) {
		hs_error("hubsim_fault_callback: not open, no plugin face, or bad argument");
		return -1;
	}
	void (*init)(const w_Tcallback *, int) =
		(void (*)(const w_Tcallback *, int))dlsym(g.face, "hubsim_face_init");
	w_Tcallback impls[HUBSIM_CB_COUNT];
	memcpy(impls, impl_by_b, sizeof impls);
	size_t i = 0;
	while (i < ENTRY_COUNT && strcmp(entries[i].symbol + 1, name) != 0)
		i++;
	if (i == ENTRY_COUNT || !init) {
		hs_error("hubsim_fault_callback: no callback named %s", name);
		return -1;
	}
	fault_mode = mode;
	if (mode != HUBSIM_FAULT_NONE)
		impls[entries[i].b] = faulty_callback;
	init(impls, HUBSIM_CB_COUNT);
	return 0;
}

void free_callback_table(void)
{
	if (g.face)
		dlclose(g.face);
	g.face = NULL;
	free(g.table);
	g.table = NULL;
}
