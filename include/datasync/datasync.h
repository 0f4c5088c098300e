/*
 * datasync — an embeddable data-movement engine. The one public C header.
 *
 * Stability: before 1.0 a minor version may change the ABI; the shared
 * library's SONAME carries the ABI major (libdatasync.so.0). Check the run-time
 * version with ds_version_number() as well as DS_VERSION_NUMBER.
 *
 * Threading: ds_version_*, ds_status_name, ds_error_*, ds_free, ds_batch_*
 * readers, ds_metrics_* readers and ds_event_* readers are safe from any
 * thread. A ds_config, ds_pipeline or ds_change_stream is used by one thread
 * at a time, with two exceptions: ds_pipeline_stop() and ds_pipeline_metrics()
 * are safe from any thread at any time, including inside callbacks. ds_batch, ds_error, ds_event
 * and ds_metrics are immutable once handed out. Callbacks run on engine
 * threads (each callback type says which); they must not call run or destroy
 * on their own pipeline, must not block indefinitely (that stalls the whole
 * pipeline) and must not unwind (C++ exception, longjmp, Go panic) across the
 * boundary.
 *
 * Errors: every fallible call returns a ds_status. On failure, and only then,
 * it stores a new ds_error in *err when err is not NULL (pass *err == NULL);
 * free it with ds_error_free(). No C++ exception ever leaves the library.
 *
 * Ownership words used below: "borrowed" (valid until the named event, do not
 * free), "owned" (the caller frees it with the named function), "consumed"
 * (ownership moves into the call whether or not it succeeds), "copied" (the
 * library keeps its own copy before returning; the default for inputs).
 */
#ifndef DATASYNC_H
#define DATASYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ export */
#if defined(_WIN32)
#if defined(DS_BUILDING_LIBRARY)
#define DS_API __declspec(dllexport)
#else
#define DS_API __declspec(dllimport)
#endif
#else
#define DS_API __attribute__((visibility("default")))
#endif

#if defined(__GNUC__)
#define DS_DEPRECATED __attribute__((deprecated))
#else
#define DS_DEPRECATED
#endif

/* ----------------------------------------------------------------- version */
#define DS_VERSION_MAJOR 0
#define DS_VERSION_MINOR 1
#define DS_VERSION_PATCH 0
#define DS_VERSION_STRING "0.1.0"
#define DS_VERSION_NUMBER (DS_VERSION_MAJOR * 1000000 + DS_VERSION_MINOR * 1000 + DS_VERSION_PATCH)

/** The library's run-time version as X*1000000+Y*1000+Z. @since 0.1 */
DS_API int32_t ds_version_number(void);
/** "0.1.0"; borrowed, static. @since 0.1 */
DS_API const char *ds_version_string(void);

/* ------------------------------------------------------ status and errors */
typedef int32_t ds_status;
/* Values are appended, never renumbered. */
#define DS_OK 0
#define DS_ERR_INVALID_ARGUMENT 1 /* NULL handle or argument, bad value */
#define DS_ERR_CONFIG 2           /* malformed or invalid pipeline definition */
#define DS_ERR_CONNECTION 3       /* cannot reach or lost a system */
#define DS_ERR_AUTH 4             /* credentials or permissions refused */
#define DS_ERR_NOT_FOUND 5        /* table, file, database, column missing */
#define DS_ERR_UNSUPPORTED 6      /* a type, feature or format the engine cannot handle */
#define DS_ERR_SCHEMA 7           /* source and target schemas do not fit */
#define DS_ERR_DATA 8             /* a value cannot be read, converted or written */
#define DS_ERR_IO 9               /* file system or storage failure */
#define DS_ERR_TIMEOUT 10
#define DS_ERR_CANCELLED 11 /* stopped by ds_pipeline_stop() */
#define DS_ERR_CALLBACK 12  /* a host callback failed; its own error is returned */
#define DS_ERR_STATE 13     /* call not valid in the object's current state */
#define DS_ERR_NOMEM 14
#define DS_ERR_INTERNAL 15

typedef struct ds_error ds_error;

/** The error's status; DS_OK when e is NULL. @since 0.1 */
DS_API ds_status ds_error_code(const ds_error *e);
/** What went wrong, one line. Borrowed: lives as long as e. "" when e is NULL. @since 0.1 */
DS_API const char *ds_error_message(const ds_error *e);
/** Where: "pipeline=x source=sqlite table=main.orders split=main.orders#2", or "". Borrowed like the message. @since
 * 0.1 */
