// Schema functions of the C ABI: the type-mapping reference.
#include <cstdlib>
#include <cstring>
#include <new>

#include "internal.hpp"
#include "schema/type_mapping.hpp"

using ds::capi::guard;
using ds::capi::require;

char *ds::capi::malloc_copy(const std::string &text) {
  char *buf = static_cast<char *>(std::malloc(text.size() + 1));
  if (!buf) throw std::bad_alloc();
  std::memcpy(buf, text.c_str(), text.size() + 1);
  return buf;
}

DS_API ds_status ds_type_mapping_reference(char **out, ds_error **err) {
  if (out) *out = nullptr;
  return guard(err, [&] {
    require(out != nullptr, "ds_type_mapping_reference: out is NULL");
    *out = ds::capi::malloc_copy(ds::schema::mapping_markdown());
  });
}
