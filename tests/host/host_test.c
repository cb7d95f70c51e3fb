/* Helpers shared by the host/ unit tests: fixture paths, scratch sysfs trees, CPU-set assertions. */
#include "host_test.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

const char *fixture(const char *name)
{
	static char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s", FIXTURES, name);
	return path;
}

struct cvm_host_topology *read_fixture(const char *name)
{
	struct cvm_host_topology *t = calloc(1, sizeof(*t));
	char err[CVM_TOPO_ERR_LEN];
	assert_non_null(t);
	int r = __cvm_topology_read(fixture(name), t, err, sizeof(err));
	if (r)
		fail_msg("reading fixture %s: %s", name, err);
	return t;
}

static char scratch_root[PATH_MAX];

static int copy_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	char dst[PATH_MAX * 2];
	const char *rel = path + strlen(FIXTURES);
	const char *slash = strchr(rel + 1, '/'); /* drop the fixture name */
	snprintf(dst, sizeof(dst), "%s%s", scratch_root, slash ? slash : "");
	if (type == FTW_D)
		return mkdir(dst, 0755) && errno != EEXIST ? -1 : 0;
	if (type == FTW_SL) {
		char target[PATH_MAX];
		ssize_t n = readlink(path, target, sizeof(target) - 1);
		if (n < 0)
			return -1;
		target[n] = '\0';
		return symlink(target, dst);
	}
	FILE *in = fopen(path, "rb"), *out = fopen(dst, "wb");
	if (!in || !out)
		return -1;
	char buf[4096];
	size_t n;
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		fwrite(buf, 1, n, out);
	fclose(in);
	fclose(out);
	return 0;
}

const char *scratch_copy(const char *name)
{
	snprintf(scratch_root, sizeof(scratch_root), "/tmp/corevm-host-XXXXXX");
	assert_non_null(mkdtemp(scratch_root));
	assert_int_equal(nftw(fixture(name), copy_one, 16, FTW_PHYS), 0);
	return scratch_root;
}

static void mkdirs(char *path)
{
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		mkdir(path, 0755);
		*p = '/';
	}
}

void scratch_write(const char *root, const char *rel, const char *text)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/devices/system/%s", root, rel);
	mkdirs(path);
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int rm_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	return remove(path);
}

void scratch_remove(const char *root, const char *rel)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/devices/system/%s", root, rel);
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

void scratch_destroy(const char *root)
{
	assert_true(strncmp(root, "/tmp/corevm-host-", 17) == 0);
	nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

void cpus(uint64_t *map, const char *list)
{
	assert_int_equal(cvm_parse_cpulist(list, map, CVM_MAX_HOST_CPUS), 0);
}

const char *list_of(const uint64_t *map)
{
	static char bufs[4][4096];
	static unsigned int next;
	char *b = bufs[next++ % 4];
	if (cvm_format_cpulist(map, CVM_MAX_HOST_CPUS, b, sizeof(bufs[0])) < 0)
		snprintf(b, sizeof(bufs[0]), "(too long)");
	return b;
}