DS_API const char *ds_error_context(const ds_error *e);
/** True when trying again later may succeed (lost connection, timeout). @since 0.1 */
DS_API bool ds_error_is_retriable(const ds_error *e);
/** Frees an error; NULL is a no-op. @since 0.1 */
DS_API void ds_error_free(ds_error *e);
/**
 * Creates an error, for callbacks that fail with their own message.
 * message and context are copied; context may be NULL. Owned: ds_error_free().
 * @since 0.1
 */
DS_API ds_error *ds_error_create(ds_status code, const char *message, const char *context);
/** "DS_ERR_CONFIG" and so on; borrowed, static. @since 0.1 */
DS_API const char *ds_status_name(ds_status s);
/** Frees memory the library returned as "owned: ds_free()" (strings). NULL is a no-op. @since 0.1 */
DS_API void ds_free(void *ptr);

/* ---------------------------------------------------------------- handles */
typedef struct ds_config ds_config;                 /* a pipeline definition being built */
typedef struct ds_pipeline ds_pipeline;             /* a runnable pipeline */
typedef struct ds_batch ds_batch;                   /* a columnar batch of rows of one table */
typedef struct ds_event ds_event;                   /* a pipeline event */
typedef struct ds_metrics ds_metrics;               /* a snapshot of a pipeline's counters */
typedef struct ds_column_builder ds_column_builder; /* builds one new column for a batch */
typedef struct ds_change_stream ds_change_stream;   /* a pull stream of a pipeline's batches (sink type host) */

/* ---------------------------------------------- Arrow C data interface */
/* Verbatim from the Arrow specification, under its canonical guards. */
#ifndef ARROW_C_DATA_INTERFACE
#define ARROW_C_DATA_INTERFACE

#define ARROW_FLAG_DICTIONARY_ORDERED 1
#define ARROW_FLAG_NULLABLE 2
#define ARROW_FLAG_MAP_KEYS_SORTED 4

struct ArrowSchema {
  // Array type description
  const char *format;
  const char *name;
  const char *metadata;
  int64_t flags;
  int64_t n_children;
  struct ArrowSchema **children;
  struct ArrowSchema *dictionary;

  // Release callback
  void (*release)(struct ArrowSchema *);
  // Opaque producer-specific data
  void *private_data;
};

struct ArrowArray {
  // Array data description
  int64_t length;
  int64_t null_count;
  int64_t offset;
  int64_t n_buffers;
  int64_t n_children;
  const void **buffers;
  struct ArrowArray **children;
  struct ArrowArray *dictionary;

  // Release callback
  void (*release)(struct ArrowArray *);
  // Opaque producer-specific data
  void *private_data;
};

#endif /* ARROW_C_DATA_INTERFACE */

#ifndef ARROW_C_STREAM_INTERFACE
#define ARROW_C_STREAM_INTERFACE

struct ArrowArrayStream {
  // Callback to get the stream type
  // (will be the same for all arrays in the stream).
  //
  // Return value: 0 if successful, an `errno`-compatible error code otherwise.
  //
  // If successful, the ArrowSchema must be released independently from the stream.
  int (*get_schema)(struct ArrowArrayStream *, struct ArrowSchema *out);

  // Callback to get the next array
  // (if no error and the array is released, the stream has ended)
  //
  // Return value: 0 if successful, an `errno`-compatible error code otherwise.
  //
  // If successful, the ArrowArray must be released independently from the stream.
  int (*get_next)(struct ArrowArrayStream *, struct ArrowArray *out);

  // Callback to get optional detailed error information.
  // This must only be called if the last stream operation failed
  // with a non-0 return code.
  //
  // Return value: pointer to a null-terminated character array describing
  // the last error, or NULL if no description is available.
  //
  // The returned pointer is only valid until the next operation on this stream
  // (including release).
  const char *(*get_last_error)(struct ArrowArrayStream *);

  // Release callback: release the stream's own resources.
  // Note that arrays returned by `get_next` must be individually released.
  void (*release)(struct ArrowArrayStream *);

  // Opaque producer-specific data
  void *private_data;
};

#endif /* ARROW_C_STREAM_INTERFACE */

