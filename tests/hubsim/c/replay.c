/*
 * Transcript replay (README.md, "Transcripts") and the conversion of records for display.
 */
#include <errno.h>
#include <iconv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

static void pace(double t);

#define MAX_FIELDS 16

/* ---- display of records ---- */

struct text { char *p; size_t len, cap; };

static void text_add(struct text *t, const char *s, size_t n)
{
	vec_grow((void **)&t->p, &t->cap, t->len + n + 1, 1);
	memcpy(t->p + t->len, s, n);
	t->len += n;
	t->p[t->len] = '\0';
}

/* Appends UTF-8 output, escaping '\' as "\\" and control bytes other than TAB as \xNN. */
static void text_add_escaped(struct text *t, const char *s, size_t n)
{
	char esc[5];
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\\')
			text_add(t, "\\\\", 2);
		else if (c < 0x20 && c != '\t')
			text_add(t, esc, (size_t)snprintf(esc, sizeof esc, "\\x%02x", c));
		else
			text_add(t, (const char *)&s[i], 1);
	}
}

/*
 * Converts a hub-encoded line to UTF-8 for display with the iconv descriptor cd
 * (hub encoding -> UTF-8). Bytes that cannot be decoded are shown as \xNN.
 */
char *hub_to_display(void *cd, const char *s)
{
	struct text out = { 0 };
	text_add(&out, "", 0);
	char *in = (char *)s;
	size_t in_left = strlen(s);
	iconv((iconv_t)cd, NULL, NULL, NULL, NULL);
	while (in_left) {
		char buf[1024], *o = buf, esc[5];
		size_t o_left = sizeof buf;
		size_t r = iconv((iconv_t)cd, &in, &in_left, &o, &o_left);
		text_add_escaped(&out, buf, (size_t)(o - buf));
		if (r == (size_t)-1 && errno != E2BIG) { /* EILSEQ / EINVAL: show one byte */
			text_add(&out, esc, (size_t)snprintf(esc, sizeof esc, "\\x%02x", (unsigned char)*in));
			in++;
			in_left--;
			iconv((iconv_t)cd, NULL, NULL, NULL, NULL);
		}
	}
	return out.p;
}

void echo_record(const char *line)
{
	if (!g.echo_cd) {
		puts(line);
		return;
	}
	char *text = hub_to_display(g.echo_cd, line);
	puts(text);
	free(text);
}

/* ---- transcript fields ---- */

