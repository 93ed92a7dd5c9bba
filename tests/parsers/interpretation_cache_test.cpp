#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <libaudit.h>

#include "parsers/auparse_feed.h"
#include "parsers/interpretation_cache.h"
#include "parsers/record_filter.h"

using scanwatch::parsers::AuparseFeed;
using scanwatch::parsers::InterpretationCache;
using scanwatch::parsers::RecordFilter;

namespace {

std::string read_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    REQUIRE(in.good());
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::string_view str(const char* s) {
    return s == nullptr ? std::string_view{} : s;
}

// The fields the normalizer interprets: strings and ids, which depend on nothing else in the
// record (SYSCALL's a0..a3 and exit depend on the syscall: not for this cache).
bool context_free(int record_type, std::string_view name) {
    switch (record_type) {
        case AUDIT_SYSCALL:
            return name == "exe" || name == "comm" || name == "key" || name == "auid" ||
                   name == "uid" || name == "gid" || name == "euid" || name == "egid";
        case AUDIT_EXECVE:
            return name.size() > 1 && name[0] == 'a' && name != "argc" &&
                   name.find("_len") == std::string_view::npos;
        case AUDIT_CWD:
            return name == "cwd";
        default:
            return false;
    }
}

struct Compared {
    std::uint64_t fields = 0;
    std::uint64_t mismatches = 0;
};

// Every field of every event of `text`, read through the cache and straight from auparse.
void compare_all(const std::string& text, InterpretationCache& cache, Compared& out) {
    AuparseFeed feed([&](auparse_state_t* au) {
        if (auparse_first_record(au) <= 0) return;
        do {
            const std::string_view names = str(auparse_get_record_interpretations(au));
            if (auparse_first_field(au) <= 0) continue;
            do {
                const std::string_view name = str(auparse_get_field_name(au));
                if (!context_free(auparse_get_type(au), name)) continue;
                const std::string expected(str(auparse_interpret_field(au)));
                const std::string_view got =
                    cache.interpret(au, name, str(auparse_get_field_str(au)), names);
                ++out.fields;
                if (got != expected) {
                    ++out.mismatches;
                    UNSCOPED_INFO(name << ": cache says '" << got << "', auparse '" << expected
                                       << "'");
                }
            } while (auparse_next_field(au) > 0);
        } while (auparse_next_record(au) > 0);
    });
    // As in production, auparse sees only what the filter passes on (libauparse 3.0.9 leaks
    // on some records the filter drops).
    RecordFilter filter([&](std::string_view records) { feed.feed(records); }, {});
    filter.feed(text);
    filter.finish();
    feed.flush();
}

std::vector<std::filesystem::path> logs() {
    std::vector<std::filesystem::path> paths;
    for (const char* dir : {SCANWATCH_CORPUS_DIR, SCANWATCH_SOURCE_DIR "/samples"}) {
        for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
            const auto ext = entry.path().extension();
            if (entry.is_regular_file() && ext != ".md" && ext != ".sh")
                paths.push_back(entry.path());
        }
    }
    return paths;
}

}  // namespace

TEST_CASE("InterpretationCache: says what auparse says for every field of the corpus and samples",
          "[interpretation_cache]") {
    InterpretationCache cache;
    Compared compared;
    for (const auto& path : logs()) {
        INFO(path.string());
        const std::string text = read_file(path);
        compare_all(text, cache, compared);  // fills the cache
        compare_all(text, cache, compared);  // answers from it
    }
    CHECK(compared.mismatches == 0);
    CHECK(compared.fields > 20000);
    CHECK(cache.hits() > compared.fields / 4);
}

TEST_CASE("InterpretationCache: ENRICHED names are keyed by the record's name list",
          "[interpretation_cache]") {
    // The same uid with different names on two hosts: each record keeps its own.
    const std::string text =
        "node=a type=SYSCALL msg=audit(1700000000.001:1): arch=c000003e syscall=59 success=yes "
        "exit=0 "
        "ppid=1 pid=2 auid=1000 uid=1000 gid=1000 euid=1000 egid=1000 comm=\"ping\" "
        "exe=\"/usr/bin/ping\" "
        "key=(null)\x1d"
        "AUID=\"alice\" UID=\"alice\" GID=\"staff\" EUID=\"alice\" EGID=\"staff\"\n"
        "node=a type=EOE msg=audit(1700000000.001:1): \n"
        "node=b type=SYSCALL msg=audit(1700000000.002:2): arch=c000003e syscall=59 success=yes "
        "exit=0 "
        "ppid=1 pid=3 auid=1000 uid=1000 gid=1000 euid=1000 egid=1000 comm=\"ping\" "
        "exe=\"/usr/bin/ping\" "
        "key=(null)\x1d"
        "AUID=\"bob\" UID=\"bob\" GID=\"users\" EUID=\"bob\" EGID=\"users\"\n"
        "node=b type=EOE msg=audit(1700000000.002:2): \n";
    InterpretationCache cache;
    std::vector<std::string> uids;
    AuparseFeed feed([&](auparse_state_t* au) {
        auparse_first_record(au);
        if (auparse_find_field(au, "uid") == nullptr) return;
        const std::string_view names = str(auparse_get_record_interpretations(au));
        uids.emplace_back(cache.interpret(au, "uid", str(auparse_get_field_str(au)), names));
    });
    feed.feed(text);
    feed.flush();
    CHECK(uids == std::vector<std::string>{"alice", "bob"});
}

TEST_CASE("InterpretationCache: stays bounded and right when it fills up",
          "[interpretation_cache]") {
    InterpretationCache cache(8, 16);  // tiny: emptied again and again, long values not kept
    Compared compared;
    for (const auto& path : logs()) {
        if (path.filename().string().find("enriched") == std::string::npos) continue;
        INFO(path.string());
        compare_all(read_file(path), cache, compared);
    }
    CHECK(compared.mismatches == 0);
    CHECK(compared.fields > 1000);
    CHECK(cache.hits() > 0);
}