/* ----------------------------------------------------------------- config */
/**
 * Creates an empty pipeline definition, to be filled with ds_config_set().
 * *out is owned: ds_config_destroy(). Sets *out = NULL on failure. @since 0.1
 */
DS_API ds_status ds_config_create(ds_config **out, ds_error **err);
/**
 * Sets one key by its dotted name: "source.type", "source.path",
 * "sink.table_prefix", "pipeline.parallelism", ... Validated against the
 * registry of typed keys exactly as YAML is; an unknown key is refused with
 * the nearest valid name. key and value are copied. @since 0.1
 */
DS_API ds_status ds_config_set(ds_config *cfg, const char *key, const char *value, ds_error **err);
/** Adds a route: source tables matching the regex go to sink_table. Copied. @since 0.1 */
DS_API ds_status ds_config_add_route(ds_config *cfg, const char *source_table_regex, const char *sink_table,
                                     ds_error **err);
/**
 * The reference of every configuration key (pipeline section and each
 * registered connector), as Markdown; docs/CONFIGURATION.md is this text.
 * *out is owned: ds_free(). @since 0.1
 */
DS_API ds_status ds_config_reference(char **out, ds_error **err);
/**
 * The type-mapping table (engine type → column type per target dialect, with
 * its fidelity: exact, widened or lossy and what is lost), as Markdown;
 * docs/type-mapping.md is this text. *out is owned: ds_free(). @since 0.1
 */
DS_API ds_status ds_type_mapping_reference(char **out, ds_error **err);
/** Frees a config; NULL is a no-op. @since 0.1 */
DS_API void ds_config_destroy(ds_config *cfg);

/* --------------------------------------------------------------- pipeline */
/**
 * Creates a pipeline from YAML text (Flink CDC 3 style: source, sink, route,
 * transform, pipeline). yaml is copied. Relative paths resolve against the
 * current directory. *out is owned: ds_pipeline_destroy(); NULL on failure.
 * Nothing is opened or written until ds_pipeline_run(). @since 0.1
 */
DS_API ds_status ds_pipeline_create_from_yaml(const char *yaml, ds_pipeline **out, ds_error **err);
/** As above from a file; relative paths in it resolve against the file's directory. @since 0.1 */
DS_API ds_status ds_pipeline_create_from_file(const char *path, ds_pipeline **out, ds_error **err);
/** From a config built with ds_config_set(); cfg is copied, never consumed. @since 0.1 */
DS_API ds_status ds_pipeline_create(const ds_config *cfg, ds_pipeline **out, ds_error **err);

/** Free-function type for user_data, called exactly once, on any thread, after the last callback returned. */
typedef void (*ds_free_fn)(void *user_data);

/**
 * A batch transform. `in` is borrowed for the duration of the call. To pass
 * the batch on unchanged set *out = NULL; to replace it, store a new owned
 * batch (from ds_batch_import_arrow or ds_batch_add_column) in *out, which the
 * engine then consumes. A batch with zero rows drops the rows. On failure
 * return a non-OK status, usually DS_ERR_CALLBACK, and optionally store a
 * ds_error (ds_error_create) in *err: the pipeline stops and ds_pipeline_run
 * returns that error untouched.
 * Called on: an engine reader thread; concurrently for different tables or
 * splits unless DS_TRANSFORM_SERIAL was given.
 */
typedef ds_status (*ds_transform_fn)(void *user_data, const ds_batch *in, ds_batch **out, ds_error **err);

#define DS_TRANSFORM_SERIAL 1u /* never call this transform concurrently with itself */

/**
 * Adds a transform for the tables whose "schema.table" (after routing)
 * matches table_pattern (a regex; NULL or "" means every table). Transforms
 * run in the order added. user_data is handed to fn; free_user_data (may be
 * NULL) is called exactly once when the pipeline is destroyed, or at once if
 * this call fails. Only before ds_pipeline_run. @since 0.1
 */
DS_API ds_status ds_pipeline_add_transform(ds_pipeline *p, const char *table_pattern, uint32_t flags,
                                           ds_transform_fn fn, void *user_data, ds_free_fn free_user_data,
                                           ds_error **err);

