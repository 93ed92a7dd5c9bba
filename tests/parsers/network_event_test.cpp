#include <catch2/catch.hpp>

#include <string>

#include "parsers/auparse_feed.h"
#include "parsers/execve_normalizer.h"
#include "parsers/process_table.h"
#include "parsers/record_filter.h"

using scanwatch::EventKind;
using scanwatch::ProcessEvent;

namespace {

struct Result {
    std::vector<ProcessEvent> events;
    scanwatch::parsers::FilterCounters filter;
    scanwatch::parsers::NormalizerCounters normalizer;
};

Result normalize(const std::string& text, bool pass_network = true) {
    Result out;
    scanwatch::parsers::NormalizerOptions options;
    options.host_id = "test-host-id";
    options.host_name = "test-host";
    scanwatch::parsers::ExecveNormalizer normalizer(
        options, [&](const ProcessEvent& e) { out.events.push_back(e); });
    scanwatch::parsers::AuparseFeed feed([&](auparse_state_t* au) { normalizer.on_event(au); });
    scanwatch::parsers::RecordFilter filter([&](std::string_view r) { feed.feed(r); }, {});
    filter.pass_network(pass_network);
    filter.feed(text);
    filter.finish();
    feed.flush();
    out.filter = filter.counters();
    out.normalizer = normalizer.counters();
    return out;
}

std::string stamp(int serial) {
    return "msg=audit(1700000000." + std::to_string(100 + serial) + ":" + std::to_string(serial) +
           "): ";
}

// A RAW syscall event as auditd 3.0 writes it: SYSCALL, optional SOCKADDR, PROCTITLE, EOE.
std::string syscall_event(int serial, const std::string& head, const std::string& saddr,
                          int pid = 300, const std::string& comm = "nc") {
    std::string s = "type=SYSCALL " + stamp(serial) + head +
                    " a3=0 items=0 ppid=200 pid=" + std::to_string(pid) +
                    " auid=1000 uid=1000 gid=1000 euid=1000 suid=1000 fsuid=1000 egid=1000 "
                    "sgid=1000 fsgid=1000 tty=pts0 ses=7 comm=\"" + comm +
                    "\" exe=\"/usr/bin/nc.openbsd\" subj=unconfined key=\"scanwatch-net\"\n";
    if (!saddr.empty()) s += "type=SOCKADDR " + stamp(serial) + "saddr=" + saddr + "\n";
    s += "type=PROCTITLE " + stamp(serial) + "proctitle=6E63\n";
    s += "type=EOE " + stamp(serial) + "\n";
    return s;
}

std::string connect_event(int serial, const std::string& saddr, const std::string& result,
                          const std::string& fd = "3", int pid = 300) {
    return syscall_event(serial,
                         "arch=c000003e syscall=42 " + result + " a0=" + fd + " a1=7ffc a2=10",
                         saddr, pid);
}

}  // namespace

TEST_CASE("Network: an IPv4 connect becomes a connected-to event", "[normalizer][network]") {
    const auto r = normalize(
        syscall_event(1, "arch=c000003e syscall=41 success=yes exit=3 a0=2 a1=1 a2=0", "") +
        connect_event(2, "020000167F0000010000000000000000", "success=no exit=-111"));
    REQUIRE(r.events.size() == 1);
    const ProcessEvent& e = r.events[0];
    CHECK(e.kind == EventKind::connect);
    CHECK(e.syscall == "connect");
    CHECK(e.network.destination_ip == "127.0.0.1");
    CHECK(e.network.destination_port == 22);
    CHECK(e.network.type == "ipv4");
    CHECK(e.network.transport == "tcp");  // from the socket() before it, same pid and fd
    CHECK(e.network.outcome == "failure");
    CHECK(e.network.exit == -111);
    CHECK(e.pid == 300);
    CHECK(e.session == "7");
    CHECK(e.entity_id == scanwatch::parsers::entity_id_for("test-host-id", 300, "1700000000.102:2"));
    CHECK(r.normalizer.connects == 1);
    CHECK(r.normalizer.sockets_tracked == 1);
}

