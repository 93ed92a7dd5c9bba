#include <catch2/catch.hpp>

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "agent/outputs/output_channel.h"
#include "agent/outputs/output_syslog.h"

using namespace scanwatch::agent;

namespace {

std::optional<OutputSpec> parse(const std::string& spec) {
    std::string error;
    auto t = parse_output_spec(spec, error);
    if (!t) UNSCOPED_INFO(error);
    return t;
}

std::string parse_error(const std::string& spec) {
    std::string error;
    const auto t = parse_output_spec(spec, error);
    return t ? std::string("(parsed)") : error;
}

// 2024-05-01T12:34:56.789012Z
std::chrono::system_clock::time_point fixed_time() {
    return std::chrono::system_clock::time_point(std::chrono::seconds(1714566896)) +
           std::chrono::microseconds(789012);
}

// A loopback socket of `type` bound to an ephemeral port; its port in `port`.
int loopback_socket(int type, std::uint16_t& port) {
    const int fd = ::socket(AF_INET, type, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    socklen_t len = sizeof addr;
    REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    port = ntohs(addr.sin_port);
    return fd;
}

std::string receive(int fd) {
    std::array<char, 65536> buf{};
    const ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
    REQUIRE(n > 0);
    return std::string(buf.data(), static_cast<std::size_t>(n));
}

const std::string kAlert =
    R"({"@timestamp":"2024-05-01T12:00:00.000Z","kibana.alert.rule.severity":"high","x":"a \"b\""})";

}  // namespace

TEST_CASE("Syslog spec: the local socket, UDP, TCP and another local socket", "[syslog]") {
    auto t = parse("syslog");
    REQUIRE(t);
    CHECK(t->kind == OutputKind::syslog_local);
    CHECK(t->path == "/dev/log");
    CHECK(t->facility == 10);
    CHECK(t->backlog == kDefaultBacklog);

    t = parse("syslog:udp://127.0.0.1:514");
    REQUIRE(t);
    CHECK(t->kind == OutputKind::syslog_udp);
    CHECK(t->host == "127.0.0.1");
    CHECK(t->port == 514);

    t = parse("syslog:tcp://log.example.org:6514");
    REQUIRE(t);
    CHECK(t->kind == OutputKind::syslog_tcp);
    CHECK(t->host == "log.example.org");
    CHECK(t->port == 6514);

    t = parse("syslog:tcp://[::1]:5514");
    REQUIRE(t);
    CHECK(t->host == "::1");
    CHECK(t->port == 5514);

    t = parse("syslog:unix:///run/rsyslog/other.sock");
    REQUIRE(t);
    CHECK(t->kind == OutputKind::syslog_local);
    CHECK(t->path == "/run/rsyslog/other.sock");
}

TEST_CASE("Syslog spec: facility and backlog options", "[syslog]") {
    auto t = parse("syslog:udp://127.0.0.1:5514?facility=local3");
    REQUIRE(t);
    CHECK(t->facility == 19);
    t = parse("syslog?backlog=5&facility=daemon");
    REQUIRE(t);
    CHECK(t->kind == OutputKind::syslog_local);
    CHECK(t->backlog == 5);
    CHECK(t->facility == 3);
    t = parse("syslog:tcp://h:1?backlog=0");
    REQUIRE(t);
    CHECK(t->backlog == 0);
}

TEST_CASE("Syslog spec: what is wrong is named", "[syslog]") {
    CHECK(parse_error("syslog:udp://127.0.0.1") ==
          "'syslog:udp://127.0.0.1': '127.0.0.1' has no port (HOST:PORT)");
    CHECK(parse_error("syslog:udp://:514") == "'syslog:udp://:514': ':514' has no host");
    CHECK(parse_error("syslog:tcp://h:0") == "'syslog:tcp://h:0': '0' is not a port (1-65535)");
    CHECK(parse_error("syslog:tcp://h:65536") ==
          "'syslog:tcp://h:65536': '65536' is not a port (1-65535)");
    CHECK(parse_error("syslog:tcp://h:51x") ==
          "'syslog:tcp://h:51x': '51x' is not a port (1-65535)");
    CHECK(parse_error("syslog:tcp://::1:514").find("brackets") != std::string::npos);
    CHECK(parse_error("syslog:tcp://[::1]514").find("[IPV6]:PORT") != std::string::npos);
    CHECK(parse_error("syslog:http://h:1").find(":udp://HOST:PORT") != std::string::npos);
    CHECK(parse_error("syslog:unix://relative").find("absolute") != std::string::npos);
    CHECK(parse_error("syslog:unix:///" + std::string(200, 'x')).find("shorter than") !=
          std::string::npos);
    CHECK(parse_error("syslog?facility=mars").find("unknown syslog facility 'mars'") !=
          std::string::npos);
    CHECK(parse_error("syslog?backlog=-1").find("backlog must be") != std::string::npos);
    CHECK(parse_error("syslog?backlog=").find("backlog must be") != std::string::npos);
    CHECK(parse_error("syslog?level=3") == "unknown syslog option 'level' (facility, backlog)");
}