/* Event kinds; appended, never renumbered. */
#define DS_EVENT_PIPELINE_STARTED 1
#define DS_EVENT_TABLE_STARTED 2  /* table: the source table; rows: estimated rows */
#define DS_EVENT_TABLE_FINISHED 3 /* rows: rows written for it in this run */
#define DS_EVENT_SPLIT_FINISHED 4 /* message: the split's stream name */
#define DS_EVENT_CHECKPOINT 5     /* rows: positions committed */
#define DS_EVENT_SCHEMA_CHANGE 6  /* message: what changed */
#define DS_EVENT_WARNING 7        /* message: what and where */
#define DS_EVENT_RETRY 8          /* message: the retriable error being retried */
#define DS_EVENT_PIPELINE_FINISHED 9
#define DS_EVENT_PIPELINE_FAILED 10 /* message: the error */

/**
 * An event listener. `event` is borrowed for the call. Called on: an engine
 * thread, never concurrently with itself; keep it short.
 */
typedef void (*ds_event_fn)(void *user_data, const ds_event *event);

/** Adds an event listener; user_data rules as for transforms. Only before run. @since 0.1 */
DS_API ds_status ds_pipeline_add_event_listener(ds_pipeline *p, ds_event_fn fn, void *user_data,
                                                ds_free_fn free_user_data, ds_error **err);

DS_API int32_t ds_event_kind(const ds_event *e);
/** "table_finished" and so on; borrowed, static. */
DS_API const char *ds_event_kind_name(int32_t kind);
/** Borrowed for the callback; "" when the event concerns no table. */
DS_API const char *ds_event_table(const ds_event *e);
/** Borrowed for the callback; "" when none. */
DS_API const char *ds_event_message(const ds_event *e);
DS_API int64_t ds_event_rows(const ds_event *e);

/** Options for ds_pipeline_run_with_options. Begin with struct_size (ds_run_options_init). */
typedef struct ds_run_options {
  uint32_t struct_size;
  uint32_t flags; /* DS_RUN_* bits */
} ds_run_options;
#define DS_RUN_FRESH 1u /* forget the stored checkpoint and start from the beginning */
#define DS_RUN_OPTIONS_INIT \
  { sizeof(ds_run_options), 0 }
/** Fills *opts with defaults; struct_size is the caller's sizeof. @since 0.1 */
DS_API ds_status ds_run_options_init(ds_run_options *opts, size_t struct_size);

/**
 * Runs the pipeline to completion on the calling thread (engine threads do the
 * work) and blocks until it ends. Resumes from the stored checkpoint unless
 * DS_RUN_FRESH. Returns DS_ERR_CANCELLED after ds_pipeline_stop(); the
 * checkpoint then holds exactly what is durable, and the next run continues
 * from there. A pipeline runs once; create a new one to run again. @since 0.1
 */
DS_API ds_status ds_pipeline_run(ds_pipeline *p, ds_error **err);
DS_API ds_status ds_pipeline_run_with_options(ds_pipeline *p, const ds_run_options *opts, ds_error **err);
/** Asks a running pipeline to stop; returns at once. Safe from any thread, any time, and before run. NULL is a no-op.
 * @since 0.1 */
DS_API void ds_pipeline_stop(ds_pipeline *p);
/** Destroys a pipeline; stops and waits for it if it is running. NULL is a no-op. Never from a callback. @since 0.1 */
DS_API void ds_pipeline_destroy(ds_pipeline *p);

/* ---------------------------------------------------------- schema migration */
/** What ds_pipeline_schema does besides planning. Values appended, never renumbered. */
typedef enum ds_schema_action {
  DS_SCHEMA_PLAN = 0, /* plan only: nothing changes in the target */
  DS_SCHEMA_APPLY = 1 /* run each table's plan: create missing tables, add columns, widen types */
} ds_schema_action;
/** ds_pipeline_schema flag: with DS_SCHEMA_APPLY, also run drops and narrowings. */
#define DS_SCHEMA_ALLOW_DESTRUCTIVE 1u
/**
 * Schema migration without copying data: for every table the source selects
 * (after the pipeline's routes, transforms and `schema` section), the sink's
 * plan — the DDL that creates it, or an existing table's differences and the
 * statements that bring it closer — with each column's type mapping and its
 * fidelity. *out_json (may be NULL) receives
 *   {"pipeline", "source", "sink", "applied", "tables": [{"source", "target",
 *    "exists", "statements": [..], "destructive": [..], "differences": [..],
 *    "notes": [..], "columns": [{"column", "source_type", "engine_type",
 *    "target_type", "fidelity": "exact"|"widened"|"lossy"|"override", "note"}]}]}
 * owned: ds_free(). Only before the pipeline runs; it can still run after.
 * @since 0.1
 */