TEST_CASE("Network: outcomes, IPv6, IPv4-mapped, other families", "[normalizer][network]") {
    const auto r = normalize(
        connect_event(1, "0A0000500000000020010DB8000000000000000000000001" "00000000",
                      "success=no exit=-115") +
        connect_event(2, "0A0001BB0000000000000000000000000000FFFFC0A80001" "00000000",
                      "success=yes exit=0") +
        connect_event(3, "01002F72756E2F73797374656D642F6A6F75726E616C", "success=yes exit=0") +
        connect_event(4, "100000000000000000000000", "success=yes exit=0") +
        connect_event(5, "", "success=no exit=-14"));
    REQUIRE(r.events.size() == 2);
    CHECK(r.events[0].network.destination_ip == "2001:db8::1");
    CHECK(r.events[0].network.destination_port == 80);
    CHECK(r.events[0].network.type == "ipv6");
    CHECK(r.events[0].network.outcome == "unknown");  // EINPROGRESS: an attempt
    CHECK(r.events[0].network.transport.empty());      // its socket() was not seen
    CHECK(r.events[1].network.destination_ip == "192.168.0.1");
    CHECK(r.events[1].network.destination_port == 443);
    CHECK(r.events[1].network.type == "ipv4");
    CHECK(r.events[1].network.outcome == "success");
    CHECK(r.filter.sockaddrs_other_family == 2);  // unix, netlink: skipped before auparse
    CHECK(r.normalizer.connects_without_address == 3);
    CHECK(r.normalizer.connects == 2);
}

TEST_CASE("Network: raw and packet sockets are events, unix sockets are skipped",
          "[normalizer][network]") {
    const auto r = normalize(
        syscall_event(1, "arch=c000003e syscall=41 success=yes exit=4 a0=2 a1=3 a2=ff", "", 400, "nmap") +
        syscall_event(2, "arch=c000003e syscall=41 success=yes exit=5 a0=11 a1=3 a2=0", "", 400, "nmap") +
        syscall_event(3, "arch=c000003e syscall=41 success=yes exit=6 a0=2 a1=80002 a2=0", "", 400, "nmap") +
        syscall_event(4, "arch=c000003e syscall=41 success=yes exit=7 a0=1 a1=1 a2=0", "", 400, "nmap") +
        syscall_event(5, "arch=c000003e syscall=41 success=no exit=-1 a0=2 a1=3 a2=6", "", 401, "hping3"));
    REQUIRE(r.events.size() == 3);
    CHECK(r.events[0].kind == EventKind::socket);
    CHECK(r.events[0].network.socket_family == "inet");
    CHECK(r.events[0].network.socket_type == "raw");
    CHECK(r.events[1].network.socket_family == "packet");
    CHECK(r.events[1].network.socket_type == "raw");
    CHECK(r.events[2].network.transport == "tcp");  // a raw socket for hand-made TCP
    CHECK(r.events[2].network.outcome == "failure");
    CHECK(r.filter.sockets_other_family == 1);
    CHECK(r.normalizer.raw_sockets == 3);
    CHECK(r.normalizer.sockets_tracked == 3);  // the dgram one too, for its connects
}

TEST_CASE("Network: a connect carries the process of the exec that started it",
          "[normalizer][network]") {
    const std::string exec =
        "type=SYSCALL " + stamp(1) +
        "arch=c000003e syscall=59 success=yes exit=0 a0=1 a1=2 a2=3 a3=0 items=1 ppid=200 pid=300 "
        "auid=1000 uid=1000 gid=1000 euid=1000 suid=1000 fsuid=1000 egid=1000 sgid=1000 "
        "fsgid=1000 tty=pts0 ses=7 comm=\"nc\" exe=\"/usr/bin/nc.openbsd\" key=(null)\n"
        "type=EXECVE " + stamp(1) + "argc=3 a0=\"nc\" a1=\"-z\" a2=\"127.0.0.1\"\n" +
        "type=EOE " + stamp(1) + "\n";
    const auto r = normalize(exec + connect_event(2, "020000167F0000010000000000000000",
                                                  "success=no exit=-111"));
    REQUIRE(r.events.size() == 2);
    CHECK(r.events[1].entity_id == r.events[0].entity_id);
    CHECK(r.events[1].parent_entity_id == r.events[0].parent_entity_id);
    CHECK(r.events[1].args == std::vector<std::string>{"nc", "-z", "127.0.0.1"});
}

