#include <catch2/catch.hpp>

#include <string>
#include <variant>
#include <vector>

#include "rules/engines/engine.h"
#include "rules/event_fields.h"
#include "rules/index/rule_index.h"
#include "rules/query/eql/eql.h"
#include "rules/query/query.h"

using scanwatch::EventKind;
using scanwatch::ProcessEvent;
using namespace scanwatch::rules;

namespace {

FieldCatalog& catalog() {
    static FieldCatalog c;
    return c;
}

Query kql(const std::string& text) {
    auto r = Query::parse(text, catalog().resolver());
    if (auto* e = std::get_if<QueryError>(&r)) FAIL(text << ": " << e->message);
    return std::get<Query>(std::move(r));
}

Query eql(const std::string& text) {
    auto r = parse_eql(text, catalog().resolver());
    if (auto* e = std::get_if<QueryError>(&r)) FAIL(text << ": " << e->message);
    return std::get<EqlQuery>(std::move(r)).query;
}

IndexBucket bucket(const Query& q) {
    EngineInterest interest;
    interest.kind = EngineInterest::Kind::matching;
    interest.queries.push_back(q);
    return bucket_of(interest);
}


// The bucket's keys as "field=value" strings (`^=` a start, `$=` an end), in the bucket's order.
std::vector<std::string> keys(const IndexBucket& b) {
    std::vector<std::string> out;
    for (const IndexKey& k : b.keys) {
        const char* op = k.match == IndexKey::Match::exact ? "=" : k.match == IndexKey::Match::prefix ? "^=" : "$=";
        out.push_back(std::string(FieldCatalog::name_of(k.field_id)) + op + k.value);
    }
    return out;
}
using S = std::vector<std::string>;

ProcessEvent exec(const std::string& name, const std::string& exe, std::vector<std::string> args) {
    ProcessEvent e;
    e.time_ms = 1'700'000'000'000;
    e.host_id = "h1";
    e.pid = 1000;
    e.ppid = 999;
    e.name = name;
    e.executable = exe;
    e.args = std::move(args);
    e.args_count = e.args.size();
    e.parent_name = "bash";
    e.parent_executable = "/usr/bin/bash";
    e.user.id = "0";
    return e;
}

// Events whose process.name has several values in the hardened profile: a renamed copy, a
// symlink called by another name, a busybox applet, the dynamic loader run directly, a hard link,
// a failed exec, upper-case names.
std::vector<ProcessEvent> events() {
    std::vector<ProcessEvent> out;
    out.push_back(exec("ping", "/usr/bin/ping", {"ping", "-c", "1", "10.0.0.1"}));
    out.push_back(exec("x", "/tmp/x", {"nmap", "-sS", "10.0.0.1"}));        // argv[0] nmap
    out.push_back(exec("sweeper", "/usr/bin/nmap", {"sweeper", "10.0.0.1"}));  // exe nmap
    out.push_back(exec("busybox", "/bin/busybox", {"busybox", "nc", "-z", "h", "1"}));
    out.push_back(exec("ld-linux-x86-", "/lib64/ld-linux-x86-64.so.2",
                       {"/lib64/ld-linux-x86-64.so.2", "--preload", "p", "/usr/bin/masscan", "h"}));
    ProcessEvent hard = exec("tool", "/tmp/tool", {"tool", "h"});
    hard.inode_tool = "ping";
    out.push_back(hard);
    ProcessEvent failed = exec("x", "/tmp/nmap", {"nmap", "h"});
    failed.success = false;
    out.push_back(failed);
    out.push_back(exec("NMAP", "/opt/NMAP", {"NMAP", "h"}));
    out.push_back(exec("Nc", "/usr/bin/Nc", {"Nc", "-z", "h", "22"}));
    out.push_back(exec("shred", "/usr/bin/shred", {"shred", "-u", "f"}));
    ProcessEvent connect = exec("curl", "/usr/bin/curl", {"curl", "http://h"});
    connect.kind = EventKind::connect;
    connect.network.destination_port = 443;
    connect.network.transport = "tcp";
    out.push_back(connect);
    return out;
}

// The index's one promise: any event a rule's query matches is among the rule's candidates.
void require_sound(const Query& q, const std::string& text) {
    const IndexBucket b = bucket(q);
    for (const NameMatch nm : {NameMatch::any, NameMatch::comm}) {
        RuleIndex index({b}, {1}, nm);
        std::vector<std::uint32_t> out;
        for (const ProcessEvent& e : events()) {
            const EventFields fields(e, nm);
            if (!q.matches(fields)) continue;
            index.candidates(e, out);
            INFO(text << " on " << e.name << " (" << e.executable << "), name match "
                      << (nm == NameMatch::any ? "any" : "comm"));
            CHECK(out == std::vector<std::uint32_t>{0});
        }
    }
}

}  // namespace