DS_API ds_status ds_pipeline_schema(ds_pipeline *p, ds_schema_action action, uint32_t flags, char **out_json,
                                    ds_error **err);
/**
 * Drops what change capture keeps in the source for this pipeline (the
 * PostgreSQL replication slot and publication, which otherwise hold WAL) and
 * its checkpoint, so the next run starts afresh. *out_text (may be NULL)
 * lists what was dropped, one line each; owned: ds_free(). Not while the
 * pipeline runs. @since 0.1
 */
DS_API ds_status ds_pipeline_cleanup(ds_pipeline *p, char **out_text, ds_error **err);
/** The pipeline's name; borrowed, lives as long as p. @since 0.1 */
DS_API const char *ds_pipeline_name(const ds_pipeline *p);

/* ---------------------------------------------------------- change stream */
/*
 * A pull stream of change batches for host code that has no sink of its own
 * (librdkafka's poll/commit, Debezium's embedded engine). The pipeline's sink
 * is the host:
 *
 *   sink:
 *     type: host
 *     checkpoint_path: orders.checkpoint.db   # optional; where commits are kept
 *   pipeline:
 *     mode: cdc                               # or snapshot+cdc, or snapshot
 *
 * ds_change_stream_open() starts the pipeline on an engine thread; its
 * batches wait in a bounded queue (pipeline.queue_batches) until the host
 * takes them with ds_change_stream_next(): a host that does not take them
 * holds the source back (backpressure), memory stays bounded. The host
 * records its progress with ds_change_stream_commit(position): the positions
 * go durably into the checkpoint file and only then to the source (the
 * PostgreSQL slot frees WAL up to there). A stream opened again on a new
 * pipeline of the same definition resumes right after the last committed
 * position: whatever the host committed never comes again, whatever it did
 * not commit comes again.
 *
 * Batches: ds_batch_kind() is DS_BATCH_ROWS (rows of one table, ds_batch_op
 * per row: snapshot rows are DS_OP_INSERT) or DS_BATCH_SCHEMA_CHANGE (no
 * rows; the table's columns from now on; ds_batch_schema_change() says what
 * changed, e.g. "add_column tier" or "truncate_table"; under
 * schema.evolution ignore only truncations come, under exception the stream
 * fails at the change). ds_batch_position() is the position to commit: ""
 * for a batch inside a source transaction — only the last batch of a
 * transaction carries one, so committing never splits a transaction; one
 * batch may hold several whole transactions. A DS_BATCH_ROWS batch with zero
 * rows and table "" is a commit point alone (a transaction or snapshot split
 * that brought no row, after a schema change or a truncate): commit it like
 * any other. Change positions are the source's own text (PostgreSQL
 * "0/16B3F08"); snapshot positions read "<split>@<position>".
 *
 * Threads: the stream is used by one thread at a time (next and commit from
 * the same one, or serialized). ds_pipeline_stop() on its pipeline, from any
 * thread, makes a waiting next() return the batches already queued and then
 * DS_ERR_CANCELLED.
 */
#define DS_BATCH_ROWS 0          /* rows (possibly none: a commit point) */
#define DS_BATCH_SCHEMA_CHANGE 1 /* a table's columns changed, or it was truncated */

/** Options for ds_change_stream_open. Begin with struct_size (ds_change_stream_options_init). */
typedef struct ds_change_stream_options {
  uint32_t struct_size;
  uint32_t flags; /* DS_RUN_FRESH: forget the committed positions and start over */
} ds_change_stream_options;
#define DS_CHANGE_STREAM_OPTIONS_INIT \
  { sizeof(ds_change_stream_options), 0 }
/** Fills *opts with defaults; struct_size is the caller's sizeof. @since 0.1 */
DS_API ds_status ds_change_stream_options_init(ds_change_stream_options *opts, size_t struct_size);

