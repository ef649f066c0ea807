/*
 * The two variadic functions of the wrapper ABI, w_pack and w_unpack
 * (docs/abi.md §2.3, §2.4).
 *
 * Stable Rust cannot define C variadic functions, so this file only turns
 * the varargs into a plain array of elements and hands it to Rust, or takes
 * Rust's array and writes it through the caller's pointers. All policy
 * (format checks, allocation, logging) lives in Rust (src/targs.rs).
 *
 * The exported names w_pack/w_unpack are tail-jump trampolines in Rust
 * (src/trampoline.rs): rustc's version script hides every symbol of a
 * linked C archive, so the C definitions carry internal names.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* Layout of docs/abi.md §2.1 (LP64): 16-byte tagged elements after an 8-byte header. */
typedef struct {
	char type;
	union {
		long l;
		char *s;
		double d;
		void *p;
		char **L;
	};
} w_Telement;

typedef struct {
	const char *format;
	w_Telement args[];
} w_Targs;

_Static_assert(sizeof(w_Telement) == 16, "w_Telement must be 16 bytes (docs/abi.md §2.1)");
_Static_assert(sizeof(w_Targs) == 8, "w_Targs header must be 8 bytes (docs/abi.md §2.1)");

/* Implemented in Rust (src/targs.rs). */
extern w_Targs *vh_shim_pack(const char *format, const w_Telement *elems, size_t n);
extern void vh_shim_pack_rejected(const char *format);
extern long vh_shim_unpack(const w_Targs *a, const char *format, w_Telement *out, size_t cap);

/* Format characters w_pack accepts: A's "lsdp" plus B's "LDO" (docs/abi.md §2.2). */
static const char PACK_CHARS[] = "lsdpLDO";

w_Targs *vh_c_w_pack(const char *format, ...)
{
	if (format == NULL)
		return NULL;
	size_t n = strlen(format);
	if (strspn(format, PACK_CHARS) != n) {
		vh_shim_pack_rejected(format);
		return NULL;
	}
	w_Telement *elems = calloc(n + 1, sizeof *elems);
	if (elems == NULL)
		return NULL;
	va_list ap;
	va_start(ap, format);
	for (size_t i = 0; i < n; i++) {
		elems[i].type = format[i];
		switch (format[i]) {
		case 'l': elems[i].l = va_arg(ap, long); break;
		case 's':
		case 'D': elems[i].s = va_arg(ap, char *); break;
		case 'd': elems[i].d = va_arg(ap, double); break;
		case 'L': elems[i].L = va_arg(ap, char **); break;
		default: elems[i].p = va_arg(ap, void *); break; /* 'p', 'O' */
		}
	}
	va_end(ap);
	w_Targs *a = vh_shim_pack(format, elems, n);
	free(elems);
	return a;
}

int vh_c_w_unpack(w_Targs *a, const char *format, ...)
{
	if (a == NULL || format == NULL)
		return 0;
	size_t cap = strlen(format);
	w_Telement *vals = calloc(cap + 1, sizeof *vals);
	if (vals == NULL)
		return 0;
	long n = vh_shim_unpack(a, format, vals, cap);
	if (n < 0) {
		free(vals);
		return 0;
	}
	va_list ap;
	va_start(ap, format);
	for (long j = 0; j < n; j++) {
		/* Always a full long for 'l', as both original unpackers did (docs/abi.md §2.2). */
		switch (vals[j].type) {
		case 'l': *va_arg(ap, long *) = vals[j].l; break;
		case 's':
		case 'D': *va_arg(ap, char **) = vals[j].s; break;
		case 'd': *va_arg(ap, double *) = vals[j].d; break;
		case 'L': *va_arg(ap, char ***) = vals[j].L; break;
		default: *va_arg(ap, void **) = vals[j].p; break;
		}
	}
	va_end(ap);
	free(vals);
	return 1;
}
