"""C++ functions built as the official image builds them (issue 13): libcurl linked into every
function, the function's own CMakeLists.txt appended to the runtime's CMake project, and the
language standard of the runtime id (`-std=c++17` for cpp-17, `-std=c++20` for cpp-20, no GNU
extensions). Deployed through the API on a real server with the local executor; the functions
report what they computed (a body fetched with libcurl from a server this test runs on
127.0.0.1, `__cplusplus`, a definition only the CMakeLists.txt sets)."""
from __future__ import annotations

import http.server
import json
import secrets
import shutil
import threading
from pathlib import Path

import pytest

from emulator.languages import language_for_runtime
from support import JsonApi, archive_bytes, require_toolchain, wait_for

PROJECT = "cppcmake"

# Fetches the URL in x-url with libcurl (in fetch.cc: a second source the CMakeLists.txt adds when
# there is one), and says which standard it was compiled as.
INDEX = """
#include "../RuntimeResponse.h"
#include "../RuntimeRequest.h"
#include "../RuntimeOutput.h"
#include "../RuntimeContext.h"

#include <curl/curl.h>
#include <string>
%(fetch_include)s

#ifndef GREETING
#define GREETING "none"
#endif

namespace runtime {
class Handler {
 public:
  static RuntimeOutput main(RuntimeContext &context) {
    Json::Value out(Json::objectValue);
    std::string url = context.req.headers.get("x-url", "").asString();
    long status = 0;
    out["body"] = fetch(url, &status);
    out["status"] = static_cast<Json::Int64>(status);
    out["curl"] = curl_version();
    out["cplusplus"] = static_cast<Json::Int64>(__cplusplus);
#ifdef __STRICT_ANSI__
    out["strict"] = true;
#else
    out["strict"] = false;
#endif
    out["greeting"] = GREETING;
    return context.res.json(out);
  }
%(fetch_inline)s
};
}  // namespace runtime
"""

FETCH_BODY = """
  static size_t collect(char *data, size_t size, size_t count, void *into) {
    static_cast<std::string *>(into)->append(data, size * count);
    return size * count;
  }
  static std::string fetch(const std::string &url, long *status) {
    std::string body;
    CURL *curl = curl_easy_init();
    if (curl == nullptr) return "curl_easy_init failed";
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
    CURLcode code = curl_easy_perform(curl);
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, status);
    curl_easy_cleanup(curl);
    return code == CURLE_OK ? body : std::string("curl error: ") + curl_easy_strerror(code);
  }
"""

FETCH_H = """
#pragma once
#include <string>
namespace fetcher {
std::string fetch(const std::string &url, long *status);
}
"""

FETCH_CC = """
#include "fetch.h"
#include <curl/curl.h>
namespace fetcher {
namespace {
""" + FETCH_BODY.replace("static ", "", 2) + """
}  // namespace
std::string fetch_impl(const std::string &url, long *status) { return fetch(url, status); }
}  // namespace fetcher
"""

# The function's CMakeLists.txt, as a user writes it for the official build: it adds to the
# runtime's target (${PROJECT_NAME}) with paths relative to the project, where the function's
# files are under src/ (its lib/fetch.cc is src/lib/fetch.cc there).
CMAKE_LISTS = """
target_sources(${PROJECT_NAME} PRIVATE src/lib/fetch.cc)
target_include_directories(${PROJECT_NAME} PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/src/lib)
target_compile_definitions(${PROJECT_NAME} PRIVATE GREETING="from-cmake")
find_package(CURL REQUIRED)
target_link_libraries(${PROJECT_NAME} PRIVATE CURL::libcurl)
"""


def single_file_function() -> dict[str, str]:
    return {"src/index.cc": INDEX % {"fetch_include": "", "fetch_inline": FETCH_BODY}}


def cmake_function() -> dict[str, str]:
    # fetch.cc defines fetcher::fetch_impl; the handler calls it through a declaration in fetch.h.
    header = FETCH_H.replace("std::string fetch(", "std::string fetch_impl(")
    index = INDEX % {"fetch_include": '#include "fetch.h"',
                     "fetch_inline": "  static std::string fetch(const std::string &url, long *status) {\n"
                                     "    return fetcher::fetch_impl(url, status);\n  }\n"}
    return {"src/index.cc": index, "lib/fetch.h": header, "lib/fetch.cc": FETCH_CC,
            "CMakeLists.txt": CMAKE_LISTS}


@pytest.fixture
def token_server():
    """An HTTP server on 127.0.0.1 answering a random token; records the paths it was asked for."""
    token = secrets.token_hex(8)
    seen: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            seen.append(self.path)
            body = f"token {token} for {self.path}".encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", token, seen
    httpd.shutdown()
    httpd.server_close()