/**
 * Opens a change stream over p, whose sink must be of type host (else
 * DS_ERR_CONFIG) and which has not run (else DS_ERR_STATE); it runs p.
 * pipeline.checkpoint_store must be sink (the default): the host sink keeps
 * the committed positions in its checkpoint_path file. opts may be NULL.
 * Connection and source errors come later, from ds_change_stream_next.
 * p is borrowed for this call only: the stream keeps what it needs, and
 * destroying p first stops the stream (next then ends with DS_ERR_CANCELLED).
 * *out is owned: ds_change_stream_destroy(); NULL on failure. @since 0.1
 */
DS_API ds_status ds_change_stream_open(ds_pipeline *p, const ds_change_stream_options *opts, ds_change_stream **out,
                                       ds_error **err);
/**
 * Takes the next batch, waiting up to timeout_ms (0: do not wait; negative:
 * until one comes). *out is owned: ds_batch_destroy(); it may outlive the
 * stream and the pipeline. Returns DS_OK with *out == NULL when nothing came
 * in time, or when the stream has ended (a snapshot-only pipeline copied
 * everything: ds_change_stream_finished() is then true). When the pipeline
 * fails (a lost connection after pipeline.max_retries reconnects, a schema
 * change under evolution exception, ...) the batches before the failure come
 * first, then its status and a ds_error, and every later call returns the
 * same. DS_ERR_STATE after ds_change_stream_close. @since 0.1
 */
DS_API ds_status ds_change_stream_next(ds_change_stream *s, int32_t timeout_ms, ds_batch **out, ds_error **err);
/** True once the stream ended (finished, failed, or closed). @since 0.1 */
DS_API bool ds_change_stream_finished(const ds_change_stream *s);
/**
 * Records that the host is done with every batch delivered up to and
 * including the one that carried `position` (copied; a ds_batch_position
 * value): the positions go durably into the checkpoint, then the source is
 * told (the replication slot may free WAL). Positions are committed in
 * delivery order; a later one covers every earlier one, and committing the
 * same position again is a no-op. DS_ERR_INVALID_ARGUMENT for "" or a
 * position this stream has not delivered (or that an earlier commit already
 * covered); DS_ERR_IO when the checkpoint cannot be written (nothing is
 * recorded; commit again). Also after the stream ended or was closed.
 * @since 0.1
 */
DS_API ds_status ds_change_stream_commit(ds_change_stream *s, const char *position, ds_error **err);
/**
 * Stops the pipeline and waits for its threads; batches not yet taken are
 * dropped (they come again after a reopen, as does everything not
 * committed). Committing still works after close. Idempotent. @since 0.1
 */
DS_API ds_status ds_change_stream_close(ds_change_stream *s, ds_error **err);
/** Closes (if needed) and frees the stream; NULL is a no-op. Batches already taken stay valid. @since 0.1 */
DS_API void ds_change_stream_destroy(ds_change_stream *s);

/* ---------------------------------------------------------------- metrics */
/**
 * Takes a snapshot of the pipeline's counters. Safe from any thread at any
 * time. *out is owned: ds_metrics_destroy(). @since 0.1
 */
DS_API ds_status ds_pipeline_metrics(const ds_pipeline *p, ds_metrics **out, ds_error **err);
DS_API void ds_metrics_destroy(ds_metrics *m);
DS_API int64_t ds_metrics_rows_read(const ds_metrics *m);
DS_API int64_t ds_metrics_rows_written(const ds_metrics *m);
DS_API int64_t ds_metrics_bytes_read(const ds_metrics *m);
DS_API int64_t ds_metrics_bytes_written(const ds_metrics *m);
DS_API int64_t ds_metrics_batches(const ds_metrics *m);
DS_API int64_t ds_metrics_errors(const ds_metrics *m);
DS_API int64_t ds_metrics_retries(const ds_metrics *m);
DS_API int64_t ds_metrics_elapsed_us(const ds_metrics *m);
/** Change capture: milliseconds from a source transaction's commit until it was
 * durable in the sink, for the latest such transaction (or the age of the
 * oldest one still in flight when larger); -1 when not known (snapshot mode,
 * or nothing applied yet). */
DS_API int64_t ds_metrics_lag_ms(const ds_metrics *m);
DS_API int64_t ds_metrics_tables_total(const ds_metrics *m);
DS_API int64_t ds_metrics_tables_done(const ds_metrics *m);
/** Estimated total rows of the source (0 when unknown), for progress displays. */
DS_API int64_t ds_metrics_rows_estimated(const ds_metrics *m);
/* Values written as NULL or clamped under pipeline.invalid_values (each kind is
 * also reported as a DS_EVENT_WARNING naming table and column). @since 0.1 */
