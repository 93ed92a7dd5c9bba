#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "rules/query/esql/esql.h"

using namespace scanwatch::rules::esql;

namespace {

Pipeline parsed(const std::string& text) {
    auto r = parse(text);
    if (auto* e = std::get_if<scanwatch::rules::QueryError>(&r)) {
        FAIL_CHECK(text << ": " << e->message << " at " << e->line << ":" << e->column);
        return {};
    }
    return std::get<Pipeline>(std::move(r));
}

scanwatch::rules::QueryError error_of(const std::string& text) {
    auto r = parse(text);
    REQUIRE(std::holds_alternative<scanwatch::rules::QueryError>(r));
    return std::get<scanwatch::rules::QueryError>(r);
}

Value text(const std::string& s) { return Value(Scalar(s)); }
Value num(std::int64_t n) { return Value(Scalar(n)); }
Value multi(std::vector<std::string> items) {
    Value v;
    for (auto& s : items) v.items.emplace_back(std::move(s));
    return v;
}

// Runs the whole pipeline after FROM on `rows`.
std::vector<Row> run_all(const std::string& query, std::vector<Row> rows, std::int64_t now = 0) {
    const Pipeline p = parsed(query);
    EvalNotes notes;
    run(p, 0, p.commands.size(), rows, now, Limits{}, notes);
    return rows;
}

// The value of `expr` on `row`.
Value eval(const std::string& expr, const Row& row = {}) {
    const auto rows = run_all("FROM x | EVAL out = " + expr + " | KEEP out", {row});
    REQUIRE(rows.size() == 1);
    const Value* v = rows[0].find("out");
    return v != nullptr ? *v : Value();
}

bool where(const std::string& cond, const Row& row) {
    return run_all("FROM x | WHERE " + cond, {row}).size() == 1;
}

Row row(std::vector<std::pair<std::string, Value>> cols) {
    Row r;
    r.columns = std::move(cols);
    return r;
}

}  // namespace

TEST_CASE("ES|QL parse: FROM patterns and METADATA", "[esql]") {
    const Pipeline p = parsed(
        "from logs-endpoint.events.network-*, .alerts-security.* metadata _id, _index, _version");
    CHECK(p.indices == std::vector<std::string>{"logs-endpoint.events.network-*", ".alerts-security.*"});
    CHECK(p.metadata == std::vector<std::string>{"_id", "_index", "_version"});
    CHECK(p.commands.empty());
    CHECK(parsed("FROM logs-*").indices == std::vector<std::string>{"logs-*"});
    CHECK(parsed("FROM logs-nginx.access-*,\n| LIMIT 1").indices.size() == 1);
}

TEST_CASE("ES|QL parse: every command, case-insensitive, comments", "[esql]") {
    const Pipeline p = parsed(R"(FROM logs-* // the source
| where a == 1 /* block
comment */ | eval b = a + 1, c = to_lower(x)
| mv_expand tags
| keep a, b*, `c`
| drop d
| rename b AS bb, cc = c
| stats n = count(*), m = max(a) by bb
| sort n desc nulls last, bb
| limit 10)");
    REQUIRE(p.commands.size() == 9);
    using K = Command::Kind;
    const K kinds[] = {K::where, K::eval, K::mv_expand, K::keep, K::drop, K::rename, K::stats, K::sort, K::limit};
    for (std::size_t i = 0; i < 9; ++i) CHECK(p.commands[i].kind == kinds[i]);
    CHECK(p.commands[3].names == std::vector<std::string>{"a", "b*", "c"});
    CHECK(p.commands[5].renames[1] == std::make_pair(std::string("c"), std::string("cc")));
    CHECK(p.commands[6].aggregates.size() == 2);
    CHECK(p.commands[7].sort[0].descending);
    CHECK_FALSE(p.commands[7].sort[0].nulls_first);
    CHECK(p.commands[8].limit == 10);
    CHECK(p.row_prefix == 6);
    CHECK(p.aggregating);
    CHECK_FALSE(parsed("FROM x | WHERE a == 1 | KEEP a").aggregating);
}

