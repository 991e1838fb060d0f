# Writes OUT: the proto3 file IN as proto2, every field `optional`.
#
# Debian 12's protoc-c (1.4.1) refuses proto3 `optional` ("code generator
# --c_out hasn't been updated to support optional fields in proto3"). On the
# wire a proto3 field is a proto2 optional field with the same number and
# type, so the C code is generated from this twin; the installed .proto stays
# the proto3 file as written, and a client generated from it (tests) proves the
# two agree.
file(READ ${IN} text)
string(REPLACE "syntax = \"proto3\";" "syntax = \"proto2\";" text "${text}")
string(REGEX REPLACE "\n  (string|bytes|double|uint32|bool) " "\n  optional \\1 " text "${text}")
file(WRITE ${OUT} "${text}")
