// The row type every room shares: a collection's vectors are addressed by their external uint64
// ids on the wire and in storage, and by dense internal rows (RowId) in memory.
#pragma once

#include <cstdint>

namespace adanns {

// Dense internal row number of a vector in a collection's table. Never exposed outside the server.
using RowId = uint32_t;

}  // namespace adanns