DS_API int64_t ds_metrics_values_adjusted(const ds_metrics *m);
/* Change capture: bytes of log the source keeps for this pipeline (WAL held by
 * a PostgreSQL replication slot), -1 when unknown. A DS_EVENT_WARNING comes
 * when it passes source.retained_wal_warning_mb. @since 0.1 */
DS_API int64_t ds_metrics_source_retained_bytes(const ds_metrics *m);
DS_API size_t ds_metrics_num_tables(const ds_metrics *m);
/** Borrowed, lives as long as m; "" when i is out of range. */
DS_API const char *ds_metrics_table_name(const ds_metrics *m, size_t i);
DS_API int64_t ds_metrics_table_rows_read(const ds_metrics *m, size_t i);
DS_API int64_t ds_metrics_table_rows_written(const ds_metrics *m, size_t i);
DS_API int64_t ds_metrics_table_bytes_read(const ds_metrics *m, size_t i);
DS_API int64_t ds_metrics_table_bytes_written(const ds_metrics *m, size_t i);
/** The whole snapshot as JSON. *out is owned: ds_free(). @since 0.1 */
DS_API ds_status ds_metrics_to_json(const ds_metrics *m, char **out, ds_error **err);

/* ------------------------------------------------------------------ batch */
/* Column types; appended, never renumbered. Arrow formats in brackets. */
typedef int32_t ds_type;
#define DS_TYPE_BOOL 0          /* [b] */
#define DS_TYPE_INT8 1          /* [c] */
#define DS_TYPE_INT16 2         /* [s] */
#define DS_TYPE_INT32 3         /* [i] */
#define DS_TYPE_INT64 4         /* [l] */
#define DS_TYPE_UINT64 5        /* [L] */
#define DS_TYPE_FLOAT32 6       /* [f] */
#define DS_TYPE_FLOAT64 7       /* [g] */
#define DS_TYPE_DECIMAL 8       /* [d:p,s] decimal128 */
#define DS_TYPE_STRING 9        /* [u] UTF-8 */
#define DS_TYPE_BINARY 10       /* [z] */
#define DS_TYPE_DATE 11         /* [tdD] days since 1970-01-01 */
#define DS_TYPE_TIME 12         /* [ttu] microseconds since midnight */
#define DS_TYPE_TIMESTAMP 13    /* [tsu:] microseconds since epoch, no zone */
#define DS_TYPE_TIMESTAMP_TZ 14 /* [tsu:UTC] microseconds since epoch, UTC */
#define DS_TYPE_INTERVAL 15     /* [tin] months, days, nanoseconds */
#define DS_TYPE_JSON 16         /* [u] + arrow.json */
#define DS_TYPE_UUID 17         /* [w:16] + arrow.uuid */
#define DS_TYPE_UNKNOWN 18      /* [u] text of a type the engine does not know */

/* Row operations, as Flink's RowKind. */
#define DS_OP_INSERT 0        /* +I */
#define DS_OP_UPDATE_BEFORE 1 /* -U */
#define DS_OP_UPDATE_AFTER 2  /* +U */
#define DS_OP_DELETE 3        /* -D */

DS_API int64_t ds_batch_num_rows(const ds_batch *b);
DS_API size_t ds_batch_num_columns(const ds_batch *b);
/** "schema.table" the batch belongs to (after routing); borrowed, lives as long as b. */
DS_API const char *ds_batch_table(const ds_batch *b);
/** Borrowed, lives as long as b; "" when out of range. */
DS_API const char *ds_batch_column_name(const ds_batch *b, size_t col);
/** -1 when out of range. */
DS_API ds_type ds_batch_column_type(const ds_batch *b, size_t col);
/** Column index by name, or -1. */
DS_API int64_t ds_batch_column_index(const ds_batch *b, const char *name);
/** DS_OP_*; DS_OP_INSERT for snapshot batches. */
DS_API int32_t ds_batch_op(const ds_batch *b, int64_t row);
/** The source position the batch ends at (opaque text); borrowed, lives as long as b. For a change stream's
 * batches, the position to commit ("" inside a source transaction; see the change stream section). */