TEST_CASE("ES|QL parse: errors name the place; unsupported commands say so", "[esql]") {
    auto e = error_of("FROM x\n| WHERE a = 1");
    CHECK(e.message.find("compare with ==") != std::string::npos);
    CHECK(e.line == 2);
    CHECK(error_of("WHERE a == 1").message.find("starts with FROM") != std::string::npos);
    CHECK(error_of("FROM x | GROK a \"%{WORD:b}\"").message == "ES|QL command GROK is not supported");
    CHECK(error_of("FROM x | INLINE STATS n = count(*)").message.find("not supported") != std::string::npos);
    CHECK(error_of("FROM x | WHERE KQL(\"a:b\")").message.find("not supported") != std::string::npos);
    CHECK(error_of("FROM x | EVAL y = FOO(a)").message == "ES|QL function FOO() is not supported");
    CHECK(error_of("FROM x | EVAL n = count(*)").message.find("only STATS") != std::string::npos);
    CHECK(error_of("FROM x | STATS a").message.find("aggregate") != std::string::npos);
    CHECK(error_of("FROM x | WHERE a == \"open").message == "unterminated string");
    CHECK(error_of("FROM x | BOGUS").message == "unknown ES|QL command BOGUS");
    CHECK(error_of("FROM x | LIMIT x").message.find("whole number") != std::string::npos);
    CHECK(error_of("FROM x | EVAL y = SUBSTRING(a)").message.find("arguments") != std::string::npos);
    CHECK(error_of("FROM x | WHERE (a == 1").message.find("expected )") != std::string::npos);
    std::string deep = "FROM x | WHERE ";
    for (int i = 0; i < 200; ++i) deep += "(";
    CHECK(error_of(deep + "a").message.find("deeper") != std::string::npos);
    std::string chain = "FROM x | WHERE a == 1";
    for (int i = 0; i < 200; ++i) chain += " or a == 1";
    CHECK(error_of(chain).message.find("operators in a row") != std::string::npos);
}

TEST_CASE("ES|QL: comparisons and boolean logic with nulls", "[esql]") {
    const Row r = row({{"a", num(5)}, {"s", text("x")}});
    CHECK(where("a == 5", r));
    CHECK(where("a < 32768 and s == \"x\"", r));
    CHECK_FALSE(where("a != 5", r));
    CHECK(where("a >= 5 and a <= 5", r));
    // null: the comparison is null, WHERE drops the row; NOT null is null too
    CHECK_FALSE(where("missing == 1", r));
    CHECK_FALSE(where("missing != 1", r));
    CHECK_FALSE(where("not missing == 1", r));
    CHECK(where("missing is null", r));
    CHECK(where("a is not null", r));
    CHECK(where("missing == 1 or a == 5", r));    // null OR true = true
    CHECK_FALSE(where("missing == 1 and a == 5", r));
    CHECK(where("not (missing == 1 and a == 6)", r));  // null AND false = false
    CHECK_FALSE(where("s == 5", r));  // keyword vs number: no comparison, null
}

TEST_CASE("ES|QL: multi-valued fields are null to comparisons, LIKE, IN and scalar functions", "[esql]") {
    const Row r = row({{"args", multi({"base64", "-d"})}, {"one", multi({"start"})}});
    CHECK_FALSE(where("args == \"-d\"", r));
    CHECK_FALSE(where("args like \"-d*\"", r));
    CHECK_FALSE(where("args in (\"-d\", \"base64\")", r));
    CHECK_FALSE(where("not args == \"-d\"", r));
    CHECK(where("one == \"start\"", r));
    CHECK(where("args is not null", r));
    CHECK(eval("length(args)", r).is_null());
    CHECK(eval("concat(\"a\", args)", r).is_null());
    CHECK(eval("mv_count(args)", r) == num(2));
    CHECK(eval("mv_concat(args, \" \")", r) == text("base64 -d"));
    CHECK(eval("mv_first(args)", r) == text("base64"));
    CHECK(eval("mv_last(args)", r) == text("-d"));
    CHECK(eval("mv_min(args)", r) == text("-d"));
    CHECK(eval("mv_max(args)", r) == text("base64"));
    CHECK(eval("to_upper(args)", r) == multi({"BASE64", "-D"}));  // element-wise
    CHECK(eval("mv_slice(args, 1, 1)", r) == text("-d"));
    CHECK(eval("mv_dedupe(split(\"a,b,a\", \",\"))", r) == multi({"a", "b"}));
    // MV_EXPAND: one row per value
    const auto rows = run_all("FROM x | MV_EXPAND args | WHERE args == \"-d\"", {r});
    REQUIRE(rows.size() == 1);
    CHECK(*rows[0].find("args") == text("-d"));
}

