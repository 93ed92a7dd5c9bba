// libFuzzer harness: bytes as a tail-mode state file, through the checks of parse_state() and into
// a Pipeline (streaming and scheduled rule engines) with restore_state(); then events that reach
// the restored entity ids and rule groups, the end of input, and a save of what came out.
// A state file that parse_state() rejects must be rejected with std::runtime_error, never crash.
// Seeds: tests/fuzz/corpus/state_restore/ (state files saved by `scanwatch tail`), one with a
// partial EQL sequence.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>

#include <fmt/format.h>

#include "agent/sources/checkpoint.h"
#include "agent/pipeline.h"
#include "agent/settings.h"
#include "agent/sources/state_file.h"
#include "rules/rule.h"

namespace {

using namespace scanwatch;

// One exec of nc per port, as in samples/nc_scan.raw.log: enough to reach a rule group.
std::string nc_scan(int ports) {
    std::string out;
    for (int i = 0; i < ports; ++i) {
        const int serial = 16389 + i;
        const std::string stamp = fmt::format("msg=audit(1795813457.{:03}:{})", i % 1000, serial);
        out += fmt::format(
            "type=SYSCALL {}: arch=c000003e syscall=59 success=yes exit=0 a0=1 a1=2 a2=3 a3=4 "
            "items=2 "
            "ppid=28060 pid={} auid=4242 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 "
            "tty=(none) ses=113 comm=\"nc\" exe=\"/usr/bin/nc.openbsd\" key=\"scanwatch-sample\"\n",
            stamp, 28061 + i);
        out += fmt::format(
            "type=EXECVE {}: argc=6 a0=\"nc\" a1=\"-z\" a2=\"-w\" a3=\"1\" a4=\"127.0.0.1\" "
            "a5=\"{}\"\n",
            stamp, 20 + i);
        out += fmt::format("type=CWD {}: cwd=\"/\"\n", stamp);
    }
    return out;
}

// An EQL sequence rule (its text is its fingerprint: the seed seq_unshare_partial.json holds a
// partial sequence of it, saved by `scanwatch tail` on the start of samples/seq_unshare_root),
// and two execs of sh under the same parent that complete it.
constexpr const char* kSequenceRule = R"([rule]
rule_id = "fuzz-sequence"
name = "Fuzz sequence"
type = "eql"
language = "eql"
severity = "low"
risk_score = 21
query = '''
sequence by host.id, process.parent.pid with maxspan=30s
  [process where process.name == "unshare"]
  ![process where process.name == "id"]
  [process where process.name in ("sh", "true")] with runs=2
  ![process where process.name == "bash"]
'''
)";

std::string sh_execs() {
    std::string out;
    for (int i = 0; i < 2; ++i) {
        const std::string stamp = fmt::format("msg=audit(1796542820.{:03}:{})", 500 + i, 90000 + i);
        out += fmt::format(
            "type=SYSCALL {}: arch=c000003e syscall=59 success=yes exit=0 a0=1 a1=2 a2=3 a3=4 "
            "items=2 ppid=15501 pid={} auid=4242 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 "
            "fsgid=0 tty=(none) ses=270 comm=\"sh\" exe=\"/usr/bin/dash\" key=\"scanwatch-sample\"\n",
            stamp, 15600 + i);
        out += fmt::format("type=EXECVE {}: argc=3 a0=\"sh\" a1=\"-c\" a2=\"id\"\n", stamp);
        out += fmt::format("type=CWD {}: cwd=\"/\"\n", stamp);
    }
    return out;
}

void run(const agent::Checkpoint& checkpoint, rules::Evaluation evaluation,
         const std::string& input) {
    static std::FILE* devnull = std::fopen("/dev/null", "w");
    agent::Diagnostics diagnostics(devnull);
    agent::PipelineOptions options;
    options.normalizer.host_id = "fuzz-host";
    options.normalizer.host_name = "fuzz-host";
    options.normalizer.max_processes = 64;
    options.engine.evaluation = evaluation;
    options.engine.max_groups = 16;
    options.rules.push_back(rules::builtin_rule());
    static const auto sequence = std::get<std::shared_ptr<const rules::RuleDefinition>>(
        rules::load_rule(kSequenceRule, "seq_rule.toml"));
    options.rules.push_back(sequence);
    std::size_t alerts = 0;
    agent::Pipeline pipeline(
        options, [&alerts](const rules::Alert&) { ++alerts; }, {}, diagnostics);
    agent::PipelineCheckpointer checkpointer(pipeline);
    checkpointer.restore(checkpoint);
    checkpointer.begin_file("fuzz", checkpoint.position.file, checkpoint.position.offset);
    pipeline.feed(input);
    pipeline.finish();
    (void)checkpointer.save();
    (void)pipeline.stats_json();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const std::string input = sh_execs() + nc_scan(120);
    agent::TailState state;
    try {
        state = agent::parse_state(std::string_view(reinterpret_cast<const char*>(data), size));
    } catch (const std::runtime_error&) {
        return 0;  // rejected with a reason: what a bad state file must get
    }
    run(state.checkpoint, rules::Evaluation::streaming, input);
    run(state.checkpoint, rules::Evaluation::scheduled, input);
    return 0;
}
