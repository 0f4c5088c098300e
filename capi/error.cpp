#include "internal.hpp"

namespace ds::capi {

// Allocation failure must still be reportable: one static error that
// ds_error_free recognises and leaves alone (libgit2's git_error_set_oom).
ds_error g_out_of_memory{DS_ERR_NOMEM, "out of memory", "", true};

ds_error *make_error(ds_status code, std::string message, std::string context, bool retriable) {
  return new ds_error{code, std::move(message), std::move(context), retriable};
}

ds_error *from_core(const ds::Error &e) {
  return make_error(static_cast<ds_status>(e.code()), e.what(), e.context(), e.retriable());
}

ds::Error to_core(const ds_error *e) {
  return ds::Error(static_cast<ds::Code>(e->code), e->message, e->context, e->retriable);
}

}  // namespace ds::capi

using ds::capi::g_out_of_memory;

extern "C" {

DS_API int32_t ds_version_number(void) { return DS_VERSION_NUMBER; }
DS_API const char *ds_version_string(void) { return DS_VERSION_STRING; }

DS_API ds_status ds_error_code(const ds_error *e) { return e ? e->code : DS_OK; }
DS_API const char *ds_error_message(const ds_error *e) { return e ? e->message.c_str() : ""; }
DS_API const char *ds_error_context(const ds_error *e) { return e ? e->context.c_str() : ""; }
DS_API bool ds_error_is_retriable(const ds_error *e) { return e && e->retriable; }

DS_API void ds_error_free(ds_error *e) {
  if (e && e != &g_out_of_memory) delete e;
}

DS_API ds_error *ds_error_create(ds_status code, const char *message, const char *context) {
  try {
    return ds::capi::make_error(code, message ? message : "", context ? context : "");
  } catch (...) {
    return &g_out_of_memory;
  }
}

DS_API const char *ds_status_name(ds_status s) {
  switch (s) {
    case DS_OK: return "DS_OK";
    case DS_ERR_INVALID_ARGUMENT: return "DS_ERR_INVALID_ARGUMENT";
    case DS_ERR_CONFIG: return "DS_ERR_CONFIG";
    case DS_ERR_CONNECTION: return "DS_ERR_CONNECTION";
    case DS_ERR_AUTH: return "DS_ERR_AUTH";
    case DS_ERR_NOT_FOUND: return "DS_ERR_NOT_FOUND";
    case DS_ERR_UNSUPPORTED: return "DS_ERR_UNSUPPORTED";
    case DS_ERR_SCHEMA: return "DS_ERR_SCHEMA";
    case DS_ERR_DATA: return "DS_ERR_DATA";
    case DS_ERR_IO: return "DS_ERR_IO";
    case DS_ERR_TIMEOUT: return "DS_ERR_TIMEOUT";
    case DS_ERR_CANCELLED: return "DS_ERR_CANCELLED";
    case DS_ERR_CALLBACK: return "DS_ERR_CALLBACK";
    case DS_ERR_STATE: return "DS_ERR_STATE";
    case DS_ERR_NOMEM: return "DS_ERR_NOMEM";
    case DS_ERR_INTERNAL: return "DS_ERR_INTERNAL";
    default: return "DS_ERR_UNKNOWN";
  }
}

DS_API void ds_free(void *ptr) { std::free(ptr); }

}  // extern "C"