TEST_CASE("Output spec: --output accepts -, file:PATH and the syslog forms", "[syslog][outputs]") {
    auto t = parse("-");
    REQUIRE(t);
    CHECK(t->kind == OutputKind::stdout_);
    CHECK(t->text == "-");
    t = parse("file:/var/log/scanwatch/alerts.ndjson");
    REQUIRE(t);
    CHECK(t->kind == OutputKind::file);
    CHECK(t->path == "/var/log/scanwatch/alerts.ndjson");
    CHECK(t->text == "file:/var/log/scanwatch/alerts.ndjson");
    t = parse("syslog:udp://127.0.0.1:514?facility=local0");
    REQUIRE(t);
    CHECK(t->text == "syslog:udp://127.0.0.1:514?facility=local0");
    CHECK(parse_error("file:") == "file: needs a path (file:PATH)");
    CHECK(parse_error("alerts.ndjson").find("not 'alerts.ndjson'") != std::string::npos);
    CHECK(parse_error("syslog:") != "(parsed)");
    CHECK(parse_error("sys").find("not 'sys'") != std::string::npos);
}

TEST_CASE("Output spec: --events takes -, file:PATH or a plain path, never syslog",
          "[syslog][outputs]") {
    std::string error;
    auto t = parse_events_spec("file:/tmp/events.ndjson", error);
    REQUIRE(t);
    CHECK(t->kind == OutputKind::file);
    CHECK(t->path == "/tmp/events.ndjson");  // the prefix is stripped for every user
    CHECK(t->text == "file:/tmp/events.ndjson");
    t = parse_events_spec("events.ndjson", error);
    REQUIRE(t);
    CHECK(t->path == "events.ndjson");
    t = parse_events_spec("-", error);
    REQUIRE(t);
    CHECK(t->kind == OutputKind::stdout_);
    CHECK(!parse_events_spec("syslog", error));
    CHECK(error.find("alerts only") != std::string::npos);
    CHECK(!parse_events_spec("syslog:udp://127.0.0.1:514", error));
    CHECK(error.find("alerts only") != std::string::npos);
    CHECK(!parse_events_spec("file:", error));
}

TEST_CASE("Syslog: facility names and codes (RFC 5424 6.2.1)", "[syslog]") {
    CHECK(syslog_facility("kern") == 0);
    CHECK(syslog_facility("daemon") == 3);
    CHECK(syslog_facility("auth") == 4);
    CHECK(syslog_facility("authpriv") == 10);
    CHECK(syslog_facility("local0") == 16);
    CHECK(syslog_facility("local7") == 23);
    CHECK(!syslog_facility("local8"));
    CHECK(!syslog_facility("AUTHPRIV"));
}

TEST_CASE("Syslog: rule severity to syslog severity, and PRI", "[syslog]") {
    CHECK(syslog_severity("low") == 5);
    CHECK(syslog_severity("medium") == 4);
    CHECK(syslog_severity("high") == 3);
    CHECK(syslog_severity("critical") == 2);
    CHECK(syslog_severity("") == 4);
    CHECK(syslog_severity("bogus") == 4);
    CHECK(syslog_pri(10, 4) == 84);   // authpriv.warning
    CHECK(syslog_pri(19, 2) == 154);  // local3.crit
    CHECK(syslog_pri(0, 0) == 0);
    CHECK(syslog_pri(23, 7) == 191);
}