TEST_CASE("ES|QL: LIKE, RLIKE, IN, CIDR_MATCH", "[esql]") {
    const Row r = row({{"exe", text("/tmp/x.sh")}, {"ip", text("10.1.2.3")}, {"ip6", text("fe80::1")}});
    CHECK(where("exe like \"/tmp/*\"", r));
    CHECK(where("exe like \"/tmp/?.sh\"", r));
    CHECK_FALSE(where("exe like \"/TMP/*\"", r));
    CHECK(where("exe not like \"/var/*\"", r));
    CHECK(where("exe like (\"/var/*\", \"*.sh\")", r));
    CHECK(where("exe rlike \"/tmp/[a-z]+\\\\.sh\"", r));
    CHECK_FALSE(where("exe rlike \"tmp\"", r));  // anchored
    CHECK(where("exe in (\"a\", \"/tmp/x.sh\")", r));
    CHECK(where("exe not in (\"a\", \"b\")", r));
    CHECK(where("cidr_match(ip, \"10.0.0.0/8\")", r));
    CHECK(where("not cidr_match(ip, \"127.0.0.0/8\", \"::1\")", r));
    CHECK(where("cidr_match(ip6, \"FE80::/10\")", r));
    CHECK_FALSE(where("cidr_match(ip6, \"10.0.0.0/8\")", r));
    CHECK(where("cidr_match(ip, \"10.1.2.3\")", r));
}

TEST_CASE("ES|QL: arithmetic and scalar functions", "[esql]") {
    const Row r = row({{"cl", text("grep -r password /etc")}, {"t", Value(Scalar(Date{90'061'234}))}});
    CHECK(eval("1 + 2 * 3") == num(7));
    CHECK(eval("7 / 2") == num(3));
    CHECK(eval("7 % 4") == num(3));
    CHECK(eval("1 / 0").is_null());
    CHECK(eval("-(2 - 5)") == num(3));
    CHECK(eval("9223372036854775807 + 1").is_null());
    CHECK(eval("to_lower(\"AbC\")") == text("abc"));
    CHECK(eval("length(cl)", r) == num(21));
    CHECK(eval("substring(cl, 1, 4)", r) == text("grep"));
    CHECK(eval("substring(cl, -4)", r) == text("/etc"));
    CHECK(eval("locate(cl, \"-r\")", r) == num(6));
    CHECK(eval("locate(cl, \"nope\")", r) == num(0));
    CHECK(eval("locate(concat(\"a\", space(100), \"b\"), space(100))") == num(2));
    CHECK(eval("starts_with(cl, \"grep\")", r) == Value(Scalar(true)));
    CHECK(eval("ends_with(cl, \"etc\")", r) == Value(Scalar(true)));
    CHECK(eval("concat(\"a\", \"-\", to_string(3))") == text("a-3"));
    CHECK(eval("replace(cl, \"(p)assword\", \"$1***\")", r) == text("grep -r p*** /etc"));
    CHECK(eval("case(false, \"a\", 1 == 1, \"b\", \"c\")") == text("b"));
    CHECK(eval("case(false, \"a\")").is_null());
    CHECK(eval("coalesce(nothing, \"x\")") == text("x"));
    CHECK(eval("to_long(\"42\")") == num(42));
    CHECK(eval("to_double(\"0.75\") > 0.7") == Value(Scalar(true)));
    CHECK(eval("to_string(date_trunc(1 minute, t))", r) == text("1970-01-02T01:01:00.000Z"));
    CHECK(eval("date_diff(\"seconds\", t, t + 1 minute)", r) == num(60));
    CHECK(eval("trim(\"  a \")") == text("a"));
}

TEST_CASE("ES|QL: EVAL, KEEP, DROP, RENAME column order and replacement", "[esql]") {
    Row r = row({{"a", num(1)}, {"b", num(2)}, {"Esql.x", num(3)}, {"Esql.y", num(4)}});
    auto rows = run_all("FROM x | EVAL a = a + 10, c = a * 2 | KEEP c, Esql.*, a", {r});
    REQUIRE(rows.size() == 1);
    std::vector<std::string> names;
    for (const auto& c : rows[0].columns) names.push_back(c.first);
    CHECK(names == std::vector<std::string>{"c", "Esql.x", "Esql.y", "a"});
    CHECK(*rows[0].find("c") == num(22));  // the EVAL's own a
    rows = run_all("FROM x | DROP Esql.* | RENAME a AS z", {r});
    names.clear();
    for (const auto& c : rows[0].columns) names.push_back(c.first);
    CHECK(names == std::vector<std::string>{"z", "b"});
}

