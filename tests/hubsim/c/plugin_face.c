/*
 * The "plugin face": a tiny shared object that stands in for libpython_pi.so's exported
 * symbols. hubsim loads it with RTLD_GLOBAL right after the wrapper, and puts the addresses
 * of its `_<Name>` functions into the callback table it passes to w_Begin. A shim can then
 * identify every callback by symbol name with dladdr() and find `_GetIPCity` with
 * dlsym(RTLD_DEFAULT) only under generation B, as with the real plugins
 * (docs/abi.md §1.1, §6.4).
 *
 * Built twice by build.rs: without HUBSIM_GEN_B as libhubsim_plugin_a.so (56 callbacks) and
 * with it as libhubsim_plugin_b.so (57 callbacks, plus the B plugin's link-time references to
 * the wrapper's w_free_args and stringListToJson, docs/abi.md §1.3: loading the B face fails with
 * "undefined symbol" when the wrapper does not export them, like the B plugin would).
 *
 * Each `_<Name>` only forwards to the simulator's implementation registered with
 * hubsim_face_init() and counts the calls (hubsim_face_calls); no other state.
 */
#include <stddef.h>

#include "callback_list.h"

typedef struct w_Targs w_Targs;
typedef w_Targs *(*w_Tcallback)(int id, w_Targs *args);

/* Simulator implementations, indexed by generation-B callback index. */
static w_Tcallback impls[HUBSIM_CB_COUNT];
/* How often each `_<Name>` was called, by generation-B callback index. */
static unsigned long calls[HUBSIM_CB_COUNT];

void hubsim_face_init(const w_Tcallback *table, int count);
unsigned long hubsim_face_calls(int b_index);

/* Calls of the callback at generation-B index b_index since the face was loaded. */
unsigned long hubsim_face_calls(int b_index)
{
	return b_index >= 0 && b_index < HUBSIM_CB_COUNT ? calls[b_index] : 0;
}

/* Registers the simulator's implementations; `table` is indexed by B callback index. */
void hubsim_face_init(const w_Tcallback *table, int count)
{
	for (int i = 0; i < HUBSIM_CB_COUNT; i++)
		impls[i] = (table && i < count) ? table[i] : NULL;
}

#define FACE_FORWARD(name, b_index)                             \
	w_Targs *_##name(int id, w_Targs *args);                    \
	w_Targs *_##name(int id, w_Targs *args)                     \
	{                                                           \
		calls[b_index]++;                                       \
		return impls[b_index] ? impls[b_index](id, args) : NULL; \
	}
#define FACE_COMMON(name, a_index, b_index) FACE_FORWARD(name, b_index)
#ifdef HUBSIM_GEN_B
#define FACE_B_ONLY(name, b_index) FACE_FORWARD(name, b_index)
#else
#define FACE_B_ONLY(name, b_index)
#endif

HUBSIM_CALLBACKS(FACE_COMMON, FACE_B_ONLY)

#ifdef HUBSIM_GEN_B
/*
 * The B plugin's static member cpiPython::lib_callfunction (a B-only exported data symbol,
 * docs/abi.md §6.4 item 4); hubsim stores the wrapper's w_CallFunction in it.
 */
void *_ZN9nVerliHub13nPythonPlugin9cpiPython16lib_callfunctionE = NULL;

/*
 * The B plugin links against the wrapper (docs/abi.md §1.3). Referencing both symbols from
 * initialised data makes the dynamic linker resolve them when the face is loaded.
 */
void w_free_args(w_Targs *args);
void _ZN9nVerliHub13nPythonPlugin16stringListToJsonERKSt6vectorINSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEEESaIS7_EE(void);

__attribute__((used)) void (*const hubsim_face_b_links[2])(void) = {
	(void (*)(void))w_free_args,
	_ZN9nVerliHub13nPythonPlugin16stringListToJsonERKSt6vectorINSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEEESaIS7_EE,
};
#endif
