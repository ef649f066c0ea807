/*
 * python_pi's own console commands (docs/abi.md §10.1), tried by the plugin's OnOperatorCommand
 * handler before any script sees an operator command. Answers go to the user through the
 * hub-security bot, i.e. records "USERMC <nick>\t<botname>\t<text>".
 *
 *   !pyload <x>   x numeric: the x-th *.py file (from 0, sorted by name) of
 *                 <config_dir>/scripts; x without '/': <config_dir>/scripts/x; else x
 *   !pyunload <x> x numeric: the script with id x; else a path resolved as above
 *   !pyreload <x> unload (if loaded) and load the same path at the same call position
 *   !pylist       loaded scripts; !pyfiles  numbered *.py files; !pylog <n>  log level
 */
#include <ctype.h>
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static void reply(const char *nick, const char *text)
{
	hs_record("USERMC", 3, nick, g.botname, text);
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted names of the *.py files of <config_dir>/scripts (caller frees each and the array). */
static char **script_files(size_t *count)
{
	char *dir_path = xstrdup_printf("%s/scripts", g.config_dir);
	DIR *dir = opendir(dir_path);
	VEC(char *) names = { 0 };
	struct dirent *e;
	while (dir && (e = readdir(dir))) {
		size_t n = strlen(e->d_name);
		if (n > 3 && !strcmp(e->d_name + n - 3, ".py"))
			VEC_PUSH(names, xstrdup(e->d_name));
	}
	if (dir)
		closedir(dir);
	free(dir_path);
	if (names.n)
		qsort(names.v, names.n, sizeof names.v[0], cmp_names);
	*count = names.n;
	return names.v;
}

static void free_files(char **files, size_t count)
{
	for (size_t i = 0; i < count; i++)
		free(files[i]);
	free(files);
}

static int is_number(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return 0;
	return 1;
}

/* The script path `x` names (owned), or NULL if x is a number out of range. */
static char *resolve_path(const char *x, int allow_number)
{
	if (allow_number && is_number(x)) {
		size_t count, i = strtoul(x, NULL, 10);
		char **files = script_files(&count);
		char *path = i < count ? xstrdup_printf("%s/scripts/%s", g.config_dir, files[i]) : NULL;
		free_files(files, count);
		return path;
	}
	if (!strchr(x, '/'))
		return xstrdup_printf("%s/scripts/%s", g.config_dir, x);
	return xstrdup(x);
}

static struct script *script_by_path(const char *path)
{
	for (size_t i = 0; path && i < g.scripts.n; i++)
		if (!strcmp(g.scripts.v[i].path, path))
			return &g.scripts.v[i];
	return NULL;
}

static void load(const char *nick, const char *x)
{
	char *path = resolve_path(x, 1), *msg;
	struct script *s = script_by_path(path);
	if (s) {
		msg = xstrdup_printf("Script #%d is already loaded: %s", s->id, path);
	} else {
		int id = path ? hs_load_script(path, (size_t)-1) : -1;
		msg = id > -1 ? xstrdup_printf("Script #%d is now loaded: %s", id, path)
			      : xstrdup_printf("Script not found or couldn't be parsed: %s", path ? path : x);
	}
	reply(nick, msg);
	free(msg);
	free(path);
}

/* Unloads the script x names; returns its call position or (size_t)-1. */
static size_t unload(const char *nick, const char *x, char **path_out)
{
	struct script *s = is_number(x) ? script_by_id(atoi(x)) : NULL;
	char *path = NULL;
	if (!s) {
		path = resolve_path(x, 0);
		s = script_by_path(path);
	}
	if (!s) {
		char *msg = xstrdup_printf("Script not loaded: %s", x);
		reply(nick, msg);
		free(msg);
		*path_out = path;
		return (size_t)-1;
	}
	size_t position = (size_t)(s - g.scripts.v);
	int id = s->id;
	free(path);
	path = xstrdup(s->path);
	hs_unload_script(id);
	char *msg = xstrdup_printf("Script #%d stopped: %s", id, path);
	reply(nick, msg);
	free(msg);
	*path_out = path;
	return position;
}

static void list(const char *nick)
{
	char *text = xstrdup("Loaded Python scripts:");
	for (size_t i = 0; i < g.scripts.n; i++) {
		char *next = xstrdup_printf("%s\r\n #%d %s", text, g.scripts.v[i].id, g.scripts.v[i].path);
		free(text);
		text = next;
	}
	reply(nick, text);
	free(text);
}

static void list_files(const char *nick)
{
	size_t count;
	char **names = script_files(&count);
	char *text = xstrdup_printf("Python scripts in %s/scripts:", g.config_dir);
	for (size_t i = 0; i < count; i++) {
		char *next = xstrdup_printf("%s\r\n %zu %s", text, i, names[i]);
		free(text);
		text = next;
	}
	free_files(names, count);
	reply(nick, text);
	free(text);
}

int console_command(const char *nick, long uclass, const char *command)
{
	static const char *const known[] = { "pyload", "pyunload", "pyreload", "pylist", "pyfiles", "pylog" };
	const char *word = command + 1, *end = word;
	while (*end && !isspace((unsigned char)*end))
		end++;
	size_t len = (size_t)(end - word), which = 0;
	while (which < 6 && (strlen(known[which]) != len || strncmp(word, known[which], len)))
		which++;
	if (which == 6)
		return 0;

	const char *mod_class = config_get("config", "plugin_mod_class");
	if (uclass < (mod_class ? atol(mod_class) : 5)) {
		reply(nick, "You have no rights to do this.");
		return 1;
	}
	while (isspace((unsigned char)*end))
		end++;
	char *arg = xstrdup(end), *p = arg;
	while (*p && !isspace((unsigned char)*p))
		p++;
	*p = '\0';

	char *path = NULL;
	size_t position;
	if (which >= 3) {
		if (which == 3)
			list(nick);
		else if (which == 4)
			list_files(nick);
		else if (is_number(arg)) {
			g.log_level = atoi(arg);
			g.w.LogLevel(g.log_level);
			config_put("pi_python", "log_level", arg);
			char *msg = xstrdup_printf("Python log level is now %d", g.log_level);
			reply(nick, msg);
			free(msg);
		} else
			reply(nick, "Usage: !pylog <level>");
	} else if (!*arg) {
		reply(nick, which == 0 ? "Usage: !pyload <script>" : which == 1 ? "Usage: !pyunload <script>"
									   : "Usage: !pyreload <script>");
	} else if (which == 0) {
		load(nick, arg);
	} else if ((position = unload(nick, arg, &path)) != (size_t)-1 && which == 2) {
		int id = hs_load_script(path, position);
		char *msg = id > -1 ? xstrdup_printf("Script #%d is now loaded: %s", id, path)
				    : xstrdup_printf("Script not found or couldn't be parsed: %s", path);
		reply(nick, msg);
		free(msg);
	}
	free(path);
	free(arg);
	return 1;
}
