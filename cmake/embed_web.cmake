# Writes a C++ source that holds every file under WEB_DIR as bytes, for the server to serve
# the chat and dashboard pages with no files beside the binary (server/web_assets.h).
# Run at build time by the custom command in CMakeLists.txt:
#   cmake -DWEB_DIR=... -DOUT=... -P embed_web.cmake
file(GLOB_RECURSE files RELATIVE ${WEB_DIR} ${WEB_DIR}/*)
list(SORT files)
set(arrays "")
set(entries "")
set(i 0)
foreach(f ${files})
  file(READ ${WEB_DIR}/${f} hex HEX)
  string(LENGTH "${hex}" n)
  math(EXPR n "${n} / 2")
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
  string(APPEND arrays "const unsigned char k${i}[] = {${bytes}0};\n")
  string(APPEND entries "      {\"${f}\", std::string_view(reinterpret_cast<const char*>(k${i}), ${n})},\n")
  math(EXPR i "${i} + 1")
endforeach()
set(content "// Generated from web/ by cmake/embed_web.cmake: do not edit.
#include \"server/web_assets.h\"

namespace nagare {
namespace {
${arrays}}  // namespace

const std::vector<WebAsset>& web_assets() {
  static const std::vector<WebAsset> assets = {
${entries}  };
  return assets;
}

}  // namespace nagare
")
# Rewritten only when it changes, so an unchanged web/ rebuilds nothing.
set(old "")
if(EXISTS ${OUT})
  file(READ ${OUT} old)
endif()
if(NOT old STREQUAL content)
  file(WRITE ${OUT} "${content}")
endif()