DS_API const char *ds_batch_position(const ds_batch *b);
/** DS_BATCH_ROWS, or DS_BATCH_SCHEMA_CHANGE for a change stream's schema change. @since 0.1 */
DS_API int32_t ds_batch_kind(const ds_batch *b);
/** DS_BATCH_SCHEMA_CHANGE: what changed ("add_column tier", "rename_column a b", "truncate_table", ...); "" otherwise.
 * Borrowed, lives as long as b. @since 0.1 */
DS_API const char *ds_batch_schema_change(const ds_batch *b);
DS_API bool ds_batch_is_null(const ds_batch *b, size_t col, int64_t row);
/** Integer-like columns (bool, int*, uint64 as bit pattern, date, time, timestamps). DS_ERR_INVALID_ARGUMENT on a type
 * mismatch or a NULL value. */
DS_API ds_status ds_batch_get_int64(const ds_batch *b, size_t col, int64_t row, int64_t *out, ds_error **err);
DS_API ds_status ds_batch_get_double(const ds_batch *b, size_t col, int64_t row, double *out, ds_error **err);
/** Variable-width columns (string, binary, json, unknown). *out_data is borrowed, lives as long as b, not
 * NUL-terminated. */
DS_API ds_status ds_batch_get_bytes(const ds_batch *b, size_t col, int64_t row, const char **out_data, size_t *out_len,
                                    ds_error **err);
/** Frees a batch the caller owns (from import or add_column). NULL is a no-op. Never on a borrowed batch. */
DS_API void ds_batch_destroy(ds_batch *b);

/**
 * Exports a batch as an Arrow struct array (one child per column, plus an
 * int8 "__op" child when the batch carries changes) with zero copies: the
 * buffers are shared and kept alive until the caller calls the release
 * callbacks, which may happen on any thread, even after the pipeline is gone.
 * out_schema and out_array are owned by the caller: release() each.
 * Field metadata carries "datasync.type" (json, uuid, unknown) and the source type name.
 * @since 0.1
 */
DS_API ds_status ds_batch_export_arrow(const ds_batch *b, struct ArrowSchema *out_schema, struct ArrowArray *out_array,
                                       ds_error **err);
/**
 * Makes a batch from an Arrow struct array, zero-copy. schema and array are
 * consumed (released by the library, even on failure). `like` (may be NULL)
 * lends the table name and primary key of the batch being transformed. *out
 * is owned: ds_batch_destroy(), or hand it to the engine as a transform's
 * output. A column named "__op" (int8) becomes the operation column.
 * @since 0.1
 */
DS_API ds_status ds_batch_import_arrow(struct ArrowSchema *schema, struct ArrowArray *array, const ds_batch *like,
                                       ds_batch **out, ds_error **err);

/**
 * A builder for one new column, for hosts without Arrow. *out is owned:
 * ds_column_builder_destroy(), or consumed by ds_batch_add_column.
 * Supported types: BOOL, INT8..INT64, UINT64, FLOAT32, FLOAT64, STRING, BINARY, JSON,
 * DATE, TIME, TIMESTAMP, TIMESTAMP_TZ (the integer ones through append_int64).
 * @since 0.1
 */
DS_API ds_status ds_column_builder_create(ds_type type, ds_column_builder **out, ds_error **err);
DS_API ds_status ds_column_builder_append_null(ds_column_builder *cb, ds_error **err);
DS_API ds_status ds_column_builder_append_int64(ds_column_builder *cb, int64_t v, ds_error **err);
DS_API ds_status ds_column_builder_append_double(ds_column_builder *cb, double v, ds_error **err);
/** data is copied; len bytes (UTF-8 for STRING/JSON). */
DS_API ds_status ds_column_builder_append_bytes(ds_column_builder *cb, const char *data, size_t len, ds_error **err);
DS_API void ds_column_builder_destroy(ds_column_builder *cb);
/**
 * A new batch: `in`'s columns (shared, not copied) plus one named column from
 * `column` (consumed, even on failure; it must hold exactly
 * ds_batch_num_rows(in) values). *out is owned like an imported batch.
 * @since 0.1
 */
DS_API ds_status ds_batch_add_column(const ds_batch *in, const char *name, ds_column_builder *column, ds_batch **out,
                                     ds_error **err);

#ifdef __cplusplus
}
#endif

#endif /* DATASYNC_H */
