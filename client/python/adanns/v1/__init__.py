"""Generated stubs of the adanns.v1 contract (proto/adanns/v1/adanns.proto); do not edit.

Regenerate with `cmake --build build --target adanns_python_stubs_update`; the ctest
python_stubs_match_proto fails when these differ from what the build generates.
"""
