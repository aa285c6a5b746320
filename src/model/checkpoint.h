/*
 * checkpoint.h — a Hugging Face-style checkpoint on disk: config.json plus one safetensors file or
 * a sharded set named by model.safetensors.index.json, seen as one set of tensors.
 *
 * This layer resolves paths, opens (mmaps) and validates every file, and answers "where is tensor
 * X". It does not know which tensors a model needs (tensors.h) and never copies weight data.
 */
#ifndef VKG_MODEL_CHECKPOINT_H
#define VKG_MODEL_CHECKPOINT_H

#include "model/config.h"
#include "model/safetensors.h"

typedef struct vkg_checkpoint vkg_checkpoint;

/* Open a checkpoint. `path` is one of:
 *   - a directory holding config.json and model.safetensors (preferred when both forms exist) or
 *     model.safetensors.index.json with its shards;
 *   - a .safetensors file, or a *.index.json file, with config.json in the same directory.
 * Every shard named by the index is opened once. Errors:
 *   VKG_ERROR_IO             path, config.json or a shard cannot be opened, or a directory holds
 *                            no model (the message lists what was looked for)
 *   VKG_ERROR_INDEX_JSON     the index is not JSON, has no "weight_map" object, or a shard name
 *                            is empty, absolute or climbs out with ".."
 *   VKG_ERROR_TENSOR_MISSING the index maps a tensor to a shard that does not hold it
 *   VKG_ERROR_ST_DUPLICATE_KEY  two shards hold a tensor of the same name
 *   any vkg_config_parse() / vkg_st_parse() error, with the file named.
 * On success release with vkg_checkpoint_close(). */
vkg_status vkg_checkpoint_open(const char *path, vkg_checkpoint **out);

/* NULL is allowed. Unmaps every shard: tensor pointers from this checkpoint die with it. */
void vkg_checkpoint_close(vkg_checkpoint *c);

/* The checked config.json. */
const vkg_model_config *vkg_checkpoint_config(const vkg_checkpoint *c);

/* The path given to vkg_checkpoint_open, for messages. */
const char *vkg_checkpoint_path(const vkg_checkpoint *c);

/* The tensor called `name` in whichever shard holds it, or NULL. O(log n). */
const vkg_st_tensor *vkg_checkpoint_find(const vkg_checkpoint *c, const char *name);

/* All tensors, shard by shard in index order, each shard in header order. */
size_t vkg_checkpoint_tensor_count(const vkg_checkpoint *c);
const vkg_st_tensor *vkg_checkpoint_tensor_at(const vkg_checkpoint *c, size_t i);

/* Number of safetensors files opened (1 for an unsharded checkpoint). */
size_t vkg_checkpoint_shard_count(const vkg_checkpoint *c);

/* model.safetensors.index.json, parsed and checked but not yet opened: which shard files exist and
 * which tensor each one should hold. vkg_checkpoint_open uses it; it is separate so that the fuzz
 * target (tests/fuzz/fuzz_index.c) can feed it bytes. */
typedef struct vkg_index vkg_index;

/* Parse `len` bytes of index JSON (no NUL needed); `label` names the file in messages.
 * VKG_ERROR_INDEX_JSON when it is not JSON (line and column given), has no non-empty "weight_map"
 * object, or maps a tensor to something other than a file name inside the checkpoint directory
 * (empty, absolute, or climbing out with ".."). On success release *out with vkg_index_free(). */
vkg_status vkg_index_parse(const char *json, size_t len, const char *label, vkg_index **out);
/* NULL is allowed. Names returned below die with the index. */
void vkg_index_free(vkg_index *ix);
/* Distinct shard file names, in order of first appearance in weight_map. */
size_t vkg_index_shard_count(const vkg_index *ix);
const char *vkg_index_shard(const vkg_index *ix, size_t i);
/* weight_map entries: tensor i's name, and in *shard the index of its shard file. */
size_t vkg_index_tensor_count(const vkg_index *ix);
const char *vkg_index_tensor(const vkg_index *ix, size_t i, size_t *shard);

#endif /* VKG_MODEL_CHECKPOINT_H */
