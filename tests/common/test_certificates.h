// Certificates for the TLS tests, made at test time by Debian's openssl: a CA, a server
// certificate for 127.0.0.1 / localhost and a client certificate, all signed by the CA.
#pragma once

#include <cstdlib>
#include <fstream>
#include <string>

#include "gtest/gtest.h"
#include "tests/common/temp_dir.h"

namespace adanns::testing {

// A temp dir holding ca.pem, server.pem, server.key, client.pem and client.key (a test failure
// when openssl fails; its output is then in openssl.log there). RSA keys take a moment to make:
// one per test suite (SetUpTestSuite) is enough.
class TestCertificates : public TempDir {
 public:
  TestCertificates() {
    std::ofstream(File("server.ext")) << "subjectAltName=IP:127.0.0.1,DNS:localhost\n";
    const std::string script =
        "cd " + path() +
        " && openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 "
        "-subj /CN=adanns-test-ca"
        " && openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr "
        "-subj /CN=localhost"
        " && openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
        "-out server.pem -days 2 -extfile server.ext"
        " && openssl req -newkey rsa:2048 -nodes -keyout client.key -out client.csr "
        "-subj /CN=adanns-test-client"
        " && openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
        "-out client.pem -days 2"
        " > openssl.log 2>&1";
    if (std::system(script.c_str()) != 0) ADD_FAILURE() << "openssl failed; see " << path();
  }

  // The path of `name` (e.g. "ca.pem") in the directory.
  std::string File(const std::string& name) const { return path() + "/" + name; }
};

}  // namespace adanns::testing