TEST_CASE("Rule index: a literal field value is a key; or unions, and picks the smallest",
          "[rule_index]") {
    IndexBucket b = bucket(kql("process.name:nmap and process.args:-sS"));
    CHECK(b.kind == IndexBucket::Kind::keyed);
    CHECK(keys(b) == S{"process.name=nmap"});

    b = bucket(kql("(process.name:nmap and process.args:x) or (process.name:(masscan or zmap))"));
    CHECK(b.kind == IndexBucket::Kind::keyed);
    CHECK(keys(b) == S{"process.name=masscan", "process.name=nmap", "process.name=zmap"});

    b = bucket(kql("process.name:(a or b or c) and process.name:(a or b)"));
    CHECK(keys(b) == S{"process.name=a", "process.name=b"});

    // process.name before process.executable, whatever the order written.
    b = bucket(kql("process.executable:/usr/bin/nc and process.name:nc"));
    CHECK(keys(b) == S{"process.name=nc"});
    b = bucket(kql("process.executable:/usr/bin/nc and process.args:-z"));
    CHECK(keys(b) == S{"process.executable=/usr/bin/nc"});
    // An `or` of two fields keys on both (Elastic's `process.name:x or process.args:x`).
    b = bucket(kql("(process.name:nsenter or process.args:nsenter) and process.args:-t"));
    CHECK(keys(b) == S{"process.name=nsenter", "process.args=nsenter"});
    b = bucket(kql("process.name:nmap or process.executable:/x/nmap"));
    CHECK(keys(b) == S{"process.name=nmap", "process.executable=/x/nmap"});
    // Exact values are keyed lower-case: the key only narrows, the query still decides.
    b = bucket(kql("process.name:NMap"));
    CHECK(keys(b) == S{"process.name=nmap"});
}

TEST_CASE("Rule index: what gives no key runs on every event", "[rule_index]") {
    for (const char* text : {
             "process.name:*nma*",                               // wildcards at both ends
             "not process.name:nmap",                            // negation
             "process.name:nmap or process.args:*s*",            // a branch without a key
             "process.name:nmap or process.working_directory:/tmp",  // a field not indexed
             "process.command_line:x",                           // no indexed field
             "process.name:* and process.args:*x*",
         }) {
        INFO(text);
        const IndexBucket b = bucket(kql(text));
        // event.action / event.type are never required by these: always run.
        CHECK(b.kind == IndexBucket::Kind::always);
    }
    CHECK(bucket(eql("process where process.name regex \"nm.p\"")).kind ==
          IndexBucket::Kind::always);
    CHECK(bucket(eql("process where not process.name in (\"nmap\", \"nc\")")).kind ==
          IndexBucket::Kind::always);
    CHECK(bucket(eql("process where process.name like~ \"*nm*\"")).kind ==
          IndexBucket::Kind::always);
}

TEST_CASE("Rule index: a wildcard keys on the literal start, or else end, it requires", "[rule_index]") {
    CHECK(keys(bucket(kql("process.name:nmap*"))) == S{"process.name^=nmap"});
    CHECK(keys(bucket(kql("process.name:nmap or process.args:-s*"))) ==
          S{"process.name=nmap", "process.args^=-s"});
    CHECK(keys(bucket(kql("process.name:* and process.args:x*"))) == S{"process.args^=x"});
    CHECK(keys(bucket(eql("process where process.name like~ \"Py*on?\""))) == S{"process.name^=py"});
    CHECK(keys(bucket(eql("process where process.parent.name : (\"*.CGI\", \"php-fpm\")"))) ==
          S{"process.parent.name=php-fpm", "process.parent.name$=.cgi"});
    // An exact value is preferred to a start in an `and`.
    CHECK(keys(bucket(eql("process where process.name like \"py*\" and process.executable == \"/usr/bin/python3\""))) ==
          S{"process.executable=/usr/bin/python3"});

    const std::vector<IndexBucket> buckets = {bucket(kql("process.name:py*")),
                                              bucket(eql("process where process.parent.name : \"*.cgi\"")),
                                              bucket(kql("process.name:(python3 or perl)"))};
    RuleIndex index(buckets, {1, 1, 1}, NameMatch::comm);
    std::vector<std::uint32_t> out;
    index.candidates(exec("python3", "/usr/bin/python3", {"python3"}), out);
    CHECK(out == std::vector<std::uint32_t>{0, 2});
    ProcessEvent child = exec("sh", "/bin/sh", {"sh"});
    child.parent_name = "Index.CGI";
    index.candidates(child, out);
    CHECK(out == std::vector<std::uint32_t>{1});
    index.candidates(exec("p", "/bin/p", {"p"}), out);  // shorter than every key
    CHECK(out.empty());
}