TEST_CASE("Syslog: the rule severity is read from the alert line, and cannot be faked",
          "[syslog]") {
    CHECK(alert_rule_severity(kAlert) == "high");
    CHECK(alert_rule_severity(R"({"kibana.alert.rule.severity":"critical"})") == "critical");
    CHECK(alert_rule_severity(R"({"a":1})").empty());
    // A command line that contains the key is a JSON string: its quotes are escaped.
    CHECK(
        alert_rule_severity(
            R"({"args":["\"kibana.alert.rule.severity\":\"low\""],"kibana.alert.rule.severity":"medium"})") ==
        "medium");
    CHECK(alert_rule_severity(R"({"kibana.alert.rule.severity":"unterminated)").empty());
}

TEST_CASE("Syslog: RFC 5424 header", "[syslog]") {
    CHECK(format_rfc5424(84, fixed_time(), "web-1.example.org", 4242, "{}") ==
          "<84>1 2024-05-01T12:34:56.789012Z web-1.example.org scanwatch 4242 - - {}");
    // HOSTNAME is PRINTUSASCII and never empty.
    CHECK(format_rfc5424(0, fixed_time(), "", 1, "m") ==
          "<0>1 2024-05-01T12:34:56.789012Z - scanwatch 1 - - m");
    CHECK(format_rfc5424(0, fixed_time(), "a b\tc\xc3\xa9", 1, "m") ==
          "<0>1 2024-05-01T12:34:56.789012Z a_b_c__ scanwatch 1 - - m");
    CHECK(format_rfc5424(0, std::chrono::system_clock::time_point(std::chrono::seconds(0)), "h", 1,
                         "m") == "<0>1 1970-01-01T00:00:00.000000Z h scanwatch 1 - - m");
}

TEST_CASE("Syslog: the local socket gets syslog(3)'s format, in local time", "[syslog]") {
    const std::time_t secs = std::chrono::system_clock::to_time_t(fixed_time());
    std::tm tm{};
    localtime_r(&secs, &tm);
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%b %e %H:%M:%S", &tm);
    CHECK(format_local(84, fixed_time(), 4242, "{}") ==
          fmt::format("<84>{} scanwatch[4242]: {{}}", stamp));
}

TEST_CASE("Syslog: RFC 6587 octet counting counts bytes", "[syslog]") {
    CHECK(frame_octet_counted("hello") == "5 hello");
    CHECK(frame_octet_counted("") == "0 ");
    CHECK(frame_octet_counted("caf\xc3\xa9") == "5 caf\xc3\xa9");
    CHECK(frame_octet_counted(std::string(1000, 'x')).substr(0, 5) == "1000 ");
}

TEST_CASE("Syslog: one alert is one UDP datagram", "[syslog][net]") {
    std::uint16_t port = 0;
    const int server = loopback_socket(SOCK_DGRAM, port);
    SyslogOutput out(*parse(fmt::format("syslog:udp://127.0.0.1:{}?facility=local3", port)),
                     "h", 7);
    std::string error;
    REQUIRE(out.write(kAlert, fixed_time(), error) == WriteResult::ok);
    CHECK(out.flush(error));  // not refused
    CHECK(receive(server) == "<155>1 2024-05-01T12:34:56.789012Z h scanwatch 7 - - " + kAlert);
    ::close(server);
}

TEST_CASE("Syslog: a UDP port nobody listens on is a refusal, noticed at once", "[syslog][net]") {
    std::uint16_t port = 0;
    ::close(loopback_socket(SOCK_DGRAM, port));
    SyslogOutput out(*parse(fmt::format("syslog:udp://127.0.0.1:{}", port)), "h", 7);
    std::string error;
    // The datagram leaves; the port-unreachable comes back before send() returns on loopback.
    const auto first = out.write(kAlert, fixed_time(), error);
    const bool refused = first == WriteResult::failed || !out.flush(error);
    CHECK(refused);
    CHECK(error.find("refused") != std::string::npos);
    // A refusal noticed late holds the datagram to send again; one noticed at once is not taken.
    CHECK(out.unwritten_lines() == (first == WriteResult::ok ? 1U : 0U));
}