/* Strict conversion UTF-8 -> hub encoding (cd); NULL if any character cannot be converted. */
static char *convert_field(iconv_t cd, const char *s)
{
	struct text out = { 0 };
	text_add(&out, "", 0);
	char *in = (char *)s;
	size_t in_left = strlen(s);
	iconv(cd, NULL, NULL, NULL, NULL);
	while (in_left) {
		char buf[1024], *o = buf;
		size_t o_left = sizeof buf;
		size_t r = iconv(cd, &in, &in_left, &o, &o_left);
		text_add(&out, buf, (size_t)(o - buf));
		if (r == (size_t)-1 && errno != E2BIG) {
			free(out.p);
			return NULL;
		}
	}
	char buf[64], *o = buf; /* flush shift state */
	size_t o_left = sizeof buf;
	iconv(cd, NULL, NULL, &o, &o_left);
	text_add(&out, buf, (size_t)(o - buf));
	return out.p;
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Applies \xNN, \\, \t, \n, \r in place. Returns 0 on a bad escape or a \x00. */
static int unescape(char *s)
{
	char *o = s;
	for (; *s; s++) {
		if (*s != '\\') {
			*o++ = *s;
			continue;
		}
		switch (*++s) {
		case '\\': *o++ = '\\'; break;
		case 't': *o++ = '\t'; break;
		case 'n': *o++ = '\n'; break;
		case 'r': *o++ = '\r'; break;
		case 'x': {
			int hi = hex_digit(s[1]), lo = hi < 0 ? -1 : hex_digit(s[2]);
			if (lo < 0 || (hi == 0 && lo == 0))
				return 0;
			*o++ = (char)(hi * 16 + lo);
			s += 2;
			break;
		}
		default:
			return 0;
		}
	}
	*o = '\0';
	return 1;
}

/* ---- replay ---- */

struct event_kind { const char *name; int fields; int convert; };

static const struct event_kind kinds[] = {
	{ "login", 10, 1 }, { "logout", 3, 1 }, { "chat", 4, 1 }, { "pm", 5, 1 },
	{ "timer", 2, 1 },  { "load", 3, 0 },
};

static int run_event(const char *kind, char **f, double t, int line_no)
{
	if (!strcmp(kind, "login"))
		return hubsim_login(f[2], strtol(f[3], NULL, 10), f[4], f[5], f[6], f[7], f[8], f[9]);
	if (!strcmp(kind, "logout"))
		return hubsim_logout(f[2]);
	if (!strcmp(kind, "chat"))
		return hubsim_chat(f[2], f[3]);
	if (!strcmp(kind, "pm"))
		return hubsim_pm(f[2], f[3], f[4]);
	if (!strcmp(kind, "timer"))
		return hubsim_timer((double)g.start_time + t);
	int id = hubsim_load(f[2]);
	if (id < 0)
		fprintf(stderr, "hubsim: line %d: %s\n", line_no, hubsim_last_error());
	return 1;
}

/* Parses and runs one non-comment line. 1 = event run, 0 = blank, -1 = error. */
static int replay_line(char *line, int line_no, iconv_t cd, const char *encoding, long *last_sec,
		       int *blocked)
{
	char *f[MAX_FIELDS];
	int n = 0;
	for (char *p = line; n < MAX_FIELDS; n++) {
		f[n] = p;
		p = strchr(p, '\t');
		if (!p) {
			n++;
			break;
		}
		*p++ = '\0';
	}
	char *end;
	double t = strtod(f[0], &end);
	if (n < 2 || end == f[0] || *end) {
		hs_error("line %d: expected <seconds>\\t<event>...", line_no);
		return -1;
	}
	const struct event_kind *k = NULL;
	for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
		if (!strcmp(f[1], kinds[i].name))
			k = &kinds[i];
	if (!k) {
		hs_error("line %d: unknown event '%s'", line_no, f[1]);
		return -1;
	}
	if (n != k->fields) {
		hs_error("line %d: event '%s' needs %d fields, got %d", line_no, k->name, k->fields, n);
		return -1;
	}
	char *conv[MAX_FIELDS] = { 0 };
	int ok = 1;
	for (int i = 2; i < n && k->convert; i++) {
		conv[i] = convert_field(cd, f[i]);
		if (!conv[i]) {
			hs_error("line %d: field %d cannot be converted from UTF-8 to %s", line_no, i + 1,
				 encoding);
			ok = 0;
			break;
		}
		if (!unescape(conv[i])) {
			hs_error("line %d: field %d has a bad escape sequence", line_no, i + 1);
			ok = 0;
			break;
		}
		f[i] = conv[i];
	}
		if (ok && g.speed > 0)
		pace(t);
	if (ok) {
		/* the hub timer: once per whole second crossed since the previous event */
		long sec = t > 0 ? (long)t : 0;
		while (*last_sec < sec) {
			++*last_sec;
			hubsim_timer((double)(g.start_time + *last_sec));
		}
		g.now = (double)g.start_time + t;
		if (run_event(k->name, f, t, line_no) == 0)
			++*blocked;
	}
	for (int i = 0; i < n; i++)
		free(conv[i]);
	return ok ? 1 : -1;
}

/* Monotonic clock, seconds. */
static double mono_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double replay_started;

/* With --speed: waits until transcript time t is due (t / speed seconds
 * after the replay began), so that other programs (an HTTP client of a
 * script, a chat bridge) can act while the session plays. */
static void pace(double t)
{
	double due = replay_started + t / g.speed;
	double left;
	while ((left = due - mono_now()) > 0) {
		double step = left < 0.05 ? left : 0.05;
		struct timespec ts = { (time_t)step, (long)((step - (double)(time_t)step) * 1e9) };
		nanosleep(&ts, NULL);
	}
}

int hubsim_replay(const char *transcript_path, const char *encoding, int quiet)
{
	replay_started = mono_now();
	if (!g.open) {
		hs_error("hubsim is not open");
		return -1;
	}
	const char *enc = encoding ? encoding : "CP1252";
	FILE *file = fopen(transcript_path, "r");
	if (!file) {
		hs_error("cannot open %s: %s", transcript_path, strerror(errno));
		return -1;
	}
	iconv_t in_cd = iconv_open(enc, "UTF-8"), out_cd = iconv_open("UTF-8", enc);
	if (in_cd == (iconv_t)-1 || out_cd == (iconv_t)-1) {
		hs_error("unknown encoding %s", enc);
		if (in_cd != (iconv_t)-1)
			iconv_close(in_cd);
		if (out_cd != (iconv_t)-1)
			iconv_close(out_cd);
		fclose(file);
		return -1;
	}
	int saved_echo = g.echo;
	void *saved_cd = g.echo_cd;
	g.echo = !quiet;
	g.echo_cd = out_cd;

	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int line_no = 0, events = 0, blocked = 0;
	long last_sec = 0;
	while ((len = getline(&line, &cap, file)) != -1) {
		line_no++;
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		char *p = line;
		if (line_no == 1 && !strncmp(p, "\xEF\xBB\xBF", 3)) /* UTF-8 BOM */
			p += 3;
		if (!p[strspn(p, " \t")] || *p == '#')
			continue;
		int r = replay_line(p, line_no, in_cd, enc, &last_sec, &blocked);
		if (r < 0) {
			events = -1;
			break;
		}
		events++;
	}
	if (!quiet)
		fflush(stdout);
	free(line);
	fclose(file);
	iconv_close(in_cd);
	g.echo = saved_echo;
	g.echo_cd = saved_cd;
	iconv_close(out_cd);
	g.replay_blocked = (size_t)blocked;
	return events;
}

size_t hubsim_replay_blocked(void)
{
	return g.replay_blocked;
}