def require_cpp(cmake: bool = False) -> None:
    toolchain = language_for_runtime("cpp-20").toolchain()
    if not toolchain.available:
        require_toolchain("cpp", toolchain.hint)
    if cmake and shutil.which("cmake") is None:
        require_toolchain("cmake", "cmake not found. Install: apt-get install -y cmake")


def run(api: JsonApi, function_id: str, url: str) -> dict:
    doc = api.ok("POST", f"/functions/{function_id}/executions",
                 {"path": "/", "method": "GET", "headers": {"x-url": url}}, timeout=120)
    assert doc["status"] == "completed" and doc["responseStatusCode"] == 200, doc
    return json.loads(doc["responseBody"])


def build_dir(data_dir: Path, function_id: str, deployment_id: str) -> Path:
    return data_dir / "projects" / PROJECT / "functions" / function_id / "deployments" / deployment_id / "build"


def test_function_cmakelists_builds_with_libcurl(server_factory, token_server):
    """cpp-17: the CMake project takes the runtime's standard, not the newest one (cpp-20's is
    checked on the g++ path below, which gets the same standard from the same place)."""
    require_cpp(cmake=True)
    url, token, seen = token_server
    srv = server_factory()
    api = JsonApi(srv.endpoint, PROJECT)
    fid, standard = "cmake-fn", 201703
    dep = api.deploy(fid, cmake_function(), entrypoint="src/index.cc", runtime="cpp-17", wait=600)
    assert "with CMake (C++17, the function's CMakeLists.txt appended)" in dep["buildLogs"], dep["buildLogs"]

    out = run(api, fid, f"{url}/from-{fid}")
    # Computed by the function: fetched through libcurl from this test's server, which saw the call.
    assert out["body"] == f"token {token} for /from-{fid}" and out["status"] == 200, out
    assert f"/from-{fid}" in seen
    assert out["curl"].startswith("libcurl/"), out
    assert out["greeting"] == "from-cmake", out  # only the function's CMakeLists.txt defines it
    assert out["cplusplus"] == standard and out["strict"] is True, out  # CMAKE_CXX_EXTENSIONS OFF

    # The runtime's CMake project was a build-time scaffold: only the binary stays.
    build = build_dir(srv.data_dir, fid, dep["$id"])
    assert (build / "cpp_runtime").is_file()
    assert not (build / ".cpp-cmake").exists() and not (build / ".cpp-cmake").is_symlink()


def test_standard_follows_the_runtime_and_curl_is_linked_by_default(server_factory, token_server):
    """No CMakeLists.txt: g++ directly, still -std=c++17 / -std=c++20 and libcurl."""
    require_cpp()
    url, token, seen = token_server
    srv = server_factory()
    api = JsonApi(srv.endpoint, PROJECT)
    for runtime, standard in (("cpp-17", 201703), ("cpp-20.0", 202002)):
        fid = f"plain-{runtime.replace('-', '').replace('.', '')}"
        dep = api.deploy(fid, single_file_function(), entrypoint="src/index.cc", runtime=runtime, wait=600)
        assert f"-std=c++{standard // 100 % 100}" in dep["buildLogs"], dep["buildLogs"]
        out = run(api, fid, f"{url}/{fid}")
        assert out["body"] == f"token {token} for /{fid}", out
        assert out["cplusplus"] == standard and out["strict"] is True and out["greeting"] == "none", out
    assert len(seen) == 2


def test_broken_cmakelists_fails_the_build_with_cmake_s_message(server_factory):
    require_cpp(cmake=True)
    srv = server_factory()
    api = JsonApi(srv.endpoint, PROJECT)
    api.ok("POST", "/functions", {"functionId": "broken", "name": "broken", "runtime": "cpp-20",
                                  "entrypoint": "src/index.cc"})
    # Fails while configuring (before the long compile): a package no machine has.
    files = {**single_file_function(), "CMakeLists.txt": "find_package(NoSuchPackageXyz REQUIRED)\n"}
    dep_id = api.upload_ok("broken", archive_bytes(files))["$id"]

    def ended():
        dep = api.ok("GET", f"/functions/broken/deployments/{dep_id}")
        return dep if dep["status"] in ("failed", "ready") else None

    dep = wait_for(ended, timeout=600, message="the build to end")
    assert dep["status"] == "failed", dep["buildLogs"]
    assert "NoSuchPackageXyz" in dep["buildLogs"], dep["buildLogs"]
    assert not (build_dir(srv.data_dir, "broken", dep_id) / ".cpp-cmake").exists()
