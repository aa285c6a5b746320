/* read_file.c — reading a whole small file (config.json, an index, tokenizer files) into memory. */
#include "common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

vkg_status vkg_read_file(const char *path, uint64_t max_bytes, vkg_status too_big, char **out, size_t *len) {
    *out = NULL;
    *len = 0;
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return vkg_fail(VKG_ERROR_IO, "%s: cannot open: %s", path, strerror(errno));
    vkg_status s = VKG_OK;
    char *buf = NULL;
    struct stat st;
    if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode)) {
        s = vkg_fail(VKG_ERROR_IO, "%s: not a readable regular file", path);
        goto done;
    }
    if ((uint64_t)st.st_size > max_bytes) {
        s = vkg_fail(too_big, "%s: %lld bytes, larger than the %llu this file may have", path,
                     (long long)st.st_size, (unsigned long long)max_bytes);
        goto done;
    }
    size_t size = (size_t)st.st_size;
    if (!(buf = vkg_calloc(size + 1, 1))) {
        s = VKG_ERROR_OUT_OF_HOST_MEMORY;
        goto done;
    }
    if (fread(buf, 1, size, fp) != size) {
        s = vkg_fail(VKG_ERROR_IO, "%s: short read", path);
        goto done;
    }
    *out = buf;
    *len = size;
    buf = NULL;
done:
    free(buf);
    fclose(fp);
    return s;
}