TEST_CASE("ES|QL: STATS BY groups, aggregates, multi-valued and null keys", "[esql]") {
    std::vector<Row> rows;
    const char* exes[] = {"/usr/bin/nmap", "/usr/bin/nmap", "/usr/bin/nmap", "/usr/bin/curl"};
    for (int i = 0; i < 4; ++i) {
        rows.push_back(row({{"exe", text(exes[i])}, {"port", num(20 + (i % 2))}, {"host", text("h1")}}));
    }
    rows.push_back(row({{"port", num(99)}}));  // no exe: the null group
    auto out = run_all(R"(FROM x
| STATS n = count(), ports = count_distinct(port), hosts = values(host), lo = min(port),
        hi = max(port), total = sum(port), mean = avg(port), nonnull = count(host),
        top = mv_max(values(port)) BY exe
| SORT n DESC, exe NULLS FIRST)",
                       rows);
    REQUIRE(out.size() == 3);
    std::vector<std::string> names;
    for (const auto& c : out[0].columns) names.push_back(c.first);
    CHECK(names.back() == "exe");  // aggregates first, then the BY columns
    CHECK(*out[0].find("exe") == text("/usr/bin/nmap"));
    CHECK(*out[0].find("n") == num(3));
    CHECK(*out[0].find("ports") == num(2));
    CHECK(*out[0].find("hosts") == text("h1"));
    CHECK(*out[0].find("lo") == num(20));
    CHECK(*out[0].find("hi") == num(21));
    CHECK(*out[0].find("total") == num(61));
    CHECK(*out[0].find("top") == num(21));
    CHECK(out[1].find("exe")->is_null());  // NULLS FIRST among the count-1 groups
    CHECK(*out[1].find("nonnull") == num(0));
    CHECK(out[1].find("hosts")->is_null());
    // A multi-valued key puts the row in each value's group.
    out = run_all("FROM x | STATS n = count(*) BY tags",
                  {row({{"tags", multi({"a", "b"})}}), row({{"tags", text("a")}})});
    REQUIRE(out.size() == 2);
    CHECK(*out[0].find("tags") == text("a"));
    CHECK(*out[0].find("n") == num(2));
    // No BY and no rows: one row of empty aggregates.
    out = run_all("FROM x | STATS n = count(*), v = values(a)", {});
    REQUIRE(out.size() == 1);
    CHECK(*out[0].find("n") == num(0));
    CHECK(out[0].find("v")->is_null());
    // A bare aggregate is named by its text.
    out = run_all("FROM x | STATS count(*)", {row({})});
    CHECK(out[0].columns[0].first == "count(*)");
}

TEST_CASE("ES|QL: SORT and LIMIT", "[esql]") {
    std::vector<Row> rows = {row({{"n", num(3)}}), row({}), row({{"n", num(1)}}), row({{"n", num(2)}})};
    auto out = run_all("FROM x | SORT n | LIMIT 3", rows);
    REQUIRE(out.size() == 3);
    CHECK(*out[0].find("n") == num(1));
    CHECK(*out[2].find("n") == num(3));  // null last ascending
    out = run_all("FROM x | SORT n DESC", rows);
    CHECK(out[0].find("n") == nullptr);  // null first descending
}

TEST_CASE("ES|QL: limits cut rows and values, counted", "[esql]") {
    Value many;
    for (int i = 0; i < 50; ++i) many.items.emplace_back(std::int64_t{i});
    std::vector<Row> rows = {row({{"v", many}})};
    const Pipeline p = parsed("FROM x | MV_EXPAND v | STATS d = values(v)");
    Limits limits;
    limits.max_rows = 20;
    limits.max_values = 5;
    EvalNotes notes;
    run(p, 0, p.commands.size(), rows, 0, limits, notes);
    REQUIRE(rows.size() == 1);
    CHECK(rows[0].find("d")->items.size() == 5);
    CHECK(notes.rows_cut == 30 + 15);
}

TEST_CASE("ES|QL: index patterns", "[esql]") {
    CHECK(index_matches("logs-endpoint.events.network-*", "logs-endpoint.events.network-default"));
    CHECK(index_matches("logs-*", "logs-auditd_manager.auditd-default"));
    CHECK(index_matches("logs-endpoint.events.process*", "logs-endpoint.events.process-default"));
    CHECK_FALSE(index_matches("logs-endpoint.alerts-*", "logs-endpoint.events.process-default"));
    CHECK_FALSE(index_matches("-logs-*", "logs-x"));
    CHECK_FALSE(index_matches("remote:logs-*", "logs-x"));
}