TEST_CASE("Rule index: EQL's case-insensitive `:` and `in~` are keyed folded", "[rule_index]") {
    IndexBucket b = bucket(eql("process where process.name : \"NMap\""));
    CHECK(b.kind == IndexBucket::Kind::keyed);
    CHECK(keys(b) == S{"process.name=nmap"});
    b = bucket(eql("process where process.name in~ (\"Nc\", \"NCAT\") and process.args : \"-z\""));
    CHECK(keys(b) == S{"process.name=nc", "process.name=ncat"});
    b = bucket(eql("process where event.type == \"start\" and process.name in (\"Nc\", \"ncat\")"));
    CHECK(keys(b) == S{"process.name=nc", "process.name=ncat"});
    b = bucket(eql("process where event.action in (\"exec\", \"executed\") and process.args : \"-X\""));
    CHECK(keys(b) == S{"process.args=-x"});
    b = bucket(eql("process where event.action in (\"exec\", \"executed\") and process.args : \"-x*\""));
    CHECK(keys(b) == S{"event.action=exec", "event.action=executed"});
}

TEST_CASE("Rule index: interests that run always, never, or on several queries", "[rule_index]") {
    CHECK(bucket_of(EngineInterest{}).kind == IndexBucket::Kind::always);
    EngineInterest none;
    none.kind = EngineInterest::Kind::none;
    CHECK(bucket_of(none).kind == IndexBucket::Kind::never);
    EngineInterest two;
    two.kind = EngineInterest::Kind::matching;
    two.queries = {kql("process.name:nmap"), kql("process.name:(nc or ncat)")};
    IndexBucket b = bucket_of(two);
    CHECK(keys(b) == S{"process.name=nc", "process.name=ncat", "process.name=nmap"});
    two.queries.push_back(kql("process.args:*x*"));
    CHECK(bucket_of(two).kind == IndexBucket::Kind::always);

    // Candidates come in load order, always-run rules with keyed ones, excluded rules never.
    const std::vector<IndexBucket> buckets = {bucket(kql("process.name:ping")), IndexBucket{},
                                              bucket(kql("process.name:nmap")),
                                              bucket(kql("process.name:ping")), IndexBucket{}};
    RuleIndex index(buckets, {1, 1, 1, 1, 0}, NameMatch::any);
    CHECK(index.always_run() == 1);
    CHECK(index.keyed() == 3);
    std::vector<std::uint32_t> out;
    index.candidates(exec("ping", "/usr/bin/ping", {"ping", "h"}), out);
    CHECK(out == std::vector<std::uint32_t>{0, 1, 3});
    index.candidates(exec("x", "/usr/bin/nmap", {"ping", "h"}), out);  // exe nmap, argv[0] ping
    CHECK(out == std::vector<std::uint32_t>{0, 1, 2, 3});
    RuleIndex comm(buckets, {1, 1, 1, 1, 0}, NameMatch::comm);
    comm.candidates(exec("x", "/usr/bin/nmap", {"ping", "h"}), out);  // comm only: x
    CHECK(out == std::vector<std::uint32_t>{1});
}

TEST_CASE("Rule index: every event a query matches reaches its rule, in both profiles",
          "[rule_index]") {
    const std::vector<std::string> kqls = {
        "process.name:ping",
        "process.name:nmap and process.args:*",
        "process.name:(nmap or masscan or zmap or nc or ncat)",
        "process.name:NMAP",
        "(process.name:ping and process.args:-c) or process.name:nc",
        "process.executable:(/usr/bin/ping or /tmp/nmap)",
        "event.action:executed and process.name:shred",
        "event.type:connection and destination.port:443",
        "network.transport:tcp and process.name:curl",
        "process.parent.name:bash and not process.name:ping",
    };
    for (const std::string& text : kqls) require_sound(kql(text), text);
    const std::vector<std::string> eqls = {
        "process where process.name : \"nmap\"",
        "process where process.name : (\"NC\", \"PING\")",
        "process where process.name in~ (\"Nmap\", \"masscan\")",
        "process where process.name in (\"NMAP\", \"shred\") and process.args != null",
        "process where process.name == \"Nc\"",
        "any where process.name : \"ping\" or (process.name : \"tool\" and process.args : \"h\")",
    };
    for (const std::string& text : eqls) require_sound(eql(text), text);
}
