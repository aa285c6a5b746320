/* vk/shader_table.h — the table of embedded SPIR-V modules generated at build time by
 * cmake/EmbedShaders.cmake (shaders_embedded.c in the build tree). */
#ifndef VKG_SHADER_TABLE_H
#define VKG_SHADER_TABLE_H

#include <stddef.h>
#include <stdint.h>

typedef struct vkg_spirv {
    const char *name;     /* the NAME given to vkg_add_shader() */
    const uint32_t *code;
    size_t size;          /* bytes */
} vkg_spirv;

extern const vkg_spirv vkg_spirv_table[];
extern const size_t vkg_spirv_table_len;

#endif /* VKG_SHADER_TABLE_H */
