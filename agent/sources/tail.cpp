#include "agent/sources/tail.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>
#include <stdexcept>

#include <fmt/format.h>
#include <boost/asio.hpp>

#include "agent/sources/checkpoint.h"
#include "agent/sources/runner.h"
#include "agent/sources/state_file.h"
#include "agent/sources/tail_reader.h"

namespace scanwatch::agent {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

constexpr auto kPollInterval = 100ms;
constexpr auto kCheckpointInterval = 5s;

// The files this run writes. After a crash they are cut back to their size at the checkpoint, so
// lines written after it are not there twice once the events are processed again.
std::vector<std::string> file_outputs(const Settings& s) {
    std::vector<std::string> out;
    for (const auto& spec : s.outputs) {
        if (spec.kind == OutputKind::file) out.push_back(spec.path);
    }
    if (s.events && s.events->kind == OutputKind::file) out.push_back(s.events->path);
    return out;
}

// Before the outputs are opened: only a file this run writes, and only when it is still the very
// file (device and inode) the checkpoint measured. A state file of another run or another log
// must not cut back a file it never wrote.
void cut_outputs_back(const Settings& settings, const TailState& state) {
    const std::vector<std::string> ours = file_outputs(settings);
    for (const auto& mark : state.outputs) {
        if (std::find(ours.begin(), ours.end(), mark.path) == ours.end()) continue;
        struct stat st {};
        if (::stat(mark.path.c_str(), &st) != 0) continue;
        const FileId id{static_cast<std::uint64_t>(st.st_dev),
                        static_cast<std::uint64_t>(st.st_ino)};
        if (id != mark.id || static_cast<std::uint64_t>(st.st_size) <= mark.size) continue;
        if (::truncate(mark.path.c_str(), static_cast<off_t>(mark.size)) != 0) {
            throw std::runtime_error(fmt::format("cannot cut {} back to the checkpoint: {}",
                                                 mark.path, std::strerror(errno)));
        }
    }
}

class TailRunner final : public Runner {
public:
    TailRunner(const Settings& settings, std::optional<TailState> state, int argc,
               const char* const* argv)
        : Runner(settings, Input::tail, argc, argv),
          state_(std::move(state)),
          reader_(settings.tail_path),
          checkpointer_(session().pipeline()),
          poll_timer_(io()),
          checkpoint_timer_(io()) {}

private:
    void start() override {
        if (state_) {
            for (const auto& name : checkpointer_.restore(state_->checkpoint)) {
                session().diagnostics().warn(
                    fmt::format("the saved state of rule {} does not fit; it starts empty", name));
            }
        }
        std::string note;
        const auto saved =
            state_ ? std::optional<TailPosition>(state_->checkpoint.position) : std::nullopt;
        if (reader_.start(saved, !settings().from_start, note)) {
            started_ = true;
            checkpointer_.begin_file(reader_.current_name(), reader_.position().file,
                                     reader_.position().offset);
        }
        if (!note.empty()) session().diagnostics().warn(note);
        // A checkpoint before anything is read: a crash before the first periodic one must cut
        // the outputs back to what they held at start, and keep the events to skip.
        checkpoint();
        poll();
        arm_checkpoint_timer();
    }

    void stop_source() override {
        poll_timer_.cancel();
        checkpoint_timer_.cancel();
    }

    // Events in flight stay in flight: a restart reads them again.
    void finish_input() override { checkpoint(); }

    void poll() {
        Pipeline& pipeline = session().pipeline();
        const bool progress = reader_.poll(
            [&pipeline](std::string_view data, std::uint64_t) { pipeline.feed(data); },
            [this](const std::string& name, FileId id, std::string_view why) {
                if (id == FileId{}) {
                    session().diagnostics().warn(fmt::format("{}: {}", name, why));
                    return;
                }
                started_ = true;
                checkpointer_.begin_file(name, id, reader_.position().offset);
                session().diagnostics().warn(fmt::format("following {} ({})", name, why));
            });
        pipeline.input_drained();  // poll() read everything written so far
        if (progress) session().flush_outputs();  // buffered events reach shippers within a poll
        poll_timer_.expires_after(kPollInterval);
        poll_timer_.async_wait([this](const boost::system::error_code& ec) {
            if (!ec && !stopping()) poll();
        });
    }

    void checkpoint() {
        if (settings().state_file.empty() || !started_) return;
        session().flush_outputs();
        TailState s;
        s.checkpoint = checkpointer_.save();
        for (const auto& path : file_outputs(settings())) {
            struct stat st {};
            if (::stat(path.c_str(), &st) != 0) continue;
            s.outputs.push_back(
                {path,
                 {static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino)},
                 static_cast<std::uint64_t>(st.st_size)});
        }
        std::string error;
        if (!write_state(settings().state_file, s, error)) session().diagnostics().warn(error);
    }

    void arm_checkpoint_timer() {
        checkpoint_timer_.expires_after(kCheckpointInterval);
        checkpoint_timer_.async_wait([this](const boost::system::error_code& ec) {
            if (ec || stopping()) return;
            checkpoint();
            arm_checkpoint_timer();
        });
    }

    std::optional<TailState> state_;
    TailReader reader_;
    PipelineCheckpointer checkpointer_;
    asio::steady_timer poll_timer_;
    asio::steady_timer checkpoint_timer_;
    bool started_ = false;
};

}  // namespace

int run_tail(const Settings& settings, int argc, const char* const* argv) {
    ::signal(SIGPIPE, SIG_IGN);
    // Start-up errors (exit 2, cli.cpp): a folder to follow would be waited on forever, a state
    // file that cannot be written would be retried every checkpoint and never saved.
    struct stat st {};
    if (::stat(settings.tail_path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
        throw std::runtime_error(fmt::format(
            "cannot follow {}: is a directory (tail follows one log file)", settings.tail_path));
    }
    std::optional<TailState> state;
    if (!settings.state_file.empty()) {
        if (const std::string error = check_state_path(settings.state_file); !error.empty()) {
            throw std::runtime_error(error);
        }
        state = read_state(settings.state_file);
        if (state) cut_outputs_back(settings, *state);
    }
    TailRunner runner(settings, std::move(state), argc, argv);
    return runner.run();
}

}  // namespace scanwatch::agent