TEST_CASE("Network: without pass_network, network records never reach auparse",
          "[normalizer][network]") {
    const auto r = normalize(connect_event(1, "020000167F0000010000000000000000", "success=no exit=-111"),
                             false);
    CHECK(r.events.empty());
    CHECK(r.filter.network_syscalls == 0);
    // Its PROCTITLE and EOE are skipped with it, as for any other syscall.
    CHECK(r.filter.records_fed == 0);
    CHECK(r.filter.records_of_skipped_events == 2);
}

TEST_CASE("Network: damaged connect and socket records are counted, never a crash",
          "[normalizer][network]") {
    const std::string long_hex(20000, 'A');
    const auto r = normalize(
        connect_event(1, "02", "success=no exit=-111") +                       // too short
        connect_event(2, "0200001", "success=no exit=-111") +                  // odd length
        connect_event(3, "0200ZZ167F000001", "success=no exit=-111") +         // not hex
        connect_event(4, "0A00" + long_hex, "success=no exit=-111") +          // huge
        connect_event(5, "020000167F000001", "success=no exit=oops") +         // bad exit
        connect_event(6, "020000167F000001", "success=yes exit=0", "zz") +     // bad fd
        syscall_event(7, "arch=c000003e syscall=41 success=yes exit=3 a1=3 a2=0", "") +  // no a0
        syscall_event(8, "arch=c000003e syscall=41 success=yes exit=3 a0=2 a1=zz a2=0", ""));
    // 4 reads the first 28 bytes as an IPv6 address; 5 and 6 have a whole address.
    REQUIRE(r.events.size() == 3);
    CHECK(r.events[0].network.destination_ip == "aaaa:aaaa:aaaa:aaaa:aaaa:aaaa:aaaa:aaaa");
    CHECK(r.events[1].network.outcome == "failure");
    CHECK(r.events[1].network.exit == 0);  // unknown
    CHECK(r.events[2].network.transport.empty());
    CHECK(r.normalizer.connects_without_address == 3);
    CHECK(r.normalizer.bad_fields == 2);  // the non-hex address, socket's a1
    CHECK(r.filter.sockets_other_family == 1);  // socket() without a0
    CHECK(r.normalizer.raw_sockets == 0);
}

TEST_CASE("Network: i386 socketcall(2) socket and connect, arguments from SOCKETCALL",
          "[normalizer][network]") {
    const auto i386 = [](int serial, const std::string& head, const std::string& socketcall,
                         const std::string& saddr) {
        std::string s = "type=SYSCALL " + stamp(serial) + "arch=40000003 syscall=102 " + head +
                        " a2=0 a3=0 items=0 ppid=200 pid=500 auid=1000 uid=1000 gid=1000 "
                        "euid=1000 suid=1000 fsuid=1000 egid=1000 sgid=1000 fsgid=1000 tty=pts0 "
                        "ses=7 comm=\"scan32\" exe=\"/opt/scan32\" key=\"scanwatch-net\"\n";
        s += "type=SOCKETCALL " + stamp(serial) + "nargs=3 " + socketcall + "\n";
        if (!saddr.empty()) s += "type=SOCKADDR " + stamp(serial) + "saddr=" + saddr + "\n";
        s += "type=EOE " + stamp(serial) + "\n";
        return s;
    };
    const auto r = normalize(
        i386(1, "success=yes exit=3 a0=1 a1=ffe0", "a0=2 a1=1 a2=0", "") +
        i386(2, "success=no exit=-111 a0=3 a1=ffe0", "a0=3 a1=ffd0 a2=10",
             "020000167F0000010000000000000000") +
        i386(3, "success=yes exit=4 a0=1 a1=ffe0", "a0=2 a1=3 a2=6", "") +
        i386(4, "success=yes exit=0 a0=9 a1=ffe0", "a0=4 a1=ffd0 a2=0", ""));  // sendto: not ours
    REQUIRE(r.events.size() == 2);
    CHECK(r.events[0].kind == EventKind::connect);
    CHECK(r.events[0].network.destination_ip == "127.0.0.1");
    CHECK(r.events[0].network.destination_port == 22);
    CHECK(r.events[0].network.transport == "tcp");  // socket() through socketcall, same fd
    CHECK(r.events[0].arch == "i386");
    CHECK(r.events[1].kind == EventKind::socket);
    CHECK(r.events[1].network.socket_type == "raw");
    CHECK(r.events[1].network.transport == "tcp");
    CHECK(r.filter.network_syscalls == 3);
}