TEST_CASE("Syslog: TCP frames each alert with its length, and reconnects", "[syslog][net]") {
    std::uint16_t port = 0;
    const int server = loopback_socket(SOCK_STREAM, port);
    REQUIRE(::listen(server, 4) == 0);
    SyslogOutput out(*parse(fmt::format("syslog:tcp://127.0.0.1:{}", port)), "h", 7);
    std::string error;
    REQUIRE(out.write(kAlert, fixed_time(), error) == WriteResult::ok);
    REQUIRE(out.write("{}", fixed_time(), error) == WriteResult::ok);
    int conn = ::accept(server, nullptr, nullptr);
    REQUIRE(conn >= 0);
    const std::string first = "<83>1 2024-05-01T12:34:56.789012Z h scanwatch 7 - - " + kAlert;
    const std::string second = "<84>1 2024-05-01T12:34:56.789012Z h scanwatch 7 - - {}";
    const std::string expected =
        fmt::format("{} {}{} {}", first.size(), first, second.size(), second);
    std::string got;
    while (got.size() < expected.size()) got += receive(conn);
    CHECK(got == expected);

    // The receiver goes away: seen before the next write, which reconnects.
    ::close(conn);
    REQUIRE(out.write("{}", fixed_time(), error) == WriteResult::ok);
    conn = ::accept(server, nullptr, nullptr);
    REQUIRE(conn >= 0);
    CHECK(receive(conn) == fmt::format("{} {}", second.size(), second));
    ::close(conn);
    ::close(server);

    // Nobody listens any more: the write fails and says why.
    CHECK(out.write("{}", fixed_time(), error) == WriteResult::failed);
    CHECK(error.find("cannot connect") != std::string::npos);
}

namespace {

// A datagram socket bound at `path`, as a syslog daemon's /dev/log.
int bind_local(const std::string& path) {
    std::filesystem::remove(path);
    const int fd = ::socket(AF_UNIX, SOCK_DGRAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    return fd;
}

}  // namespace

TEST_CASE("Syslog: a local datagram socket gets the syslog(3) format", "[syslog][net]") {
    const auto path =
        (std::filesystem::temp_directory_path() / fmt::format("scanwatch-log-{}", ::getpid()))
            .string();
    int server = bind_local(path);
    SyslogOutput out(*parse("syslog:unix://" + path), "h", 7);
    std::string error;
    REQUIRE(out.write(kAlert, fixed_time(), error) == WriteResult::ok);
    CHECK(receive(server) == format_local(83, fixed_time(), 7, kAlert));  // authpriv.err
    ::close(server);

    // The daemon restarted: a new socket at the same path gets the next line at once.
    server = bind_local(path);
    CHECK(out.write("{}", fixed_time(), error) == WriteResult::ok);
    CHECK(receive(server) == format_local(84, fixed_time(), 7, "{}"));
    ::close(server);

    // It is gone.
    std::filesystem::remove(path);
    CHECK(out.write(kAlert, fixed_time(), error) == WriteResult::failed);
    CHECK(error == "cannot connect: No such file or directory");
}

TEST_CASE("Syslog: a TCP receiver that accepts and never reads holds the exit no longer than "
          "the grace", "[syslog][net][outputs]") {
    // Issue 21: each stalled send blocked 5 s, retries went on: 44 s from SIGTERM to exit.
    std::uint16_t port = 0;
    const int server = loopback_socket(SOCK_STREAM, port);
    REQUIRE(::listen(server, 16) == 0);  // the kernel accepts; nobody ever reads
    std::vector<std::unique_ptr<Output>> outputs;
    outputs.push_back(make_output(*parse(fmt::format("syslog:tcp://127.0.0.1:{}", port))));
    const auto grace = std::chrono::milliseconds(1000);
    OutputWriter writer(std::move(outputs), true, {}, 65536, grace);
    const std::string big(16 * 1024, 'x');
    for (int i = 0; i < 4000; ++i) writer.submit("{\"a\":\"" + big + "\"}");  // 64 MB: stalls
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // a send is now stalled
    const auto start = std::chrono::steady_clock::now();
    writer.close();
    const auto took = std::chrono::steady_clock::now() - start;
    CHECK(took < grace + std::chrono::milliseconds(400));
    const OutputCounts counts = writer.counts()[0];
    CHECK(counts.written > 0);
    CHECK(counts.lost > 0);
    CHECK(counts.written + counts.lost == 4000);
    ::close(server);
}
